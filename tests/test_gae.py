"""GAE against a hand-built trajectory with a termination and a truncation in it."""
import numpy as np
import pytest

from dexterity.agent.gae import compute_gae, explained_variance


def test_gae_hand_built_trajectory_with_truncation_and_termination():
    # one env, 5 steps: episode A runs steps 0-1 and is truncated at 1 (final obs worth 10),
    # episode B runs steps 2-3 and terminates at 3, episode C starts at 4 (bootstrap 3.0).
    g, lam = 0.9, 0.5
    rewards = np.array([[1.0], [2.0], [3.0], [4.0], [5.0]])
    values = np.array([[0.5], [1.0], [1.5], [2.0], [2.5]])
    next_values = np.array([[1.0], [10.0], [2.0], [99.0], [3.0]])  # 99: ignored (terminated)
    terminated = np.array([[0], [0], [0], [1], [0]], bool)
    truncated = np.array([[0], [1], [0], [0], [0]], bool)
    adv, ret = compute_gae(rewards, values, next_values, terminated, truncated, g, lam)
    d = [1 + g * 1.0 - 0.5, 2 + g * 10.0 - 1.0, 3 + g * 2.0 - 1.5, 4 - 2.0, 5 + g * 3.0 - 2.5]
    a4 = d[4]
    a3 = d[3]                      # episode end: no recursion past it
    a2 = d[2] + g * lam * a3
    a1 = d[1]                      # truncation ends the recursion too, but bootstraps in the delta
    a0 = d[0] + g * lam * a1
    expected = np.array([[a0], [a1], [a2], [a3], [a4]])
    np.testing.assert_allclose(adv, expected, rtol=1e-6)
    np.testing.assert_allclose(ret, expected + values, rtol=1e-6)
    assert adv.dtype == np.float32 and ret.shape == (5, 1)


def test_gae_lambda_one_gives_discounted_returns_minus_values():
    rng = np.random.default_rng(0)
    rewards = rng.normal(size=(6, 3))
    values = rng.normal(size=(6, 3))
    bootstrap = rng.normal(size=3)
    next_values = np.concatenate([values[1:], bootstrap[None]])
    zeros = np.zeros((6, 3), bool)
    adv, _ = compute_gae(rewards, values, next_values, zeros, zeros, 0.95, 1.0)
    discounted = bootstrap.copy()
    expected = np.zeros_like(rewards)
    for t in range(5, -1, -1):
        discounted = rewards[t] + 0.95 * discounted
        expected[t] = discounted - values[t]
    np.testing.assert_allclose(adv, expected, rtol=1e-5, atol=1e-5)


def test_gae_lambda_zero_is_one_step_td_error():
    rewards = np.ones((3, 2))
    values = np.full((3, 2), 0.5)
    next_values = np.full((3, 2), 2.0)
    zeros = np.zeros((3, 2), bool)
    adv, _ = compute_gae(rewards, values, next_values, zeros, zeros, 0.9, 0.0)
    np.testing.assert_allclose(adv, np.full((3, 2), 1 + 0.9 * 2.0 - 0.5), rtol=1e-6)


def test_explained_variance():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    assert explained_variance(y, y) == pytest.approx(1.0)
    assert explained_variance(np.zeros(4), y) == pytest.approx(0.0)
    assert np.isnan(explained_variance(y, np.ones(4)))
