"""Storage that cannot be created or written: one clear line and exit 2, never a traceback; a failed
checkpoint write leaves the previous checkpoint intact and says so."""
import errno
import os

import numpy as np
import pytest

from conftest import assert_one_line_error, run_script
from dexterity import storage as store
from dexterity.errors import StorageError

TINY = ["--workers", "2", "--horizon", "16", "--batch-size", "16", "--epochs", "1", "--iterations", "1",
        "--sequential"]


def _one_error_line(proc):
    assert_one_line_error(proc, "")
    return proc.stderr.strip()


def test_storage_under_a_file_is_one_line_and_exit_2(tmp_path):
    (tmp_path / "a-file").write_text("x")
    proc = run_script("train.py", "CartPole-v1", "--storage", str(tmp_path / "a-file" / "storage"), *TINY,
                      check=False)
    line = _one_error_line(proc)
    assert "cannot create the folder" in line and "a-file" in line
    assert (tmp_path / "a-file").read_text() == "x"


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root may write in read-only folders")
def test_read_only_storage_is_one_line_and_exit_2(tmp_path):
    root = tmp_path / "ro"
    root.mkdir()
    root.chmod(0o555)
    try:
        line = _one_error_line(run_script("train.py", "CartPole-v1", "--storage", str(root), *TINY, check=False))
        assert "cannot write in the storage folder" in line
    finally:
        root.chmod(0o755)


def test_check_writable_refuses_a_folder_it_cannot_write(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path))
    monkeypatch.setattr(store.tempfile, "TemporaryFile", refuse)
    with pytest.raises(StorageError, match="cannot write in the storage folder .*Permission denied"):
        store.check_writable(tmp_path)


def _disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_failed_folder_write_keeps_the_previous_one(tmp_path, monkeypatch):
    target = tmp_path / "ckpt"
    store.write_folder_atomically(target, lambda tmp: (tmp / "a.txt").write_text("old"))

    def fill(tmp):
        (tmp / "a.txt").write_text("new")
        _disk_full()
    with pytest.raises(StorageError, match="No space left on device.*the previous one is intact"):
        store.write_folder_atomically(target, fill)
    assert (target / "a.txt").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]  # no temporary folder left behind


def test_failed_json_write_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "meta.json"
    store.write_json(path, {"a": 1})
    monkeypatch.setattr(store.json, "dumps", _disk_full)
    with pytest.raises(StorageError, match="the previous file is intact"):
        store.write_json(path, {"a": 2})
    assert store.read_json(path, "meta") == {"a": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["meta.json"]


def test_failed_checkpoint_write_during_training_keeps_the_last_checkpoint(storage, monkeypatch):
    from dexterity.agent import checkpoint as ckpt
    from dexterity.agent.ppo import PPOAgent
    from dexterity.configs.hp_config import make_config
    config = make_config(workers=2, horizon=16, batch_size=16, epochs=1, sequential=True, seed=2)
    with PPOAgent("CartPole-v1", config, verbose=False) as agent:
        agent.drill(1)
        last = store.models_dir(agent.agent_id) / "last"
        saved = [w.copy() for w in agent.policy.model.get_weights()]
        monkeypatch.setattr(ckpt.np, "savez", _disk_full)
        with pytest.raises(StorageError, match=r"could not write .*last .*No space left.*previous one is intact"):
            agent.drill(2)
        monkeypatch.undo()
    info = ckpt.read_info(last)
    assert info["iteration"] == 1
    brain = ckpt.load_brain(last, info)
    for a, b in zip(brain.policy.model.get_weights(), saved):
        np.testing.assert_array_equal(a, b)


def test_agent_ids_and_save_names_are_checked_before_any_path_is_touched(tmp_path, monkeypatch):
    """Names too long for a file system, or saves that are neither last, best nor a cycle number, are
    refused as 'not found' (exit 2 in every command) instead of reaching the file system."""
    from dexterity.agent.checkpoint import save_name
    from dexterity.errors import AgentNotFoundError
    monkeypatch.setenv("DEXTERITY_STORAGE", str(tmp_path))
    with pytest.raises(AgentNotFoundError, match="longer than 128"):
        store.resolve_agent_id("a" * 300)
    store.check_agent_id("a" * 128)
    agent = tmp_path / "saved_models" / "x"
    (agent / "last").mkdir(parents=True)
    (agent / "last" / "agent.json").write_text("{}")
    assert save_name("x") == "last"  # no best yet
    (agent / "best").mkdir()
    (agent / "best" / "agent.json").write_text("{}")
    assert (save_name("x"), save_name("x", 120), save_name("x", "last")) == ("best", "120", "last")
    for bad in ("y" * 300, "../x", "-1", "first"):
        with pytest.raises(AgentNotFoundError, match="a save is 'last', 'best' or a cycle number"):
            save_name("x", bad)
