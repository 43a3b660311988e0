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

from analysis.analyses import _reduce, decode_r2, pooled_r2


def consecutive_pairs(episode: np.ndarray) -> np.ndarray:
    """Indices t [P] such that rows t and t + 1 belong to the same episode (episode [S])."""
    episode = np.asarray(episode)
    return np.flatnonzero(episode[1:] == episode[:-1])


def _pooled(x: np.ndarray, y: np.ndarray, groups: np.ndarray, n_folds: int) -> float | None:
    """Pooled cross-validated R^2 of y [P, d] from x [P, k]; None when every column of y is constant."""
    value = pooled_r2(decode_r2(x, y, groups, n_folds), y)
    return None if np.isnan(value) else value


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
    out = {"from_state": _pooled(current, target, groups, n_folds),
           "from_state_and_input": None, "pairs": int(len(t))}
    if inputs is not None and inputs.shape[1]:
        both = np.concatenate([current, _reduce(np.asarray(inputs, np.float64)[t + 1], max_features)], axis=1)
        out["from_state_and_input"] = _pooled(both, target, groups, n_folds)
    return out
