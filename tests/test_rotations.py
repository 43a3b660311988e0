"""Quaternion helpers against scipy's Rotation, the bounded random rotation and the goal curriculum."""
import numpy as np
import pytest
from scipy import stats
from scipy.spatial.transform import Rotation

from dexterity.environments.curriculum import GoalCurriculum
from dexterity.environments.rotations import (canonical, quat_angle, quat_conjugate, quat_from_axis_angle,
                                              quat_multiply, random_quat, random_rotation_within)


def _scipy(q: np.ndarray) -> Rotation:
    return Rotation.from_quat(q, scalar_first=True)


def test_quaternion_algebra_matches_scipy():
    rng = np.random.default_rng(0)
    for _ in range(20):
        a, b = random_quat(rng), random_quat(rng)
        product = _scipy(a) * _scipy(b)
        np.testing.assert_allclose(_scipy(quat_multiply(a, b)).as_matrix(), product.as_matrix(), atol=1e-12)
        np.testing.assert_allclose(quat_angle(a, b), (_scipy(a).inv() * _scipy(b)).magnitude(), atol=1e-6)
        np.testing.assert_allclose(quat_multiply(a, quat_conjugate(a)), [1, 0, 0, 0], atol=1e-12)
        assert canonical(-a)[0] >= 0 and np.allclose(canonical(-a), a)
    q = quat_from_axis_angle(np.array([0.0, 0.0, 2.0]), np.pi / 2)
    np.testing.assert_allclose(_scipy(q).as_rotvec(), [0, 0, np.pi / 2], atol=1e-12)


def _angles(quats: list[np.ndarray]) -> np.ndarray:
    return np.array([quat_angle(np.array([1.0, 0, 0, 0]), q) for q in quats])


def test_bounded_rotation_at_pi_is_uniform_on_so3():
    rng = np.random.default_rng(1)
    angles = _angles([random_rotation_within(rng, np.pi) for _ in range(4000)])
    # uniform rotations: angle CDF (theta - sin theta) / pi
    assert stats.kstest(angles, lambda t: (t - np.sin(t)) / np.pi).pvalue > 0.01
    axes = np.array([_scipy(random_rotation_within(rng, np.pi)).as_rotvec() for _ in range(4000)])
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    np.testing.assert_allclose(axes.mean(axis=0), 0.0, atol=0.05)


def test_bounded_rotation_respects_its_bound_with_the_conditioned_density():
    rng = np.random.default_rng(2)
    bound = 0.8
    angles = _angles([random_rotation_within(rng, bound) for _ in range(4000)])
    assert angles.max() <= bound + 1e-6
    top = bound - np.sin(bound)
    assert stats.kstest(angles, lambda t: (t - np.sin(t)) / top).pvalue > 0.01
    low = 0.4
    angles = _angles([random_rotation_within(rng, bound, low) for _ in range(4000)])
    assert angles.min() >= low - 1e-6 and angles.max() <= bound + 1e-6
    g = low - np.sin(low)
    assert stats.kstest(angles, lambda t: (t - np.sin(t) - g) / (top - g)).pvalue > 0.01


def test_curriculum_widens_on_full_windows_only():
    c = GoalCurriculum(0.8, step=0.2, window=4, threshold=0.5, limit=1.1)
    for reached in (True, True, False):
        c.record(reached)
    assert c.angle == 0.8  # window not full yet
    c.record(False)
    assert c.angle == pytest.approx(1.0)  # 2 of 4 reached: threshold met
    for _ in range(4):
        c.record(False)
    assert c.angle == pytest.approx(1.0)  # never shrinks
    for _ in range(8):
        c.record(True)
    assert c.angle == pytest.approx(1.1)  # capped at the limit
    c.restart()
    assert c.angle == 0.8


@pytest.mark.parametrize("kwargs", [{"start": 0.0}, {"start": 4.0}, {"start": 1.0, "step": 0.0},
                                    {"start": 1.0, "window": 0}, {"start": 1.0, "threshold": 1.5}])
def test_curriculum_rejects_bad_settings(kwargs):
    with pytest.raises(ValueError):
        GoalCurriculum(**kwargs)


def test_matrix6_is_the_first_two_columns_of_scipys_rotation_matrix_and_ignores_the_sign():
    from scipy.spatial.transform import Rotation

    from dexterity.environments.rotations import quat_to_matrix6
    rng = np.random.default_rng(4)
    for _ in range(20):
        q = rng.normal(size=4)
        q /= np.linalg.norm(q)
        matrix = Rotation.from_quat([q[1], q[2], q[3], q[0]]).as_matrix()  # scipy: x, y, z, w
        np.testing.assert_allclose(quat_to_matrix6(q), np.concatenate([matrix[:, 0], matrix[:, 1]]), atol=1e-12)
        np.testing.assert_allclose(quat_to_matrix6(-q), quat_to_matrix6(q), atol=1e-12)
