"""Dynamics of a recorded network: intrinsic timescales, predictability, fixed and slow points.

`activity_dynamics(rec)` needs only the recording (numpy, scipy, scikit-learn). `core_fixed_points`
needs the loaded model's recurrent cells (TensorFlow, through analysis.cells). Results are
JSON-ready dicts; the figure is drawn by analysis.dynamics_plots.
"""
from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from analysis.fixed_points import find_fixed_points, jacobian_eigenvalues, summarise
from analysis.predictability import predictability
from analysis.recording import Recording, flat
from analysis.timescales import module_timescales

MAX_UNITS = 1024  # wider modules (images, convolution maps) are left out of the per-unit analyses


def modules(rec: Recording) -> dict[str, np.ndarray]:
    """{name: [S, d]}: 'input' (the vector senses, concatenated) then every layer, in call order.

    Image senses are left out of 'input' (their pixels are not units of the network).
    """
    vectors = [flat(v) for v in rec.inputs.values() if np.asarray(v).dtype != np.uint8]
    out = {"input": np.concatenate(vectors, axis=1)} if vectors else {}
    out.update({k: flat(v) for k, v in rec.activations.items()})
    return out


def _timescale_entry(fit: dict[str, Any]) -> dict[str, Any]:
    """The JSON of one module's timescales (per-unit fits condensed to taus and failure reasons)."""
    units = fit["units"]
    reasons = Counter(u["reason"] for u in units if not u["ok"])
    module = fit["module"]
    return {"module_tau": module["tau"], "module_ok": module["ok"], "module_reason": module.get("reason"),
            "median_unit_tau": fit["median_unit_tau"], "units": len(units), "failed": fit["failed"],
            "failed_reasons": dict(reasons), "unit_tau": [u["tau"] for u in units],
            "mean_rho": [round(v, 6) if np.isfinite(v) else None for v in fit["mean_rho"]],
            "amplitude": module["amplitude"]}


def activity_dynamics(rec: Recording, max_lag: int = 50, n_folds: int = 5) -> dict[str, Any]:
    """Timescales and predictability of every module of a recording.

    Returns {"timescales": {module: entry}, "predictability": {module: entry}, "skipped": {module:
    reason}, "max_lag"}. Modules wider than MAX_UNITS units are skipped.
    """
    reps = modules(rec)
    inputs = reps.get("input")
    out: dict[str, Any] = {"timescales": {}, "predictability": {}, "skipped": {}, "max_lag": max_lag}
    for name, x in reps.items():
        if x.shape[1] > MAX_UNITS:
            out["skipped"][name] = f"{x.shape[1]} units (more than {MAX_UNITS})"
            continue
        out["timescales"][name] = _timescale_entry(module_timescales(x, rec.episode, max_lag))
        out["predictability"][name] = predictability(x, rec.episode, None if name == "input" else inputs,
                                                     n_folds)
    return out


def core_fixed_points(model: Any, rec: Recording, points: int = 64, seed: int = 0) -> dict[str, Any]:
    """Fixed and slow points of every recurrent cell of `model`, from `points` recorded states.

    The input is held at the mean input the cell read over the recording. Returns {cell name:
    summary (analysis.fixed_points.summarise) plus "state_size", "starts", "input_norm", and
    "projection" of the points and starts on the top 2 principal components of the recorded
    states} or {cell: {"error": ...}} when the recording lacks the cell.
    """
    from analysis.cells import cell_map, recorded_states, recurrent_cells
    out: dict[str, Any] = {}
    for cell in recurrent_cells(model):
        states = recorded_states(rec.activations, cell)
        if states is None or cell.name not in rec.cell_inputs:
            out[cell.name] = {"error": "the recording has no states or inputs of this cell: record again"}
            continue
        rng = np.random.default_rng(seed)
        starts = states[np.sort(rng.choice(len(states), size=min(points, len(states)), replace=False))]
        x = rec.cell_inputs[cell.name].mean(axis=0)
        step = cell_map(cell, x)
        result = find_fixed_points(step, starts)
        _, jac = step(result["points"])
        entry = summarise(result, jacobian_eigenvalues(jac))
        entry.update({"state_size": int(states.shape[1]), "starts": int(len(starts)),
                      "input": "mean recorded input", "input_norm": float(np.linalg.norm(x)),
                      "projection": _projection(states, starts, result["points"])})
        out[cell.name] = entry
    return out


def _projection(states: np.ndarray, starts: np.ndarray, points: np.ndarray) -> dict[str, Any]:
    """Starts and found points [N, 2] on the top 2 principal components of the recorded states [S, H]."""
    mean = states.mean(axis=0)
    _, _, vt = np.linalg.svd(states - mean, full_matrices=False)
    basis = vt[:2].T
    return {"starts": np.round((starts - mean) @ basis, 5).tolist(),
            "points": np.round((points - mean) @ basis, 5).tolist()}
