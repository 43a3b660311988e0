"""Envs of a process share one hand model (load_model): sharing must not couple their trajectories."""
import gymnasium as gym
import numpy as np

import dexterity.environments  # noqa: F401  (registers the tasks)
from dexterity.environments.base import load_model
from dexterity.environments.physics import get_profile


def _run(env, actions, seed):
    obs, _ = env.reset(seed=seed)
    out = [obs["vision"].copy()]
    for a in actions:
        obs, *_ = env.step(a)
        out.append(obs["vision"].copy())
    return np.array(out)


def test_manipulate_envs_share_one_model_per_physics_profile():
    a, b = gym.make("ManipulateBlock-v0").unwrapped, gym.make("ManipulateBlock-v0").unwrapped
    c = gym.make("ManipulateBlock-v0", physics="reference").unwrapped
    assert a.model is b.model
    assert c.model is not a.model and c.model.opt.timestep != a.model.opt.timestep


def test_reach_envs_keep_their_own_model():
    # reach writes its goal markers into the model, so each env needs its own
    a, b = gym.make("ReachAbsolute-v0").unwrapped, gym.make("ReachAbsolute-v0").unwrapped
    assert a.model is not b.model


def test_load_model_unshared_returns_a_fresh_model():
    profile = get_profile(None)
    name = "manipulate_block_touch_sensors.xml"
    assert load_model(name, profile, shared=False) is not load_model(name, profile, shared=False)
    assert load_model(name, profile, shared=True) is load_model(name, profile, shared=True)


def test_interleaved_envs_on_a_shared_model_match_a_lone_env():
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, (30, 20)).astype(np.float32)
    other = rng.uniform(-1, 1, (30, 20)).astype(np.float32)
    alone = _run(gym.make("ManipulateBlock-v0").unwrapped, actions, seed=3)

    a, b = gym.make("ManipulateBlock-v0").unwrapped, gym.make("ManipulateBlock-v0").unwrapped
    assert a.model is b.model
    obs_a, _ = a.reset(seed=3)
    b.reset(seed=9)
    together = [obs_a["vision"].copy()]
    for act, act_b in zip(actions, other):
        b.step(act_b)  # the other env steps the shared model in between
        obs_a, *_ = a.step(act)
        together.append(obs_a["vision"].copy())
    np.testing.assert_array_equal(np.array(together), alone)
    assert not np.allclose(b.data.qpos, a.data.qpos)
