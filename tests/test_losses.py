"""PPO loss pieces against numpy computations of the same formulas."""
import numpy as np
import pytest
import tensorflow as tf

from dexterity.agent.losses import normalise_advantages, policy_loss, ppo_loss, value_loss
from dexterity.distributions import get_distribution
import gymnasium as gym


def test_policy_loss_clipped_surrogate_and_diagnostics():
    logp = np.log(np.array([0.5, 0.9, 0.1, 0.3], np.float32))
    old = np.log(np.array([0.4, 0.5, 0.2, 0.3], np.float32))
    adv = np.array([1.0, 1.0, -1.0, 2.0], np.float32)
    loss, metrics = policy_loss(tf.constant(logp), tf.constant(old), tf.constant(adv), 0.2)
    ratio = np.exp(logp - old)
    expected = -np.mean(np.minimum(ratio * adv, np.clip(ratio, 0.8, 1.2) * adv))
    assert float(loss) == pytest.approx(expected, rel=1e-5)
    assert float(metrics["clip_fraction"]) == pytest.approx(np.mean(np.abs(ratio - 1) > 0.2))
    assert float(metrics["approx_kl"]) == pytest.approx(np.mean(ratio - 1 - np.log(ratio)), rel=1e-5)


@pytest.mark.parametrize("clip_values", [False, True])
def test_value_loss(clip_values):
    values = np.array([1.0, 2.0, 0.0], np.float32)
    old = np.array([0.5, 2.5, 0.0], np.float32)
    returns = np.array([3.0, 1.0, 0.1], np.float32)
    got = float(value_loss(tf.constant(values), tf.constant(old), tf.constant(returns), 0.2, clip_values))
    raw = (values - returns) ** 2
    if clip_values:
        clipped = old + np.clip(values - old, -0.2, 0.2)
        raw = np.maximum(raw, (clipped - returns) ** 2)
    assert got == pytest.approx(0.5 * raw.mean(), rel=1e-6)


def test_advantage_normalisation():
    out = normalise_advantages(tf.constant([1.0, 2.0, 3.0, 6.0])).numpy()
    assert out.mean() == pytest.approx(0.0, abs=1e-6)
    assert out.std() == pytest.approx(1.0, rel=1e-4)


def test_total_loss_combines_terms_and_has_gradients():
    dist = get_distribution("categorical", gym.spaces.Discrete(3))
    params = tf.Variable(tf.random.stateless_normal((8, 3), seed=(1, 2)))
    batch = {"actions": tf.constant([0, 1, 2, 0, 1, 2, 0, 1]), "log_probs": tf.fill([8], np.float32(np.log(1 / 3))),
             "advantages": tf.range(8, dtype=tf.float32), "values": tf.zeros(8), "returns": tf.ones(8)}
    config = {"clip": 0.2, "clip_values": False, "c_value": 0.5, "c_entropy": 0.01}
    values = tf.Variable(tf.zeros(8))
    with tf.GradientTape() as tape:
        loss, m = ppo_loss(dist, params, values, batch, config)
    expected = float(m["policy_loss"]) + 0.5 * float(m["value_loss"]) - 0.01 * float(m["entropy"])
    assert float(loss) == pytest.approx(expected, rel=1e-5)
    grads = tape.gradient(loss, [params, values])
    assert all(g is not None and np.isfinite(g.numpy()).all() for g in grads)
