"""Safe, cached, failure-tolerant reading of the files in the storage folder.

Every reader returns ``(value, error)`` instead of raising: the trainer may be writing a file
while we read it, so a half-written JSON file is an expected state, not an exception.
Parsed results are cached keyed by ``(path, mtime_ns, size)``.
"""
from __future__ import annotations

import json
import math
import os
import re
import stat
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable

ID_RE = re.compile(r"^[0-9A-Za-z_.-]+$")


def valid_name(name: str) -> bool:
    """True for a plain file/folder name: allowed characters only, not ``.`` or ``..``."""
    return bool(name) and name not in (".", "..") and bool(ID_RE.match(name))


def resolve_inside(base: Path, name: str) -> Path | None:
    """``base/name`` resolved, or None if ``name`` is not plain or the result leaves ``base``.

    ``base`` must already be resolved. Symlinks are followed; one that points outside
    ``base`` is refused, so nothing outside the storage folder is ever read.
    """
    if not valid_name(name):
        return None
    try:
        path = (base / name).resolve()
    except (OSError, RuntimeError):
        return None
    if path.parent != base and base not in path.parents:
        return None
    return path


def stat_key(path: Path) -> tuple[int, int, int] | None:
    """``(mtime_ns, size, inode)`` of a regular file, or None when missing or not a file.

    The inode changes when a file is replaced by a rename (an atomic rewrite), which a size
    check alone would miss.
    """
    try:
        st = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    return st.st_mtime_ns, st.st_size, st.st_ino


def clean_number(value: Any) -> Any:
    """Non-finite floats become None (the JSON we send must stay valid for browsers)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class StatCache:
    """A thread-safe LRU cache of values computed from a file, valid while its stat is."""

    def __init__(self, capacity: int = 4096) -> None:
        self.capacity = capacity
        self._data: OrderedDict[str, tuple[tuple[int, int, int], Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, path: Path, compute: Callable[[Path], Any]) -> tuple[Any, tuple | None]:
        """Cached ``compute(path)``; returns ``(value, stat)`` and ``(None, None)`` if missing."""
        key = stat_key(path)
        if key is None:
            return None, None
        skey = str(path)
        with self._lock:
            hit = self._data.get(skey)
            if hit is not None and hit[0] == key:
                self._data.move_to_end(skey)
                return hit[1], key
        value = compute(path)
        with self._lock:
            self._data[skey] = (key, value)
            self._data.move_to_end(skey)
            while len(self._data) > self.capacity:
                self._data.popitem(last=False)
        return value, key


def _load_json(path: Path) -> tuple[Any, str | None]:
    """Parse a JSON file; ``(None, message)`` when unreadable or invalid."""
    try:
        with open(path, "rb") as f:
            data = f.read()
        return json.loads(data), None
    except (OSError, ValueError) as exc:
        return None, f"{path.name} is unreadable ({type(exc).__name__}: {str(exc)[:80]})"


_json_cache = StatCache()


def read_json(path: Path) -> tuple[Any, str | None]:
    """Cached JSON file; ``(None, "... missing")`` or ``(None, "... unreadable")`` on failure."""
    value, key = _json_cache.get(path, _load_json)
    if key is None:
        return None, f"{path.name} is missing"
    return value


def parse_lines(data: bytes) -> tuple[list[dict[str, Any]], int, int]:
    """Parse complete JSON lines of ``data``.

    Returns ``(records, consumed, bad)``: ``consumed`` is the byte count up to the end of the
    last complete line (a trailing line without newline is left for later unless it parses),
    ``bad`` counts lines that are not JSON objects (skipped).
    """
    end = data.rfind(b"\n") + 1
    body, rest = data[:end], data[end:]
    records, bad = [], 0
    for line in body.split(b"\n"):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            bad += 1
            continue
        if isinstance(rec, dict):
            records.append(rec)
        else:
            bad += 1
    if rest.strip():
        try:
            rec = json.loads(rest)
        except ValueError:
            rec = None
        if isinstance(rec, dict):  # a complete last record written without its newline
            records.append(rec)
            end = len(data)
    return records, end, bad


def read_tail(path: Path, size: int, nbytes: int) -> bytes:
    """The last ``nbytes`` of a file of ``size`` bytes, starting at a line boundary."""
    start = max(0, size - nbytes)
    with open(path, "rb") as f:
        f.seek(start)
        data = f.read(size - start)
    if start > 0:
        cut = data.find(b"\n")
        data = data[cut + 1:] if cut >= 0 else b""
    return data


def read_from(path: Path, offset: int, size: int) -> bytes:
    """Bytes ``[offset, size)`` of a file (what was appended since ``offset``)."""
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read(max(0, size - offset))


def read_jsonl(path: Path) -> tuple[list[dict[str, Any]], str | None]:
    """All records of a small JSON-lines file (e.g. evaluations.jsonl), cached."""
    def load(p: Path) -> tuple[list[dict[str, Any]], str | None]:
        try:
            with open(p, "rb") as f:
                records, _, bad = parse_lines(f.read())
        except OSError as exc:
            return [], f"{p.name} is unreadable ({exc})"
        return records, (f"{p.name}: {bad} unreadable line(s) skipped" if bad else None)

    value, key = _json_cache.get(path, load)
    if key is None:
        return [], None
    return value
