"""Shadow Hand tasks: registration, API conformance, determinism, reward configs, TensorFlow-free rendering."""
import os
import subprocess
import sys
import textwrap

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import dexterity  # noqa: F401  (registers the tasks)
from dexterity.environments import TASKS, register_environments

REACH_IDS = ["ReachAbsolute-v0", "ReachRelative-v0", "FreeReach-v0", "FreeReachFF-v0", "FreeReachMF-v0",
             "FreeReachRF-v0", "FreeReachLF-v0"]
MANIPULATE_IDS = ["ManipulateBlock-v0", "ManipulateBlockDiscrete-v0", "ManipulateBlockVisual-v0"]
ALL_IDS = REACH_IDS + MANIPULATE_IDS
pytestmark = [pytest.mark.filterwarnings("ignore:.*infinity"), pytest.mark.filterwarnings("ignore:.*render_mode")]


def test_registration_is_complete_and_idempotent():
    register_environments()
    register_environments()
    assert set(TASKS) == set(ALL_IDS)
    for env_id in ALL_IDS:
        assert gym.spec(env_id).reward_threshold is not None


@pytest.mark.parametrize("env_id", [pytest.param(e, marks=pytest.mark.isolated) if "Visual" in e else e
                                    for e in ALL_IDS])
def test_check_env(env_id):
    kwargs = {"vision_size": 32} if "Visual" in env_id else {}
    env = gym.make(env_id, **kwargs)
    check_env(env.unwrapped, skip_render_check=True)
    obs, info = env.reset(seed=1)
    keys = list(obs)
    order = ["vision", "somatosensation", "proprioception", "goal", "asymmetric"]
    assert keys == [k for k in order if k in keys]
    assert "is_success" in info
    env.close()


def _rollout(env_id: str, seed: int, steps: int) -> list:
    env = gym.make(env_id)
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    out = [obs]
    for _ in range(steps):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        out.append((obs, reward, terminated, truncated))
        if terminated or truncated:
            out.append(env.reset()[0])
    env.close()
    return out


@pytest.mark.parametrize("env_id", ["ReachRelative-v0", "FreeReach-v0", "ManipulateBlockDiscrete-v0"])
def test_same_seed_same_trajectory(env_id):
    a, b, c = _rollout(env_id, 3, 30), _rollout(env_id, 3, 30), _rollout(env_id, 4, 30)
    assert repr(a) == repr(b)
    assert repr(a) != repr(c)


def test_goal_pose_is_reachable():
    """Commanding the targets the goal was drawn from reaches the goal (the task is solvable).

    With kinematic goal poses only 74% of these episodes succeeded: goals must be where the
    position-controlled hand comes to rest."""
    env = gym.make("ReachAbsolute-v0")
    successes = []
    for seed in range(40):
        env.reset(seed=seed)
        for _ in range(40):
            _, reward, _, _, info = env.step(env.unwrapped.goal_action)
        successes.append(info["is_success"])
    assert np.mean(successes) >= 0.9
    assert env.unwrapped.state_info()["fingertip_positions"].shape == (5, 3)


def test_hand_env_hooks_are_abstract():
    from dexterity.environments.base import HandEnv
    with pytest.raises(TypeError, match="abstract"):
        HandEnv()


def test_free_reach_goal_layout():
    env = gym.make("FreeReachRF-v0")
    obs, _ = env.reset(seed=0)
    np.testing.assert_array_equal(obs["goal"][3:], [0, 0, 1, 0])
    tip = env.unwrapped.state_info()["goal"][2]
    np.testing.assert_allclose(obs["goal"][:3], tip, rtol=1e-6)


def test_reward_config_selection():
    env = gym.make("ReachAbsolute-v0", reward_config="reach.force_punished")
    assert env.unwrapped.reward_config["force_multiplier"] > 0
    env = gym.make("ReachAbsolute-v0", reward_config={"success_bonus": 3.0})
    assert env.unwrapped.reward_config["success_bonus"] == 3.0
    assert env.unwrapped.reward_config["success_distance"] == 0.02


