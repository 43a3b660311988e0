"""Where things are stored and how they are written: agent ids, paths, atomic files, experiment logs.

The format is documented in docs/storage.md; the monitor reads it without importing dexterity.
TensorFlow-free.
"""
from __future__ import annotations

import datetime as _dt
import json
import math
import os
import re
import secrets
import shutil
import socket
import tempfile
from pathlib import Path
from typing import Any, Callable

from dexterity.errors import AgentNotFoundError, StorageError

AGENT_ID_PATTERN = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_.-]*$")
MAX_ID_LENGTH = 128  # a folder name, well under the file systems' 255


def storage_root() -> Path:
    """`DEXTERITY_STORAGE` if set, else ./storage."""
    return Path(os.environ.get("DEXTERITY_STORAGE", "storage"))


def models_dir(agent_id: str) -> Path:
    return storage_root() / "saved_models" / agent_id


def experiment_dir(agent_id: str) -> Path:
    return storage_root() / "experiments" / agent_id


def utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_agent_id() -> str:
    """`YYYYmmdd-HHMMSS-xxxx`: creation time (UTC) and 4 random hex digits."""
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{secrets.token_hex(2)}"


def is_safe_name(name: str) -> bool:
    """Whether `name` can be a file or folder name in storage: AGENT_ID_PATTERN, no '..', at most MAX_ID_LENGTH."""
    return bool(AGENT_ID_PATTERN.match(name)) and ".." not in name and len(name) <= MAX_ID_LENGTH


def check_agent_id(agent_id: str) -> str:
    if len(agent_id) > MAX_ID_LENGTH:
        raise AgentNotFoundError(f"'{agent_id[:40]}...' is not a valid agent id (longer than {MAX_ID_LENGTH} characters)")
    if not is_safe_name(agent_id):
        raise AgentNotFoundError(f"'{agent_id}' is not a valid agent id")
    return agent_id


def check_save_name(which: str | int) -> str:
    """A save's name as a string: 'last', 'best' or a cycle number; anything else is an AgentNotFoundError."""
    which = str(which)
    if which not in ("last", "best") and not (which.isascii() and which.isdigit() and len(which) < 20):
        raise AgentNotFoundError(f"a save is 'last', 'best' or a cycle number, got '{which[:80]}'")
    return which


def list_agents() -> list[str]:
    """Ids of every saved agent (with at least one checkpoint), oldest first."""
    root = storage_root() / "saved_models"
    if not root.is_dir():
        return []
    agents = [p for p in root.iterdir() if p.is_dir() and AGENT_ID_PATTERN.match(p.name)
              and any((p / name / "agent.json").is_file() for name in ("last", "best"))]
    return [p.name for p in sorted(agents, key=lambda p: ((p / "last").stat().st_mtime
                                                          if (p / "last").exists() else 0.0, p.name))]


def resolve_agent_id(agent_id: str | None) -> str:
    """The given id, checked to exist; None means the most recently saved agent."""
    if agent_id is None:
        agents = list_agents()
        if not agents:
            raise AgentNotFoundError(f"no saved agents in {storage_root() / 'saved_models'}")
        return agents[-1]
    check_agent_id(agent_id)
    if not models_dir(agent_id).is_dir():
        raise AgentNotFoundError(f"no saved agent '{agent_id}' in {storage_root() / 'saved_models'}")
    return agent_id


def _clean(obj: Any) -> Any:
    """JSON-safe copy: non-finite floats become None, numpy scalars become Python numbers."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item) and getattr(obj, "ndim", 1) == 0:
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _reason(exc: OSError) -> str:
    """An OSError as a short phrase: 'No space left on device: /path'."""
    text = exc.strerror or str(exc) or type(exc).__name__
    return f"{text}: {exc.filename}" if exc.filename else text


def _make_folder(folder: Path) -> None:
    """mkdir -p, with a StorageError (one clear line) when it cannot be created."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"cannot create the folder {folder} ({_reason(exc)}); "
                           f"choose another --storage or DEXTERITY_STORAGE") from None


