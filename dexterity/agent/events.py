"""TensorBoard event files of a training run, written next to its progress record.

    events = EventLog.open(experiment_folder)      # None (with a warning) when it cannot write
    events.scalars(record, step=record["frames"])  # one scalar per numeric field of the record
    events.histograms(model.weights, step)         # one histogram per weight tensor

The step of every event is the env frame count, so curves of runs with different cycle sizes
line up, and a resumed run (same folder, a new event file) continues where it stopped.
Only the trainer imports this module (it loads TensorFlow); the monitor never does.
"""
from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from dexterity.errors import first_line


def numeric_fields(record: dict[str, Any]) -> dict[str, float]:
    """The finite numbers of a record (ints and floats, numpy scalars included; not bools or text)."""
    out = {}
    for key, value in record.items():
        if isinstance(value, np.generic) and np.ndim(value) == 0:
            value = value.item()
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if math.isfinite(value):
            out[key] = float(value)
    return out


def weight_name(variable: Any, index: int, seen: set[str]) -> str:
    """A unique histogram tag for a model variable: weights/<variable path>."""
    name = str(getattr(variable, "path", None) or getattr(variable, "name", None) or index)
    tag = f"weights/{name}"
    if tag in seen:
        tag = f"{tag}_{index}"
    seen.add(tag)
    return tag


class EventLog:
    """A TensorBoard file writer on one folder; a write error turns it off with one warning."""

    def __init__(self, folder: Path):
        import tensorflow as tf
        self._tf = tf
        self.folder = Path(folder)
        self.writer = tf.summary.create_file_writer(str(self.folder))

    @classmethod
    def open(cls, folder: Path) -> "EventLog | None":
        """An event log on `folder`, or None after a warning on stderr when it cannot be made."""
        try:
            return cls(folder)
        except Exception as exc:  # noqa: BLE001 - TensorBoard output must never stop a training run
            _warn(exc)
            return None

    @property
    def active(self) -> bool:
        return self.writer is not None

    def scalars(self, record: dict[str, Any], step: int) -> None:
        """One scalar event per numeric field of `record`, tagged with its key, at `step`."""
        self._write(lambda: [self._tf.summary.scalar(k, v, step=step) for k, v in numeric_fields(record).items()])

    def histograms(self, variables: Iterable[Any], step: int) -> None:
        """One histogram event per variable (weights/<path>) at `step`."""
        seen: set[str] = set()

        def write() -> None:
            for i, variable in enumerate(variables):
                self._tf.summary.histogram(weight_name(variable, i, seen), np.asarray(variable), step=step)
        self._write(write)

    def _write(self, write: Any) -> None:
        if self.writer is None:
            return
        try:
            with self.writer.as_default():
                write()
            self.writer.flush()
        except Exception as exc:  # noqa: BLE001 - e.g. a full disk: warn once, train on
            _warn(exc)
            self.close()

    def close(self) -> None:
        if self.writer is not None:
            try:
                self.writer.close()
            except Exception:  # noqa: BLE001 - closing after a failed write
                pass
            self.writer = None


def _warn(exc: BaseException) -> None:
    text = first_line(exc) or type(exc).__name__
    print(f"warning: TensorBoard output turned off: {text}", file=sys.stderr)
