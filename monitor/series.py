"""Turn progress records into plot-ready series: panels of the experiment page, compare groups.

The browser draws everything with plotly.js from the compact JSON built here.
"""
from __future__ import annotations

import json
from typing import Any, Iterable

import numpy as np

from .progress import RETURN_KEY, number

X_KEYS = ("iteration", "frames", "time/wall")
X_LABELS = {"iteration": "cycles", "frames": "frames", "time/wall": "wall time (s)"}


def _t(key: str, name: str, **extra: Any) -> dict[str, Any]:
    """A trace spec: progress key, legend name, options (band, y2, mode)."""
    return {"key": key, "name": name, **extra}


PANELS: list[dict[str, Any]] = [
    {"id": "return", "title": "Return", "marks": True,
     "traces": [_t(RETURN_KEY, "return (mean ± std)", band="rollout/return_std"),
                _t("eval/return_mean", "evaluation", band="eval/return_std", mode="markers")]},
    {"id": "length", "title": "Episode length", "traces": [_t("rollout/length_mean", "length")]},
    {"id": "success", "title": "Success", "traces": [
        _t("rollout/success_rate", "success rate"),
        _t("rollout/consecutive_goals", "consecutive goals (right)", y2=True)]},
    {"id": "curriculum", "title": "Goal angle (rad)", "traces": [_t("rollout/goal_angle", "goal angle bound")]},
    {"id": "loss", "title": "Policy and value loss", "traces": [
        _t("train/policy_loss", "policy loss"), _t("train/value_loss", "value loss (right)", y2=True)]},
    {"id": "entropy", "title": "Entropy", "traces": [_t("train/entropy", "entropy")]},
    {"id": "kl", "title": "Approx. KL and clip fraction", "traces": [
        _t("train/approx_kl", "approx. KL"), _t("train/clip_fraction", "clip fraction (right)", y2=True)]},
    {"id": "diagnostics", "title": "Explained variance and gradient norm", "traces": [
        _t("train/explained_variance", "explained variance"),
        _t("train/grad_norm", "grad norm (right)", y2=True)]},
    {"id": "lr", "title": "Learning rate and epochs", "traces": [
        _t("train/lr", "learning rate"), _t("train/epochs_done", "epochs done (right)", y2=True)]},
    {"id": "norm", "title": "Normaliser statistics", "traces": [
        _t("norm/state_mean", "state mean"), _t("norm/state_std", "state std"),
        _t("norm/reward_std", "reward std")]},
    {"id": "speed", "title": "Steps per second", "traces": [_t("time/steps_per_s", "steps/s")]},
    {"id": "phases", "title": "Time per phase (s)", "traces": [
        _t("time/gather_s", "gather"), _t("time/optimise_s", "optimise"),
        _t("time/comm_s", "communication"), _t("time/cycle_s", "whole cycle")]},
    {"id": "memory", "title": "Memory (MB, rank 0)", "traces": [_t("memory/rss_mb", "RSS")]},
]


def panel_keys() -> list[str]:
    """Every progress key a panel or an x axis uses."""
    keys = list(X_KEYS)
    for panel in PANELS:
        for trace in panel["traces"]:
            keys += [trace["key"]] + ([trace["band"]] if "band" in trace else [])
    return list(dict.fromkeys(keys))


def _compact(value: Any) -> float | int | None:
    """A number rounded to 6 significant digits (ints kept), None for anything else."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    value = number(value)
    return None if value is None else float(f"{value:.6g}")


def columns(records: list[dict[str, Any]], keys: Iterable[str]) -> dict[str, list]:
    """Columnar form ``{key: [value or None per record]}``; keys absent everywhere are left out."""
    out = {}
    for key in keys:
        col = [_compact(r.get(key)) for r in records]
        if key in X_KEYS or any(v is not None for v in col):
            out[key] = col
    return out


def _strip_seed(value: Any) -> Any:
    """A copy of a config without any ``seed`` entry (at any depth)."""
    if isinstance(value, dict):
        return {k: _strip_seed(v) for k, v in value.items() if k != "seed"}
    if isinstance(value, list):
        return [_strip_seed(v) for v in value]
    return value


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts flattened to ``{"a.b": value}``."""
    if not isinstance(value, dict):
        return {prefix: value} if prefix else {}
    out: dict[str, Any] = {}
    for k, v in value.items():
        out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def flat_config(config: Any) -> list[tuple[str, str]]:
    """Sorted ``(key, shown value)`` rows of a (nested) config, for a table."""
    return [(k, json.dumps(v) if not isinstance(v, str) else v)
            for k, v in sorted(_flat(config if isinstance(config, dict) else {}).items())]


