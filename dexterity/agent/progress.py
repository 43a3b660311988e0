"""Progress inside a cycle: the gather and optimise phases of long cycles, live.

The gatherer's step loop and the learner's epoch loop report to a `CycleProgress`:

    progress.phase("gather", total=horizon * n_envs, unit="steps", per_rank=True)
    progress.update(done)            # every step: one clock read unless an update is due

`CycleProgress` itself shows nothing (the default). `LiveProgress` shows a phase once its cycle
has run `delay` seconds, so short cycles print nothing: on a terminal a transient `rich` bar
(redrawn at most every `interval` seconds, erased before the cycle's line is printed), elsewhere
(SLURM logs, pipes) one plain line at most every `interval` seconds. `DEXTERITY_PROGRESS`
(auto, bar, lines, off), `DEXTERITY_PROGRESS_DELAY` and `DEXTERITY_PROGRESS_INTERVAL` tune it.
"""
from __future__ import annotations

import dataclasses
import os
import sys
import time
from typing import Any, Callable, Mapping, TextIO

from dexterity.agent.report import _si
from dexterity.errors import ConfigError

MODES = ("auto", "bar", "lines", "off")
DELAY_S = 3.0             # a cycle shows progress once it has run this long
BAR_INTERVAL_S = 0.25     # redraws of the terminal bar
LINES_INTERVAL_S = 30.0   # plain lines (log files)


class CycleProgress:
    """The reporter interface; this base shows nothing and costs one method call per update."""

    def start_cycle(self, label: str) -> None:
        """A cycle begins; `label` (e.g. 'cycle 3/450') heads what is shown."""

    def phase(self, name: str, total: int, unit: str, per_rank: bool = False) -> None:
        """A phase of `total` units begins; `per_rank`: counts are this rank's share of all ranks'."""

    def update(self, done: int) -> None:
        """`done` units of the current phase are done."""

    def end_cycle(self) -> None:
        """The cycle ends: nothing of the progress may remain on screen."""


@dataclasses.dataclass(frozen=True)
class Settings:
    mode: str        # bar, lines or off
    delay: float
    interval: float


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0.0 or value == float("inf"):
        raise ConfigError(f"{name} must be a number of seconds >= 0, got {text!r}")
    return value


def settings(enabled: bool = True, env: Mapping[str, str] | None = None, stream: TextIO | None = None) -> Settings:
    """The progress display from the environment: off when not `enabled` or DEXTERITY_PROGRESS=off;
    auto is a bar on a terminal and plain lines elsewhere. Bad values raise ConfigError."""
    env = os.environ if env is None else env
    mode = env.get("DEXTERITY_PROGRESS", "auto").strip().lower() or "auto"
    if mode not in MODES:
        raise ConfigError(f"DEXTERITY_PROGRESS must be one of {', '.join(MODES)}, got {mode!r}")
    delay = _seconds(env, "DEXTERITY_PROGRESS_DELAY", DELAY_S)
    if mode == "auto":
        stream = sys.stdout if stream is None else stream
        mode = "bar" if _is_terminal(stream) else "lines"
    default_interval = BAR_INTERVAL_S if mode == "bar" else LINES_INTERVAL_S
    interval = _seconds(env, "DEXTERITY_PROGRESS_INTERVAL", default_interval)
    return Settings(mode if enabled else "off", delay, interval)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def make_progress(enabled: bool, ranks: int = 1, stream: TextIO | None = None) -> CycleProgress:
    """The reporter the settings ask for (a silent one when off)."""
    chosen = settings(enabled, stream=stream)
    if chosen.mode == "off":
        return CycleProgress()
    return LiveProgress(chosen, ranks=ranks, stream=stream)


class LiveProgress(CycleProgress):
    """Shows the current phase of cycles that run longer than `settings.delay` (see the module doc)."""

    def __init__(self, chosen: Settings, ranks: int = 1, stream: TextIO | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.settings, self.ranks, self.clock = chosen, ranks, clock
        self.stream = sys.stdout if stream is None else stream
        self.label, self.name, self.unit, self.total, self.scale = "", "", "", 0, 1
        self.start = self.next = float("inf")  # no update is due outside a cycle
        self._bar: Any = None
        self._task: Any = None

    def start_cycle(self, label: str) -> None:
        self.label, self.start = label, self.clock()
        self.next = self.start + self.settings.delay

    def phase(self, name: str, total: int, unit: str, per_rank: bool = False) -> None:
        self.name, self.unit, self.total = name, unit, int(total)
        self.scale = self.ranks if per_rank else 1
        if self._bar is not None:  # the bar is up: switch it to the new phase at once
            self._draw_bar(0)
        else:
            self.update(0)

    def update(self, done: int) -> None:
        now = self.clock()
        if now < self.next:
            return
        self.next = now + self.settings.interval
        if self.settings.mode == "bar":
            self._draw_bar(done)
        else:
            self._write_line(done, now)

    def end_cycle(self) -> None:
        self.start = self.next = float("inf")
        if self._bar is not None:
            bar, self._bar, self._task = self._bar, None, None
            bar.stop()  # transient: the bar is erased

    def line(self, done: int, now: float) -> str:
        """The plain line of a phase: '  ... cycle 3/450 gather 12.8k/32.8k steps (39%), 12s into the cycle'."""
        share = f" ({100 * done / self.total:.0f}%)" if self.total else ""
        return (f"  ... {self.label} {self.name} {_si(done * self.scale)}/{_si(self.total * self.scale)} "
                f"{self.unit}{share}, {now - self.start:.0f}s into the cycle")

    def _write_line(self, done: int, now: float) -> None:
        self.stream.write(self.line(done, now) + "\n")
        self.stream.flush()

    def _draw_bar(self, done: int) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
        description = f"{self.label} {self.name}"
        if self._bar is None:
            from rich.console import Console
            self._bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[unit]}"), TimeElapsedColumn(),
                                 console=Console(file=self.stream), transient=True, auto_refresh=False)
            self._bar.start()
            self._task = self._bar.add_task(description, total=self.total * self.scale, unit=self.unit)
        task = self._bar.tasks[0]
        if task.description != description:
            self._bar.reset(self._task, total=self.total * self.scale, description=description, unit=self.unit)
        self._bar.update(self._task, completed=done * self.scale)
        self._bar.refresh()
