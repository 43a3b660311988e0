"""Incremental readers of ``progress.jsonl`` (one record per cycle, appended while training).

Two caches, both updated by reading only the bytes appended since the last look:

* ``SummaryCache``: last record, last and best mean return, for the overview. A cold start on a
  large file reads only its tail; the best return then comes from the ``best`` checkpoint
  (``saved_models/<id>/best/agent.json``) and is kept up to date from the lines read later.
* ``LogCache``: every record, for the experiment and compare pages (LRU-bounded).
"""
from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .files import parse_lines, read_from, read_json, read_tail, stat_key

RETURN_KEY = "rollout/return_mean"
FULL_READ_LIMIT = 256 * 1024   # files up to this size are read whole on a cold start
TAIL_BYTES = 64 * 1024         # otherwise only this much of their end


def number(value: Any) -> float | None:
    """``value`` as a finite float, or None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def progress_file(exp_dir: Path) -> Path:
    """``progress.jsonl``, or the older whole-file ``progress.json`` when only that exists."""
    jsonl = exp_dir / "progress.jsonl"
    if stat_key(jsonl) is None and stat_key(exp_dir / "progress.json") is not None:
        return exp_dir / "progress.json"
    return jsonl


def _json_records(path: Path) -> tuple[list[dict[str, Any]], str | None]:
    """Records of a whole-file ``progress.json`` (a list, or ``{"records": [...]}``)."""
    value, error = read_json(path)
    if error:
        return [], error
    if isinstance(value, dict):
        value = value.get("records")
    if not isinstance(value, list):
        return [], f"{path.name} holds no list of records"
    return [r for r in value if isinstance(r, dict)], None


@dataclass
class Summary:
    """What the overview needs from a progress file."""

    key: tuple[int, int] | None = None
    offset: int = 0
    last: dict[str, Any] | None = None
    last_return: float | None = None
    best: float | None = None
    bad_lines: int = 0
    error: str | None = None

    def absorb(self, records: list[dict[str, Any]]) -> None:
        """Take newer records into account (in file order)."""
        for rec in records:
            self.last = rec
            ret = number(rec.get(RETURN_KEY))
            if ret is not None:
                self.last_return = ret
                self.best = ret if self.best is None else max(self.best, ret)


class SummaryCache:
    """Per-file ``Summary`` objects, refreshed incrementally."""

    def __init__(self) -> None:
        self._data: dict[str, Summary] = {}
        self._lock = threading.Lock()

    def get(self, path: Path, seed_best: Callable[[], float | None]) -> Summary:
        """The summary of ``path``; ``seed_best`` gives the best return known elsewhere."""
        key = stat_key(path)
        if key is None:
            return Summary(error="no progress yet")
        if path.suffix == ".json":
            records, error = _json_records(path)
            summary = Summary(key=key, error=error)
            summary.absorb(records)
            return summary
        with self._lock:
            old = self._data.get(str(path))
            if old is not None and old.key == key:
                return old
            try:
                summary = self._update(path, key, old, seed_best)
            except OSError as exc:
                return Summary(error=f"{path.name} is unreadable ({exc})")
            self._data[str(path)] = summary
            return summary

    @staticmethod
    def _update(path: Path, key: tuple[int, int], old: Summary | None,
                seed_best: Callable[[], float | None]) -> Summary:
        """Extend ``old`` with the appended bytes, or build a new summary."""
        size = key[1]
        if old is not None and size >= old.offset:
            records, used, bad = parse_lines(read_from(path, old.offset, size))
            new = Summary(key, old.offset + used, old.last, old.last_return, old.best,
                          old.bad_lines + bad)
            new.absorb(records)
            return new
        best = seed_best() if size > FULL_READ_LIMIT else None
        start, data = 0, b""
        if best is not None:
            data = read_tail(path, size, TAIL_BYTES)
            start = size - len(data)
        else:
            data = read_from(path, 0, size)
        records, used, bad = parse_lines(data)
        summary = Summary(key, start + used, best=best, bad_lines=bad)
        summary.absorb(records)
        return summary


@dataclass
class Log:
    """Every record of a progress file read so far."""

    key: tuple[int, int] | None = None
    offset: int = 0
    records: list[dict[str, Any]] = field(default_factory=list)
    bad_lines: int = 0
    error: str | None = None


class LogCache:
    """Full progress logs, LRU-bounded, extended with the bytes appended since last time."""

    def __init__(self, capacity: int = 64) -> None:
        self.capacity = capacity
        self._data: OrderedDict[str, Log] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, path: Path) -> Log:
        """The log of ``path`` (``Log(error=...)`` when missing or unreadable)."""
        key = stat_key(path)
        if key is None:
            return Log(error="no progress yet")
        if path.suffix == ".json":
            records, error = _json_records(path)
            return Log(key=key, records=records, error=error)
        with self._lock:
            old = self._data.get(str(path))
            if old is not None and old.key == key:
                self._data.move_to_end(str(path))
                return old
            try:
                log = self._update(path, key, old)
            except OSError as exc:
                return Log(error=f"{path.name} is unreadable ({exc})")
            self._data[str(path)] = log
            self._data.move_to_end(str(path))
            while len(self._data) > self.capacity:
                self._data.popitem(last=False)
            return log

    @staticmethod
    def _update(path: Path, key: tuple[int, int], old: Log | None) -> Log:
        """A new ``Log`` with the appended records (or the whole file when it shrank)."""
        size = key[1]
        if old is None or size < old.offset:
            old = Log()
        records, used, bad = parse_lines(read_from(path, old.offset, size))
        # A new list object: readers holding the old log keep a consistent view.
        return Log(key, old.offset + used, old.records + records, old.bad_lines + bad)
