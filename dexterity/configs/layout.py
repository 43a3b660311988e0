"""The config checks that need the rank layout or the model: environments per rank and the minibatch plan.

`validate_config` checks what a config alone decides; these check what it means for a run of R
ranks of which O optimise, with a (non-)recurrent model. PPOAgent calls them once, before it
gathers; no other code validates a config.

`--batch-size` is the global minibatch: every minibatch step uses `batch_size` transitions in all,
split over the optimising ranks in proportion to the data each holds, so one epoch is
`workers x horizon / batch_size` steps with 1 rank or 64, and every optimiser runs the same
number of steps (the per-step gradient allreduce always matches).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Sequence

from dexterity.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Minibatches:
    """How one optimising rank cuts its data: `steps` minibatches of `rows` sequences of `length` steps
    per epoch; `weight` scales its gradient before the mean over optimisers (its share of the global
    minibatch times the number of optimisers; 1 when the data are spread evenly)."""

    length: int
    rows: int
    steps: int
    weight: float = 1.0


def envs_per_rank(config: dict[str, Any], ranks: int) -> int:
    """Environments of each of `ranks` ranks (`--workers` spread evenly; a clear error otherwise)."""
    if config["workers"] % ranks:
        raise ConfigError(f"--workers {config['workers']} cannot be spread evenly over {ranks} ranks")
    return config["workers"] // ranks


def minibatch_plan(config: dict[str, Any], recurrent: bool, shares: Sequence[int], mine: int) -> Minibatches:
    """The minibatches of optimiser `mine`, where optimiser o trains on the data of `shares[o]` ranks.

    Recurrent models learn on whole sequences of `tbptt` steps: `horizon` and `batch_size` must be
    multiples of it. Raises ConfigError when the global minibatch cannot be split over the optimisers.
    """
    length = config["tbptt"] if recurrent else 1
    for name in ("horizon", "batch_size"):
        if config[name] % length:
            raise ConfigError(f"--{name.replace('_', '-')} {config[name]} must be a multiple of --tbptt {length} "
                              f"for a recurrent model")
    ranks = sum(shares)
    per_rank = envs_per_rank(config, ranks) * (config["horizon"] // length)  # sequences each rank gathers
    steps = config["workers"] * config["horizon"] // config["batch_size"]    # validate_config: it divides
    rows = [share * per_rank / steps for share in shares]
    if any(r != int(r) or r < 1 for r in rows):
        unit = f" sequences of {length} steps" if length > 1 else " transitions"
        raise ConfigError(f"--batch-size {config['batch_size']} cannot be split over {len(shares)} optimising "
                          f"rank(s) holding {', '.join(str(s * per_rank) for s in shares)}{unit} "
                          f"in {steps} equal steps; choose a batch size that gives each a whole share")
    return Minibatches(length, int(rows[mine]), steps, rows[mine] * len(shares) / (config["batch_size"] // length))
