"""Incremental readers of ``progress.jsonl`` (one record per cycle, appended while training).

Two caches, both updated by reading only the bytes appended since the last look:

* ``SummaryCache``: last record, last and best mean return, for the overview. A cold start on a
  large file reads only its tail; the best return then comes from the ``best`` checkpoint
  (``saved_models/<id>/best/agent.json``) and is kept up to date from the lines read later.
* ``LogCache``: every record, for the experiment and compare pages (LRU-bounded).
"""
from __future__ import annotations

import json
import math
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .files import parse_lines, read_from, read_json, read_tail, stat_key

RETURN_KEY = "rollout/return_mean"
FULL_READ_LIMIT = 256 * 1024   # files up to this size are read whole on a cold start
TAIL_BYTES = 16 * 1024         # otherwise only this much of their end (more if needed)


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

    key: tuple[int, int, int] | None = None
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
    def _update(path: Path, key: tuple[int, int, int], old: Summary | None,
                seed_best: Callable[[], float | None]) -> Summary:
        """Extend ``old`` with the appended bytes, or build a new summary."""
        size = key[1]
        if old is not None and size >= old.offset and key[2] == old.key[2]:
            records, used, bad = parse_lines(read_from(path, old.offset, size))
            new = Summary(key, old.offset + used, old.last, old.last_return, old.best,
                          old.bad_lines + bad)
            new.absorb(records)
            return new
        if size > FULL_READ_LIMIT:
            best = seed_best()
            return _tail_summary(path, key, best if best is not None else _scan_best(path, size))
        records, used, bad = parse_lines(read_from(path, 0, size))
        summary = Summary(key, used, bad_lines=bad)
        summary.absorb(records)
        return summary


_RETURN_RE = re.compile(rb'"rollout/return_mean":\s*(-?[0-9][0-9.eE+-]*)')


def _max_return(data: bytes, best: float | None) -> float | None:
    """The larger of ``best`` and every mean return found in ``data`` (without parsing JSON)."""
    for match in _RETURN_RE.finditer(data):
        try:
            value = number(float(match.group(1)))
        except ValueError:
            continue
        if value is not None and (best is None or value > best):
            best = value
    return best


def _scan_best(path: Path, size: int, chunk: int = 8 << 20) -> float | None:
    """Best mean return of a whole file, scanned chunk by chunk with a regular expression."""
    best, carry = None, b""
    with open(path, "rb") as f:
        while f.tell() < size:
            data = carry + f.read(min(chunk, size - f.tell()))
            cut = data.rfind(b"\n") + 1
            best, carry = _max_return(data[:cut], best), data[cut:]
            if not data:
                break
    return best


def _tail_summary(path: Path, key: tuple[int, int, int], best: float | None) -> Summary:
    """Summary of a large file from its last ``TAIL_BYTES`` only.

    The best return is ``best`` (from the checkpoint or a scan) or a larger one seen in the tail
    (found with a regular expression); only the last few lines are parsed as JSON.
    """
    size, nbytes = key[1], TAIL_BYTES
    data = read_tail(path, size, nbytes)
    while nbytes < min(size, 64 * TAIL_BYTES) and not _RETURN_RE.search(data):
        nbytes *= 4  # no finished episode in the tail: look further back
        data = read_tail(path, size, nbytes)
    best = _max_return(data, best)
    used = data.rfind(b"\n") + 1
    if data[used:].strip():  # a last line without newline: complete, or still being written?
        try:
            used = len(data) if isinstance(json.loads(data[used:]), dict) else used
        except ValueError:
            pass
    summary = Summary(key, size - len(data) + used, best=best)
    for line in reversed(data[:used].split(b"\n")):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            summary.bad_lines += 1
            continue
        if not isinstance(rec, dict):
            continue
        summary.last = summary.last or rec
        ret = number(rec.get(RETURN_KEY))
        if ret is not None:
            summary.last_return = ret
            break
    return summary


@dataclass
class Log:
    """Every record of a progress file read so far."""

    key: tuple[int, int, int] | None = None
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
    def _update(path: Path, key: tuple[int, int, int], old: Log | None) -> Log:
        """A new ``Log`` with the appended records (or the whole file when it shrank)."""
        size = key[1]
        if old is None or size < old.offset or key[2] != old.key[2]:
            old = Log()  # new, shrunk or replaced (rewritten by a resumed run): read it all
        records, used, bad = parse_lines(read_from(path, old.offset, size))
        # A new list object: readers holding the old log keep a consistent view.
        return Log(key, old.offset + used, old.records + records, old.bad_lines + bad)
