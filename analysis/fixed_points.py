"""Fixed and slow points of a recurrent map h -> F(h, x) under a fixed input x (Sussillo & Barak 2013).

The speed q(h) = 1/2 |F(h, x) - h|^2 is minimised from many starting states (recorded ones).
Points where q reaches ~0 are fixed points; local minima with q > 0 are slow points. The
linearisation there is the Jacobian dF/dh; its eigenvalues tell stable (|lambda| < 1) from
unstable directions of the discrete-time map.

The minimiser is Levenberg-Marquardt on the residual r(h) = F(h) - h, whose Jacobian is
J(h) - I: each point takes steps d = -(M'M + mu I)^-1 M' r with M = J - I and its own damping mu
(smaller after a step that lowers q, larger after one that does not). Near a fixed point this is
Newton's method on F(h) = h and converges quadratically; on a linear map it lands in one step.
Pure numpy: the map is any function `step(h [N, H]) -> (F [N, H], J [N, H, H])`.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

StepFn = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def speed(f: np.ndarray, h: np.ndarray) -> np.ndarray:
    """q = 1/2 |F(h) - h|^2 per point: f, h [N, H] -> [N]."""
    r = np.asarray(f, np.float64) - np.asarray(h, np.float64)
    return 0.5 * np.sum(r * r, axis=1)


def _lm_step(f: np.ndarray, jac: np.ndarray, h: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """Levenberg-Marquardt steps [N, H] for residuals F(h) - h (f, h [N, H], jac [N, H, H], mu [N])."""
    eye = np.eye(h.shape[1])
    m = jac - eye
    mt = np.swapaxes(m, 1, 2)
    lhs = mt @ m + mu[:, None, None] * eye
    rhs = -(mt @ (f - h)[..., None])
    return np.linalg.solve(lhs, rhs)[..., 0]


def find_fixed_points(step: StepFn, starts: np.ndarray, max_iterations: int = 200, tolerance: float = 1e-14,
                      mu: float = 1e-2) -> dict[str, np.ndarray]:
    """Minimise the speed from starts [N, H]; returns {"points" [N, H], "speed" [N], "iterations" [N]}.

    A point stops when its speed falls below `tolerance` or its damping grows past 1e12 (a
    local minimum: a slow point). Every point keeps the best state it reached.
    """
    h = np.array(starts, np.float64)
    f, jac = step(h)
    q = speed(f, h)
    damping = np.full(len(h), float(mu))
    iterations = np.zeros(len(h), np.int64)
    active = q > tolerance
    for _ in range(max_iterations):
        if not active.any():
            break
        idx = np.flatnonzero(active)
        trial = h[idx] + _lm_step(f[idx], jac[idx], h[idx], damping[idx])
        f_trial, jac_trial = step(trial)
        q_trial = speed(f_trial, trial)
        better = q_trial < q[idx]
        take = idx[better]
        h[take], f[take], jac[take], q[take] = trial[better], f_trial[better], jac_trial[better], q_trial[better]
        damping[take] = np.maximum(damping[take] / 3.0, 1e-12)
        damping[idx[~better]] *= 4.0
        iterations[idx] += 1
        active = (q > tolerance) & (damping < 1e12)
    return {"points": h, "speed": q, "iterations": iterations}


def jacobian_eigenvalues(jac: np.ndarray) -> np.ndarray:
    """Eigenvalues [N, H] (complex, sorted by decreasing modulus) of Jacobians [N, H, H]."""
    values = np.linalg.eigvals(np.asarray(jac, np.float64))
    order = np.argsort(-np.abs(values), axis=1, kind="stable")
    return np.take_along_axis(values, order, axis=1)


def unique_points(points: np.ndarray, radius: float) -> np.ndarray:
    """Index [U] of one representative per cluster of points [N, H] closer than `radius` (greedy, in order)."""
    keep: list[int] = []
    for i, p in enumerate(points):
        if all(np.linalg.norm(p - points[j]) >= radius for j in keep):
            keep.append(i)
    return np.array(keep, np.int64)


def summarise(result: dict[str, np.ndarray], eigenvalues: np.ndarray, fixed_below: float = 1e-8,
              radius: float = 1e-3) -> dict[str, Any]:
    """JSON-ready summary of a finder run: per point its speed, kind, iterations and eigenvalues.

    result from find_fixed_points; eigenvalues [N, H]. `fixed_below`: speed under which a point
    counts as fixed (else slow); `radius`: distance under which two fixed points are the same.
    """
    q = result["speed"]
    fixed = q < fixed_below
    distinct = unique_points(result["points"][fixed], radius * np.sqrt(result["points"].shape[1]))
    modulus = np.abs(eigenvalues)
    points = [{"speed": float(q[i]), "kind": "fixed" if fixed[i] else "slow",
               "iterations": int(result["iterations"][i]), "max_modulus": float(modulus[i, 0]),
               "unstable": int(np.sum(modulus[i] > 1.0)),
               "eigenvalues": [[round(float(v.real), 6), round(float(v.imag), 6)] for v in eigenvalues[i]]}
              for i in range(len(q))]
    return {"points": points, "count": int(len(q)), "fixed": int(fixed.sum()), "slow": int((~fixed).sum()),
            "distinct_fixed": int(len(distinct)), "median_speed": float(np.median(q)) if len(q) else None,
            "fixed_below": fixed_below}
