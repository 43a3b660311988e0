"""Visual pretraining: rendered Shadow Hand scenes (TF-free generation) and encoder training tasks.

`scenes` and `data` never import TensorFlow (they render); `tasks` and `training` do.
"""
from __future__ import annotations

from dexterity.errors import DexterityError

TASKS = ("hands", "reconstruct", "classify")
ALIASES = {"h": "hands", "r": "reconstruct", "c": "classify"}


def task_name(name: str) -> str:
    """Full task name of a name or its one-letter alias (TF-free, for early argument checks)."""
    name = ALIASES.get(name, name)
    if name not in TASKS:
        raise DexterityError(f"unknown pretraining task '{name}'; use {', '.join(TASKS)} (or h, r, c)")
    return name
