"""The epoch function: XLA-compiled and graph mode give the same updates; a failing compile falls back."""
import gymnasium as gym
import numpy as np
import pytest
import tensorflow as tf

from fake_rollout import random_rollout
from dexterity.agent import learner as learner_module
from dexterity.agent.learner import Learner, xla_epochs
from dexterity.agent.policy import Policy
from dexterity.configs.hp_config import make_config
from dexterity.distributed import Comm
from dexterity.distributions import get_distribution
from dexterity.models import build_model
from dexterity.spaces import Sense

SENSES = [Sense("proprioception", (5,), "float32", False)]
CONFIG = make_config(workers=4, horizon=16, batch_size=16, epochs=2, seed=0)


def _optimised(monkeypatch, jit: str):
    monkeypatch.setenv("DEXTERITY_XLA_EPOCH", jit)
    tf.keras.utils.set_random_seed(0)
    dist = get_distribution("gaussian", gym.spaces.Box(-1, 1, (2,)))
    learner = Learner(Policy(build_model(CONFIG, SENSES, dist), dist, 0), CONFIG, Comm(), seed=0)
    metrics = learner.optimise(random_rollout(), 3e-4)
    return learner, metrics, learner.policy.model.get_weights()


def test_xla_and_graph_epochs_make_the_same_updates(monkeypatch):
    graph, graph_metrics, graph_weights = _optimised(monkeypatch, "0")
    xla, xla_metrics, xla_weights = _optimised(monkeypatch, "1")
    assert xla.jit and not graph.jit
    for a, b in zip(graph_weights, xla_weights):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    for key in graph_metrics:
        np.testing.assert_allclose(graph_metrics[key], xla_metrics[key], rtol=1e-4, atol=1e-6)


def test_an_op_without_xla_kernel_falls_back_to_graph_mode(monkeypatch):
    loss = learner_module.ppo_loss

    def with_host_call(*args):
        value, metrics = loss(*args)
        return value + 0.0 * tf.numpy_function(lambda: np.float32(0), [], tf.float32), metrics

    _, expected, expected_weights = _optimised(monkeypatch, "0")
    monkeypatch.setattr(learner_module, "ppo_loss", with_host_call)
    learner, metrics, weights = _optimised(monkeypatch, "1")
    assert not learner.jit  # compiled once, failed before any update, then ran in graph mode
    for a, b in zip(expected_weights, weights):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_xla_choice(monkeypatch):
    monkeypatch.delenv("DEXTERITY_XLA_EPOCH", raising=False)
    assert xla_epochs(recurrent=False, ranks=1)
    assert not xla_epochs(recurrent=True, ranks=1) and not xla_epochs(recurrent=False, ranks=2)
    monkeypatch.setenv("DEXTERITY_XLA_EPOCH", "1")
    assert xla_epochs(recurrent=True, ranks=1) and not xla_epochs(recurrent=True, ranks=2)
