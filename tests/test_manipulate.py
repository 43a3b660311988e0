"""ManipulateBlock tasks: end conditions, control modes, senses, scene setting, goals and the curriculum."""
import gymnasium as gym
import numpy as np
import pytest

import dexterity  # noqa: F401  (registers the tasks)
from dexterity.errors import EnvironmentError_

pytestmark = [pytest.mark.filterwarnings("ignore:.*infinity"), pytest.mark.filterwarnings("ignore:.*render_mode")]


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


def test_curriculum_mix_draws_that_fraction_of_goals_from_the_full_task_and_does_not_count_them():
    from dexterity.environments.rotations import quat_angle
    env, u = _manipulate(goal_angle=0.8, curriculum=True, curriculum_mix=0.3)
    far = 0
    for seed in range(300):
        env.reset(seed=seed)
        far += quat_angle(u.object_quaternion(), u.goal) > 0.8 + 1e-6
    # uniform on SO(3): P(angle > 0.8) = 1 - (0.8 - sin 0.8) / pi = 0.974, so 0.3 x 0.974 = 0.29 of goals
    assert 0.2 < far / 300 < 0.38
    env, u = _manipulate(goal_angle=0.8, curriculum=True, curriculum_window=2, curriculum_mix=1.0, goal_timeout=100)
    for _ in range(4):  # reached full-task goals: the bound stays (with mix 0 it widens twice, above)
        u.goal = u.object_quaternion().copy()
        info = env.step(np.zeros(20, np.float32))[4]
        assert info["is_success"] == 1.0 and info["goal_angle"] == pytest.approx(0.8)
    assert u.curriculum._attempts == 0


def test_manipulate_goal_kwargs_errors():
    for kwargs, match in (({"goal_angle": 4.0}, "goal_angle"), ({"goal_angle": 0.3}, "above the success distance"),
                          ({"goal_angle": "abc"}, "goal_angle"), ({"curriculum": True}, "starting goal_angle"),
                          ({"goal_angle": 1.0, "curriculum": "false"}, "true or false"),
                          ({"goal_angle": 1.0, "curriculum": True, "curriculum_window": 0}, "curriculum_window"),
                          ({"goal_angle": 1.0, "curriculum": True, "curriculum_window": 2.7}, "curriculum_window"),
                          ({"goal_angle": 1.0, "curriculum": True, "curriculum_step": float("nan")}, "curriculum_step"),
                          ({"goal_angle": 1.0, "curriculum": True, "curriculum_threshold": 0}, "threshold"),
                          ({"goal_angle": 1.0, "curriculum": True, "curriculum_mix": 1.5}, "curriculum_mix"),
                          ({"goal_angle": 1.0, "curriculum": True, "curriculum_mix": "half"}, "curriculum_mix")):
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
    with pytest.raises(EnvironmentError_, match="relative_goal"):
        gym.make("ManipulateBlock-v0", relative_goal=1)
