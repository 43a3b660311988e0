"""benchmarks/: `_child.run_in_fresh_process` (one call in a fresh process, its result and its errors
back) and every script starts."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from _child import run_in_fresh_process  # noqa: E402


def test_the_call_runs_in_another_process_and_returns_its_result():
    assert run_in_fresh_process(os.getpid) != os.getpid()
    assert run_in_fresh_process(divmod, 17, 5) == (3, 2)


def test_an_exception_in_the_child_is_raised_here():
    with pytest.raises(ZeroDivisionError):
        run_in_fresh_process(divmod, 1, 0)


def test_a_fresh_child_has_not_imported_tensorflow():
    import tensorflow  # noqa: F401  (this process has it; the child must not inherit it)
    assert "tensorflow" in sys.modules
    assert "tensorflow" not in run_in_fresh_process(_modules)


def _modules() -> list[str]:
    return list(sys.modules)


SCRIPTS = sorted(p for p in (Path(__file__).resolve().parents[1] / "benchmarks").glob("*.py") if p.name != "_child.py")


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_every_benchmark_script_starts(script: Path, tmp_path: Path):
    """The benchmarks are scripts no test runs end to end: each must at least import and parse its
    arguments (`--help`), run from another folder as a user would."""
    import subprocess
    done = subprocess.run([sys.executable, str(script), "--help"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage:" in done.stdout


@pytest.mark.parametrize("change, says", [("epochz=3", "unknown parameter(s) epochz"),
                                          ("epochs=0", "'epochs' must be positive")])
def test_throughput_refuses_a_bad_config_change_in_one_line(change: str, says: str, tmp_path: Path):
    """`throughput.py --set` is checked against the config's rules before anything is built."""
    import subprocess
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "throughput.py"
    done = subprocess.run([sys.executable, str(script), "ManipulateBlock-v0", "--set", change], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and says in done.stderr, done.stderr[-2000:]
