"""Gaussian (state-independent log-std) and beta distributions over Box actions."""
from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import keras
import numpy as np
import tensorflow as tf

from dexterity.distributions import numpy_math as npm
from dexterity.distributions.base import (BasePolicyDistribution, bounded_box, head_dense, register_distribution,
                                          to_env_shape)
from dexterity.numpy_ops import DenseLayer, softplus

LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0  # log_std is clipped to this range wherever it is used
BETA_EPS = 1e-6  # beta actions are kept in [eps, 1 - eps]
BETA_MIN_CONCENTRATION = 1e-6  # alpha and beta are floored at this value
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


class GaussianHead(keras.layers.Layer):
    """features [B, F] -> concat(mean [B, A], log_std [B, A]); log_std is one trainable [A] weight."""

    def __init__(self, dims: int, log_std_init: float = 0.0, **kwargs: Any):
        super().__init__(**kwargs)
        self.dims = int(dims)
        self.log_std_init = float(log_std_init)
        self.mean = head_dense(self.dims, "mean")

    def build(self, input_shape: Any) -> None:
        self.mean.build(input_shape)
        self.log_std = self.add_weight(shape=(self.dims,), initializer=keras.initializers.Constant(self.log_std_init),
                                       trainable=True, name="log_std")

    def call(self, features: Any) -> Any:
        mean = self.mean(features)
        log_std = keras.ops.broadcast_to(self.log_std, keras.ops.shape(mean))
        return keras.ops.concatenate([mean, log_std], axis=-1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "dims": self.dims, "log_std_init": self.log_std_init}

    def numpy_layer(self) -> "NumpyGaussianHead":
        return NumpyGaussianHead(self)


class NumpyGaussianHead:
    """The numpy twin of GaussianHead: features [B, F] -> concat(mean, log_std) [B, 2A]."""

    def __init__(self, head: GaussianHead):
        self.head, self.mean = head, DenseLayer(head.mean)
        self.log_std = np.zeros(0, np.float32)

    def load(self) -> None:
        self.mean.load()
        self.log_std = np.array(self.head.log_std.numpy(), np.float32)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        mean = self.mean(x)
        return np.concatenate([mean, np.broadcast_to(self.log_std, mean.shape)], axis=-1)


class BetaHead(keras.layers.Layer):
    """features [B, F] -> concat(alpha [B, A], beta [B, A]), each softplus(linear) + 1."""

    def __init__(self, dims: int, **kwargs: Any):
        super().__init__(**kwargs)
        self.dims = int(dims)
        self.linear = head_dense(2 * self.dims, "linear")

    def build(self, input_shape: Any) -> None:
        self.linear.build(input_shape)

    def call(self, features: Any) -> Any:
        return keras.ops.softplus(self.linear(features)) + 1.0

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "dims": self.dims}

    def numpy_layer(self) -> "NumpyBetaHead":
        return NumpyBetaHead(self)


class NumpyBetaHead:
    """The numpy twin of BetaHead: features [B, F] -> softplus(linear) + 1 [B, 2A]."""

    def __init__(self, head: BetaHead):
        self.linear = DenseLayer(head.linear)

    def load(self) -> None:
        self.linear.load()

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return softplus(self.linear(x)) + np.float32(1.0)


