"""Reward functions: pure functions `(state, config) -> float`, registered by name.

`state` is a dict of the pieces the task computed this step (documented per function); `config`
is a reward configuration from `dexterity.configs.reward_config`. Tasks choose a default function
by name; a user adds their own with `register_reward_function` and selects it with the env kwarg
`reward_function`. TensorFlow-free.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from dexterity.errors import ConfigError

RewardFunction = Callable[[dict[str, Any], dict[str, Any]], float]
REWARD_FUNCTIONS: dict[str, RewardFunction] = {}


def register_reward_function(name: str, function: RewardFunction | None = None, overwrite: bool = False):
    """Register `function` under `name`; usable as a decorator when `function` is omitted."""
    def _register(fn: RewardFunction) -> RewardFunction:
        if name in REWARD_FUNCTIONS and not overwrite:
            raise ConfigError(f"reward function {name!r} already exists (pass overwrite=True to replace it)")
        REWARD_FUNCTIONS[name] = fn
        return fn
    return _register(function) if function is not None else _register


def get_reward_function(name_or_function: str | RewardFunction) -> RewardFunction:
    """A registered reward function by name (callables pass through)."""
    if callable(name_or_function):
        return name_or_function
    if name_or_function not in REWARD_FUNCTIONS:
        raise ConfigError(f"unknown reward function {name_or_function!r}; known: {', '.join(sorted(REWARD_FUNCTIONS))}")
    return REWARD_FUNCTIONS[name_or_function]


def _effort(state: dict[str, Any], config: dict[str, Any]) -> float:
    """Weighted force and tendon-stress penalty (both pieces in [0, 1])."""
    return (config["force_multiplier"] * float(state["force_penalty"])
            + config["tendon_stress_multiplier"] * float(state["tendon_stress"]))


@register_reward_function("reach")
def reach_reward(state: dict[str, Any], config: dict[str, Any]) -> float:
    """All fingertips to their goals.

    state: fingertip_distances [5] (m), success (bool), force_penalty, tendon_stress.
    r = -distance_multiplier * sum(d) + proximity_multiplier * sum(exp(-d / proximity_scale))
        + success_bonus * success - effort
    (configs saved before the proximity term existed have no proximity keys: no such term.)
    """
    distances = np.asarray(state["fingertip_distances"], float)
    proximity = 0.0
    if config.get("proximity_multiplier", 0.0):
        proximity = config["proximity_multiplier"] * float(np.sum(np.exp(-distances / config["proximity_scale"])))
    return (-config["distance_multiplier"] * float(np.sum(distances)) + proximity
            + config["success_bonus"] * float(state["success"]) - _effort(state, config))


@register_reward_function("free_reach")
def free_reach_reward(state: dict[str, Any], config: dict[str, Any]) -> float:
    """One fingertip to the goal, the other four (thumb included) kept away from it.

    state: target_distance (m), other_distances [4] (m), success, force_penalty, tendon_stress.
    r = -distance_multiplier * d + proximity_multiplier * exp(-d / proximity_scale) + success_bonus * success
        - exclusion_multiplier * sum(max(0, exclusion_distance - other))
        + separation_multiplier * mean(min(other, exclusion_distance)) / exclusion_distance - effort
    """
    d = float(state["target_distance"])
    others = np.asarray(state["other_distances"], float)
    radius = config["exclusion_distance"]
    intrusion = float(np.sum(np.maximum(0.0, radius - others)))
    clearance = float(np.mean(np.minimum(others, radius))) / radius
    return (-config["distance_multiplier"] * d
            + config["proximity_multiplier"] * float(np.exp(-d / config["proximity_scale"]))
            + config["success_bonus"] * float(state["success"])
            - config["exclusion_multiplier"] * intrusion
            + config["separation_multiplier"] * clearance
            - _effort(state, config))


@register_reward_function("manipulate")
def manipulate_reward(state: dict[str, Any], config: dict[str, Any]) -> float:
    """Reorientation: reward the decrease of the rotation distance, closeness to the goal, a bonus per
    goal, a drop penalty.

    state: previous_rotation_distance, rotation_distance (rad), success, dropped, force_penalty, tendon_stress.
    r = rotation_multiplier * (previous - current)
        + closeness_multiplier / (current + closeness_epsilon)      (Isaac Gym's dense rotation term)
        + success_bonus * success - drop_penalty * dropped - effort
    (configs saved before the closeness term existed have no closeness keys: no such term.)
    """
    current = float(state["rotation_distance"])
    progress = float(state["previous_rotation_distance"]) - current
    closeness = 0.0
    if config.get("closeness_multiplier", 0.0):
        closeness = config["closeness_multiplier"] / (current + config["closeness_epsilon"])
    return (config["rotation_multiplier"] * progress + closeness + config["success_bonus"] * float(state["success"])
            - config["drop_penalty"] * float(state["dropped"]) - _effort(state, config))
