"""Quaternion helpers (MuJoCo convention: w, x, y, z). Pure numpy, TensorFlow-free."""
from __future__ import annotations

import math

import numpy as np


def quat_conjugate(q: np.ndarray) -> np.ndarray:
    """Conjugate (inverse for unit quaternions). [..., 4] -> [..., 4]."""
    return q * np.array([1.0, -1.0, -1.0, -1.0])


def quat_multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product a * b. [4], [4] -> [4]."""
    aw, ax, ay, az = a
    bw, bx, by, bz = b
    return np.array([aw * bw - ax * bx - ay * by - az * bz,
                     aw * bx + ax * bw + ay * bz - az * by,
                     aw * by - ax * bz + ay * bw + az * bx,
                     aw * bz + ax * by - ay * bx + az * bw])


def quat_angle(a: np.ndarray, b: np.ndarray) -> float:
    """Angle in radians [0, pi] of the rotation taking unit quaternion a to b."""
    dot = abs(float(np.dot(a, b))) / math.sqrt(float(np.dot(a, a)) * float(np.dot(b, b)))
    return 2.0 * math.acos(min(1.0, dot))


def canonical(q: np.ndarray) -> np.ndarray:
    """The unit quaternion with non-negative w representing the same rotation. [4] -> [4]."""
    q = q / math.sqrt(float(np.dot(q, q)))
    return -q if q[0] < 0 else q


def quat_from_axis_angle(axis: np.ndarray, angle: float) -> np.ndarray:
    """Rotation of `angle` radians about `axis` (any length > 0). -> [4]."""
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    return np.concatenate([[np.cos(angle / 2.0)], np.sin(angle / 2.0) * axis])


def random_quat(rng: np.random.Generator) -> np.ndarray:
    """A rotation drawn uniformly from SO(3) (normalised 4-d Gaussian), canonical. -> [4]."""
    return canonical(rng.normal(size=4))


def _angle_cdf_grid(points: int = 4097) -> tuple[np.ndarray, np.ndarray]:
    """theta [P] on [0, pi] and theta - sin(theta) [P], the unnormalised CDF of the rotation angle
    of a uniform rotation (density (1 - cos theta) / pi)."""
    theta = np.linspace(0.0, np.pi, points)
    return theta, theta - np.sin(theta)


_THETA, _ANGLE_CDF = _angle_cdf_grid()


def random_rotation_within(rng: np.random.Generator, max_angle: float, min_angle: float = 0.0) -> np.ndarray:
    """A rotation drawn uniformly from SO(3) conditioned on min_angle <= angle <= max_angle (rad). -> [4].

    The axis is uniform on the sphere and the angle follows the uniform-rotation density restricted
    to [min_angle, max_angle] (inverse CDF); with [0, pi] this is `random_quat`'s distribution.
    """
    high = float(np.clip(max_angle, 0.0, np.pi))
    low = float(np.clip(min_angle, 0.0, high))
    angle = float(np.interp(rng.uniform(low - np.sin(low), high - np.sin(high)), _ANGLE_CDF, _THETA))
    axis = rng.normal(size=3)
    return canonical(quat_from_axis_angle(axis, angle))


def quat_to_matrix6(q: np.ndarray) -> np.ndarray:
    """The first two columns of the rotation matrix of unit quaternion q, [4] -> [6] (column-major:
    R[:, 0] then R[:, 1]). Unlike a canonical quaternion this is continuous in the rotation (Zhou et
    al. 2019), and both signs of q give the same 6 numbers."""
    w, x, y, z = q / math.sqrt(float(np.dot(q, q)))
    return np.array([1.0 - 2.0 * (y * y + z * z), 2.0 * (x * y + w * z), 2.0 * (x * z - w * y),
                     2.0 * (x * y - w * z), 1.0 - 2.0 * (x * x + z * z), 2.0 * (y * z + w * x)])
