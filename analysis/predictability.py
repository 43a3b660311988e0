"""Predictability: the fraction of the variance of a module's next state that the current state predicts.

A linear (ridge) map h_t -> h_t+1 is fitted on pairs of consecutive steps of the same episode
and evaluated by cross-validation over whole episodes (analysis.analyses.decode_r2). The pooled
R^2 = 1 - sum SS_res / sum SS_tot over the module's units is the fraction of next-state variance
explained. With the next observation x_t+1 added to the regressors, the difference tells how much
of the change is driven by the input rather than by the module's own dynamics. For AR(1) units
x_t+1 = a x_t + noise the predictable fraction is a^2.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from analysis.analyses import _reduce, decode_r2


def consecutive_pairs(episode: np.ndarray) -> np.ndarray:
    """Indices t [P] such that rows t and t + 1 belong to the same episode (episode [S])."""
    episode = np.asarray(episode)
    return np.flatnonzero(episode[1:] == episode[:-1])


def pooled_r2(r2: np.ndarray, y: np.ndarray) -> float | None:
    """Variance-weighted mean of per-column R^2 [d] of targets y [P, d]: 1 - sum SS_res / sum SS_tot.

    Constant columns (R^2 NaN) are left out; None when every column is constant.
    """
    ss_tot = np.sum((y - y.mean(axis=0)) ** 2, axis=0)
    keep = np.isfinite(r2) & (ss_tot > 1e-12)
    if not keep.any():
        return None
    return float(np.sum(r2[keep] * ss_tot[keep]) / np.sum(ss_tot[keep]))


def predictability(x: np.ndarray, episode: np.ndarray, inputs: np.ndarray | None = None, n_folds: int = 5,
                   max_samples: int = 4000, max_features: int = 512) -> dict[str, Any]:
    """Predictability of a module x [S, d] over time (inputs [S, m]: the observation the model read).

    Returns {"from_state": pooled cross-validated R^2 of h_t+1 from h_t, "from_state_and_input":
    the same from (h_t, x_t+1) or None without inputs, "pairs": number of step pairs used}.
    """
    x = np.asarray(x, np.float64)
    t = consecutive_pairs(episode)
    if len(t) > max_samples:
        t = t[np.linspace(0, len(t) - 1, max_samples).astype(int)]
    if len(t) < 2 * n_folds:
        return {"from_state": None, "from_state_and_input": None, "pairs": int(len(t))}
    groups = np.asarray(episode)[t]
    target, current = x[t + 1], _reduce(x[t], max_features)
    out = {"from_state": pooled_r2(decode_r2(current, target, groups, n_folds), target),
           "from_state_and_input": None, "pairs": int(len(t))}
    if inputs is not None and inputs.shape[1]:
        both = np.concatenate([current, _reduce(np.asarray(inputs, np.float64)[t + 1], max_features)], axis=1)
        out["from_state_and_input"] = pooled_r2(decode_r2(both, target, groups, n_folds), target)
    return out
