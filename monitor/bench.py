"""Read the result files of ``benchmark.py`` (``storage/benchmarks/<name>.json``)."""
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


def _config(name: str, entry: Any) -> dict[str, Any]:
    """Plot data of one config: mean curve and its band (95% CI, else +- std)."""
    if not isinstance(entry, dict) or _numbers(entry.get("mean")) is None:
        return {"name": name, "error": "no mean curve"}
    mean = _numbers(entry["mean"]) or []
    low, high = _numbers(entry.get("ci_low")), _numbers(entry.get("ci_high"))
    band = "95% CI"
    if low is None or high is None or len(low) != len(mean) or len(high) != len(mean):
        std = _numbers(entry.get("std"))
        if std is not None and len(std) == len(mean):
            low = [None if m is None or s is None else m - s for m, s in zip(mean, std)]
            high = [None if m is None or s is None else m + s for m, s in zip(mean, std)]
            band = "± std"
        else:
            low = high = None
            band = ""
    reps = entry.get("returns")
    finals = [m for m in mean if m is not None]
    return {"name": name, "mean": mean, "low": low, "high": high, "band": band,
            "repetitions": len(reps) if isinstance(reps, list) else None,
            "final": finals[-1] if finals else None,
            "best": max(finals) if finals else None,
            "agent_ids": [a for a in entry.get("agent_ids") or [] if isinstance(a, str)]}


def read_benchmark(path: Path) -> dict[str, Any]:
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
            "configs": [_config(str(k), v) for k, v in configs.items()]}


def benchmarks(root: Path) -> list[dict[str, Any]]:
    """All benchmark files under ``root`` (resolved), by name."""
    try:
        names = sorted(n for n in os.listdir(root) if n.endswith(".json") and valid_name(n))
    except OSError:
        return []
    out = []
    for name in names:
        path = resolve_inside(root, name)
        if path is not None:
            out.append(read_benchmark(path))
    return out
