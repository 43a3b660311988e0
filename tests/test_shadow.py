"""The `shadow` architecture on the hand tasks' real observation layouts (observations from TF-free workers)."""
import gymnasium as gym
import numpy as np
import pytest
import tensorflow as tf

from dexterity.agent.learner import Learner, to_sequences
from dexterity.agent.policy import Policy
from dexterity.configs.hp_config import make_config
from dexterity.distributed import Comm
from dexterity.distributions import get_distribution
from dexterity.envpool import EnvPool
from dexterity.errors import ConfigError
from dexterity.models import build_model, list_architectures
from dexterity.spaces import Sense, observation_layout

TASKS = ("ReachAbsolute-v0", "ManipulateBlock-v0", "ManipulateBlockVisual-v0")
ACTIONS = gym.spaces.Box(-1.0, 1.0, (20,), np.float32)


@pytest.fixture(scope="module")
def layouts():
    """{task: (senses, observations of 3 envs)}: spaces and observations come from worker processes."""
    out = {}
    for task in TASKS:
        kwargs = {"vision_size": 64} if "Visual" in task else None
        with EnvPool(task, 3, seed=0, processes=1, env_kwargs=kwargs) as pool:
            out[task] = (observation_layout(pool.observation_space), pool.reset())
    return out


def _dist(name):
    return get_distribution(name, ACTIONS, **({"bins": 5} if name == "multi-categorical" else {}))


def _net(senses, model="gru", shared=False, distribution="beta"):
    config = make_config(architecture="shadow", model=model, shared=shared)
    return build_model(config, senses, _dist(distribution))


def _norm(obs):
    """Float observations as the agent feeds them (images scaled to [0, 1])."""
    return {k: (v.astype(np.float32) / 255.0 if v.dtype == np.uint8 else v.astype(np.float32)) for k, v in obs.items()}


@pytest.mark.parametrize("model", ["ffn", "rnn", "lstm", "gru"])
@pytest.mark.parametrize("shared", [False, True])
@pytest.mark.parametrize("distribution", ["gaussian", "beta", "multi-categorical"])
def test_every_core_sharing_and_distribution_builds_and_steps(layouts, model, shared, distribution):
    senses, obs = layouts["ManipulateBlock-v0"]
    net = _net(senses, model, shared, distribution)
    state = net.initial_state(3)
    params, value, new_state = net.step(_norm(obs), state)
    assert params.shape == (3, _dist(distribution).param_size) and value.shape == (3,)
    assert [s.shape for s in new_state] == [s.shape for s in state]
    assert bool(net.state_sizes()) == (model != "ffn")
    assert net.state_sizes() == {"ffn": [], "rnn": [128], "gru": [128], "lstm": [128, 128]}[model]
    assert np.all(np.isfinite(params.numpy())) and np.all(np.isfinite(value.numpy()))
    names = [layer.name for layer in net.layers]
    assert any(n.startswith("mcx_") for n in names) and ("value_dense0" in names) == (not shared)


def test_reach_layout_has_no_vision_module(layouts):
    senses, obs = layouts["ReachAbsolute-v0"]
    net = _net(senses)
    names = [layer.name for layer in net.layers]
    assert {"ssc_dense0", "pfc_dense0", "ppc_dense0", "mcx_gru"} <= set(names)
    assert not any(n.startswith(("vision", "visual_encoder")) for n in names)
    params, _, _ = net.step(_norm(obs), net.initial_state(3))
    assert params.shape == (3, 40)


def test_vision_vector_goes_through_a_dense_module_not_the_encoder(layouts):
    senses, obs = layouts["ManipulateBlock-v0"]
    assert not next(s for s in senses if s.name == "vision").is_image
    net = _net(senses, model="ffn")
    assert "vision_dense0" in [layer.name for layer in net.layers]
    assert not any("visual_encoder" in v.path for v in net.variables)
    obs = _norm(obs)
    p1, _, _ = net.step(obs, [])
    p2, _, _ = net.step(dict(obs, vision=obs["vision"] + 1.0), [])
    assert not np.allclose(p1.numpy(), p2.numpy())


def test_visual_task_image_goes_through_the_visual_encoder(layouts):
    senses, obs = layouts["ManipulateBlockVisual-v0"]
    assert next(s for s in senses if s.name == "vision").is_image
    net = _net(senses, model="lstm")
    names = [layer.name for layer in net.layers]
    assert {"visual_encoder_conv1", "visual_encoder_dense"} <= set(names) and "vision_dense0" not in names
    obs = _norm(obs)
    p1, _, _ = net.step(obs, net.initial_state(3))
    p2, _, _ = net.step(dict(obs, vision=1.0 - obs["vision"]), net.initial_state(3))
    assert not np.allclose(p1.numpy(), p2.numpy())


@pytest.mark.parametrize("shared", [False, True])
def test_value_reads_asymmetric_inputs_but_policy_does_not(layouts, shared):
    senses, obs = layouts["ManipulateBlock-v0"]
    net = _net(senses, model="ffn", shared=shared)
    obs = _norm(obs)
    p1, v1, _ = net.step(obs, [])
    p2, v2, _ = net.step(dict(obs, asymmetric=obs["asymmetric"] + 3.0), [])
    np.testing.assert_allclose(p1.numpy(), p2.numpy())
    assert not np.allclose(v1.numpy(), v2.numpy())


def test_any_observation_dict_and_registry():
    assert "shadow" in list_architectures()
    net = _net([Sense("obs", (4,), "float32", False)], model="rnn", distribution="gaussian")
    params, value, _ = net.step({"obs": tf.ones((2, 4))}, net.initial_state(2))
    assert params.shape == (2, 40) and value.shape == (2,)
    with pytest.raises(ConfigError, match="besides 'asymmetric'"):
        _net([Sense("asymmetric", (4,), "float32", False)])


@pytest.mark.parametrize("model,shared", [("gru", False), ("lstm", True), ("rnn", False)])
def test_tbptt_unroll_matches_stepwise_acting_with_resets(layouts, model, shared):
    """The learner's TBPTT unroll reproduces the values computed while acting, resets included."""
    senses, obs0 = layouts["ReachAbsolute-v0"]
    config = make_config(architecture="shadow", model=model, shared=shared, workers=2, horizon=8, tbptt=4,
                         batch_size=8, distribution="beta")
    dist = _dist("beta")
    policy = Policy(build_model(config, senses, dist), dist, seed=0)
    learner = Learner(policy, config, Comm(), seed=0)
    rng = np.random.default_rng(0)
    obs_seq = [{k: (v[:2] + rng.normal(size=v[:2].shape)).astype(np.float32) for k, v in obs0.items()}
               for _ in range(8)]
    resets = np.zeros((8, 2), np.float32)
    resets[0] = 1
    resets[5, 1] = 1
    state, states, values = policy.initial_state(2), [], []
    for t in range(8):
        states.append(state)
        _, _, v, state = policy.act(obs_seq[t], state, resets[t])
        values.append(v)
    batch = {"obs": {k: tf.constant(to_sequences(np.stack([o[k] for o in obs_seq]), 4)) for k in obs_seq[0]},
             "resets": tf.constant(to_sequences(resets, 4)),
             "states": [tf.constant(to_sequences(np.stack([s[i] for s in states]), 4)[:, 0])
                        for i in range(len(states[0]))]}
    _, unrolled = learner._unroll(batch)
    np.testing.assert_allclose(unrolled.numpy(), to_sequences(np.stack(values), 4).reshape(-1), rtol=1e-5, atol=1e-5)
