"""Shadow Hand tasks: API conformance, determinism, TensorFlow-free rendering, end conditions."""
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
from dexterity.errors import EnvironmentError_

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


def _manipulate(**kwargs):
    env = gym.make("ManipulateBlock-v0", **kwargs)
    env.reset(seed=0)
    return env, env.unwrapped


def test_manipulate_drop_terminates_with_penalty():
    env, u = _manipulate()
    u.data.qpos[u._obj_q + 2] = 0.05  # below the palm: the block has fallen
    _, reward, terminated, truncated, info = env.step(np.zeros(20, np.float32))
    assert terminated and not truncated
    assert reward < -15.0  # drop penalty 20 dominates
    assert info["consecutive_goals_reached"] == 0


def test_manipulate_fifty_goals_terminate():
    env, u = _manipulate()
    for step in range(50):
        u.goal = u.object_quaternion().copy()  # the block already is in the goal orientation
        _, reward, terminated, truncated, info = env.step(np.zeros(20, np.float32))
        assert info["is_success"] == 1.0 and reward > 4.0
        assert info["consecutive_goals_reached"] == step + 1
        assert terminated == (step == 49) and not truncated
    assert u.state_info()["consecutive_goals"] == 50


@pytest.mark.parametrize("kwargs, steps", [({}, 200), ({"goal_timeout": 30}, 30), ({"control_period": 0.08}, 100)])
def test_manipulate_goal_timeout_truncates(kwargs, steps):
    """Default: 8 s per goal (200 steps of 40 ms; 100 of 80 ms), or `goal_timeout` steps."""
    env, u = _manipulate(**kwargs)
    flipped = np.array([0.0, 1.0, 0.0, 0.0])  # half a turn about x from the identity
    for step in range(steps):
        u.goal = flipped.copy()
        _, _, terminated, truncated, info = env.step(np.zeros(20, np.float32))
        assert not terminated and info["is_success"] == 0.0
        assert truncated == (step == steps - 1)


def test_discrete_actions_map_to_control_range():
    env = gym.make("ManipulateBlockDiscrete-v0")
    u = env.unwrapped
    assert env.action_space.nvec.tolist() == [11] * 20
    env.reset(seed=0)
    env.step(np.full(20, 10))
    np.testing.assert_allclose(u.data.ctrl, u.model.actuator_ctrlrange[:, 1])
    env.step(np.zeros(20, np.int64))
    np.testing.assert_allclose(u.data.ctrl, u.model.actuator_ctrlrange[:, 0])


def test_manipulate_relative_control_moves_targets_from_the_current_angles():
    """relative_control: each target is the actuated joint's current angle plus half its control
    range times the action (clipped); action 0 sets no servo error, so the hand moves far less than
    under absolute control, where 0 drives every joint to mid-range."""
    def angles(env):
        m = env.model
        return np.array([env.data.qpos[m.jnt_qposadr[m.actuator_trnid[i, 0]]] for i in range(m.nu)])

    moved = {}
    for relative in (True, False):
        u = gym.make("ManipulateBlock-v0", relative_control=relative).unwrapped
        u.reset(seed=3)
        start = angles(u)
        for _ in range(5):
            u.step(np.zeros(20, np.float32))
        moved[relative] = np.abs(angles(u) - start).sum()
    assert moved[True] < 0.5 * moved[False]
    low, high = u.model.actuator_ctrlrange.T
    np.testing.assert_allclose(u.data.ctrl, (low + high) / 2.0)  # absolute: 0 is mid-range
    u = gym.make("ManipulateBlock-v0", relative_control=True).unwrapped
    u.reset(seed=3)
    now = angles(u)
    action = np.where(np.arange(20) % 2 == 0, 1.0, -1.0).astype(np.float32)
    u.step(action)
    np.testing.assert_allclose(u.data.ctrl, np.clip(now + action * (high - low) / 2.0, low, high), atol=1e-9)


def test_manipulate_target_control_moves_targets_from_the_previous_targets():
    """relative_control="target": each step adds half the control range times the action to the
    previous step's targets (clipped), so action 0 holds them even where the joints lag behind;
    with True ("position") the same zero action re-centres the targets on the lagging angles."""
    u = gym.make("ManipulateBlock-v0", relative_control="target").unwrapped
    u.reset(seed=3)
    low, high = u.model.actuator_ctrlrange.T
    start = u.data.ctrl.copy()
    action = np.linspace(-0.6, 0.6, 20).astype(np.float32)
    u.step(action)
    first = np.clip(start + action * (high - low) / 2.0, low, high)
    np.testing.assert_allclose(u.data.ctrl, first, atol=1e-12)
    u.step(action)
    np.testing.assert_allclose(u.data.ctrl, np.clip(first + action * (high - low) / 2.0, low, high), atol=1e-12)
    held = u.data.ctrl.copy()
    for _ in range(3):
        u.step(np.zeros(20, np.float32))
    np.testing.assert_array_equal(u.data.ctrl, held)
    m = u.model
    lag = np.abs(held - u.data.qpos[m.jnt_qposadr[m.actuator_trnid[:, 0]]]).max()
    assert lag > 0.05  # the joints have not all reached those targets, so "position" would differ
    for bad in ("relative", 1, None):
        with pytest.raises(EnvironmentError_, match="relative_control must be"):
            gym.make("ManipulateBlock-v0", relative_control=bad)


