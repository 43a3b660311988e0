"""Named reward configurations: plain dicts of constants read by the tasks' reward functions.

Select one with `--rcon NAME` (for example `manipulate.penalized_force`); the chosen dict is saved
with the agent. TensorFlow-free (imported by environment workers).

    >>> config = get_reward_config("reach.default")
    >>> register_reward_config("reach.strict", {**config, "success_distance": 0.01})

Keys (every config of a task family has the same keys):
    success_distance           reach: metres per fingertip; manipulate: radians of rotation
    distance_multiplier        weight of the (summed) fingertip distance penalty
    success_bonus              added on every step the goal is reached (manipulate: on each new goal)
    force_multiplier           weight of the mean squared normalised actuator force (in [0, 1])
    tendon_stress_multiplier   weight of the mean squared normalised tendon deflection (in [0, 1])
    proximity_multiplier/scale bonus `multiplier * exp(-distance / scale)` (reach: per fingertip),
                               a sharp pull over the last centimetres that the linear distance
                               penalty alone gives too weakly
    exclusion_distance         free reach: radius around the goal the other fingertips should avoid
    exclusion_multiplier       free reach: penalty per metre another fingertip intrudes that radius
    separation_multiplier      free reach: bonus for the other fingertips' mean clearance (in [0, 1])
    rotation_multiplier        manipulate: weight of the decrease of the rotation distance to the goal
    closeness_multiplier/epsilon  manipulate: dense term `multiplier / (rotation distance + epsilon)`
                               every step (Isaac Gym's shadow hand: 1 / (d + 0.1))
    drop_penalty               manipulate: subtracted on the step the block drops
"""
from __future__ import annotations

import copy
from typing import Any

from dexterity.errors import ConfigError

_REACH = {"success_distance": 0.02, "distance_multiplier": 1.0, "success_bonus": 0.1,
          "proximity_multiplier": 0.05, "proximity_scale": 0.01,
          "force_multiplier": 0.0, "tendon_stress_multiplier": 0.0}
_FREE_REACH = {"success_distance": 0.02, "distance_multiplier": 1.0, "success_bonus": 0.1,
               "proximity_multiplier": 0.0, "proximity_scale": 0.02,
               "exclusion_distance": 0.04, "exclusion_multiplier": 1.0, "separation_multiplier": 0.0,
               "force_multiplier": 0.0, "tendon_stress_multiplier": 0.0}
_MANIPULATE = {"success_distance": 0.4, "rotation_multiplier": 1.0, "success_bonus": 5.0,
               "drop_penalty": 20.0, "closeness_multiplier": 0.0, "closeness_epsilon": 0.1,
               "force_multiplier": 0.0, "tendon_stress_multiplier": 0.0}

REWARD_CONFIGS: dict[str, dict[str, Any]] = {
    "reach.default": dict(_REACH),
    "reach.force_punished": {**_REACH, "force_multiplier": 0.05, "tendon_stress_multiplier": 0.05},
    "free_reach.default": dict(_FREE_REACH),
    "free_reach.force_punished": {**_FREE_REACH, "force_multiplier": 0.05, "tendon_stress_multiplier": 0.05},
    "free_reach_positive_reinforcement.default": {
        **_FREE_REACH, "distance_multiplier": 0.0, "proximity_multiplier": 0.1, "success_bonus": 0.1,
        "exclusion_multiplier": 0.0, "separation_multiplier": 0.05},
    "manipulate.default": dict(_MANIPULATE),
    "manipulate.penalized_force": {**_MANIPULATE, "force_multiplier": 0.1, "tendon_stress_multiplier": 0.1},
    # Isaac Gym's shadow hand weights (rotation closeness 1/(d + 0.1), 250 per goal, no drop penalty)
    # with our progress term and drop penalty kept, scaled to a bonus of 25 per goal
    "manipulate.dense": {**_MANIPULATE, "closeness_multiplier": 0.1, "success_bonus": 25.0},
}


def list_reward_configs() -> list[str]:
    """Names of every known reward configuration, sorted."""
    return sorted(REWARD_CONFIGS)


def get_reward_config(name: str) -> dict[str, Any]:
    """A deep copy of the named configuration; unknown names raise ConfigError."""
    if not isinstance(name, str) or name not in REWARD_CONFIGS:
        raise ConfigError(f"unknown reward config {name!r}; known reward configs: {', '.join(list_reward_configs())}")
    return copy.deepcopy(REWARD_CONFIGS[name])


def _check_constants(name: str, config: Any) -> None:
    if not isinstance(config, dict):
        raise ConfigError(f"reward config {name!r} must be a dict of constants, got {type(config).__name__}")
    for key, value in config.items():
        if not isinstance(key, str) or not isinstance(value, (int, float, bool, str)):
            raise ConfigError(f"reward config {name!r}: entry {key!r} must map a name to a number, bool or string")


def register_reward_config(name: str, config: dict[str, Any], overwrite: bool = False) -> None:
    """Make `config` selectable as `name` (a copy is stored). Existing names need overwrite=True."""
    if not isinstance(name, str) or not name:
        raise ConfigError(f"reward config name must be a non-empty string, got {name!r}")
    if name in REWARD_CONFIGS and not overwrite:
        raise ConfigError(f"reward config {name!r} already exists (pass overwrite=True to replace it)")
    _check_constants(name, config)
    REWARD_CONFIGS[name] = copy.deepcopy(config)


def resolve_reward_config(config: str | dict[str, Any] | None, default: str) -> dict[str, Any]:
    """The config a task uses: a name, a dict (missing keys taken from `default`) or None (`default`)."""
    if config is None:
        return get_reward_config(default)
    if isinstance(config, str):
        return get_reward_config(config)
    _check_constants("<custom>", config)
    return {**get_reward_config(default), **copy.deepcopy(config)}
