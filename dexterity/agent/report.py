"""Cycle statistics: the progress record of a cycle and its one-line report; the run's library versions
and memory."""
from __future__ import annotations

import platform
from typing import Any

import numpy as np


def episode_stats(episodes: list[dict[str, Any]], prefix: str = "rollout") -> dict[str, float]:
    """Return/length/success statistics of finished episodes (empty when none finished)."""
    if not episodes:
        return {f"{prefix}/episodes": 0}
    returns = np.array([e["return"] for e in episodes])
    stats = {f"{prefix}/return_mean": float(returns.mean()), f"{prefix}/return_std": float(returns.std()),
             f"{prefix}/return_min": float(returns.min()), f"{prefix}/return_max": float(returns.max()),
             f"{prefix}/length_mean": float(np.mean([e["length"] for e in episodes])),
             f"{prefix}/episodes": len(episodes)}
    successes = [e["success"] for e in episodes if "success" in e]
    if successes:
        stats[f"{prefix}/success_rate"] = float(np.mean(successes))
    goals = [e["consecutive_goals"] for e in episodes if "consecutive_goals" in e]
    if goals:
        stats[f"{prefix}/consecutive_goals"] = float(np.mean(goals))
    angles = [e["goal_angle"] for e in episodes if "goal_angle" in e]
    if angles:
        stats[f"{prefix}/goal_angle"] = float(np.mean(angles))
    return stats


def _si(x: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= scale:
            return f"{x / scale:.1f}{unit}"
    return f"{x:.0f}"


def _duration(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


def format_line(record: dict[str, Any], iterations: int, eta_s: float | None) -> str:
    """One compact line summarising a cycle's record."""
    def get(key: str, fmt: str) -> str:
        value = record.get(key)
        return format(value, fmt) if value is not None else "-"
    key = "eval" if "eval/return_mean" in record and "rollout/return_mean" not in record else "rollout"
    parts = [
        f"cycle {record['iteration'] + 1:>{len(str(iterations))}}/{iterations}",
        f"return {get(key + '/return_mean', '8.2f')} ± {get(key + '/return_std', '<7.2f')}",
        f"len {get(key + '/length_mean', '6.1f')}",
        f"eps {record.get(key + '/episodes', 0):>4}",
    ]
    if "rollout/success_rate" in record:
        parts.append(f"success {record['rollout/success_rate']:.2f}")
    if "rollout/consecutive_goals" in record:
        parts.append(f"goals {record['rollout/consecutive_goals']:.2f}")
    if "rollout/goal_angle" in record:
        parts.append(f"angle {record['rollout/goal_angle']:.2f}")
    parts += [
        f"pi {get('train/policy_loss', '+.3f')} v {get('train/value_loss', '.3f')} "
        f"ent {get('train/entropy', '.3f')} kl {get('train/approx_kl', '.4f')}",
        f"lr {get('train/lr', '.1e')}",
        f"frames {_si(record['frames'])}",
        f"{_si(record.get('time/steps_per_s', 0))} st/s (gather {get('time/gather_s', '.1f')}s, "
        f"opt {get('time/optimise_s', '.1f')}s" + (f", comm {record['time/comm_s']:.2f}s" if record.get(
            "dist/ranks", 1) > 1 else "") + ")",
    ]
    if record.get("dist/ranks", 1) > 1:
        optimising = record.get("dist/optimisers", record["dist/ranks"])
        note = f" ({optimising} optimising)" if optimising < record["dist/ranks"] else ""
        parts.append(f"{record['dist/ranks']} ranks{note} x {record['dist/workers'] // record['dist/ranks']} envs")
    if eta_s is not None:
        parts.append(f"ETA {_duration(eta_s)}")
    return " | ".join(parts)


def run_versions() -> dict[str, str]:
    """The versions of the libraries this process trains with (saved in meta.json)."""
    import gymnasium
    import tensorflow as tf
    import dexterity
    out = {"dexterity": dexterity.__version__, "python": platform.python_version(), "tensorflow": tf.__version__,
           "gymnasium": gymnasium.__version__}
    try:
        import mujoco
        out["mujoco"] = mujoco.__version__
    except ImportError:
        pass
    return out


def rss_mb() -> float:
    """This process's resident memory in MiB (0 without psutil)."""
    try:
        import psutil
        return psutil.Process().memory_info().rss / 2**20
    except ImportError:
        return 0.0