def test_manipulate_matrix_orientation_and_object_velocity_senses():
    """orientation="matrix": vision and goal report rotation-matrix columns (scipy's), continuous
    where the canonical quaternion flips sign (a block turned by just under and just over pi about
    the vertical); object_velocity appends the block's 6 velocities to vision."""
    from scipy.spatial.transform import Rotation

    from dexterity.environments.rotations import quat_conjugate, quat_from_axis_angle, quat_multiply

    def columns(q):
        m = Rotation.from_quat([q[1], q[2], q[3], q[0]]).as_matrix()
        return np.concatenate([m[:, 0], m[:, 1]])

    plain = gym.make("ManipulateBlock-v0", relative_goal=True).unwrapped
    assert plain.observation_space["vision"].shape == (7,) and plain.observation_space["goal"].shape == (8,)
    env = gym.make("ManipulateBlock-v0", relative_goal=True, orientation="matrix", object_velocity=True)
    u = env.unwrapped
    assert u.observation_space["vision"].shape == (15,) and u.observation_space["goal"].shape == (12,)
    obs, _ = env.reset(seed=5)
    assert env.observation_space.contains(obs)
    block, goal = u.object_quaternion().copy(), u.goal.copy()
    np.testing.assert_allclose(obs["vision"][:3], u.object_position(), atol=1e-6)
    np.testing.assert_allclose(obs["vision"][3:9], columns(block), atol=1e-6)
    np.testing.assert_allclose(obs["goal"][:6], columns(goal), atol=1e-6)
    np.testing.assert_allclose(obs["goal"][6:], columns(quat_multiply(goal, quat_conjugate(block))), atol=1e-6)
    velocity = np.array([0.1, -0.2, 0.3, 1.0, -2.0, 3.0])
    u.data.qvel[u._obj_v:u._obj_v + 6] = velocity
    np.testing.assert_allclose(u._observation()["vision"][9:], velocity, atol=1e-6)
    senses = {}
    for name, kwargs in (("quaternion", {}), ("matrix", {"orientation": "matrix"})):
        v = gym.make("ManipulateBlock-v0", **kwargs).unwrapped
        v.reset(seed=0)
        start = v._initial_qpos[v._obj_q + 3:v._obj_q + 7]
        views = []
        for angle in (np.pi - 0.01, np.pi + 0.01):
            q = quat_multiply(quat_from_axis_angle(np.array([0.0, 0.0, 1.0]), angle), start)
            v.set_scene(v._initial_qpos[:24], v._initial_qpos[v._obj_q:v._obj_q + 3], q)
            views.append(v._observation()["vision"][3:])
        senses[name] = np.abs(views[0] - views[1]).max()
    assert senses["matrix"] < 0.05 < 1.0 < senses["quaternion"]
    with pytest.raises(EnvironmentError_, match="orientation must be"):
        gym.make("ManipulateBlock-v0", orientation="euler")
    with pytest.raises(EnvironmentError_, match="object_velocity"):
        gym.make("ManipulateBlockVisual-v0", object_velocity=True)


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


def test_manipulate_set_scene_poses_hand_and_block():
    env = gym.make("ManipulateBlock-v0").unwrapped
    env.reset(seed=0)
    angles = np.linspace(-0.1, 0.3, 24)
    quaternion = np.array([0.5, 0.5, 0.5, 0.5])
    env.set_scene(angles, np.array([1.0, 0.9, 0.2]), quaternion)
    np.testing.assert_allclose(env.data.qpos[:24], angles)
    np.testing.assert_allclose(env.object_position(), [1.0, 0.9, 0.2])
    np.testing.assert_allclose(env.object_quaternion(), quaternion)
    assert not env.data.qvel.any()


