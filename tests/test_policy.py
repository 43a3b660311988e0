"""TensorFlow inference (custom models): flat concrete functions, optional XLA with fallback, eager --debug path."""
import gymnasium as gym
import numpy as np
import pytest
import tensorflow as tf

from dexterity.agent import policy as policy_module
from dexterity.agent.policy import Policy
from dexterity.configs.hp_config import make_config
from dexterity.distributions import get_distribution
from dexterity.models import build_model
from dexterity.spaces import Sense

SENSES = [Sense("proprioception", (5,), "float32", False), Sense("goal", (3,), "float32", False)]
SPACES = {"gaussian": gym.spaces.Box(-1, 1, (4,)), "beta": gym.spaces.Box(-1, 1, (4,)),
          "categorical": gym.spaces.Discrete(3)}


@pytest.fixture(autouse=True)
def tensorflow_inference(monkeypatch):
    """These tests are about the TensorFlow path (custom models); built-in models act in numpy otherwise."""
    monkeypatch.setenv("DEXTERITY_INFERENCE", "tf")


def _policy(distribution, model="gru", seed=0):
    tf.keras.utils.set_random_seed(0)
    dist = get_distribution(distribution, SPACES[distribution])
    return Policy(build_model(make_config(model=model), SENSES, dist), dist, seed=seed)


def _episode(policy, steps=5, n=3, deterministic=False):
    rng = np.random.default_rng(1)
    state, out = policy.initial_state(n), []
    for t in range(steps):
        obs = {s.name: rng.normal(size=(n, *s.shape)).astype(np.float32) for s in SENSES}
        actions, log_probs, values, state = policy.act(obs, state, np.full(n, float(t == 0)), deterministic)
        out.append((actions, log_probs, values, policy.value(obs, state, np.zeros(n))))
    return out


@pytest.mark.parametrize("distribution", ["gaussian", "categorical"])
def test_xla_inference_matches_the_graph(monkeypatch, distribution):
    """Same modes, log-probs and values; XLA draws its own (reproducible) random stream."""
    monkeypatch.setenv("DEXTERITY_XLA", "0")
    graph = _episode(_policy(distribution), deterministic=True)
    monkeypatch.setenv("DEXTERITY_XLA", "1")
    xla = _episode(_policy(distribution), deterministic=True)
    for a, b in zip(graph, xla):
        for x, y in zip(a, b):
            np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-5)
    first, second = _episode(_policy(distribution)), _episode(_policy(distribution))
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a[0], b[0])


def test_unsupported_xla_op_falls_back_without_consuming_randomness(monkeypatch):
    """An undeclared op without an XLA kernel (the beta's gamma sampler, its `xla_sampling` flag
    forced on): the first call falls back, with the same samples as without XLA."""
    monkeypatch.setenv("DEXTERITY_XLA", "0")
    graph = _episode(_policy("beta"))
    monkeypatch.setenv("DEXTERITY_XLA", "1")
    policy = _policy("beta")
    monkeypatch.setattr(policy.distribution, "xla_sampling", True)
    traced = []
    original = policy._trace
    monkeypatch.setattr(policy, "_trace", lambda *a, jit: traced.append(jit) or original(*a, jit=jit))
    fallback = _episode(policy)
    assert True in traced and False in traced  # XLA tried first, then the graph
    for a, b in zip(graph, fallback):
        np.testing.assert_allclose(a[0], b[0], rtol=1e-5, atol=1e-6)


def test_beta_samples_without_trying_xla(monkeypatch):
    monkeypatch.setenv("DEXTERITY_XLA", "1")
    policy = _policy("beta")
    traced = []
    original = policy._trace
    monkeypatch.setattr(policy, "_trace", lambda *a, jit: traced.append((a[0], a[1], jit)) or original(*a, jit=jit))
    _episode(policy)
    _episode(policy, deterministic=True)
    assert ("act", False, True) not in traced and ("act", False, False) in traced
    assert ("act", True, True) in traced and ("value", False, True) in traced


def test_eager_debug_path_matches(monkeypatch):
    monkeypatch.setenv("DEXTERITY_XLA", "0")
    graph = _episode(_policy("gaussian"), deterministic=True)
    tf.config.run_functions_eagerly(True)
    try:
        eager = _episode(_policy("gaussian"), deterministic=True)
    finally:
        tf.config.run_functions_eagerly(False)
    for a, b in zip(graph, eager):
        for x, y in zip(a, b):
            np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)


def test_xla_only_with_one_thread(monkeypatch):
    monkeypatch.delenv("DEXTERITY_XLA", raising=False)
    monkeypatch.setattr(policy_module.tf.config.threading, "get_intra_op_parallelism_threads", lambda: 1)
    assert policy_module.use_xla()
    monkeypatch.setattr(policy_module.tf.config.threading, "get_intra_op_parallelism_threads", lambda: 2)
    assert not policy_module.use_xla()