def _dict(value: Any) -> dict[str, Any]:
    """``value`` if it is a dict, else an empty one."""
    return value if isinstance(value, dict) else {}


def group_key(meta: dict[str, Any]) -> str:
    """Experiments with equal env and config apart from the seed share this key."""
    return json.dumps([meta.get("env_id"), _strip_seed(meta.get("config")),
                       meta.get("reward_config")], sort_keys=True, default=str)


def group_labels(metas: list[dict[str, Any]]) -> list[str]:
    """Short labels for groups: the config entries in which they differ."""
    flats = [_flat({"env": m.get("env_id"), **_strip_seed(_dict(m.get("config")))}) for m in metas]
    keys = sorted({k for f in flats for k in f})
    differing = [k for k in keys if len({json.dumps(f.get(k), default=str) for f in flats}) > 1]
    labels = []
    for f, meta in zip(flats, metas):
        parts = [f"{k}={f.get(k)}" for k in differing[:4]]
        labels.append(", ".join(parts) or str(meta.get("preset") or meta.get("env_id") or "config"))
    return labels


def run_curve(records: list[dict[str, Any]]) -> dict[str, list]:
    """Return and the three x candidates of the records that have a return.

    When a run was resumed from an earlier checkpoint, cycles repeat: the later records win,
    so that x increases along the curve.
    """
    rows, first = [], None
    for r in reversed(records):
        row = (r.get("iteration"), r.get("frames"), r.get("time/wall"), r.get(RETURN_KEY))
        if all(number(v) is not None for v in row) and (first is None or row[0] < first):
            rows.append(row)
            first = row[0]
    rows.reverse()
    return {"iteration": [r[0] for r in rows], "frames": [r[1] for r in rows],
            "time/wall": [_compact(r[2]) for r in rows], "y": [_compact(r[3]) for r in rows]}


T_975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
         2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052,
         2.048, 2.045, 2.042)  # Student's t 0.975 quantile for 1..30 degrees of freedom


def t_975(dof: int) -> float:
    """The 0.975 quantile of Student's t with ``dof`` degrees of freedom: a table up to 30, beyond it
    the Cornish-Fisher expansion around the normal quantile z (error below 1e-4 there)."""
    if dof < 1:
        raise ValueError("degrees of freedom must be at least 1")
    if dof <= len(T_975):
        return T_975[dof - 1]
    z = 1.959964
    return z + (z ** 3 + z) / (4 * dof) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * dof ** 2)


def aggregate(curves: list[dict[str, list]], xkey: str, points: int = 300,
              band: str = "std") -> dict[str, list] | None:
    """Mean and a band across runs on a common grid of ``xkey`` (their shared x range).

    band "std": mean +- the std over runs; "ci95": the 95% confidence band of the mean,
    mean +- t(0.975, n - 1) * sample std / sqrt(n) over the n runs.
    """
    curves = [c for c in curves if len(c[xkey]) >= 2]
    if len(curves) < 2:
        return None
    lo = max(min(c[xkey]) for c in curves)
    hi = min(max(c[xkey]) for c in curves)
    if hi <= lo:
        return None
    grid = np.linspace(lo, hi, points)
    if xkey == "iteration" and hi - lo + 1 <= points:
        grid = np.arange(lo, hi + 1, dtype=float)
    ys = []
    for c in curves:
        x, y = np.asarray(c[xkey], float), np.asarray(c["y"], float)
        order = np.argsort(x, kind="stable")
        ys.append(np.interp(grid, x[order], y[order]))
    ys = np.array(ys)
    mean, std = ys.mean(axis=0), ys.std(axis=0)
    if band == "ci95":
        std = t_975(len(ys) - 1) * ys.std(axis=0, ddof=1) / np.sqrt(len(ys))

    def rounded(a: np.ndarray) -> list[float]:
        return [float(f"{v:.6g}") for v in a]

    return {"x": rounded(grid), "mean": rounded(mean), "low": rounded(mean - std),
            "high": rounded(mean + std)}