_RENDER_SCRIPT = textwrap.dedent("""
    import sys
    {first_import}
    import gymnasium as gym
    import dexterity
    env = gym.make("{env_id}", render_mode="rgb_array", render_width=64, render_height=48)
    env.reset(seed=0)
    env.step(env.action_space.sample())
    frame = env.render()
    assert frame.shape == (48, 64, 3) and frame.dtype.name == "uint8", frame.shape
    assert frame.std() > 0, "blank frame"
    assert "tensorflow" not in sys.modules, "the env worker imported TensorFlow"
    print("ok")
""")


@pytest.mark.parametrize("env_id,first_import", [("ReachAbsolute-v0", ""), ("ManipulateBlock-v0", "import mujoco")])
def test_render_rgb_frame_in_tf_free_process(env_id, first_import):
    """Also when mujoco was imported before dexterity could choose the headless GL backend."""
    script = _RENDER_SCRIPT.format(env_id=env_id, first_import=first_import)
    env = {k: v for k, v in os.environ.items() if k not in ("MUJOCO_GL", "PYOPENGL_PLATFORM")}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("ok")


@pytest.mark.isolated  # renders: must not share the test session's process, which has TensorFlow loaded
def test_visual_observation_is_an_image():
    env = gym.make("ManipulateBlockVisual-v0", vision_size=32)
    obs, _ = env.reset(seed=0)
    assert obs["vision"].shape == (32, 32, 3) and obs["vision"].dtype == np.uint8
    assert obs["vision"].std() > 0
    assert obs["asymmetric"].shape == (32,)
    info = env.unwrapped.state_info()
    assert set(info) >= {"joint_angles", "fingertip_positions", "object_position", "object_quaternion", "goal", "touch"}
    env.close()


def test_bad_kwargs_raise_clear_errors():
    from dexterity.errors import ConfigError, EnvironmentError_
    with pytest.raises(EnvironmentError_, match="finger"):
        gym.make("FreeReach-v0", finger="thumb")
    with pytest.raises(ConfigError, match="known reward configs"):
        gym.make("ManipulateBlock-v0", reward_config="manipulate.nope")
    with pytest.raises(EnvironmentError_, match="render_mode"):
        gym.make("ReachAbsolute-v0", render_mode="video").unwrapped


@pytest.mark.skipif(bool(os.environ.get("DISPLAY")), reason="a display exists")
def test_human_mode_without_display_says_so():
    from dexterity.errors import EnvironmentError_
    env = gym.make("ReachAbsolute-v0", render_mode="human")
    with pytest.raises(EnvironmentError_, match="display"):
        env.reset(seed=0)


@pytest.mark.isolated  # renders: must not share the test session's process, which has TensorFlow loaded
def test_render_follows_the_tracked_body_only_when_configured():
    from dexterity.envgroup import follow_tracked_body, make_env
    for track in (True, False):
        config = {"distance": 4.0, "lookat": np.array([0.0, 0.0, 0.3])}
        if track:
            config["trackbodyid"] = 1
        env = make_env("HalfCheetah-v5", {"render_mode": "rgb_array", "width": 64, "height": 48,
                                          "default_camera_config": config})
        env.reset(seed=0)
        env.render()
        for _ in range(60):  # a constant push moves the torso away from the origin
            env.step(np.full(6, 0.8, np.float32))
        follow_tracked_body(env)
        lookat = env.unwrapped.mujoco_renderer.viewer.cam.lookat
        torso = env.unwrapped.data.xpos[1]
        assert abs(torso[0]) > 0.05
        if track:
            np.testing.assert_allclose(lookat[:2], torso[:2])
        else:
            np.testing.assert_allclose(lookat[:2], [0.0, 0.0])
        assert lookat[2] == pytest.approx(0.3)
        env.close()
