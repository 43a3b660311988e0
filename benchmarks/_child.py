"""Run one function call in a fresh, spawned Python process and return its result.

Benchmarks use it where the calling process must not be reused: it may have imported
TensorFlow (MuJoCo rendering must never share a process with it), or its resident memory would
blur a measurement. The child imports `fn`'s module and, as any spawned child, re-runs the
parent's script as `__mp_main__` (its `if __name__ == "__main__"` part excepted).
"""
from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Callable


def run_in_fresh_process(fn: Callable[..., Any], *args: Any) -> Any:
    """`fn(*args)` in a spawned child. `fn` must be importable at module level; its exception is
    re-raised here, and a crash of the child raises BrokenProcessPool instead of hanging."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()
