"""train.py and evaluate.py in subprocesses: 2 cycles per setting, storage files, resume, errors."""
import json

import numpy as np
import pytest

from conftest import assert_one_line_error, progress_records, run_script

SMALL = ["--iterations", "2", "--workers", "2", "--horizon", "32", "--batch-size", "32", "--epochs", "2",
         "--seed", "1"]


def _agent_id(storage):
    ids = sorted(p.name for p in (storage / "saved_models").iterdir())
    assert len(ids) == 1
    return ids[0]


@pytest.mark.parametrize("args", [
    ["CartPole-v1"],
    ["CartPole-v1", "--model", "gru", "--tbptt", "8"],
    ["CartPole-v1", "--model", "lstm", "--shared", "--architecture", "deeper"],
    ["Pendulum-v1", "--distribution", "gaussian"],
    ["Pendulum-v1", "--distribution", "beta", "--model", "rnn", "--tbptt", "16", "--architecture", "wider"],
    ["Pendulum-v1", "--distribution", "multi-categorical", "--lr-schedule", "exponential"],
    ["LunarLander-v3", "--sequential"],
], ids=["cartpole-ffn", "cartpole-gru", "cartpole-lstm-shared", "pendulum-gaussian", "pendulum-beta-rnn",
        "pendulum-multicategorical", "lunarlander"])
def test_two_cycles_write_checkpoints_andprogress_records(storage, args):
    proc = run_script("train.py", *args, *SMALL)
    assert "cycle 2/2" in proc.stdout and "Traceback" not in proc.stderr
    agent_id = _agent_id(storage)
    records = progress_records(storage, agent_id)
    saves = ["last"] + (["best"] if any("rollout/return_mean" in r for r in records) else [])
    for save in saves:
        folder = storage / "saved_models" / agent_id / save
        assert {"agent.json", "weights.npz", "optimizer.npz", "normalisers.json", "spaces.pkl", "rng.json"} <= {
            p.name for p in folder.iterdir()}
    assert [r["iteration"] for r in records] == [0, 1]
    assert records[-1]["frames"] == 2 * 2 * 32
    for key in ("train/policy_loss", "train/value_loss", "train/entropy", "train/approx_kl", "train/clip_fraction",
                "train/explained_variance", "train/lr", "time/steps_per_s", "time/wall"):
        assert key in records[-1] and np.isfinite(records[-1][key])
    meta = json.loads((storage / "experiments" / agent_id / "meta.json").read_text())
    assert meta["env_id"] == args[0] and meta["status"] == "finished" and meta["config"]["seed"] == 1
    # 2 cheap envs: in-process, chosen (automatic) unless asked for (--sequential)
    layout = "in-process (--sequential)" if "--sequential" in args else "in-process (automatic: "
    assert f"envs: {layout}" in proc.stdout and meta["env_layout"].startswith(layout)


def test_resume_continues_iterations_curves_and_state(storage):
    run_script("train.py", "CartPole-v1", *SMALL)
    agent_id = _agent_id(storage)
    info = json.loads((storage / "saved_models" / agent_id / "last" / "agent.json").read_text())
    assert info["iteration"] == 2
    proc = run_script("train.py", "--load-from", agent_id, "--iterations", "4")
    assert "cycle 4/4" in proc.stdout and "cycle 2/4" not in proc.stdout
    assert [r["iteration"] for r in progress_records(storage, agent_id)] == [0, 1, 2, 3]
    records = progress_records(storage, agent_id)
    assert records[2]["frames"] == 3 * 64 and records[2]["time/wall"] >= records[1]["time/wall"]
    meta = json.loads((storage / "experiments" / agent_id / "meta.json").read_text())
    assert meta["resumed_at"] == [0, 2]
    norms = json.loads((storage / "saved_models" / agent_id / "last" / "normalisers.json").read_text())
    assert norms["state"]["obs"]["count"] == 4 * 64  # 2 envs x 32 observed steps x 4 cycles: counts continue
    assert _agent_id(storage) == agent_id


