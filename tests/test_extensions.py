"""Extension points used from outside the package: user model, distribution, env, reward, preset, transformer.

Each user plugin (examples/ and tests/plugins/) trains 2 cycles through train.py flags, is saved and
evaluated by evaluate.py; broken plugins give exit code 2 and one `error:` line naming the plugin.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import tensorflow as tf

from conftest import ROOT, progress_records, run_script
from dexterity.configs.hp_config import make_config
from dexterity.envpool import EnvPool, import_plugins
from dexterity.errors import ConfigError, DexterityError
from dexterity.spaces import Sense

SMALL = ["--iterations", "2", "--workers", "2", "--horizon", "16", "--batch-size", "16", "--epochs", "1",
         "--seed", "3"]


def _agent_id(storage: Path) -> str:
    ids = sorted(p.name for p in (storage / "saved_models").iterdir())
    assert len(ids) == 1
    return ids[0]


def _train_and_evaluate(storage: Path, *args: str) -> tuple[str, str, str]:
    """train.py with SMALL + args, then evaluate.py on the saved agent; returns (agent id, train out, eval out)."""
    trained = run_script("train.py", *SMALL, *args)  # args win over SMALL
    assert "cycle 2/2" in trained.stdout and "Traceback" not in trained.stderr
    agent_id = _agent_id(storage)
    info = json.loads((storage / "saved_models" / agent_id / "last" / "agent.json").read_text())
    assert info["plugins"] == [a for i, a in enumerate(args) if i and args[i - 1] == "--plugin"]
    evaluated = run_script("evaluate.py", agent_id, "-n", "2", "--save", "last", "--sequential")
    assert f"agent {agent_id} (last, cycle 2)" in evaluated.stdout and "2 episodes" in evaluated.stdout
    return agent_id, trained.stdout, evaluated.stdout


def test_user_model_trains_saves_and_evaluates(storage):
    agent_id, out, _ = _train_and_evaluate(storage, "CartPole-v1", "--plugin", "examples.brain_model",
                                           "--architecture", "brain", "--model", "rnn", "--tbptt", "8",
                                           "--sequential")
    assert "brain/rnn" in out
    with np.load(storage / "saved_models" / agent_id / "last" / "weights.npz") as weights:
        names = " ".join(weights.files)
    assert "motor_recurrent" in names and "area_obs" in names and "critic" in names


def test_user_distribution_trains_saves_and_evaluates(storage):
    _, out, _ = _train_and_evaluate(storage, "Pendulum-v1", "--plugin", "examples.custom_distribution",
                                    "--distribution", "laplace", "--sequential")
    assert "| laplace |" in out


def test_user_transformer_trains_saves_and_evaluates(storage):
    agent_id, _, _ = _train_and_evaluate(storage, "CartPole-v1", "--plugin", "examples.custom_transformer",
                                         "--state-transformer", "divisive_normaliser", "--sequential")
    info = json.loads((storage / "saved_models" / agent_id / "last" / "agent.json").read_text())
    assert info["config"]["state_transformer"] == "divisive_normaliser"
    norms = json.loads((storage / "saved_models" / agent_id / "last" / "normalisers.json").read_text())
    assert norms["state"]["obs"]["count"] > 0
    refused = run_script("train.py", "CartPole-v1", "--plugin", "examples.custom_transformer",
                         "--state-transformer", "divisive_normaliser", "--export-file", str(storage / "x"),
                         check=False)
    assert refused.returncode == 2 and "built-in state normaliser only" in refused.stderr


def test_user_env_with_vision_trains_in_worker_processes(storage):
    _, out, evaluated = _train_and_evaluate(storage, "PointReach-v0", "--plugin", "examples.custom_env",
                                            "--processes", "2")
    assert "PointReach-v0 | preset continuous" in out and "success rate" in evaluated


def test_user_reward_function_and_config_through_rcon(storage):
    agent_id, _, evaluated = _train_and_evaluate(
        storage, "ReachAbsolute-v0", "--plugin", "examples.custom_reward", "--rcon", "reach.smooth",
        "--env-kwargs", '{"reward_function": "reach_smooth"}', "--architecture", "simple", "--model", "ffn",
        "--processes", "1", "--horizon", "50", "--batch-size", "50")
    meta = json.loads((storage / "experiments" / agent_id / "meta.json").read_text())
    assert json.dumps(meta).count('"proximity_scale": 0.05') >= 1  # the named config was used and saved
    records = progress_records(storage, agent_id)
    assert records[-1]["rollout/return_mean"] > 0  # reach_smooth is positive; the built-in reach is not
    assert float(re.search(r"return (-?[\d.]+)", evaluated).group(1)) > 0


def test_user_preset_selected_with_pcon(storage):
    proc = run_script("train.py", "CartPole-v1", "--plugin", "examples.custom_config", "--pcon", "cartpole-quick",
                      *SMALL, "--sequential")
    assert "preset cartpole-quick" in proc.stdout and "cycle 2/2" in proc.stdout


BROKEN = {  # case: (train.py flags, texts the one error line must contain)
    "import-fails": (["--plugin", "tests.plugins.broken_import"],
                     ["plugin 'tests.plugins.broken_import' failed to import", "dexterity_no_such_dependency"]),
    "not-found": (["--plugin", "tests.plugins.no_such_plugin"], ["plugin 'tests.plugins.no_such_plugin' not found"]),
    "wrong-shapes": (["--plugin", "tests.plugins.broken_model", "--architecture", "trailing-one"],
                     ["architecture 'trailing-one' (registered by tests.plugins.broken_model)",
                      "value has shape (2, 1), expected (2,)"]),
    "missing-methods": (["--plugin", "tests.plugins.broken_distribution", "--distribution", "half-done"],
                        ["plugin 'tests.plugins.broken_distribution'", "does not implement kl, to_env"]),
    "builder-refuses": (["--plugin", "examples.brain_model", "--architecture", "brain"],
                        ["brain architecture is a leaky rate network: use --model rnn"]),
}


def _train_broken(case: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "train.py"), "CartPole-v1", *BROKEN[case][0], *SMALL,
                           "--sequential", "--no-monitor"], cwd=ROOT, text=True, capture_output=True, timeout=300)


def test_broken_plugins_exit_2_naming_them(storage):
    """Two cases at a time: each process spends most of its time importing TensorFlow."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(zip(BROKEN, pool.map(_train_broken, BROKEN)))
    for case, proc in results.items():
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2, f"{case}: exit {proc.returncode}\n{proc.stderr[-2000:]}"
        assert len(lines) == 1 and lines[0].startswith("error: "), f"{case}:\n{proc.stderr[-2000:]}"
        for text in BROKEN[case][1]:
            assert text in lines[0], f"{case}: {text!r} not in {lines[0]!r}"


