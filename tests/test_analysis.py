"""analysis: recording every layer (recurrent states too) of a saved agent, decoding, PCA, CKA, weights, CLI."""
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT, assert_one_line_error


def run_analysis(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "analysis", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)

SMALL = dict(workers=2, horizon=64, batch_size=64, epochs=2, sequential=True)


def _agent(model="ffn", cycles=0, seed=3):
    """A CartPole agent trained for `cycles` cycles (0: only saved), in this process; returns its id."""
    from dexterity import tf_setup
    tf_setup.tensorflow(cpu=True)
    from dexterity.agent.ppo import PPOAgent
    from dexterity.configs.hp_config import make_config
    changes = {**SMALL, "seed": seed, "iterations": max(cycles, 1), "model": model}
    if model != "ffn":
        changes["tbptt"] = 8
    with PPOAgent("CartPole-v1", make_config(**changes), verbose=False) as agent:
        if cycles:
            agent.drill()
        else:
            agent.save("last")
        return agent.agent_id


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(storage root, agent id, recording) of a CartPole agent trained 2 cycles, 8 sampled episodes."""
    root = tmp_path_factory.mktemp("analysis") / "storage"
    mp = pytest.MonkeyPatch()
    mp.setenv("DEXTERITY_STORAGE", str(root))
    agent_id = _agent(cycles=2)
    from analysis.investigator import Investigator
    rec = Investigator(agent_id).record(episodes=8, seed=0, deterministic=False, envs=2)
    yield root, agent_id, rec
    mp.undo()


def test_recording_shapes(trained, tmp_path):
    _, _, rec = trained
    s = rec.steps
    assert s > 50 and rec.episode.shape == rec.step.shape == rec.reward.shape == (s,)
    assert sorted(np.unique(rec.episode)) == list(range(8))
    assert list(rec.activations)[:2] == ["policy_dense0", "policy_dense1"]
    assert rec.activations["policy_dense0"].shape == (s, 64) and rec.activations["policy_head"].shape == (s, 2)
    assert rec.activations["value_head"].shape == (s, 1) and rec.variables["obs/obs"].shape == (s, 4)
    for e in range(8):  # steps run 0..L-1 within every episode
        steps = rec.step[rec.episode == e]
        np.testing.assert_array_equal(steps, np.arange(len(steps)))
    from analysis.recording import Recording
    rec.save(tmp_path)
    again = Recording.load(tmp_path)
    np.testing.assert_array_equal(again.activations["policy_dense1"], rec.activations["policy_dense1"])


def test_input_variables_decode_near_perfectly_from_first_layer(trained):
    from analysis.analyses import decode
    result = decode(trained[2], n_folds=4)
    assert result["variables"] == [f"obs/obs[{i}]" for i in range(4)]  # cart x, x', pole angle, angle'
    r2 = dict(zip(result["rows"], result["r2"]))
    assert r2["input"].min() > 0.99 and r2["policy_dense0"].min() > 0.95, r2
    assert result["r2"].shape == (len(result["rows"]), 4) and result["rows"][:2] == ["input", "policy_dense0"]
    # the whole 4-column variable: 1 - sum SS_res / sum SS_tot, from the columns' R^2 and their variances
    obs = trained[2].variables["obs/obs"].astype(np.float64)
    ss = ((obs - obs.mean(axis=0)) ** 2).sum(axis=0)
    for i, row in enumerate(result["rows"]):
        r2_cols = np.array([result["per_column"][row][f"obs/obs[{c}]"][0] for c in range(4)])
        assert result["by_variable"]["obs/obs"][i] == pytest.approx(1 - np.sum((1 - r2_cols) * ss) / ss.sum())


def test_pca_rsa_and_weights(trained):
    from analysis.analyses import linear_cka, pca, rsa, weight_statistics
    rec = trained[2]
    result = pca(rec)
    ratio = result["policy_dense0"]["explained_variance_ratio"]
    assert len(ratio) == 10 and np.all(np.diff(ratio) <= 1e-9) and 0.5 < sum(ratio) <= 1 + 1e-6
    assert result["policy_dense0"]["projection"].shape == (rec.steps, 3)
    sim = rsa(rec)
    cka = sim["cka"]
    assert sim["names"][0] == "input" and np.allclose(cka, cka.T) and np.allclose(np.diag(cka), 1)
    assert np.all((cka >= -1e-9) & (cka <= 1 + 1e-9))
    x = np.random.default_rng(0).normal(size=(200, 5))
    rotation = np.linalg.qr(np.random.default_rng(1).normal(size=(5, 5)))[0]
    assert linear_cka(x, 3 * x @ rotation) == pytest.approx(1.0)  # invariant to rotation and scale
    stats = weight_statistics([("k", np.ones((3, 4))), ("b", np.zeros(4))])
    assert stats[0]["spectral_norm"] == pytest.approx(np.sqrt(12)) and stats[1]["near_zero"] == 1.0


def test_recurrent_states_are_recorded(trained, monkeypatch):
    monkeypatch.setenv("DEXTERITY_STORAGE", str(trained[0]))
    agent_id = _agent(model="lstm", seed=4)
    from analysis.investigator import Investigator
    rec = Investigator(agent_id).record(episodes=2, seed=0, deterministic=False, envs=2)
    assert rec.activations["policy_lstm"].shape == (rec.steps, 64)        # output h
    assert rec.activations["policy_lstm/state1"].shape == (rec.steps, 64)  # cell state c
    assert "value_lstm/state1" in rec.activations


def test_cli_writes_every_file(trained):
    root, agent_id, _ = trained
    proc = run_analysis("all", "--id", agent_id, "-n", "4", "--stochastic", "--cpu", "--storage", str(root))
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = root / "experiments" / agent_id / "analysis"
    for name in ("recording.npz", "recording.json", "pca.png", "pca.json", "decode.png", "decode.json",
                 "rsa.png", "rsa.json", "weights.png", "weights.json", "dynamics.png", "dynamics.json"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    decoded = json.loads((out / "decode.json").read_text())
    assert decoded["rows"][0] == "input" and len(decoded["r2"]) == len(decoded["rows"])
    assert "decoding R^2" in proc.stdout
    table = subprocess.run([sys.executable, "-m", "analysis.summary", str(out), "--layers", "policy_dense0"],
                           capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert table.returncode == 0, table.stderr
    header, _, row = table.stdout.strip().splitlines()
    assert header.split(" | ")[-1] == "R^2 obs/obs |"
    cells = [c.strip() for c in row.strip("| ").split("|")]
    i = decoded["rows"].index("policy_dense0")
    assert cells[0] == "policy_dense0" and cells[1].startswith(f"{agent_id} @ ")
    assert cells[-1] == f"{decoded['by_variable']['obs/obs'][i]:.2f}"
    assert cells[2] == f"{json.loads((out / 'pca.json').read_text())['policy_dense0']['dimension']:.1f}"
    assert_one_line_error(subprocess.run([sys.executable, "-m", "analysis.summary", str(out), "--variables", "nope"],
                                         capture_output=True, text=True, cwd=ROOT, timeout=120), "--variables")
    assert_one_line_error(subprocess.run([sys.executable, "-m", "analysis.summary", str(root)],
                                         capture_output=True, text=True, cwd=ROOT, timeout=120), "is missing")
    broken = root / "broken"
    shutil.copytree(out, broken)
    (broken / "dynamics.json").write_text("[1, 2]")
    assert_one_line_error(subprocess.run([sys.executable, "-m", "analysis.summary", str(broken)],
                                         capture_output=True, text=True, cwd=ROOT, timeout=120), "dynamics.json")
    again = run_analysis("pca", "--id", agent_id, "--cpu", "--storage", str(root))  # reads that recording
    assert again.returncode == 0 and f"using the recording in {out}: 4 episodes of {agent_id}" in again.stdout
    bad = run_analysis("pca", "--id", "no-such-agent", "--storage", str(root))
    assert bad.returncode == 2 and bad.stderr.startswith("error:")


def test_env_kwargs_override_the_saved_ones_while_recording(trained):
    """--env-kwargs reach the recorded env (gym.make's max_episode_steps cuts every episode at 5 steps,
    where the agent's own CartPole episodes run longer) and are kept in the recording's meta."""
    _, agent_id, rec = trained
    from analysis.investigator import Investigator
    assert max(np.bincount(rec.episode)) > 5
    short = Investigator(agent_id).record(episodes=3, seed=0, envs=1, env_kwargs={"max_episode_steps": 5})
    assert list(np.bincount(short.episode)) == [5, 5, 5]
    assert short.meta["env_kwargs"] == {"max_episode_steps": 5}


@pytest.mark.parametrize("args, flag", [
    (["--seed", "-1"], "--seed"),
    (["--env-kwargs", "{bad"], "--env-kwargs"),
    (["--env-kwargs", "[1]"], "--env-kwargs"),
    (["--out", "{file}"], "is a file; give a folder"),
])
def test_bad_seed_or_env_kwargs_are_one_line_before_the_agent_loads(tmp_path, args, flag):
    (tmp_path / "file").write_text("keep")
    args = [a.replace("{file}", str(tmp_path / "file")) for a in args]
    assert_one_line_error(run_analysis("record", "--id", "no-such-agent", *args, "--storage", str(tmp_path)), flag)
    assert (tmp_path / "file").read_text() == "keep"


def test_a_half_written_recording_is_a_clear_error_and_saving_replaces_both_files(tmp_path):
    from analysis.recording import Recording
    from dexterity.errors import DexterityError
    steps = np.arange(4)
    rec = Recording({"dense": np.ones((4, 2))}, {"obs": np.zeros((4, 3))}, {"x": np.ones((4, 1))}, steps * 0,
                    steps, np.zeros(4), {"agent_id": "a"})
    rec.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["recording.json", "recording.npz"]
    np.testing.assert_array_equal(Recording.load(tmp_path).activations["dense"], np.ones((4, 2)))
    (tmp_path / "recording.json").unlink()  # a crash between the two files of an older writer
    with pytest.raises(DexterityError, match="incomplete or corrupt"):
        Recording.load(tmp_path)
    (tmp_path / "recording.json").write_text('{"layers": ["other"], "inputs": [], "variables": []}')
    with pytest.raises(DexterityError, match="incomplete or corrupt"):
        Recording.load(tmp_path)
    (tmp_path / "recording.npz").write_bytes(b"")  # what a power cut can leave
    with pytest.raises(DexterityError, match="incomplete or corrupt"):
        Recording.load(tmp_path)
    rec.activations["dense"] = np.full((4, 2), 7.0)
    rec.save(tmp_path)  # over the damaged pair
    assert sorted(p.name for p in tmp_path.iterdir()) == ["recording.json", "recording.npz"]
    np.testing.assert_array_equal(Recording.load(tmp_path).activations["dense"], np.full((4, 2), 7.0))


def test_a_unit_quiet_in_the_training_episodes_cannot_blow_up_held_out_predictions():
    """A saturated unit (std 1e-7 in four episodes) that moves in the fifth: the decoder of the signal must
    not turn it into a wild prediction on that held-out episode (unit-by-unit standardisation did)."""
    from analysis.analyses import decode_r2
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(5), 200)
    signal = rng.normal(size=1000)
    quiet = rng.normal(scale=1e-7, size=1000)
    quiet[groups == 4] = 1.0
    x = np.stack([signal, quiet, rng.normal(size=1000)], axis=1)
    y = (2.0 * signal + 0.1 * rng.normal(size=1000))[:, None]
    r2 = decode_r2(x, y, groups, n_folds=5)
    assert r2[0] > 0.99, r2


def test_pooled_r2_is_the_share_of_the_variables_whole_variance():
    """Hand-computed: SS_tot 4 and 0.0075; R^2 0.9 and -100 -> 1 - (0.1 * 4 + 101 * 0.0075) / 4.0075.
    A rare column's large negative R^2 counts by its tiny variance (its plain mean would be -49.55)."""
    from analysis.analyses import pooled_r2
    y = np.array([[0.0, 0.0, 1.0], [2.0, 0.0, 1.0], [0.0, 0.0, 1.0], [2.0, 0.1, 1.0]])
    r2 = np.array([0.9, -100.0, np.nan])  # the constant third column has no R^2
    assert pooled_r2(r2, y) == pytest.approx(1 - (0.1 * 4 + 101 * 0.0075) / 4.0075)
    assert np.isnan(pooled_r2(np.array([np.nan]), np.ones((4, 1))))


@pytest.mark.parametrize("n, d", [(60, 8), (12, 30)])  # more steps than units, and fewer
def test_ridge_predictions_match_scikit_learns_ridge(n, d):
    from sklearn.linear_model import Ridge
    from analysis.analyses import _ridge_predictions
    rng = np.random.default_rng(3)
    x, y, x_new = rng.normal(size=(n, d)) + 2.0, rng.normal(size=(n, 3)) - 1.0, rng.normal(size=(5, d))
    relative = np.array([1e-3, 0.5])
    ours = _ridge_predictions(x, y, x_new, relative)
    for k, r in enumerate(relative):
        np.testing.assert_allclose(ours[k], Ridge(alpha=n * r).fit(x, y).predict(x_new), rtol=1e-7, atol=1e-9)


def test_decoding_too_few_steps_is_one_error_and_a_nan_representation_scores_nan():
    from analysis.analyses import decode_r2
    from dexterity.errors import DexterityError
    with pytest.raises(DexterityError, match="--folds 5: only 3 steps"):
        decode_r2(np.ones((3, 2)), np.arange(3.0)[:, None], np.zeros(3), n_folds=5)
    x = np.random.default_rng(0).normal(size=(40, 3))
    x[7, 1] = np.nan
    assert np.isnan(decode_r2(x, x[:, :1] * 0 + np.arange(40.0)[:, None], np.repeat(np.arange(8), 5))).all()


def test_ridge_paths_match_the_normal_equations():
    from analysis.analyses import ridge_paths
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(50, 6)), rng.normal(size=(50, 2))
    for alpha, b in zip((0.1, 10.0), ridge_paths(x, y, np.array([0.1, 10.0]))):
        np.testing.assert_allclose(b, np.linalg.solve(x.T @ x + alpha * np.eye(6), x.T @ y), rtol=1e-9)