def test_same_seed_gives_same_results_in_sequential_mode(tmp_path, monkeypatch):
    runs = []
    for name in ("a", "b"):
        monkeypatch.setenv("DEXTERITY_STORAGE", str(tmp_path / name))
        run_script("train.py", "Pendulum-v1", "--sequential", *SMALL)
        agent_id = _agent_id(tmp_path / name)
        runs.append([{k: v for k, v in r.items() if not k.startswith(("time/", "memory/"))}
                     for r in progress_records(tmp_path / name, agent_id)])
    assert runs[0] == runs[1]


def test_evaluate_reports_mean_and_std(storage):
    run_script("train.py", "CartPole-v1", *SMALL)
    proc = run_script("evaluate.py", "-n", "3", "--deterministic")
    assert "3 episodes, return" in proc.stdout and "±" in proc.stdout
    agent_id = _agent_id(storage)
    evaluation = json.loads((storage / "experiments" / agent_id / "evaluations.jsonl").read_text().splitlines()[0])
    assert evaluation["episodes"] == 3 and evaluation["deterministic"] is True
    proc = run_script("evaluate.py", "-n", "2", "--sequential", "--env-kwargs", '{"max_episode_steps": 7}')
    assert "length 7.0 ± 0.0" in proc.stdout and 'with {"max_episode_steps": 7}' in proc.stdout
    evaluation = json.loads((storage / "experiments" / agent_id / "evaluations.jsonl").read_text().splitlines()[1])
    assert evaluation["env_kwargs"] == {"max_episode_steps": 7}
    proc = run_script("evaluate.py", "--env-kwargs", "[1]", check=False)
    assert proc.returncode == 2 and "must be a JSON object" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("args, message", [
    (["Nope-v0"], "Nope-v0"),
    (["CartPole-v1", "--pcon", "nope"], "unknown preset"),
    (["CartPole-v1", "--distribution", "beta"], "beta distribution needs a Box"),
    (["CartPole-v1", "--model", "gru", "--tbptt", "5", "--workers", "2", "--horizon", "32", "--batch-size", "32"],
     "must be a multiple of --tbptt 5"),
    (["CartPole-v1", "--batch-size", "4096", "--workers", "2", "--horizon", "32"], "batch_size"),
    (["--load-from", "20200101-000000-0000"], "no saved agent"),
    (["CartPole-v1", "--env-kwargs", "{bad"], "not valid JSON"),
    (["CartPole-v1", "--seed", "-5"], "--seed must be non-negative and below 2^32, got -5"),
    (["CartPole-v1", "--seed", str(2 ** 32)], "--seed must be non-negative and below 2^32"),  # as evaluate's
    (["CartPole-v1", "--lr-pi", "nan"], "--lr-pi must be finite"),
    (["--load-from", "20200101-000000-0000", "--seed", "-5"], "--seed must be non-negative"),  # before the lookup
    (["--load-from", "a" * 300], "longer than 128 characters"),
    (["--fork", "20200101-000000-0000:first"], "a save is 'last', 'best' or a cycle number, got 'first'"),
    (["CartPole-v1", "--env-kwargs", '{"max_episode_steps": 0}'], "rejected its options"),
    (["Pendulum-v1", "--env-kwargs", '{"g": "abc"}', "--workers", "2", "--horizon", "16", "--batch-size", "16"],
     "failed with its options {'g': 'abc'} (TypeError"),  # builds, then fails in step
    (["ReachAbsolute-v0", "--rcon", "reach.smooth", "--env-kwargs", '{"reward_config": "reach.default"}'],
     "--rcon reach.smooth and reward_config 'reach.default' in --env-kwargs disagree"),
    (["CartPole-v1", "--experiment-group", "g1", "--no-monitor"], "--experiment-group is written to the monitor"),
])
def test_bad_input_gives_one_line_and_exit_code_2(storage, args, message):
    assert_one_line_error(run_script("train.py", *args, check=False), message)


