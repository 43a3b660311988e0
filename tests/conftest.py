"""Shared fixtures: every test gets its own storage root; TensorFlow logs are quiet."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
os.environ.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def storage(tmp_path, monkeypatch):
    """A fresh storage root, exported as DEXTERITY_STORAGE for this test and its subprocesses."""
    root = tmp_path / "storage"
    monkeypatch.setenv("DEXTERITY_STORAGE", str(root))
    return root


def run_script(script: str, *args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess:
    """Run a top-level script (train.py, evaluate.py, ...) in a subprocess; returns the completed process."""
    proc = subprocess.run([sys.executable, str(ROOT / script), *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)
    if check and proc.returncode != 0:
        raise AssertionError(f"{script} {' '.join(args)} exited {proc.returncode}\n"
                             f"stdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}")
    return proc