def test_manipulate_goal_angle_bounds_each_new_goal():
    from dexterity.environments.rotations import quat_angle
    env, u = _manipulate(goal_angle=0.6)
    assert quat_angle(u.object_quaternion(), u.goal) <= 0.6 + 1e-6
    for _ in range(5):
        u.goal = u.object_quaternion().copy()
        _, _, _, _, info = env.step(np.zeros(20, np.float32))
        assert info["is_success"] == 1.0 and info["goal_angle"] == 0.6
        assert quat_angle(u.object_quaternion(), u.goal) <= 0.6 + 1e-6
    _, info = _manipulate()[0].reset(seed=0)
    assert "goal_angle" not in info  # the full task by default: goals unbounded
    env, u = _manipulate(goal_angle=0.5)
    for seed in range(20):  # never a goal already reached when drawn
        env.reset(seed=seed)
        assert 0.4 <= quat_angle(u.object_quaternion(), u.goal) <= 0.5 + 1e-6


def test_manipulate_curriculum_widens_and_keeps_its_progress():
    env, u = _manipulate(goal_angle=0.8, curriculum=True, curriculum_window=2, curriculum_step=0.3, goal_timeout=100)
    angles = []
    for _ in range(4):
        u.goal = u.object_quaternion().copy()
        angles.append(env.step(np.zeros(20, np.float32))[4]["goal_angle"])
    assert angles == pytest.approx([0.8, 1.1, 1.1, 1.4])
    env.unwrapped.curriculum.threshold = 1.0  # from now on a window widens only if both attempts succeed
    flipped = np.array([0.0, 1.0, 0.0, 0.0])
    for _ in range(100):  # a goal lost by timeout ...
        u.goal = flipped.copy()
        _, _, terminated, truncated, info = env.step(np.zeros(20, np.float32))
    assert truncated and not terminated
    env.reset()
    u.goal = u.object_quaternion().copy()  # ... then one reached: a failed window
    assert env.step(np.zeros(20, np.float32))[4]["goal_angle"] == pytest.approx(1.4)
    u.goal = u.object_quaternion().copy()
    env.step(np.zeros(20, np.float32))
    u.data.qpos[u._obj_q + 2] = 0.05  # a reached goal, then a drop: another failed window
    _, _, terminated, _, info = env.step(np.zeros(20, np.float32))
    assert terminated and info["goal_angle"] == pytest.approx(1.4)
    env.reset()
    for _ in range(2):
        u.goal = u.object_quaternion().copy()
        info = env.step(np.zeros(20, np.float32))[4]
    assert info["goal_angle"] == pytest.approx(1.7)  # two reached: widened
    env.reset()
    u.curriculum.resume_at(1.4)
    assert env.reset(seed=3)[1]["goal_angle"] == pytest.approx(1.4)  # learning progress, not episode state
    assert u.get_training_state() == {"goal_angle": pytest.approx(1.4)}
    u.set_training_state({"goal_angle": 0.1})
    assert u.get_training_state() == {"goal_angle": 0.8}  # never below the start
    assert _manipulate(goal_angle=0.8)[1].get_training_state() is None


def test_manipulate_goal_kwargs_errors():
    from dexterity.errors import EnvironmentError_
    for kwargs, match in (({"goal_angle": 4.0}, "goal_angle"), ({"goal_angle": 0.3}, "above the success distance"),
                          ({"goal_angle": "abc"}, "goal_angle"), ({"curriculum": True}, "starting goal_angle"),
                          ({"goal_angle": 1.0, "curriculum": "false"}, "true or false"),
                          ({"goal_angle": 1.0, "curriculum": True, "curriculum_window": 0}, "curriculum_window"),
                          ({"goal_angle": 1.0, "curriculum": True, "curriculum_window": 2.7}, "curriculum_window"),
                          ({"goal_angle": 1.0, "curriculum": True, "curriculum_step": float("nan")}, "curriculum_step"),
                          ({"goal_angle": 1.0, "curriculum": True, "curriculum_threshold": 0}, "threshold")):
        with pytest.raises(EnvironmentError_, match=match):
            gym.make("ManipulateBlock-v0", **kwargs)


def test_manipulate_relative_goal_adds_the_rotation_still_to_do():
    from dexterity.environments.rotations import quat_angle, quat_multiply
    env, u = _manipulate(relative_goal=True)
    assert env.observation_space["goal"].shape == (8,)
    for _ in range(3):
        obs = env.step(env.action_space.sample())[0]
        goal, turn = obs["goal"][:4].astype(float), obs["goal"][4:].astype(float)
        np.testing.assert_allclose(goal, u.goal, atol=1e-6)
        assert quat_angle(quat_multiply(turn, u.object_quaternion()), u.goal) < 1e-3 and turn[0] >= 0
    from dexterity.errors import EnvironmentError_
    with pytest.raises(EnvironmentError_, match="relative_goal"):
        gym.make("ManipulateBlock-v0", relative_goal=1)


@pytest.mark.isolated  # renders: must not share the test session's process, which has TensorFlow loaded
def test_render_follows_the_tracked_body_only_when_configured():
    from dexterity.envpool import make_env, follow_tracked_body
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
