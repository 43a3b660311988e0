"""The figure of `python -m analysis dynamics`: dynamics.png (matplotlib, Agg backend)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from analysis.plots import _grid, _plt, _save


def _autocorrelation(ax: Any, timescales: dict[str, Any]) -> None:
    """Mean autocorrelation of each module against the lag, with its exponential fit dashed."""
    for k, (name, t) in enumerate(timescales.items()):
        rho = np.array([np.nan if v is None else v for v in t["mean_rho"]], float)
        lags = np.arange(len(rho))
        tau = t["module_tau"]
        ax.plot(lags, rho, color=f"C{k % 10}", lw=1.2, label=f"{name} (tau {tau:.1f})" if tau else f"{name} (no fit)")
        if tau:
            ax.plot(lags, t["amplitude"] * np.exp(-lags / tau), color=f"C{k % 10}", lw=0.8, ls="--")
    ax.axhline(0, color="gray", lw=0.5)
    ax.set_xlabel("lag (steps)", fontsize=7)
    ax.set_title("autocorrelation (mean over units), exponential fit dashed", fontsize=8)
    ax.legend(fontsize=5)


def _unit_taus(ax: Any, timescales: dict[str, Any]) -> None:
    """Every unit's timescale per module (log scale); failed fits counted in the tick label."""
    names = list(timescales)
    for i, name in enumerate(names):
        taus = np.array([t for t in timescales[name]["unit_tau"] if t is not None], float)
        jitter = np.random.default_rng(i).uniform(-0.25, 0.25, len(taus))
        ax.scatter(np.full(len(taus), i) + jitter, taus, s=4, color=f"C{i % 10}", alpha=0.6)
    ax.set_xticks(range(len(names)), [f"{n}\n({timescales[n]['failed']} failed)" for n in names],
                  rotation=60, ha="right", fontsize=6)
    ax.set_yscale("log")
    ax.set_ylabel("tau (steps)", fontsize=7)
    ax.set_title("intrinsic timescale of every unit", fontsize=8)


def _predictability(ax: Any, predict: dict[str, Any]) -> None:
    """Bars: fraction of next-state variance predicted from the state, and from state and input."""
    names = list(predict)
    values = np.array([[np.nan if p[k] is None else p[k] for k in ("from_state", "from_state_and_input")]
                       for p in predict.values()], float).reshape(len(names), 2)
    x = np.arange(len(names))
    ax.bar(x - 0.2, np.nan_to_num(values[:, 0]), 0.4, label="from state")
    ax.bar(x + 0.2, np.nan_to_num(values[:, 1]), 0.4, label="from state and next input")
    ax.set_xticks(x, names, rotation=60, ha="right", fontsize=6)
    ax.set_ylim(min(0.0, np.nanmin(values) if np.isfinite(values).any() else 0.0), 1.0)
    ax.set_title("predictability of the next state (cross-validated R^2)", fontsize=8)
    ax.legend(fontsize=6)


def _speeds(ax: Any, cells: dict[str, Any]) -> None:
    """Sorted speed q of every point found, per recurrent cell (log scale)."""
    for k, (name, c) in enumerate(cells.items()):
        if "points" in c:
            q = np.sort([max(p["speed"], 1e-30) for p in c["points"]])
            ax.plot(q, marker=".", lw=0.8, color=f"C{k}", label=f"{name}: {c['fixed']} fixed, {c['slow']} slow")
    ax.set_yscale("log")
    ax.set_xlabel("point (sorted)", fontsize=7)
    ax.set_title("speed q = |F(h) - h|^2 / 2 at each point", fontsize=8)
    ax.legend(fontsize=6)


def _eigenvalues(ax: Any, cells: dict[str, Any]) -> None:
    """Jacobian eigenvalues at every point in the complex plane, with the unit circle."""
    angle = np.linspace(0, 2 * np.pi, 200)
    ax.plot(np.cos(angle), np.sin(angle), color="gray", lw=0.6)
    for k, (name, c) in enumerate(cells.items()):
        values = np.array([v for p in c.get("points", []) for v in p["eigenvalues"]], float).reshape(-1, 2)
        ax.scatter(values[:, 0], values[:, 1], s=3, alpha=0.4, color=f"C{k}", label=name)
    ax.set_aspect("equal")
    ax.set_title("Jacobian eigenvalues at the points", fontsize=8)
    ax.legend(fontsize=6)


def plot_dynamics(result: dict[str, Any], path: Path) -> Path:
    """Autocorrelations, unit timescales, predictability; speeds and eigenvalues for recurrent cores."""
    plt = _plt()
    cells = {k: v for k, v in result.get("fixed_points", {}).items() if "points" in v}
    panels = [_autocorrelation, _unit_taus, _predictability] + ([_speeds, _eigenvalues] if cells else [])
    data = [result["timescales"], result["timescales"], result["predictability"], cells, cells]
    rows, cols = _grid(len(panels), 3)
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 4.0 * rows), squeeze=False)
    for ax, draw, value in zip(axes.flat, panels, data):
        draw(ax, value)
        ax.tick_params(labelsize=6)
    return _save(fig, path, "network dynamics", axes, len(panels))
