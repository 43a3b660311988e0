"""Shared fixtures: every test gets its own storage root; TensorFlow logs are quiet."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
os.environ.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
# no live progress lines in the output of scripts under test, whatever their speed (tests that
# check the progress display set DEXTERITY_PROGRESS themselves)
os.environ.setdefault("DEXTERITY_PROGRESS", "off")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def storage(tmp_path, monkeypatch):
    """A fresh storage root, exported as DEXTERITY_STORAGE for this test and its subprocesses."""
    root = tmp_path / "storage"
    monkeypatch.setenv("DEXTERITY_STORAGE", str(root))
    return root


def progress_records(storage: Path, agent_id: str) -> list[dict]:
    """An agent's progress.jsonl records, one dict per cycle."""
    lines = (storage / "experiments" / agent_id / "progress.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def run_script(script: str, *args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess:
    """Run a top-level script (train.py, evaluate.py, ...) in a subprocess; returns the completed process."""
    proc = subprocess.run([sys.executable, str(ROOT / script), *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)
    if check and proc.returncode != 0:
        raise AssertionError(f"{script} {' '.join(args)} exited {proc.returncode}\n"
                             f"stdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}")
    return proc


def assert_one_line_error(proc: subprocess.CompletedProcess, text: str) -> None:
    """The project rule for bad input: exit code 2 and a single stderr line `error: ...` containing
    `text` (say, the flag), no traceback."""
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert len(lines) == 1 and lines[0].startswith("error: ") and text in lines[0], proc.stderr[-3000:]


# ---- tests that must not share a process with TensorFlow ------------------------------------
# MuJoCo rendering segfaults in a process that has loaded TensorFlow, and the test session loads it
# (many test modules import it). A test marked `isolated` is run on its own in a fresh
# interpreter (`python -m pytest NODEID`), which imports only that test's module.

def pytest_configure(config):
    config.addinivalue_line("markers", "isolated: run in a fresh interpreter (e.g. it renders with MuJoCo)")


def pytest_pyfunc_call(pyfuncitem):
    if pyfuncitem.get_closest_marker("isolated") is None or os.environ.get("DEXTERITY_ISOLATED_CHILD"):
        return None
    env = dict(os.environ, DEXTERITY_ISOLATED_CHILD="1")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", pyfuncitem.nodeid],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    if proc.returncode != 0:
        pytest.fail(f"isolated run of {pyfuncitem.nodeid} failed (exit {proc.returncode}):\n"
                    f"{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}", pytrace=False)
    return True
