"""Damaged or hand-edited saved agents: every loader gives one clear error (exit 2 from the CLIs),
and a command that fails leaves every saved file as it was; a copied agent folder trains as the
copy, never as the original it was copied from."""
import hashlib
import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import progress_records, run_script
from dexterity.agent import checkpoint as ckpt
from dexterity.agent.ppo import PPOAgent
from dexterity.cli.train import main as train_main
from dexterity.configs.hp_config import make_config
from dexterity.errors import AgentNotFoundError, ConfigError, DexterityError

TINY = dict(workers=2, horizon=16, batch_size=16, epochs=1, sequential=True, seed=3)


def _tree(root: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under `root`."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def saved(storage):
    """A CartPole agent trained for 2 cycles; returns its id."""
    with PPOAgent("CartPole-v1", make_config(**TINY), verbose=False) as agent:
        agent.drill(2)
        return agent.agent_id


def _last(storage: Path, agent_id: str) -> Path:
    return storage / "saved_models" / agent_id / "last"


@pytest.mark.parametrize("field, value", [
    ("iteration", "abc"), ("iteration", None), ("iteration", -1), ("frames", "x"), ("config", []),
    ("best_return", "abc"), ("wall_time", "x"), ("env_kwargs", [1]), ("env_id", 5), ("iteration", True),
])
def test_a_mistyped_agent_json_field_is_named(storage, saved, field, value):
    path = _last(storage, saved) / "agent.json"
    info = json.loads(path.read_text())
    info[field] = value
    path.write_text(json.dumps(info))
    with pytest.raises(AgentNotFoundError, match=f"'{field}'"):
        ckpt.read_info(path.parent)


def test_a_missing_agent_json_field_is_named(storage, saved):
    path = _last(storage, saved) / "agent.json"
    info = json.loads(path.read_text())
    del info["frames"]
    path.write_text(json.dumps(info))
    with pytest.raises(AgentNotFoundError, match="no 'frames'"):
        ckpt.read_info(path.parent)


def _zeros_of_other_shapes(path: Path) -> None:
    with np.load(path) as data:
        arrays = {k: np.zeros(np.asarray(v).size + 1, v.dtype) for k, v in data.items()}
    np.savez(path.with_suffix(""), **arrays)  # numpy appends .npz


@pytest.mark.parametrize("name, damage, message", [
    ("normalisers.json", lambda p: p.write_text("[1]"), "normalisers.json is corrupt"),
    ("normalisers.json", lambda p: p.write_text('{"state": 5, "reward": null}'), "normalisers.json is corrupt"),
    ("normalisers.json", lambda p: p.write_text(json.dumps(
        {"state": {"obs": {"count": 3, "mean": [0.0] * 7, "var": [1.0] * 7}}, "reward": None})),
     "state statistics do not fit"),
    ("rng.json", lambda p: p.write_text("{not json"), "rng.json"),
    ("rng.json", lambda p: p.write_text('{"learner": 5, "ranks": 1}'), "rng.json is corrupt"),
    ("spaces.pkl", lambda p: p.write_bytes(pickle.dumps([1, 2])), "spaces.pkl is corrupt"),
    ("optimizer.npz", _zeros_of_other_shapes, "does not fit the optimizer"),
])
def test_a_damaged_checkpoint_file_is_one_error_and_nothing_changes(storage, saved, name, damage, message):
    damage(_last(storage, saved) / name)
    before = _tree(storage)
    with pytest.raises(AgentNotFoundError, match=message):
        train_main(["--load-from", saved, "--iterations", "3"])
    with pytest.raises(AgentNotFoundError, match=message):
        train_main(["--fork", saved, "--iterations", "3"])
    assert _tree(storage) == before  # nothing written, no new agent folder


def test_a_refused_resume_leaves_the_curves_alone(storage, saved):
    progress = storage / "experiments" / saved / "progress.jsonl"
    progress.write_bytes(progress.read_bytes() + b'[1]\n\xff\xfe not utf-8\n{"iteration": 1, "half')
    before = _tree(storage)
    with pytest.raises(ConfigError, match="already at cycle 2"):
        train_main(["--load-from", saved, "--iterations", "2"])
    with pytest.raises(ConfigError, match="already at cycle 2"):
        train_main(["--fork", saved, "--iterations", "2"])
    assert _tree(storage) == before
    train_main(["--load-from", saved, "--iterations", "3"])  # the stray lines are skipped, then dropped
    assert [r["iteration"] for r in progress_records(storage, saved)] == [0, 1, 2]


def test_a_copied_agent_trains_as_the_copy(storage, saved):
    for kind in ("saved_models", "experiments"):
        shutil.copytree(storage / kind / saved, storage / kind / "copy-of-it")
    original = {k: v for k, v in _tree(storage).items() if saved in k}
    train_main(["--load-from", "copy-of-it", "--iterations", "3"])
    assert {k: v for k, v in _tree(storage).items() if saved in k} == original
    assert json.loads((_last(storage, "copy-of-it") / "agent.json").read_text())["agent_id"] == "copy-of-it"
    assert [r["iteration"] for r in progress_records(storage, "copy-of-it")] == [0, 1, 2]


def test_an_env_beside_load_from_or_fork_must_be_the_saved_agents(storage, saved):
    before = _tree(storage)
    for flag in ("--load-from", "--fork"):
        with pytest.raises(ConfigError, match="trains on CartPole-v1, not Pendulum-v1"):
            train_main(["Pendulum-v1", flag, saved, "--iterations", "3"])
    assert _tree(storage) == before
    train_main(["CartPole-v1", "--load-from", saved, "--iterations", "3"])  # naming its own env is fine


def test_the_cli_says_it_in_one_line_with_exit_2(storage, saved):
    (_last(storage, saved) / "normalisers.json").write_text("[1]")
    proc = run_script("train.py", "--load-from", saved, "--iterations", "3", check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert [line for line in proc.stderr.splitlines() if line.strip()] == \
        [f"error: {_last(storage, saved) / 'normalisers.json'} is corrupt (not {{'state': ..., 'reward': ...}})"]
    assert issubclass(AgentNotFoundError, DexterityError)


def test_a_damaged_meta_json_is_one_error_before_anything_is_written(storage, saved):
    (storage / "experiments" / saved / "meta.json").write_text("[1]")
    before = _tree(storage)
    with pytest.raises(AgentNotFoundError, match="meta.json is corrupt"):
        train_main(["--load-from", saved, "--iterations", "3"])
    assert _tree(storage) == before  # no curves rewritten, no TensorBoard file


def test_a_copy_without_its_curves_reads_the_originals_and_evaluates_as_itself(storage, saved):
    from dexterity.cli.evaluate import main as evaluate_main
    shutil.copytree(storage / "saved_models" / saved, storage / "saved_models" / "bare-copy")
    original = {k: v for k, v in _tree(storage).items() if saved in k}
    train_main(["--load-from", "bare-copy", "--iterations", "3"])
    assert [r["iteration"] for r in progress_records(storage, "bare-copy")] == [0, 1, 2]
    evaluate_main(["bare-copy", "-n", "1"])
    assert len((storage / "experiments" / "bare-copy" / "evaluations.jsonl").read_text().splitlines()) == 1
    assert {k: v for k, v in _tree(storage).items() if saved in k} == original  # the original: untouched