def test_env_workers_skip_tensorflow_plugins_but_load_env_plugins():
    plugins = ["examples.brain_model", "examples.custom_distribution", "tests.plugins.probe_env"]
    with EnvPool("ProbeEnv-v0", 2, seed=0, processes=2, plugins=plugins) as pool:
        assert pool.call("tensorflow_loaded") == [False, False]


def test_import_plugins_reports_the_failing_line(tmp_path, monkeypatch):
    (tmp_path / "bad_plugin_for_test.py").write_text("x = 1\nraise ValueError('bad constant')\n")
    monkeypatch.chdir(tmp_path)  # the current directory is searched for plugins
    with pytest.raises(DexterityError, match=r"plugin 'bad_plugin_for_test' failed to import: ValueError: "
                                             r"bad constant \(.*bad_plugin_for_test.py:2\)"):
        import_plugins(["bad_plugin_for_test"])
    with pytest.raises(DexterityError, match=r"is a file path; give the module path instead, e.g. --plugin "
                                             r"examples.brain_model$"):
        import_plugins(["examples/brain_model.py"])


def test_model_contract_violations_are_named(monkeypatch):
    import examples.brain_model as brain
    from dexterity.distributions import get_distribution
    from dexterity.models import build_model
    from dexterity.models import base
    senses = [Sense("proprioception", (3,), "float32", False), Sense("asymmetric", (2,), "float32", False)]
    dist = get_distribution("gaussian", gym.spaces.Box(-1, 1, (2,)))
    config = make_config(architecture="brain", model="rnn")
    model = build_model(config, senses, dist)
    params, value, state = model.step({s.name: tf.ones((4, *s.shape)) for s in senses}, model.initial_state(4))
    assert params.shape == (4, 4) and value.shape == (4,) and state[0].shape == (4, brain.MOTOR_UNITS)
    multisensory = [Sense("vision", (36, 36, 3), "uint8", True), *senses]  # the layout of examples.custom_env
    vision_model = build_model(config, multisensory, dist)
    assert any("visual_encoder" in v.path for v in vision_model.variables)
    step = brain.BrainModel.step
    monkeypatch.setattr(brain.BrainModel, "step", lambda self, obs, st: (*step(self, obs, st)[:2], st + st))
    with pytest.raises(ConfigError, match=r"registered by examples.brain_model\) breaks the model contract: new "
                                          r"state has shapes \[\(2, 64\), \(2, 64\)\], expected \[\(2, 64\)\]"):
        build_model(config, senses, dist)
    monkeypatch.setitem(base._ARCHITECTURES, "raises", lambda *args: 1 / 0)
    monkeypatch.setattr(base._ARCHITECTURES["raises"], "__module__", "user.models", raising=False)
    with pytest.raises(ConfigError, match=r"'raises' \(registered by user.models\) failed to build: ZeroDivision"):
        build_model(make_config(architecture="raises"), senses, dist)


def test_laplace_distribution_maths():
    from examples.custom_distribution import Laplace
    dist = Laplace(gym.spaces.Box(-2, 2, (3,)))
    p = tf.constant([[0.1, -0.5, 1.0, 0.0, -1.0, 0.3]] * 20000)
    q = tf.constant([[0.4, -0.2, 0.0, 0.2, -0.5, 0.0]] * 20000)
    actions = dist.sample(p, tf.random.Generator.from_seed(0))
    np.testing.assert_allclose(dist.kl(p, p).numpy(), 0.0, atol=1e-6)
    mc_kl = np.mean(dist.log_prob(p, actions).numpy() - dist.log_prob(q, actions).numpy())
    np.testing.assert_allclose(mc_kl, dist.kl(p, q).numpy()[0], atol=0.03)
    np.testing.assert_allclose(-np.mean(dist.log_prob(p, actions).numpy()), dist.entropy(p).numpy()[0], atol=0.03)
    np.testing.assert_allclose(np.median(actions.numpy(), axis=0), [0.1, -0.5, 1.0], atol=0.03)
    assert np.all(np.abs(dist.to_env(np.full((1, 3), 5.0))) <= 2.0)


def test_custom_transformer_merges_and_round_trips():
    from examples.custom_transformer import demo
    result = demo()
    assert result["count"] == 400
    for key in ("max_difference_between_ranks", "max_difference_to_single_rank", "max_difference_after_reload"):
        assert result[key] < 1e-9, key
