"""A Laplace policy distribution, registered as `--distribution laplace` (guide: docs/custom-distributions.md).

    python train.py Pendulum-v1 --plugin examples.custom_distribution --distribution laplace
    python examples/custom_distribution.py                 # the same, 20 cycles, then an evaluation
    python examples/custom_distribution.py --iterations 2  # any train.py flag is passed on

Laplace(mu, b) per action dimension: heavier tails than a Gaussian (occasional large
exploratory moves), a state-independent log-scale like dexterity's Gaussian. Actions are stored
unclipped and clipped to the Box bounds only when sent to the env.
"""
from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import keras
import numpy as np
import tensorflow as tf

from dexterity.distributions import BasePolicyDistribution, head_dense, register_distribution
from dexterity.distributions.base import bounded_box, to_env_shape

LOG_SCALE_MIN, LOG_SCALE_MAX = -20.0, 2.0


class LaplaceHead(keras.layers.Layer):
    """features [B, F] -> concat(location [B, A], log_scale [B, A]); log_scale is one trainable [A] weight."""

    def __init__(self, dims: int, **kwargs: Any):
        super().__init__(**kwargs)
        self.dims = int(dims)
        self.location = head_dense(self.dims, "location")  # orthogonal init, gain 0.01

    def build(self, input_shape: Any) -> None:
        self.location.build(input_shape)
        self.log_scale = self.add_weight(shape=(self.dims,), initializer="zeros", trainable=True, name="log_scale")

    def call(self, features: Any) -> Any:
        location = self.location(features)
        log_scale = keras.ops.broadcast_to(self.log_scale, keras.ops.shape(location))
        return keras.ops.concatenate([location, log_scale], axis=-1)


@register_distribution("laplace")
class Laplace(BasePolicyDistribution):
    """Independent Laplace per dimension. params: concat(mu, log_b) [B, 2A]; actions float32 [B, A]."""

    is_continuous = True

    def __init__(self, action_space: gym.spaces.Space, **options: Any):
        super().__init__(action_space, **options)
        # raises ConfigError (shown as `error: ...`, exit 2) for anything but a Box
        self.dims, self.low, self.high = bounded_box(action_space, "laplace", finite=False)
        self.param_size = 2 * self.dims
        self.action_shape = (self.dims,)
        self.action_dtype = np.dtype(np.float32)

    def split(self, params: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """params [B, 2A] -> (mu [B, A], clipped log_b [B, A])."""
        mu, log_b = tf.split(params, 2, axis=-1)
        return mu, tf.clip_by_value(log_b, LOG_SCALE_MIN, LOG_SCALE_MAX)

    def build_head(self, name: str = "policy_head") -> keras.layers.Layer:
        return LaplaceHead(self.dims, name=name)

    def sample(self, params: tf.Tensor, generator: tf.random.Generator) -> tf.Tensor:
        """Inverse CDF: mu - b sign(u) log(1 - 2|u|), u uniform in (-1/2, 1/2), from the agent's generator."""
        mu, log_b = self.split(params)
        u = generator.uniform(tf.shape(mu), -0.5 + 1e-6, 0.5 - 1e-6, dtype=mu.dtype)
        return mu - tf.exp(log_b) * tf.sign(u) * tf.math.log1p(-2.0 * tf.abs(u))

    def mode(self, params: tf.Tensor) -> tf.Tensor:
        return self.split(params)[0]

    def log_prob(self, params: tf.Tensor, actions: tf.Tensor) -> tf.Tensor:
        mu, log_b = self.split(params)
        z = tf.abs(tf.cast(actions, mu.dtype) - mu) * tf.exp(-log_b)
        return tf.reduce_sum(-z - log_b - math.log(2.0), axis=-1)

    def entropy(self, params: tf.Tensor) -> tf.Tensor:
        return tf.reduce_sum(self.split(params)[1] + 1.0 + math.log(2.0), axis=-1)

    def kl(self, params_p: tf.Tensor, params_q: tf.Tensor) -> tf.Tensor:
        """KL(p || q) = log(b_q / b_p) + |mu_p - mu_q| / b_q + (b_p / b_q) exp(-|mu_p - mu_q| / b_p) - 1."""
        mu_p, log_b_p = self.split(params_p)
        mu_q, log_b_q = self.split(params_q)
        gap = tf.abs(mu_p - mu_q)
        kl = (log_b_q - log_b_p + gap * tf.exp(-log_b_q)
              + tf.exp(log_b_p - log_b_q - gap * tf.exp(-log_b_p)) - 1.0)
        return tf.reduce_sum(kl, axis=-1)

    def to_env(self, actions: np.ndarray) -> np.ndarray:
        """Stored (unclipped) actions [B, A] -> clipped to the bounds, [B, *space.shape]."""
        actions = np.asarray(actions, np.float32).reshape(-1, self.dims)
        return to_env_shape(np.clip(actions, self.low, self.high), self.action_space)


if __name__ == "__main__":
    from _runner import train_and_evaluate  # examples/ is sys.path[0] when run as a script
    train_and_evaluate(__file__, ["Pendulum-v1", "--distribution", "laplace", "--iterations", "20",
                                  "--processes", "1"])
