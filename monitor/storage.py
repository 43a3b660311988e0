"""The storage folder as the monitor sees it: experiments, their summaries, bookmarks, deletion.

Only ``docs/storage.md`` is relied on; no dexterity module is imported.
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

from .files import read_json, read_jsonl, resolve_inside, stat_key, valid_name
from .progress import LogCache, Summary, SummaryCache, number, progress_file

RUNNING_WINDOW_S = 300.0  # "running" = status running and progress written this recently
ANALYSIS_ORDER = ("pca", "decode", "rsa", "weights", "dynamics")  # figures of ``python -m analysis``


class Storage:
    """Read access (plus bookmark and delete) to one storage root."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).expanduser().resolve()
        self.summaries = SummaryCache()
        self.logs = LogCache()

    @property
    def experiments_root(self) -> Path:
        """``<root>/experiments``, resolved."""
        return (self.root / "experiments").resolve()

    @property
    def models_root(self) -> Path:
        """``<root>/saved_models``, resolved."""
        return (self.root / "saved_models").resolve()

    @property
    def benchmarks_root(self) -> Path:
        """``<root>/benchmarks``, resolved."""
        return (self.root / "benchmarks").resolve()

    def experiment_dir(self, agent_id: str) -> Path | None:
        """The folder of an existing experiment, or None (bad id, missing, or outside)."""
        path = resolve_inside(self.experiments_root, agent_id)
        return path if path is not None and path.is_dir() else None

    def ids(self) -> list[str]:
        """Ids of all experiment folders, newest first."""
        try:
            entries = list(os.scandir(self.experiments_root))
        except OSError:
            return []
        ids = [e.name for e in entries if valid_name(e.name) and e.is_dir()]
        return sorted(ids, reverse=True)

    def meta(self, exp_dir: Path) -> tuple[dict[str, Any], str | None]:
        """``meta.json`` as a dict (empty with an error message when unusable)."""
        meta, error = read_json(exp_dir / "meta.json")
        if error is None and not isinstance(meta, dict):
            return {}, "meta.json is not a JSON object"
        return (meta or {}), error

    def checkpoint_best(self, agent_id: str) -> float | None:
        """``best_return`` recorded in ``saved_models/<id>/{best,last}/agent.json``, if any."""
        folder = resolve_inside(self.models_root, agent_id)
        if folder is None:
            return None
        values = []
        for which in ("best", "last"):
            info, _ = read_json(folder / which / "agent.json")
            if isinstance(info, dict) and number(info.get("best_return")) is not None:
                values.append(number(info.get("best_return")))
        return max(values) if values else None

    def summary(self, agent_id: str, exp_dir: Path | None = None) -> Summary:
        """The progress summary of one experiment (``exp_dir`` when already resolved)."""
        exp_dir = exp_dir or self.experiment_dir(agent_id)
        if exp_dir is None:
            return Summary(error="not found")
        return self.summaries.get(progress_file(exp_dir), lambda: self.checkpoint_best(agent_id))

    def log(self, exp_dir: Path):
        """Every progress record of an experiment (see ``progress.LogCache``)."""
        return self.logs.get(progress_file(exp_dir))

    def evaluations(self, exp_dir: Path) -> tuple[list[dict[str, Any]], str | None]:
        """Records of ``evaluations.jsonl`` (empty when there are none)."""
        return read_jsonl(exp_dir / "evaluations.jsonl")

    def gifs(self, exp_dir: Path) -> list[str]:
        """Gif file names in ``gifs/``, ordered by iteration."""
        try:
            names = [n for n in os.listdir(exp_dir / "gifs")
                     if valid_name(n) and n.lower().endswith(".gif")]
        except OSError:
            return []
        return sorted(names, key=lambda n: (not n[:-4].isdigit(), int(n[:-4]) if n[:-4].isdigit() else 0, n))

    def gif_path(self, exp_dir: Path, name: str) -> Path | None:
        """Path of a gif of an experiment, or None when missing or not a plain name."""
        if not name.lower().endswith(".gif"):
            return None
        path = resolve_inside((exp_dir / "gifs").resolve(), name)
        return path if path is not None and stat_key(path) is not None else None

    def analysis_figures(self, exp_dir: Path) -> list[str]:
        """PNG names in ``analysis/``: pca, decode, rsa, weights first, then the others by name."""
        folder = resolve_inside(exp_dir, "analysis")
        try:
            names = os.listdir(folder) if folder is not None else []
        except OSError:
            return []
        rank = {f"{stem}.png": i for i, stem in enumerate(ANALYSIS_ORDER)}
        return sorted((n for n in names if self.analysis_path(exp_dir, n) is not None),
                      key=lambda n: (rank.get(n, len(rank)), n))

    def analysis_path(self, exp_dir: Path, name: str) -> Path | None:
        """Path of an analysis figure (a plain ``.png`` name), or None when missing or refused."""
        return _file_in(exp_dir, "analysis", name, ".png")

    def analysis_info(self, exp_dir: Path, figure: str) -> Any:
        """The parsed ``.json`` beside an analysis figure, or None when missing or unreadable."""
        if not figure.lower().endswith(".png"):
            return None
        path = _file_in(exp_dir, "analysis", figure[:-4] + ".json", ".json")
        if path is None:
            return None
        value, error = read_json(path)
        return None if error else value

    def bookmarked(self, exp_dir: Path) -> bool:
        """Whether the ``bookmark`` marker file exists."""
        return os.path.exists(exp_dir / "bookmark")

    def toggle_bookmark(self, agent_id: str) -> bool | None:
        """Flip the bookmark of an experiment; the new state, or None if it does not exist."""
        exp_dir = self.experiment_dir(agent_id)
        if exp_dir is None:
            return None
        marker = exp_dir / "bookmark"
        if marker.exists():
            marker.unlink()
            return False
        marker.touch()
        return True

    def delete(self, agent_id: str) -> bool:
        """Remove ``experiments/<id>`` and ``saved_models/<id>``; False if there is no such id."""
        if self.experiment_dir(agent_id) is None:
            return False
        for base in (self.root / "experiments", self.root / "saved_models"):
            path = base / agent_id
            if path.is_symlink():
                path.unlink()  # never follow a link out of the storage folder
            elif path.is_dir():
                shutil.rmtree(path)
        return True

    def is_running(self, meta: dict[str, Any], summary: Summary) -> bool:
        """Status ``running`` and progress written within the last few cycles (>= 5 min)."""
        if meta.get("status") != "running" or summary.key is None:
            return False
        cycle = number((summary.last or {}).get("time/cycle_s")) or 0.0
        age = time.time() - summary.key[0] / 1e9
        return age < max(RUNNING_WINDOW_S, 3 * cycle)

    def row(self, agent_id: str) -> dict[str, Any]:
        """One overview row; problems end up in ``row["errors"]``, never as exceptions."""
        exp_dir = self.experiment_dir(agent_id)
        if exp_dir is None:
            return {"id": agent_id, "errors": ["not an experiment folder"]}
        meta, meta_error = self.meta(exp_dir)
        summary = self.summary(agent_id, exp_dir)
        last = summary.last or {}
        threshold = number(meta.get("reward_threshold"))
        reward = meta.get("reward_config")
        status = str(meta.get("status") or "unknown")
        running = self.is_running(meta, summary)
        if status == "running" and not running:
            status = "stalled"
        iteration = number(last.get("iteration"))
        return {
            "id": agent_id, "env": str(meta.get("env_id") or ""),
            "created": _short_date(meta.get("created"), agent_id), "host": str(meta.get("host") or ""),
            "iterations": int(iteration) + 1 if iteration is not None else 0,
            "frames": number(last.get("frames")), "best": summary.best,
            "last": summary.last_return, "threshold": threshold,
            "reached": (summary.best >= threshold) if threshold is not None and summary.best is not None else None,
            "arch": " / ".join(str(meta.get(k)) for k in ("architecture", "model", "distribution") if meta.get(k)),
            "preset": str(meta.get("preset") or ""),
            "group": str(meta.get("experiment_group") or ""),
            "reward": str(reward.get("name") or "") if isinstance(reward, dict) else "",
            "status": "running" if running else status, "running": running,
            "bookmarked": self.bookmarked(exp_dir),
            "errors": [e for e in (meta_error, summary.error) if e]
            + ([f"{summary.bad_lines} corrupt progress line(s) skipped"] if summary.bad_lines else []),
        }

    def group(self, agent_id: str) -> str:
        """The experiment group of an experiment ("" when it has none or its meta is unreadable)."""
        exp_dir = self.experiment_dir(agent_id)
        meta = self.meta(exp_dir)[0] if exp_dir is not None else {}
        group = meta.get("experiment_group")
        return group if isinstance(group, str) else ""

    def groups(self) -> dict[str, list[str]]:
        """{group: ids of its experiments, newest first} over every experiment with a group."""
        out: dict[str, list[str]] = {}
        for agent_id in self.ids():
            group = self.group(agent_id)
            if group:
                out.setdefault(group, []).append(agent_id)
        return dict(sorted(out.items()))

    def overview(self) -> list[dict[str, Any]]:
        """Rows for every experiment, newest first."""
        return [self.row(agent_id) for agent_id in self.ids()]


def _file_in(exp_dir: Path, folder: str, name: str, suffix: str) -> Path | None:
    """``exp_dir/folder/name`` if it is an existing file with a plain name ending in ``suffix``."""
    base = resolve_inside(exp_dir, folder)
    if base is None or not name.lower().endswith(suffix):
        return None
    path = resolve_inside(base, name)
    return path if path is not None and stat_key(path) is not None else None


def _short_date(created: Any, agent_id: str) -> str:
    """``YYYY-mm-dd HH:MM`` from meta ``created`` or, failing that, from the id."""
    if isinstance(created, str) and len(created) >= 16:
        return created[:10] + " " + created[11:16]
    if len(agent_id) >= 13 and agent_id[:8].isdigit() and agent_id[9:13].isdigit():
        a = agent_id
        return f"{a[:4]}-{a[4:6]}-{a[6:8]} {a[9:11]}:{a[11:13]}"
    return ""
