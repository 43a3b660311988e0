"""Observation layout: any Gymnasium observation space as a flat dict of named arrays.

Everything downstream of the environment (normalisers, models, rollout storage) sees
observations as `dict[str, np.ndarray]`; a plain Box becomes `{"obs": ...}`, a Discrete becomes
a one-hot vector, a Dict keeps its keys (nested keys joined with "/"). Uint8 Boxes of rank 3
are images (H, W, C) and are scaled, not normalised. TensorFlow-free: used in env workers.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import gymnasium as gym
import numpy as np

from dexterity.errors import DexterityError

ASYMMETRIC_KEY = "asymmetric"  # privileged inputs read by the value function only


@dataclasses.dataclass(frozen=True)
class Sense:
    """One named input: shape of a single observation, its dtype and whether it is an image."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    is_image: bool


def _leaves(space: gym.Space, prefix: str) -> list[tuple[str, gym.Space]]:
    if isinstance(space, gym.spaces.Dict):
        out = []
        for key, sub in space.spaces.items():
            out += _leaves(sub, f"{prefix}/{key}" if prefix else key)
        return out
    if isinstance(space, gym.spaces.Tuple):
        out = []
        for i, sub in enumerate(space.spaces):
            out += _leaves(sub, f"{prefix}/{i}" if prefix else f"obs_{i}")
        return out
    return [(prefix or "obs", space)]


def _sense(name: str, space: gym.Space) -> Sense:
    if isinstance(space, gym.spaces.Box):
        is_image = space.dtype == np.uint8 and len(space.shape) == 3
        if is_image:
            return Sense(name, tuple(space.shape), "uint8", True)
        return Sense(name, (int(np.prod(space.shape)),) if len(space.shape) != 1 else tuple(space.shape),
                     "float32", False)
    if isinstance(space, gym.spaces.Discrete):
        return Sense(name, (int(space.n),), "float32", False)
    if isinstance(space, gym.spaces.MultiDiscrete):
        return Sense(name, (int(np.sum(space.nvec)),), "float32", False)
    if isinstance(space, gym.spaces.MultiBinary):
        return Sense(name, (int(np.prod(space.shape)),), "float32", False)
    raise DexterityError(f"observation space {space} is not supported (Box, Discrete, MultiDiscrete, MultiBinary, "
                         f"Dict and Tuple of those are)")


def observation_layout(space: gym.Space) -> list[Sense]:
    """The named inputs an observation space produces, in a fixed order."""
    return [_sense(name, sub) for name, sub in _leaves(space, "")]


def _leaf_value(obs: Any, name: str, top_is_tuple: bool) -> Any:
    if name == "obs" and not isinstance(obs, (dict, tuple)):
        return obs
    value = obs
    parts = name.split("/")
    if top_is_tuple:
        parts[0] = parts[0][len("obs_"):]
    for part in parts:
        value = value[int(part)] if isinstance(value, tuple) else value[part]
    return value


def _encode(value: Any, space: gym.Space, sense: Sense) -> np.ndarray:
    if isinstance(space, gym.spaces.Discrete):
        out = np.zeros(sense.shape, np.float32)
        out[int(value) - int(space.start)] = 1.0
        return out
    if isinstance(space, gym.spaces.MultiDiscrete):
        out = np.zeros(sense.shape, np.float32)
        offsets = np.concatenate([[0], np.cumsum(space.nvec.ravel())[:-1]])
        out[offsets + np.asarray(value).ravel()] = 1.0
        return out
    if sense.is_image:
        return np.asarray(value, np.uint8)
    return np.asarray(value, np.float32).reshape(sense.shape)


class ObservationEncoder:
    """Turns raw observations of one space into `dict[name, array]` following its layout."""

    def __init__(self, space: gym.Space):
        self.space = space
        self.senses = observation_layout(space)
        self._spaces = dict(_leaves(space, ""))
        self._top_is_tuple = isinstance(space, gym.spaces.Tuple)

    def encode(self, obs: Any) -> dict[str, np.ndarray]:
        """One raw observation -> dict of arrays with the layout's shapes."""
        return {s.name: _encode(_leaf_value(obs, s.name, self._top_is_tuple), self._spaces[s.name], s)
                for s in self.senses}

    def encode_batch(self, observations: list[Any]) -> dict[str, np.ndarray]:
        """A list of B raw observations -> dict of [B, *shape] arrays (as `encode` of each, stacked; Box
        senses are stacked first and converted once: an env worker does this every step)."""
        out = {}
        for s in self.senses:
            space = self._spaces[s.name]
            values = [_leaf_value(o, s.name, self._top_is_tuple) for o in observations]
            if isinstance(space, gym.spaces.Box):
                out[s.name] = np.asarray(np.stack(values), s.dtype).reshape((len(values), *s.shape))
            else:
                out[s.name] = np.stack([_encode(v, space, s) for v in values])
        return out


def empty_batch(senses: list[Sense], batch: int) -> dict[str, np.ndarray]:
    """Zero observations [batch, *shape] for every sense."""
    return {s.name: np.zeros((batch, *s.shape), s.dtype) for s in senses}
