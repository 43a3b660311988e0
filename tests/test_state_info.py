"""ManipulateBlock's state_info, the env state that analysis decodes."""
import gymnasium as gym
import numpy as np
import pytest

import dexterity  # noqa: F401  (registers the tasks)


def test_state_info_gives_the_block_orientation_without_sign_flips():
    """The physics may hold the block's quaternion with w < 0; state_info gives the canonical one, the
    rotation-matrix columns and the angle to the goal, checked against scipy's rotations."""
    from scipy.spatial.transform import Rotation
    env = gym.make("ManipulateBlock-v0")
    env.reset(seed=4)
    u = env.unwrapped
    q = np.array([-0.5, 0.5, -0.5, 0.5])  # w < 0
    u.set_scene(u.data.qpos[:24].copy(), u.object_position().copy(), q)
    info = u.state_info()
    np.testing.assert_allclose(info["object_quaternion"], -q)
    block, goal = Rotation.from_quat(np.roll(q, -1)), Rotation.from_quat(np.roll(u.goal, -1))  # scipy: w last
    np.testing.assert_allclose(info["object_rotation"], block.as_matrix()[:, :2].T.ravel(), atol=1e-12)
    np.testing.assert_allclose(info["goal_rotation"], goal.as_matrix()[:, :2].T.ravel(), atol=1e-12)
    assert info["goal_distance"].shape == (1,)
    assert info["goal_distance"][0] == pytest.approx((goal.inv() * block).magnitude(), abs=1e-9)
    env.close()
