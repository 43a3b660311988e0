"""Read the result files of ``benchmark.py``: ``storage/benchmarks/<name>.json`` and the committed
results of the repository (``benchmarks/results/<suite>/<name>.json``)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .files import read_json, resolve_inside, valid_name
from .progress import number


def _numbers(value: Any) -> list[float | None] | None:
    """A list of finite numbers (None for gaps), or None when ``value`` is not a list."""
    if not isinstance(value, list):
        return None
    return [None if (v := number(x)) is None else float(f"{v:.6g}") for x in value]


def _frames(entry: dict[str, Any], length: int) -> list[float | None] | None:
    """The env steps of each cycle (the first repetition's), when the file has them for every cycle."""
    frames = entry.get("frames")
    first = _numbers(frames[0]) if isinstance(frames, list) and frames else None
    return first if first is not None and len(first) == length else None


def _figures(entry: dict[str, Any]) -> dict[str, Any]:
    """Figures over seeds of a result file's config: final training return, evaluation, wall time."""
    keys = ("final_mean", "final_std", "eval_mean", "eval_std", "wall_s_mean")
    out: dict[str, Any] = {k: number(entry.get(k)) for k in keys}
    out["eval_deterministic"] = entry.get("eval_deterministic") is True
    return out


def _config(name: str, entry: Any, band: str = "ci") -> dict[str, Any]:
    """Plot data of one config: mean curve and its band (band "ci": the 95% CI when the file has it,
    else +- std; band "std": mean +- std over seeds)."""
    if not isinstance(entry, dict) or _numbers(entry.get("mean")) is None:
        return {"name": name, "error": "no mean curve"}
    mean = _numbers(entry["mean"]) or []
    low, high = _numbers(entry.get("ci_low")), _numbers(entry.get("ci_high"))
    band_name = "95% CI"
    if band == "std" or low is None or high is None or len(low) != len(mean) or len(high) != len(mean):
        std = _numbers(entry.get("std"))
        if std is not None and len(std) == len(mean):
            low = [None if m is None or s is None else m - s for m, s in zip(mean, std)]
            high = [None if m is None or s is None else m + s for m, s in zip(mean, std)]
            band_name = "± std"
        else:
            low = high = None
            band_name = ""
    reps = entry.get("returns")
    finals = [m for m in mean if m is not None]
    return {"name": name, "mean": mean, "low": low, "high": high, "band": band_name,
            "frames": _frames(entry, len(mean)), **_figures(entry),
            "repetitions": len(reps) if isinstance(reps, list) else None,
            "final": finals[-1] if finals else None,
            "best": max(finals) if finals else None,
            "agent_ids": [a for a in entry.get("agent_ids") or [] if isinstance(a, str)]}


def _machine(value: Any) -> str:
    """A result's machine as one line: "2 cores, AMD EPYC, 1 rank"."""
    if not isinstance(value, dict):
        return ""
    parts = [f"{number(value.get('nproc')):g} cores" if number(value.get("nproc")) else "",
             str(value.get("cpu") or ""),
             f"{number(value.get('ranks')):g} MPI ranks" if (number(value.get("ranks")) or 1) > 1 else ""]
    return ", ".join(p for p in parts if p)


def read_benchmark(path: Path, band: str = "ci") -> dict[str, Any]:
    """One benchmark file as plot data; ``{"error": ...}`` inside when unreadable."""
    name = path.name[:-5]
    value, error = read_json(path)
    if error or not isinstance(value, dict):
        return {"file": name, "name": name, "error": error or "not a JSON object", "configs": []}
    configs = value.get("configs")
    if not isinstance(configs, dict):
        return {"file": name, "name": name, "error": "no configs in the file", "configs": []}
    return {"file": name, "name": str(value.get("name") or name),
            "env_id": str(value.get("env_id") or ""), "host": str(value.get("host") or ""),
            "created": str(value.get("created") or ""), "cycles": number(value.get("cycles")),
            "repetitions": number(value.get("repetitions")),
            "threshold": number(value.get("reward_threshold")), "error": None,
            "steps": number(value.get("steps")), "machine": _machine(value.get("machine")),
            "command": str(value.get("command") or ""),
            "configs": [_config(str(k), v, band) for k, v in configs.items()]}


def benchmarks(root: Path, band: str = "ci") -> list[dict[str, Any]]:
    """All benchmark files under ``root`` (resolved), by name."""
    try:
        names = sorted(n for n in os.listdir(root) if n.endswith(".json") and valid_name(n))
    except OSError:
        return []
    out = []
    for name in names:
        path = resolve_inside(root, name)
        if path is not None:
            out.append(read_benchmark(path, band))
    return out


def results(root: Path | None) -> list[dict[str, Any]]:
    """Committed results: ``root/<suite>/*.json`` files written by ``benchmark.py --results``, each
    with mean +- std over seeds, grouped by suite (folder). A JSON object without ``configs`` is
    another kind of file and left out; an unreadable one is shown with its error."""
    if root is None:
        return []
    try:
        suites = sorted(n for n in os.listdir(root) if valid_name(n) and (root / n).is_dir())
    except OSError:
        return []
    out = []
    for suite in suites:
        folder = resolve_inside(root, suite)
        files = [] if folder is None else [b for b in benchmarks(folder, band="std") if not _other_kind(folder, b)]
        if files:
            out.append({"suite": suite, "benches": files})
    return out


def _other_kind(folder: Path, bench: dict[str, Any]) -> bool:
    """True for a readable JSON object that is no result of benchmark.py (it has no ``configs``)."""
    value, error = read_json(folder / f"{bench['file']}.json")
    return error is None and isinstance(value, dict) and "configs" not in value