@register_distribution("gaussian")
class Gaussian(BasePolicyDistribution):
    """Diagonal normal. params: concat(mean, log_std) [B, 2A]; actions: float32 [B, A], unclipped.

    Option `log_std_init` (default 0) is the head's initial log-std. `to_env` clips to the bounds.
    """

    is_continuous = True

    def __init__(self, action_space: gym.spaces.Space, log_std_init: float = 0.0, **options: Any):
        super().__init__(action_space, log_std_init=log_std_init, **options)
        self.dims, self.low, self.high = bounded_box(action_space, "gaussian", finite=False)
        self.log_std_init = float(log_std_init)
        self.param_size = 2 * self.dims
        self.action_shape = (self.dims,)
        self.action_dtype = np.dtype(np.float32)

    def split(self, params: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """params [B, 2A] -> (mean [B, A], clipped log_std [B, A])."""
        mean, log_std = tf.split(params, 2, axis=-1)
        return mean, tf.clip_by_value(log_std, LOG_STD_MIN, LOG_STD_MAX)

    def build_head(self, name: str = "policy_head") -> keras.layers.Layer:
        return GaussianHead(self.dims, self.log_std_init, name=name)

    def sample(self, params: tf.Tensor, generator: tf.random.Generator) -> tf.Tensor:
        mean, log_std = self.split(params)
        return mean + tf.exp(log_std) * generator.normal(tf.shape(mean), dtype=mean.dtype)

    def mode(self, params: tf.Tensor) -> tf.Tensor:
        return self.split(params)[0]

    def log_prob(self, params: tf.Tensor, actions: tf.Tensor) -> tf.Tensor:
        mean, log_std = self.split(params)
        z = (tf.cast(actions, mean.dtype) - mean) * tf.exp(-log_std)
        return tf.reduce_sum(-0.5 * tf.square(z) - log_std - _HALF_LOG_2PI, axis=-1)

    def entropy(self, params: tf.Tensor) -> tf.Tensor:
        log_std = self.split(params)[1]
        return tf.reduce_sum(log_std + 0.5 + _HALF_LOG_2PI, axis=-1)

    def kl(self, params_p: tf.Tensor, params_q: tf.Tensor) -> tf.Tensor:
        mean_p, log_std_p = self.split(params_p)
        mean_q, log_std_q = self.split(params_q)
        ratio = tf.exp(2.0 * (log_std_p - log_std_q))  # var_p / var_q
        z = (mean_p - mean_q) * tf.exp(-log_std_q)
        return tf.reduce_sum(log_std_q - log_std_p + 0.5 * (ratio + tf.square(z) - 1.0), axis=-1)

    def np_split(self, params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`split` in numpy: params [B, 2A] -> (mean [B, A], clipped log_std [B, A])."""
        mean, log_std = params[:, :self.dims], params[:, self.dims:]
        return mean, np.minimum(np.maximum(log_std, np.float32(LOG_STD_MIN)), np.float32(LOG_STD_MAX))

    def np_sample(self, params: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return npm.gaussian_sample(*self.np_split(params), rng)

    def np_mode(self, params: np.ndarray) -> np.ndarray:
        return self.np_split(params)[0].astype(np.float32)

    def np_log_prob(self, params: np.ndarray, actions: np.ndarray) -> np.ndarray:
        return npm.gaussian_log_prob(*self.np_split(params), actions).astype(np.float32)

    def to_env(self, actions: np.ndarray) -> np.ndarray:
        """[B, A] -> clipped to [low, high], [B, *space.shape]."""
        actions = np.asarray(actions, np.float32).reshape(-1, self.dims)
        return to_env_shape(np.clip(actions, self.low, self.high), self.action_space)


def _log_beta_fn(alpha: tf.Tensor, beta: tf.Tensor) -> tf.Tensor:
    return tf.math.lgamma(alpha) + tf.math.lgamma(beta) - tf.math.lgamma(alpha + beta)


@register_distribution("beta")
class Beta(BasePolicyDistribution):
    """Independent betas on (0, 1). params: concat(alpha, beta) [B, 2A]; actions: float32 [B, A] in (0, 1).

    `to_env` rescales to [low, high] (finite bounds required). `mode` is the mode
    (alpha - 1) / (alpha + beta - 2) where alpha, beta > 1 (always, from the head), else the mean.
    """

    xla_sampling = False  # TensorFlow has no XLA kernel for the gamma sampler

    is_continuous = True

    def __init__(self, action_space: gym.spaces.Space, **options: Any):
        super().__init__(action_space, **options)
        self.dims, self.low, self.high = bounded_box(action_space, "beta", finite=True)
        self.param_size = 2 * self.dims
        self.action_shape = (self.dims,)
        self.action_dtype = np.dtype(np.float32)

    def split(self, params: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """params [B, 2A] -> (alpha [B, A], beta [B, A]), floored at a small positive value."""
        alpha, beta = tf.split(params, 2, axis=-1)
        return tf.maximum(alpha, BETA_MIN_CONCENTRATION), tf.maximum(beta, BETA_MIN_CONCENTRATION)

    def build_head(self, name: str = "policy_head") -> keras.layers.Layer:
        return BetaHead(self.dims, name=name)

    def sample(self, params: tf.Tensor, generator: tf.random.Generator) -> tf.Tensor:
        alpha, beta = self.split(params)
        seeds = generator.make_seeds(2)  # [2, 2]: one stateless seed per gamma draw
        x = tf.random.stateless_gamma(tf.shape(alpha), seed=seeds[:, 0], alpha=alpha, dtype=alpha.dtype)
        y = tf.random.stateless_gamma(tf.shape(beta), seed=seeds[:, 1], alpha=beta, dtype=beta.dtype)
        return tf.clip_by_value(tf.math.divide_no_nan(x, x + y), BETA_EPS, 1.0 - BETA_EPS)

    def mode(self, params: tf.Tensor) -> tf.Tensor:
        alpha, beta = self.split(params)
        unimodal = tf.logical_and(alpha > 1.0, beta > 1.0)
        mode = (alpha - 1.0) / tf.where(unimodal, alpha + beta - 2.0, 1.0)
        return tf.where(unimodal, mode, alpha / (alpha + beta))

    def log_prob(self, params: tf.Tensor, actions: tf.Tensor) -> tf.Tensor:
        alpha, beta = self.split(params)
        x = tf.clip_by_value(tf.cast(actions, alpha.dtype), BETA_EPS, 1.0 - BETA_EPS)
        log_pdf = (alpha - 1.0) * tf.math.log(x) + (beta - 1.0) * tf.math.log1p(-x) - _log_beta_fn(alpha, beta)
        return tf.reduce_sum(log_pdf, axis=-1)

    def entropy(self, params: tf.Tensor) -> tf.Tensor:
        a, b = self.split(params)
        ent = _log_beta_fn(a, b) - (a - 1.0) * tf.math.digamma(a) - (b - 1.0) * tf.math.digamma(b) \
            + (a + b - 2.0) * tf.math.digamma(a + b)
        return tf.reduce_sum(ent, axis=-1)

    def kl(self, params_p: tf.Tensor, params_q: tf.Tensor) -> tf.Tensor:
        a1, b1 = self.split(params_p)
        a2, b2 = self.split(params_q)
        kl = _log_beta_fn(a2, b2) - _log_beta_fn(a1, b1) + (a1 - a2) * tf.math.digamma(a1) \
            + (b1 - b2) * tf.math.digamma(b1) + (a2 - a1 + b2 - b1) * tf.math.digamma(a1 + b1)
        return tf.reduce_sum(kl, axis=-1)

    def np_split(self, params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`split` in numpy: params [B, 2A] -> (alpha [B, A], beta [B, A])."""
        floor = np.float32(BETA_MIN_CONCENTRATION)
        return np.maximum(params[:, :self.dims], floor), np.maximum(params[:, self.dims:], floor)

    def np_sample(self, params: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return npm.beta_sample(*self.np_split(params), rng, BETA_EPS)

    def np_mode(self, params: np.ndarray) -> np.ndarray:
        return npm.beta_mode(*self.np_split(params))

    def np_log_prob(self, params: np.ndarray, actions: np.ndarray) -> np.ndarray:
        return npm.beta_log_prob(*self.np_split(params), actions, BETA_EPS)

    def to_env(self, actions: np.ndarray) -> np.ndarray:
        """(0, 1) actions [B, A] -> low + x * (high - low), [B, *space.shape]."""
        x = np.clip(np.asarray(actions, np.float32).reshape(-1, self.dims), 0.0, 1.0)
        return to_env_shape(np.clip(self.low + x * (self.high - self.low), self.low, self.high), self.action_space)
