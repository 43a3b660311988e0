"""Envs of a process share one hand model (load_model): sharing must not couple their trajectories."""
import gymnasium as gym
import numpy as np
import pytest

import dexterity.environments  # noqa: F401  (registers the tasks)
from dexterity.environments.base import HandEnv, load_model
from dexterity.environments.manipulate import ManipulateBlockEnv
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


def test_reach_envs_share_one_model():
    # their goal markers are drawn per env (test_reach_envs_on_a_shared_model_draw_their_own_goal_markers)
    a, b = gym.make("ReachAbsolute-v0").unwrapped, gym.make("ReachAbsolute-v0").unwrapped
    assert a.model is b.model is gym.make("FreeReach-v0").unwrapped.model


def test_load_model_unshared_returns_a_fresh_model():
    profile = get_profile(None)
    name = "manipulate_block_touch_sensors.xml"
    assert load_model(name, profile, shared=False) is not load_model(name, profile, shared=False)
    assert load_model(name, profile, shared=True) is load_model(name, profile, shared=True)


def test_sharing_is_opted_into_per_class_not_inherited():
    class Randomised(ManipulateBlockEnv):  # a user's task that might write to its model per env
        pass

    class Declared(ManipulateBlockEnv):
        shares_model = True

    assert ManipulateBlockEnv.shares_model and Declared.shares_model
    assert not Randomised.shares_model and not HandEnv.shares_model


def test_interleaved_envs_on_a_shared_model_match_a_lone_env_on_its_own_model(monkeypatch):
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, (30, 20)).astype(np.float32)
    other = rng.uniform(-1, 1, (30, 20)).astype(np.float32)
    with monkeypatch.context() as patch:
        patch.setattr(ManipulateBlockEnv, "shares_model", False)
        lone = gym.make("ManipulateBlock-v0").unwrapped
    assert lone.model is not gym.make("ManipulateBlock-v0").unwrapped.model
    alone = _run(lone, actions, seed=3)

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


@pytest.mark.isolated  # renders: must not share the test session's process, which has TensorFlow loaded
def test_visual_envs_share_one_renderer_and_see_their_own_block():
    from dexterity.environments import base
    lone = gym.make("ManipulateBlockVisual-v0").unwrapped
    lone_image = lone.reset(seed=5)[0]["vision"].copy()
    lone.close()
    assert not base._SHARED_RENDERERS  # closed with its last user

    a, b = gym.make("ManipulateBlockVisual-v0").unwrapped, gym.make("ManipulateBlockVisual-v0").unwrapped
    image_b = b.reset(seed=6)[0]["vision"].copy()
    image_a = a.reset(seed=5)[0]["vision"].copy()
    assert a._vision_renderer is b._vision_renderer
    np.testing.assert_array_equal(image_a, lone_image)  # rendered after b, from a's own state
    assert not np.array_equal(image_a, image_b)
    a.close()
    assert b.camera_image().shape == (64, 64, 3)  # b keeps the renderer a released
    b.close()
    assert not base._SHARED_RENDERERS
    c = gym.make("ManipulateBlockVisual-v0").unwrapped
    c.reset(seed=1)
    assert base._SHARED_RENDERERS
    del c  # dropped without close(): the renderer is still released
    import gc
    gc.collect()
    assert not base._SHARED_RENDERERS


RENDER = {"render_mode": "rgb_array", "render_width": 96, "render_height": 96}


def _frame_with_goals_in_own_model(env_id: str, seed: int, shown: list[int], monkeypatch) -> np.ndarray:
    """The independent expectation: a lone env on its own model, its goals written into the model
    (the targets' site_pos, then mj_forward) and only the `shown` target markers visible."""
    import mujoco
    with monkeypatch.context() as patch:
        patch.setattr(type(gym.make(env_id).unwrapped), "shares_model", False)
        env = gym.make(env_id, **RENDER).unwrapped
    env.reset(seed=seed)
    targets = env._target_sites
    env.model.site_pos[targets] = env.goal - env.model.body("floor0").pos
    env.model.site_rgba[targets, 3] = 0.0
    env.model.site_rgba[targets[shown], 3] = 1.0
    mujoco.mj_forward(env.model, env.data)
    renderer = env._make_renderer(*env.render_size)
    renderer.update_scene(env.data, camera=env._free_camera())
    return renderer.render().copy()


@pytest.mark.isolated  # renders: must not share the test session's process, which has TensorFlow loaded
def test_reach_envs_on_a_shared_model_draw_their_own_goal_markers(monkeypatch):
    a = gym.make("ReachAbsolute-v0", **RENDER).unwrapped
    free = gym.make("FreeReachMF-v0", **RENDER).unwrapped  # the middle finger's marker only
    assert a.model is free.model
    a.reset(seed=5)
    frame_a = a.render().copy()
    np.testing.assert_array_equal(frame_a, _frame_with_goals_in_own_model("ReachAbsolute-v0", 5, [0, 1, 2, 3, 4],
                                                                          monkeypatch))
    free.reset(seed=6)
    np.testing.assert_array_equal(free.render(), _frame_with_goals_in_own_model("FreeReachMF-v0", 6, [1],
                                                                                monkeypatch))
    free.step(np.zeros(free.action_space.shape, np.float32))
    free.render()
    np.testing.assert_array_equal(a.render(), frame_a)  # a's frame is unchanged by the other env
