"""The PPO loss as a pure function of tensors: `ppo_loss(...) -> (loss, metrics)`."""
from __future__ import annotations

from typing import Any

import tensorflow as tf


def normalise_advantages(advantages: tf.Tensor) -> tf.Tensor:
    """Zero mean, unit std over the minibatch (any shape)."""
    mean, var = tf.nn.moments(tf.reshape(advantages, [-1]), axes=[0])
    return (advantages - mean) / (tf.sqrt(var) + 1e-8)


def policy_loss(log_prob: tf.Tensor, old_log_prob: tf.Tensor, advantages: tf.Tensor,
                clip: float) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
    """Clipped surrogate objective, negated for minimisation. Inputs [B] -> scalar loss, metrics.

    Metrics: approx_kl = mean((r - 1) - log r) (unbiased, non-negative), clip_fraction = share of
    samples whose ratio left [1 - clip, 1 + clip].
    """
    log_ratio = log_prob - old_log_prob
    ratio = tf.exp(log_ratio)
    unclipped = ratio * advantages
    clipped = tf.clip_by_value(ratio, 1.0 - clip, 1.0 + clip) * advantages
    loss = -tf.reduce_mean(tf.minimum(unclipped, clipped))
    metrics = {
        "approx_kl": tf.reduce_mean((ratio - 1.0) - log_ratio),
        "clip_fraction": tf.reduce_mean(tf.cast(tf.abs(ratio - 1.0) > clip, tf.float32)),
    }
    return loss, metrics


def value_loss(values: tf.Tensor, old_values: tf.Tensor, returns: tf.Tensor, clip: float,
               clip_values: bool) -> tf.Tensor:
    """0.5 * squared error to the returns [B]; with clip_values the pessimum of clipped and raw."""
    raw = tf.square(values - returns)
    if not clip_values:
        return 0.5 * tf.reduce_mean(raw)
    clipped_values = old_values + tf.clip_by_value(values - old_values, -clip, clip)
    return 0.5 * tf.reduce_mean(tf.maximum(raw, tf.square(clipped_values - returns)))


def ppo_loss(distribution: Any, params: tf.Tensor, values: tf.Tensor, batch: dict[str, tf.Tensor],
             config: dict[str, Any]) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
    """Total PPO loss over a flat minibatch.

    params [B, P] and values [B] are the current network's outputs; batch holds "actions"
    [B, *action_shape], "log_probs" [B], "advantages" [B], "values" [B] (old), "returns" [B].
    Returns (policy_loss + c_value * value_loss - c_entropy * entropy, metrics).
    """
    advantages = batch["advantages"]
    if config.get("norm_advantages", True):
        advantages = normalise_advantages(advantages)
    log_prob = distribution.log_prob(params, batch["actions"])
    pi_loss, metrics = policy_loss(log_prob, batch["log_probs"], advantages, config["clip"])
    v_loss = value_loss(values, batch["values"], batch["returns"], config["clip"], config["clip_values"])
    entropy = tf.reduce_mean(distribution.entropy(params))
    loss = pi_loss + config["c_value"] * v_loss - config["c_entropy"] * entropy
    metrics.update(policy_loss=pi_loss, value_loss=v_loss, entropy=entropy, loss=loss)
    return loss, metrics
