"""train.py --fork ID[:SAVE]: a new agent from a saved checkpoint, the saved agent left as it was."""
import json
from pathlib import Path

import numpy as np
import pytest

from conftest import progress_records, run_script

SMALL = ["--workers", "2", "--horizon", "32", "--batch-size", "32", "--epochs", "2", "--seed", "1", "--sequential"]


def _meta(storage: Path, agent_id: str) -> dict:
    return json.loads((storage / "experiments" / agent_id / "meta.json").read_text())


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _new_id(storage: Path, known: set[str]) -> str:
    ids = {p.name for p in (storage / "saved_models").iterdir()} - known
    assert len(ids) == 1
    return ids.pop()


def _learned(storage: Path, agent_id: str) -> list[dict]:
    return [{k: v for k, v in r.items() if not k.startswith(("time/", "memory/"))} for r in progress_records(storage, agent_id)]


def test_a_fork_starts_from_a_save_with_changes_and_leaves_the_parent_alone(storage):
    run_script("train.py", "CartPole-v1", *SMALL, "--iterations", "3", "--save-every", "1")
    parent = _new_id(storage, set())
    before = {**_files(storage / "saved_models" / parent), **_files(storage / "experiments" / parent)}
    proc = run_script("train.py", "--fork", f"{parent}:2", "--c-entropy", "0.02", "--iterations", "4",
                      "--env-kwargs", '{"max_episode_steps": 7}')
    assert "cycle 4/4" in proc.stdout and "cycle 2/4" not in proc.stdout
    child = _new_id(storage, {parent})
    assert before == {**_files(storage / "saved_models" / parent), **_files(storage / "experiments" / parent)}
    records, parent_records = progress_records(storage, child), progress_records(storage, parent)
    assert [r["iteration"] for r in records] == [0, 1, 2, 3]
    assert records[:2] == parent_records[:2]  # the curve up to the fork is the parent's
    assert records[2]["frames"] == 3 * 64 and records[2]["rollout/length_mean"] <= 7  # then the new env kwargs
    meta = _meta(storage, child)
    assert meta["forked_from"] == {"agent_id": parent, "save": "2", "iteration": 2}
    assert meta["resumed_at"] == [2] and meta["config"]["c_entropy"] == 0.02
    assert meta["env_kwargs"]["max_episode_steps"] == 7 and _meta(storage, parent)["config"]["c_entropy"] == 0.01
    norms = json.loads((storage / "saved_models" / child / "last" / "normalisers.json").read_text())
    assert norms["state"]["obs"]["count"] == 4 * 64  # counts continue from the parent's save at cycle 2


def test_a_fork_without_changes_trains_as_the_resumed_parent_would(storage):
    run_script("train.py", "CartPole-v1", *SMALL, "--iterations", "2")
    parent = _new_id(storage, set())
    run_script("train.py", "--fork", parent, "--iterations", "4")
    child = _new_id(storage, {parent})
    run_script("train.py", "--load-from", parent, "--iterations", "4")  # the independent expectation
    assert _learned(storage, child) == _learned(storage, parent)
    with np.load(storage / "saved_models" / child / "last" / "weights.npz") as a, \
            np.load(storage / "saved_models" / parent / "last" / "weights.npz") as b:
        assert sorted(a.files) == sorted(b.files)
        for name in a.files:
            np.testing.assert_array_equal(a[name], b[name])


@pytest.mark.parametrize("args, message", [
    (["--fork", "20200101-000000-0000"], "no saved agent"),
    (["--fork", "20200101-000000-0000:"], "--fork takes ID or ID:SAVE"),
    (["--fork", "a", "--load-from", "b"], "give one of them"),
    (["--fork", "a", "--pcon", "hand"], "keeps the saved agent's preset"),
])
def test_bad_fork_input_gives_one_line_and_exit_code_2(storage, args, message):
    proc = run_script("train.py", *args, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and message in lines[0], proc.stderr
