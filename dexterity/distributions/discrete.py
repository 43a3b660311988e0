"""Categorical and multi-categorical distributions over integer actions (logits parameters)."""
from __future__ import annotations

from typing import Any

import gymnasium as gym
import keras
import numpy as np
import tensorflow as tf

from dexterity.distributions import numpy_math as npm
from dexterity.distributions.base import (BasePolicyDistribution, bounded_box, head_dense, register_distribution,
                                          to_env_shape)
from dexterity.errors import ConfigError

_MASKED_LOGIT = -1e9  # logit of padded (non-existent) categories: probability exactly 0 in float32
_TINY = float(np.finfo(np.float32).tiny)


def gumbel_argmax(logits: tf.Tensor, generator: tf.random.Generator) -> tf.Tensor:
    """Sample categories from logits [..., n] with the Gumbel-max trick -> int32 [...]."""
    u = generator.uniform(tf.shape(logits), minval=_TINY, maxval=1.0, dtype=tf.float32)
    return tf.argmax(logits - tf.math.log(-tf.math.log(u)), axis=-1, output_type=tf.int32)


def categorical_log_prob(logits: tf.Tensor, actions: tf.Tensor) -> tf.Tensor:
    """logits [..., n], integer actions [...] -> log-probabilities [...]."""
    log_p = tf.nn.log_softmax(logits, axis=-1)
    one_hot = tf.one_hot(tf.cast(actions, tf.int32), tf.shape(logits)[-1], dtype=log_p.dtype)
    return tf.reduce_sum(one_hot * log_p, axis=-1)


def categorical_entropy(logits: tf.Tensor) -> tf.Tensor:
    """logits [..., n] -> entropy [...]."""
    log_p = tf.nn.log_softmax(logits, axis=-1)
    return -tf.reduce_sum(tf.exp(log_p) * log_p, axis=-1)


def categorical_kl(logits_p: tf.Tensor, logits_q: tf.Tensor) -> tf.Tensor:
    """logits [..., n] twice -> KL(p || q) [...]."""
    log_p = tf.nn.log_softmax(logits_p, axis=-1)
    log_q = tf.nn.log_softmax(logits_q, axis=-1)
    return tf.reduce_sum(tf.exp(log_p) * (log_p - log_q), axis=-1)


