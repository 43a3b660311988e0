"""Model builders: every architecture x model type x shared, shapes, state handling, registry."""
import gymnasium as gym
import numpy as np
import pytest
import tensorflow as tf

from dexterity.agent.learner import Learner, to_sequences
from dexterity.agent.policy import Policy, reset_state
from dexterity.configs.hp_config import make_config
from dexterity.distributed import Comm
from dexterity.distributions import get_distribution
from dexterity.errors import ConfigError
from dexterity.models import BaseModel, build_model, list_architectures
from dexterity.spaces import Sense

SENSES = [Sense("proprioception", (5,), "float32", False), Sense("asymmetric", (3,), "float32", False)]


def _obs(batch, senses=SENSES):
    rng = np.random.default_rng(0)
    return {s.name: rng.normal(size=(batch, *s.shape)).astype(np.float32) for s in senses}


@pytest.mark.parametrize("architecture", ["simple", "deeper", "wider"])
@pytest.mark.parametrize("model", ["ffn", "rnn", "lstm", "gru"])
@pytest.mark.parametrize("shared", [False, True])
def test_every_standard_model_builds_and_steps(architecture, model, shared):
    config = make_config(architecture=architecture, model=model, shared=shared)
    dist = get_distribution("gaussian", gym.spaces.Box(-1, 1, (4,)))
    net = build_model(config, SENSES, dist)
    state = net.initial_state(6)
    params, value, new_state = net.step(_obs(6), state)
    assert params.shape == (6, 8) and value.shape == (6,)
    assert [s.shape for s in new_state] == [s.shape for s in state]
    assert bool(net.state_sizes()) == (model != "ffn")
    assert len(net.trainable_variables) == len(net.variables) > 0


def test_value_reads_asymmetric_inputs_but_policy_does_not():
    config = make_config(model="ffn")
    dist = get_distribution("gaussian", gym.spaces.Box(-1, 1, (2,)))
    net = build_model(config, SENSES, dist)
    obs = _obs(4)
    changed = dict(obs, asymmetric=obs["asymmetric"] + 5.0)
    p1, v1, _ = net.step(obs, [])
    p2, v2, _ = net.step(changed, [])
    np.testing.assert_allclose(p1.numpy(), p2.numpy())
    assert not np.allclose(v1.numpy(), v2.numpy())


def test_images_go_through_a_visual_encoder():
    senses = [Sense("vision", (64, 64, 3), "uint8", True), Sense("goal", (3,), "float32", False)]
    dist = get_distribution("categorical", gym.spaces.Discrete(3))
    net = build_model(make_config(), senses, dist)
    assert any("visual_encoder" in v.path for v in net.variables)
    params, value, _ = net.step({"vision": tf.zeros((2, 64, 64, 3)), "goal": tf.zeros((2, 3))}, [])
    assert params.shape == (2, 3)


def test_unknown_architecture_and_bad_builder_give_config_errors():
    dist = get_distribution("categorical", gym.spaces.Discrete(2))
    with pytest.raises(ConfigError, match="unknown architecture 'nope'.*simple"):
        build_model(make_config(architecture="nope"), SENSES, dist)
    assert {"simple", "deeper", "wider"} <= set(list_architectures())


def test_reset_state_zeroes_rows():
    state = [tf.ones((3, 2))]
    out = reset_state(state, tf.constant([0.0, 1.0, 0.0]))
    np.testing.assert_array_equal(out[0].numpy(), [[1, 1], [0, 0], [1, 1]])


def test_to_sequences_keeps_each_env_contiguous():
    a = np.arange(8 * 2).reshape(8, 2)  # [T=8, N=2], value = t * 2 + env
    seq = to_sequences(a, 4)
    assert seq.shape == (4, 4)
    np.testing.assert_array_equal(seq[0], [0, 2, 4, 6])       # env 0, steps 0-3
    np.testing.assert_array_equal(seq[1], [1, 3, 5, 7])       # env 1, steps 0-3
    np.testing.assert_array_equal(seq[2], [8, 10, 12, 14])    # env 0, steps 4-7


@pytest.mark.parametrize("model", ["gru", "lstm"])
def test_learner_unroll_matches_stepwise_acting_with_resets(model):
    """The TBPTT unroll reproduces the values the policy computed while acting, resets included."""
    config = make_config(model=model, workers=2, horizon=8, tbptt=4, batch_size=8)
    dist = get_distribution("gaussian", gym.spaces.Box(-1, 1, (2,)))
    net = build_model(config, SENSES, dist)
    policy = Policy(net, dist, seed=0)
    learner = Learner(policy, config, Comm(), seed=0)
    t_len, n = 8, 2
    obs_seq = [_obs(n) for _ in range(t_len)]
    resets = np.zeros((t_len, n), np.float32)
    resets[0] = 1
    resets[5, 1] = 1
    state, states, values = policy.initial_state(n), [], []
    for t in range(t_len):
        states.append(state)
        _, _, v, state = policy.act(obs_seq[t], state, resets[t])
        values.append(v)
    sequence_obs = {k: to_sequences(np.stack([o[k] for o in obs_seq]), 4) for k in obs_seq[0]}
    batch = {"obs": {k: tf.constant(v) for k, v in sequence_obs.items()},
             "resets": tf.constant(to_sequences(resets, 4)),
             "states": [tf.constant(to_sequences(np.stack([s[i] for s in states]), 4)[:, 0])
                        for i in range(len(states[0]))]}
    _, unrolled = learner._unroll(batch)
    expected = to_sequences(np.stack(values), 4).reshape(-1)
    np.testing.assert_allclose(unrolled.numpy(), expected, rtol=1e-5, atol=1e-5)


def test_base_model_is_abstract():
    with pytest.raises(TypeError):
        BaseModel(SENSES, None)
