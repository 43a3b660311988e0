"""Experiment groups: a name stored as `experiment_group` in an experiment's meta.json.

Runs that belong together (the seeds of one config, the runs of a benchmark config) share a
group; the monitor filters by group and compares groups (mean and 95% confidence band over each
group's runs). `benchmark.py` puts the runs of config SPEC into group `<group>/<SPEC>`.
"""
from __future__ import annotations

import re

from dexterity.errors import DexterityError

MAX_LENGTH = 120
PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:=,/+-]*$")


def check_group(name: str | None) -> str | None:
    """The group name unchanged (None stays None); anything else than a plain name is a DexterityError.

    Allowed: letters, digits and `_ . : = , / + -`, starting with a letter or digit, at most 120
    characters (so that config specs such as `discrete:lr_pi=1e-3,epochs=8` fit).
    """
    if name is None:
        return None
    if not PATTERN.match(name) or len(name) > MAX_LENGTH:
        raise DexterityError(f"--experiment-group '{name}' is not a group name: up to {MAX_LENGTH} letters, "
                             f"digits or _ . : = , / + -, starting with a letter or digit")
    return name


def benchmark_group(group: str, spec: str) -> str:
    """The group of a benchmark config's runs: `<group>/<config spec>`, checked."""
    return check_group(f"{group}/{spec}")
