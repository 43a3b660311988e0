"""benchmarks/goal_difficulty.py: the rotation to a goal (against scipy) and the table's binning."""
from __future__ import annotations

import sys

import numpy as np
from scipy.spatial.transform import Rotation

from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import goal_difficulty  # noqa: E402


def _wxyz(rotation: Rotation) -> np.ndarray:
    x, y, z, w = rotation.as_quat()
    return np.array([w, x, y, z])


def test_turn_to_goal_matches_scipy_angle_and_axis():
    rng = np.random.default_rng(0)
    for _ in range(50):
        block, goal = Rotation.random(random_state=rng), Rotation.random(random_state=rng)
        angle, axis_z = goal_difficulty.turn_to_goal(_wxyz(block), _wxyz(goal))
        rotvec = (goal * block.inv()).as_rotvec()  # world frame: goal = turn * block
        assert abs(angle - np.linalg.norm(rotvec)) < 1e-9
        assert abs(axis_z - abs(rotvec[2]) / np.linalg.norm(rotvec)) < 1e-9


def test_turn_about_the_vertical_and_about_a_horizontal_axis():
    block = _wxyz(Rotation.from_euler("x", 0.3))
    spin = _wxyz(Rotation.from_euler("z", 2.0) * Rotation.from_euler("x", 0.3))
    roll = _wxyz(Rotation.from_euler("y", -1.2) * Rotation.from_euler("x", 0.3))
    assert np.allclose(goal_difficulty.turn_to_goal(block, spin), (2.0, 1.0))
    assert np.allclose(goal_difficulty.turn_to_goal(block, roll), (1.2, 0.0))


def test_attempts_table_bins_and_fractions():
    attempts = [{"angle": 0.5, "axis_z": 0.9, "outcome": "reached", "steps": 10},
                {"angle": 0.6, "axis_z": 0.95, "outcome": "timed out", "steps": 100},
                {"angle": 0.7, "axis_z": 1.0, "outcome": "reached", "steps": 30},
                {"angle": 3.0, "axis_z": 0.1, "outcome": "dropped", "steps": 7}]
    rows = {(r["angle"][0], r["axis_z"][0]): r for r in goal_difficulty.attempts_table(attempts)}
    assert len(rows) == 15
    near_vertical = rows[(0.0, 0.87)]
    assert near_vertical["attempts"] == 3 and abs(near_vertical["reached"] - 2 / 3) < 1e-12
    assert near_vertical["steps"] == 20.0
    far = rows[(2.5, 0.0)]
    assert far["attempts"] == 1 and far["reached"] == 0.0 and far["steps"] is None
    assert rows[(1.0, 0.5)]["attempts"] == 0 and rows[(1.0, 0.5)]["reached"] is None


def test_step_outcome_reads_episode_ends_from_the_record_not_the_reset_env():
    outcome = goal_difficulty.step_outcome
    assert outcome(2, 2, None, False) is None  # still turning
    assert outcome(2, 3, None, False) == "reached"  # a goal reached, the episode goes on
    # the episode ended: the env is already reset (its count is 0), the record tells how
    assert outcome(49, 0, {"success": 1.0, "consecutive_goals": 50}, True) == "reached"  # max_goals
    assert outcome(3, 0, {"success": 0.0, "consecutive_goals": 3}, True) == "dropped"
    assert outcome(3, 0, {"success": 0.0, "consecutive_goals": 3}, False) == "timed out"
