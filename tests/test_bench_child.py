"""benchmarks/: `_child.run_in_fresh_process` (one call in a fresh process, its result and its errors
back) and every script parses."""
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


@pytest.mark.parametrize("script", sorted((Path(__file__).resolve().parents[1] / "benchmarks").glob("*.py")),
                         ids=lambda p: p.name)
def test_every_benchmark_script_compiles(script: Path):
    """The benchmarks are scripts no test runs end to end: at least this Python must parse them."""
    compile(script.read_text(encoding="utf-8"), str(script), "exec")
