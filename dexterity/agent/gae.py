"""Generalised advantage estimation (pure numpy)."""
from __future__ import annotations

import numpy as np


def compute_gae(rewards: np.ndarray, values: np.ndarray, next_values: np.ndarray, terminated: np.ndarray,
                truncated: np.ndarray, discount: float, lam: float) -> tuple[np.ndarray, np.ndarray]:
    """Advantages and value targets of a rollout, termination and truncation kept apart.

    All arrays are [T, N] (time, environment). `next_values[t]` is the value of the observation
    that followed step t: of the next step's observation, of the final observation where the
    episode was truncated at t, and the bootstrap value at t = T-1. A terminated step does not
    bootstrap (the future is worth 0); a truncated one does, but the advantage recursion stops at
    any episode end.

    Returns (advantages [T, N], returns [T, N]) with returns = advantages + values, float32.
    """
    rewards = np.asarray(rewards, np.float64)
    terminated = np.asarray(terminated, bool)
    done = terminated | np.asarray(truncated, bool)
    deltas = rewards + discount * np.where(terminated, 0.0, next_values) - values
    advantages = np.zeros_like(deltas)
    running = np.zeros(deltas.shape[1:])
    for t in range(deltas.shape[0] - 1, -1, -1):
        running = deltas[t] + discount * lam * np.where(done[t], 0.0, running)
        advantages[t] = running
    return advantages.astype(np.float32), (advantages + values).astype(np.float32)


def explained_variance(predictions: np.ndarray, targets: np.ndarray) -> float:
    """1 - Var[targets - predictions] / Var[targets]; nan when the targets are constant."""
    var = np.var(targets)
    return float("nan") if var == 0 else float(1.0 - np.var(targets - predictions) / var)
