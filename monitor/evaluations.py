"""The experiment page's evaluations table: `evaluate.py` records (``evaluations.jsonl``) as rows.

Pure functions over the records as read; any field may be missing or of the wrong type (older
files, hand edits), and then shows as "–".
"""
from __future__ import annotations

import json
from typing import Any

from .progress import number

TASK_CHARS = 80


def _task(record: dict[str, Any]) -> str:
    """The env id, with the env kwargs the evaluation overrode (e.g. the full task's goals) as JSON."""
    env_id = record.get("env_id") if isinstance(record.get("env_id"), str) else ""
    kwargs = record.get("env_kwargs")
    if isinstance(kwargs, dict) and kwargs:
        text = json.dumps(kwargs, sort_keys=True, separators=(", ", ": "))
        text = text if len(text) <= TASK_CHARS else text[:TASK_CHARS - 1] + "…"
        return f"{env_id} {text}".strip()
    return env_id or "–"


def _whole(value: Any) -> int | None:
    """An integer field (a seed) as is: the number filter would round a large one."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _save(value: Any) -> str:
    """The checkpoint evaluated: 'last', 'best' or a cycle number (a string or, by hand, an int)."""
    return value if isinstance(value, str) else str(value) if _whole(value) is not None else "–"


def evaluation_rows(records: list[Any]) -> tuple[list[dict[str, Any]], dict[str, bool]]:
    """Display rows of the evaluation records (non-dicts skipped), and which optional columns
    (success rate, consecutive goals) any row has."""
    rows = []
    for r in records:
        if not isinstance(r, dict):
            continue
        det = r.get("deterministic")
        rows.append({
            "iteration": number(r.get("iteration")), "save": _save(r.get("save")),
            "episodes": number(r.get("episodes")), "task": _task(r), "seed": _whole(r.get("seed")),
            "actions": "deterministic" if det is True else "sampled" if det is False else "–",
            "return": (number(r.get("return_mean")), number(r.get("return_std"))),
            "length": number(r.get("length_mean")), "success": number(r.get("success_rate")),
            "goals": number(r.get("consecutive_goals")), "goals_max": number(r.get("consecutive_goals_max")),
            "when": r.get("time") if isinstance(r.get("time"), str) else "–"})
    shown = {"success": any(row["success"] is not None for row in rows),
             "goals": any(row["goals"] is not None for row in rows)}
    return rows, shown