@pytest.mark.parametrize("args, flag", [
    (["--seed", "-5"], "--seed"),
    (["--seed", str(2 ** 32)], "--seed"),
    (["--workers", "-2"], "--workers"),
    (["--workers", "0"], "--workers"),
    (["-n", "0"], "--episodes"),
])
def test_evaluate_bad_numbers_are_one_line_before_the_agent_loads(storage, args, flag):
    """Checked before anything else: the agent id does not even exist, and that is not what is reported."""
    assert_one_line_error(run_script("evaluate.py", "20200101-000000-0000", *args, check=False), flag)


def test_corrupt_agent_is_reported_and_left_untouched(storage):
    run_script("train.py", "CartPole-v1", *SMALL)
    agent_id = _agent_id(storage)
    weights = storage / "saved_models" / agent_id / "last" / "weights.npz"
    weights.write_bytes(b"not a zip file")
    for script, args in (("evaluate.py", [agent_id, "--save", "last"]),
                         ("train.py", ["--load-from", agent_id, "--iterations", "5"])):
        proc = run_script(script, *args, check=False)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        assert "corrupt" in proc.stderr
    assert weights.read_bytes() == b"not a zip file"
    assert len(progress_records(storage, agent_id)) == 2


def test_run_control_flags(storage):
    proc = run_script("train.py", "Pendulum-v1", *SMALL[:1], "3", *SMALL[2:], "--eval", "--save-every", "1",
                      "--monitor-frequency", "2", "--target-kl", "1e-9", "--cpu", "--debug")
    agent_id = _agent_id(storage)
    saves = {p.name for p in (storage / "saved_models" / agent_id).iterdir()}
    assert {"1", "2", "3", "last", "best"} <= saves
    records = progress_records(storage, agent_id)
    assert [r["iteration"] for r in records] == [0, 2]          # every 2nd cycle, and the last
    assert records[0]["eval/episodes"] == 5                      # no training episode ended: 5 evaluated
    assert records[0]["rollout/episodes"] == 5
    assert records[0]["train/epochs_done"] == 1                  # the KL stop fired after the first epoch
    assert "Traceback" not in proc.stderr


def test_radical_evaluation_and_no_monitor(storage):
    run_script("train.py", "CartPole-v1", *SMALL, "--radical-evaluation", "--no-monitor")
    assert not (storage / "experiments").exists()
    agent_id = _agent_id(storage)
    info = json.loads((storage / "saved_models" / agent_id / "last" / "agent.json").read_text())
    assert info["config"]["radical_evaluation"] is True and info["iteration"] == 2


def test_flag_values_are_checked_by_the_parser(storage):
    proc = run_script("train.py", "CartPole-v1", "--lr-schedule", "cosine", check=False)
    assert proc.returncode == 2 and "'cosine' is not one of none, exponential, linear" in proc.stderr
    assert "Traceback" not in proc.stderr
    run_script("train.py", "CartPole-v1", "--lr-schedule", "none", "--seed", "none", *SMALL[:2])


def test_sigterm_stops_training_like_ctrl_c_and_keeps_the_last_checkpoint(storage):
    """SLURM and `kill` send SIGTERM: the run ends with exit 143, status interrupted, last checkpoint usable."""
    import signal
    import subprocess
    import sys
    import time

    from conftest import ROOT
    proc = subprocess.Popen([sys.executable, str(ROOT / "train.py"), "CartPole-v1", "--iterations", "100000",
                             "--workers", "2", "--horizon", "32", "--batch-size", "32", "--epochs", "1", "--seed", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    deadline = time.time() + 300
    while time.time() < deadline and not list((storage / "saved_models").glob("*/last/agent.json")):
        time.sleep(0.5)
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 143 and "terminated (SIGTERM)" in err and "Traceback" not in err, err[-2000:]
    agent_id = _agent_id(storage)
    meta = json.loads((storage / "experiments" / agent_id / "meta.json").read_text())
    assert meta["status"] == "interrupted" and meta["iteration"] >= 1
    evaluation = run_script("evaluate.py", agent_id, "-n", "2", "--save", "last")
    assert "2 episodes" in evaluation.stdout
