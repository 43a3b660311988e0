"""The policy: a model and a distribution behind batched, traced inference functions.

All inference for a batch of environments is one TensorFlow call (`act`), never one per env.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from dexterity.models.base import BaseModel


def reset_state(state: list[tf.Tensor], reset: tf.Tensor) -> list[tf.Tensor]:
    """Zero the recurrent state rows [B, units] where reset [B] is 1."""
    keep = 1.0 - tf.cast(reset, tf.float32)[:, None]
    return [s * keep for s in state]


class Policy:
    """Batched acting and value estimation with a model; holds the sampling RNG."""

    def __init__(self, model: BaseModel, distribution: Any, seed: int):
        self.model = model
        self.distribution = distribution
        self.generator = tf.random.Generator.from_seed(seed)
        self._act = tf.function(self._act_impl, reduce_retracing=True)
        self._value = tf.function(self._value_impl, reduce_retracing=True)

    @property
    def recurrent(self) -> bool:
        return bool(self.model.state_sizes())

    def initial_state(self, batch: int) -> list[np.ndarray]:
        return [np.zeros((batch, size), np.float32) for size in self.model.state_sizes()]

    def _act_impl(self, obs: dict[str, tf.Tensor], state: list[tf.Tensor], reset: tf.Tensor,
                  deterministic: bool) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, list[tf.Tensor]]:
        params, value, new_state = self.model.step(obs, reset_state(state, reset))
        if deterministic:
            action = self.distribution.mode(params)
        else:
            action = self.distribution.sample(params, self.generator)
        return action, self.distribution.log_prob(params, action), value, new_state

    def _value_impl(self, obs: dict[str, tf.Tensor], state: list[tf.Tensor], reset: tf.Tensor) -> tf.Tensor:
        return self.model.step(obs, reset_state(state, reset))[1]

    def act(self, obs: dict[str, np.ndarray], state: list[np.ndarray], reset: np.ndarray,
            deterministic: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]:
        """obs [B, ...] (normalised), state, reset [B] -> actions, log_probs [B], values [B], new state."""
        action, log_prob, value, new_state = self._act(obs, state, np.asarray(reset, np.float32), deterministic)
        return action.numpy(), log_prob.numpy(), value.numpy(), [s.numpy() for s in new_state]

    def value(self, obs: dict[str, np.ndarray], state: list[np.ndarray], reset: np.ndarray) -> np.ndarray:
        """Values [B] of observations [B, ...] given the recurrent state (reset rows zeroed)."""
        return self._value(obs, state, np.asarray(reset, np.float32)).numpy()
