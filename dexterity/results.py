"""Figures of a benchmark result: final training return, machine facts, and a result file's checks.

Pure functions without TensorFlow: `benchmark.py` writes result files with them, the table
script (`benchmarks/results_table.py`) and the tests read the files back through `check_result`.
"""
from __future__ import annotations

import math
import os
import platform
import socket
from typing import Any

FINAL_EPISODES = 10  # the final training return is the mean of this many last episodes


def _finite(value: Any) -> float | None:
    """``value`` as a float when it is a finite number, else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def final_return(records: list[dict[str, Any]], episodes: int = FINAL_EPISODES) -> tuple[float | None, int]:
    """Mean return of the last ``episodes`` training episodes, from progress records; and how many it took.

    A record holds the mean return of the episodes that ended in its cycle (``rollout/return_mean``)
    and their count (``rollout/episodes``); going back from the last cycle, each cycle counts with
    its episodes until ``episodes`` are reached (of the cycle that crosses the count, only the
    episodes still needed count, at that cycle's mean). Fewer episodes in the whole run: the mean
    of all of them; none: ``(None, 0)``.
    """
    total, taken = 0.0, 0
    for record in reversed(records):
        count, mean = record.get("rollout/episodes"), _finite(record.get("rollout/return_mean"))
        if not isinstance(count, int) or count <= 0 or mean is None:
            continue
        take = min(count, episodes - taken)
        total += take * mean
        taken += take
        if taken >= episodes:
            break
    return (total / taken if taken else None), taken


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what ``platform`` knows, else ""."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or ""


def machine(ranks: int = 1) -> dict[str, Any]:
    """Where a result was measured: host, usable cores (as ``nproc`` counts them), CPU model, MPI ranks."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 0
    return {"host": socket.gethostname(), "nproc": cores, "cpu": cpu_model(), "ranks": ranks}


def mean_std(values: list[float]) -> tuple[float | None, float | None]:
    """Mean and sample std (ddof 1; 0 for one value) of the finite values; (None, None) when there are none."""
    values = [v for v in (_finite(x) for x in values) if v is not None]
    if not values:
        return None, None
    mean = sum(values) / len(values)
    if len(values) == 1:
        return mean, 0.0
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


RUN_KEYS = ("seed", "agent_id", "frames", "wall_s", "final_return", "final_episodes")
DOC_KEYS = ("name", "env_id", "cycles", "repetitions", "created", "configs", "steps", "machine",
            "command", "versions")


def check_result(doc: Any) -> list[str]:
    """Problems of a result file of ``benchmark.py`` (empty when it is complete): the keys the table
    and the monitor need, one run per seed, finite figures, curves as long as the cycles."""
    if not isinstance(doc, dict):
        return ["not a JSON object"]
    problems = [f"missing key '{k}'" for k in DOC_KEYS if k not in doc]
    machine_info = doc.get("machine")
    if not isinstance(machine_info, dict) or not machine_info.get("nproc") or "cpu" not in machine_info:
        problems.append("machine must give nproc and cpu")
    configs = doc.get("configs")
    if not isinstance(configs, dict) or not configs:
        return problems + ["no configs"]
    for name, entry in configs.items():
        problems += [f"{name}: {p}" for p in _check_config(entry, doc.get("repetitions"))]
    return problems


def _check_config(entry: Any, repetitions: Any) -> list[str]:
    """Problems of one config entry of a result file."""
    if not isinstance(entry, dict):
        return ["not an object"]
    runs = entry.get("runs")
    if not isinstance(runs, list) or len(runs) != repetitions:
        return [f"needs {repetitions} runs"]
    problems = []
    for i, run in enumerate(runs):
        if not isinstance(run, dict) or any(k not in run for k in RUN_KEYS):
            problems.append(f"run {i} lacks one of {', '.join(RUN_KEYS)}")
        elif _finite(run["final_return"]) is None or _finite(run["wall_s"]) is None:
            problems.append(f"run {i}: final_return and wall_s must be numbers")
    curves = entry.get("returns")
    if not isinstance(curves, list) or len(curves) != len(runs):
        problems.append("returns needs one curve per run")
    for key in ("mean", "std"):
        if not isinstance(entry.get(key), list) or not entry[key]:
            problems.append(f"no {key} curve")
    if _finite(entry.get("final_mean")) is None:
        problems.append("final_mean must be a number")
    return problems