@register_distribution("categorical")
class Categorical(BasePolicyDistribution):
    """One choice among n for a Discrete space. params: logits [B, n]; actions: int32 [B]."""

    is_continuous = False

    def __init__(self, action_space: gym.spaces.Space, **options: Any):
        super().__init__(action_space, **options)
        if not isinstance(action_space, gym.spaces.Discrete):
            raise ConfigError(f"the categorical distribution needs a Discrete action space, got {action_space}")
        self.n = int(action_space.n)
        self.start = int(action_space.start)
        self.param_size = self.n
        self.action_shape: tuple[int, ...] = ()
        self.action_dtype = np.dtype(np.int32)

    def build_head(self, name: str = "policy_head") -> keras.layers.Layer:
        return head_dense(self.n, name)

    def sample(self, params: tf.Tensor, generator: tf.random.Generator) -> tf.Tensor:
        return gumbel_argmax(params, generator)

    def mode(self, params: tf.Tensor) -> tf.Tensor:
        return tf.argmax(params, axis=-1, output_type=tf.int32)

    def log_prob(self, params: tf.Tensor, actions: tf.Tensor) -> tf.Tensor:
        return categorical_log_prob(params, actions)

    def entropy(self, params: tf.Tensor) -> tf.Tensor:
        return categorical_entropy(params)

    def kl(self, params_p: tf.Tensor, params_q: tf.Tensor) -> tf.Tensor:
        return categorical_kl(params_p, params_q)

    def np_sample(self, params: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return npm.gumbel_argmax(params, rng)

    def np_mode(self, params: np.ndarray) -> np.ndarray:
        return np.argmax(params, axis=-1).astype(np.int32)

    def np_log_prob(self, params: np.ndarray, actions: np.ndarray) -> np.ndarray:
        return npm.categorical_log_prob(params, actions).astype(np.float32)

    def to_env(self, actions: np.ndarray) -> np.ndarray:
        """int [B] -> env ints [B] (shifted by the space's `start`)."""
        return (np.asarray(actions).reshape(-1) + self.start).astype(self.action_space.dtype)


@register_distribution("multi-categorical")
class MultiCategorical(BasePolicyDistribution):
    """Independent categoricals, one per action dimension. params: logits [B, A * n]; actions: int32 [B, A].

    Box space: every dimension is discretised into `bins` (option, default 11) evenly spaced
    values from low to high. MultiDiscrete (or Discrete) space: dimension i has nvec[i]
    choices; logits are laid out [B, A, n] with n = max(nvec), and the logits of the
    categories a dimension lacks are ignored (masked).
    """

    is_continuous = False

    def __init__(self, action_space: gym.spaces.Space, bins: int = 11, **options: Any):
        super().__init__(action_space, bins=bins, **options)
        if isinstance(action_space, gym.spaces.Box):
            if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 2:
                raise ConfigError(f"the multi-categorical distribution needs an integer bins >= 2, got {bins!r}")
            dims, self.low, self.high = bounded_box(action_space, "multi-categorical", finite=True)
            nvec, self.start = np.full(dims, int(bins)), np.zeros(dims, np.int64)
        elif isinstance(action_space, (gym.spaces.MultiDiscrete, gym.spaces.Discrete)):
            nvec = np.asarray(action_space.nvec if hasattr(action_space, "nvec") else [action_space.n]).reshape(-1)
            self.start = np.asarray(action_space.start, np.int64).reshape(-1)
        else:
            raise ConfigError(f"the multi-categorical distribution needs a Box, MultiDiscrete or Discrete "
                              f"action space, got {action_space}")
        self.nvec = nvec.astype(np.int64)
        self.dims, self.width = int(nvec.size), int(nvec.max())
        self.mask = np.arange(self.width)[None, :] < self.nvec[:, None]  # [A, n]
        self.padded = not bool(self.mask.all())
        self.param_size = self.dims * self.width
        self.action_shape = (self.dims,)
        self.action_dtype = np.dtype(np.int32)

    def logits(self, params: tf.Tensor) -> tf.Tensor:
        """params [B, A * n] -> logits [B, A, n] (missing categories masked)."""
        logits = tf.reshape(params, [-1, self.dims, self.width])
        if self.padded:
            logits = tf.where(tf.constant(self.mask), logits, tf.constant(_MASKED_LOGIT, logits.dtype))
        return logits

    def build_head(self, name: str = "policy_head") -> keras.layers.Layer:
        return head_dense(self.param_size, name)

    def sample(self, params: tf.Tensor, generator: tf.random.Generator) -> tf.Tensor:
        return gumbel_argmax(self.logits(params), generator)

    def mode(self, params: tf.Tensor) -> tf.Tensor:
        return tf.argmax(self.logits(params), axis=-1, output_type=tf.int32)

    def log_prob(self, params: tf.Tensor, actions: tf.Tensor) -> tf.Tensor:
        return tf.reduce_sum(categorical_log_prob(self.logits(params), actions), axis=-1)

    def entropy(self, params: tf.Tensor) -> tf.Tensor:
        return tf.reduce_sum(categorical_entropy(self.logits(params)), axis=-1)

    def kl(self, params_p: tf.Tensor, params_q: tf.Tensor) -> tf.Tensor:
        return tf.reduce_sum(categorical_kl(self.logits(params_p), self.logits(params_q)), axis=-1)

    def np_logits(self, params: np.ndarray) -> np.ndarray:
        """`logits` in numpy: params [B, A * n] -> logits [B, A, n] (missing categories masked)."""
        logits = np.reshape(params, (-1, self.dims, self.width))
        return np.where(self.mask, logits, np.float32(_MASKED_LOGIT)) if self.padded else logits

    def np_sample(self, params: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return npm.gumbel_argmax(self.np_logits(params), rng)

    def np_mode(self, params: np.ndarray) -> np.ndarray:
        return np.argmax(self.np_logits(params), axis=-1).astype(np.int32)

    def np_log_prob(self, params: np.ndarray, actions: np.ndarray) -> np.ndarray:
        return np.sum(npm.categorical_log_prob(self.np_logits(params), actions), axis=-1).astype(np.float32)

    def to_env(self, actions: np.ndarray) -> np.ndarray:
        """Bin indices [B, A] -> Box values in [low, high], or MultiDiscrete ints (+ start), [B, *space.shape]."""
        actions = np.asarray(actions).reshape(-1, self.dims)
        if isinstance(self.action_space, gym.spaces.Box):
            values = self.low + actions.astype(np.float32) * ((self.high - self.low) / (self.width - 1))
            return to_env_shape(np.clip(values, self.low, self.high), self.action_space)
        return to_env_shape(actions + self.start, self.action_space)