def check_writable(root: Path | None = None) -> Path:
    """Create the storage root if needed and write a probe file in it; StorageError if that fails."""
    root = Path(root) if root is not None else storage_root()
    _make_folder(root)
    try:
        with tempfile.TemporaryFile(dir=root):
            pass
    except OSError as exc:
        raise StorageError(f"cannot write in the storage folder {root} ({_reason(exc)}); "
                           f"choose another --storage or DEXTERITY_STORAGE") from None
    return root


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call write(tmp_path) then rename tmp_path over path (same folder, so the rename is atomic).

    A failure (disk full, read-only folder) leaves `path` as it was and raises StorageError.
    """
    _make_folder(path.parent)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        os.close(fd)
        write(Path(tmp))
        os.replace(tmp, path)
    except OSError as exc:
        raise StorageError(f"could not write {path} ({_reason(exc)}); "
                           f"{'the previous file is intact' if path.exists() else 'nothing was written'}") from None
    finally:
        if tmp is not None and Path(tmp).exists():
            Path(tmp).unlink(missing_ok=True)


def write_json(path: Path, obj: Any) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(_clean(obj), indent=1)))


def read_json(path: Path, what: str) -> Any:
    """Read a JSON file; a missing or corrupt file raises AgentNotFoundError naming `what`."""
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise AgentNotFoundError(f"{what}: {path} is missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise AgentNotFoundError(f"{what}: {path} is corrupt ({exc})") from None


def write_folder_atomically(target: Path, fill: Callable[[Path], None]) -> None:
    """Fill a fresh temporary folder, then swap it in for `target` (a crash leaves the old one).

    A failure to write (disk full, read-only folder) leaves the previous `target` in place and
    raises StorageError saying so.
    """
    _make_folder(target.parent)
    tmp = target.parent / f".{target.name}.tmp-{os.getpid()}"
    old = target.parent / f".{target.name}.old-{os.getpid()}"
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        fill(tmp)
        if target.exists():
            os.replace(target, old)
        try:
            os.replace(tmp, target)
        except OSError:
            if old.exists() and not target.exists():
                os.replace(old, target)  # put the previous one back
            raise
    except OSError as exc:
        previous = "the previous one is intact" if target.exists() else "there was no previous one"
        raise StorageError(f"could not write {target} ({_reason(exc)}); {previous}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(old, ignore_errors=True)


class ExperimentLog:
    """meta.json and progress.jsonl of one experiment (written by rank 0 only)."""

    def __init__(self, agent_id: str, folder: Path | None = None):
        self.dir = Path(folder) if folder is not None else experiment_dir(agent_id)
        self.meta_path = self.dir / "meta.json"
        self.progress_path = self.dir / "progress.jsonl"

    def read_meta(self) -> dict[str, Any]:
        meta = read_json(self.meta_path, "experiment meta") if self.meta_path.exists() else {}
        if not isinstance(meta, dict):
            raise AgentNotFoundError(f"experiment meta: {self.meta_path} is corrupt (not a JSON object)")
        return meta

    def write_meta(self, meta: dict[str, Any]) -> None:
        write_json(self.meta_path, {**meta, "updated": utc_now(), "host": meta.get("host", socket.gethostname())})

    def update_meta(self, **changes: Any) -> None:
        meta = self.read_meta()
        meta.update(changes)
        self.write_meta(meta)

    def append_progress(self, record: dict[str, Any]) -> None:
        line = json.dumps({k: v for k, v in _clean(record).items() if v is not None})
        _append_line(self.progress_path, line)

    def read_progress(self) -> list[dict[str, Any]]:
        """Every complete record (a half-written last line, or any line that is not a JSON object,
        is skipped)."""
        if not self.progress_path.exists():
            return []
        records = []
        for line in self.progress_path.read_text(errors="replace").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict):
                records.append(record)
        return records

    def write_progress(self, records: list[dict[str, Any]]) -> None:
        """Replace progress.jsonl by `records` (atomically)."""
        _make_folder(self.dir)
        atomic_write(self.progress_path, lambda tmp: tmp.write_text("".join(json.dumps(r) + "\n" for r in records)))

    def append_evaluation(self, record: dict[str, Any]) -> None:
        _append_line(self.dir / "evaluations.jsonl", json.dumps(_clean(record)))


def _append_line(path: Path, line: str) -> None:
    """Append one line (StorageError when the folder cannot be made or the disk is full)."""
    _make_folder(path.parent)
    try:
        with open(path, "a") as f:
            f.write(line + "\n")
    except OSError as exc:
        raise StorageError(f"could not append to {path} ({_reason(exc)})") from None