def test_an_episode_code_does_not_pass_for_a_decodable_variable():
    """16 episodes, each with its own constant 32-d code (a goal) and its own constant target unrelated to
    it: a ridge tuned on single held-out steps fits the episodes seen through their codes and predicts
    held-out episodes far worse than their mean (R^2 -0.60 over these six draws; the training mean
    itself scores -0.13); tuned on held-out episodes it stays near that floor (-0.21)."""
    from analysis.analyses import decode_r2
    scores = []
    for seed in range(6):
        rng = np.random.default_rng(seed)
        groups = np.repeat(np.arange(16), 100)
        codes, targets = rng.normal(size=(16, 32)), rng.normal(size=(16, 1))
        x = codes[groups] + 0.05 * rng.normal(size=(1600, 32))
        y = targets[groups] + 0.05 * rng.normal(size=(1600, 1))
        scores.append(decode_r2(x, y, groups, n_folds=5)[0])
    assert np.mean(scores) > -0.3, scores


@pytest.mark.parametrize("episodes, steps, min_episodes, whole, n_splits", [
    (6, 60, 5, True, 5),    # enough episodes for the outer folds: whole episodes, 5 folds
    (3, 60, 5, False, 5),   # too few for the outer folds: contiguous blocks of steps
    (3, 60, 2, True, 3),    # the inner folds take whole episodes from two on, one per fold
    (1, 4, 2, False, 4),    # one episode: blocks, as many as there are steps up to n_folds
])
def test_folds_hold_out_whole_episodes_when_there_are_enough(episodes, steps, min_episodes, whole, n_splits):
    from analysis.analyses import splitter
    groups = np.repeat(np.arange(episodes), steps // episodes)
    folds, split_groups = splitter(groups, 5, min_episodes)
    tests = [test for _, test in folds.split(np.zeros((len(groups), 1)), None, split_groups)]
    assert len(tests) == n_splits
    assert sorted(np.concatenate(tests).tolist()) == list(range(len(groups)))  # every step held out once
    split_episode = any(set(groups[test]) & set(groups[np.setdiff1d(np.arange(len(groups)), test)]) for test in tests)
    assert split_episode != whole
    if not whole:
        assert all(np.all(np.diff(test) == 1) for test in tests)  # contiguous blocks


def test_a_single_step_cannot_be_split():
    from analysis.analyses import splitter
    assert splitter(np.zeros(1), 5, 2) == (None, None)
