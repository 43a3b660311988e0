"""Analyses of a Recording: PCA over time, cross-validated linear decoding, representational similarity
(linear CKA) and weight statistics. numpy and scikit-learn only; each returns JSON-ready results.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from analysis.recording import Recording, flat


def representations(rec: Recording, with_inputs: bool = True) -> dict[str, np.ndarray]:
    """{name: [S, d]}: 'input' (every normalised sense, concatenated) then each layer, in call order."""
    out: dict[str, np.ndarray] = {}
    if with_inputs and rec.inputs:
        out["input"] = np.concatenate([flat(v) for v in rec.inputs.values()], axis=1)
    out.update({k: flat(v) for k, v in rec.activations.items()})
    return out


def pca(rec: Recording, components: int = 10) -> dict[str, dict[str, Any]]:
    """Per layer: explained variance ratio [k] and the projections [S, min(k, 3)] onto the top components."""
    from sklearn.decomposition import PCA
    out = {}
    for name, x in representations(rec, with_inputs=False).items():
        k = int(min(components, x.shape[1], x.shape[0]))
        if k < 1 or np.allclose(x.std(axis=0), 0):
            out[name] = {"explained_variance_ratio": [], "projection": np.zeros((len(x), 0)), "dimension": 0.0}
            continue
        model = PCA(n_components=k).fit(x)
        ratio = model.explained_variance_ratio_
        full = np.linalg.svd(x - x.mean(axis=0), compute_uv=False) ** 2
        dimension = float(full.sum() ** 2 / np.sum(full ** 2))  # participation ratio
        out[name] = {"explained_variance_ratio": ratio.tolist(), "projection": model.transform(x)[:, :3],
                     "dimension": dimension}
    return out


def _folds(groups: np.ndarray, n_folds: int) -> Any:
    """Cross-validation splitter: whole episodes per fold when there are enough, else contiguous blocks."""
    from sklearn.model_selection import GroupKFold, KFold
    if len(np.unique(groups)) >= n_folds:
        return GroupKFold(n_splits=n_folds), groups
    return KFold(n_splits=n_folds, shuffle=False), None


def decode_r2(x: np.ndarray, y: np.ndarray, groups: np.ndarray, n_folds: int = 5) -> np.ndarray:
    """Cross-validated R^2 [d_y] of a ridge regression x [S, d_x] -> y [S, d_y] (NaN for constant columns).

    Predictions of every held-out fold are pooled, then R^2 = 1 - SS_res / SS_tot per column.
    """
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    splitter, split_groups = _folds(groups, n_folds)
    pred = np.zeros_like(y, dtype=np.float64)
    for train, test in splitter.split(x, y, split_groups):
        model = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-4, 3, 8)))
        model.fit(x[train], y[train])
        pred[test] = model.predict(x[test]).reshape(len(test), -1)
    ss_tot = np.sum((y - y.mean(axis=0)) ** 2, axis=0)
    r2 = 1.0 - np.sum((y - pred) ** 2, axis=0) / np.where(ss_tot > 1e-12, ss_tot, np.nan)
    return r2


def decode(rec: Recording, n_folds: int = 5, max_samples: int = 4000) -> dict[str, Any]:
    """R^2 of every variable from every representation: {'rows', 'variables', 'r2' [rows, vars], 'per_column'}."""
    reps = representations(rec)
    index = _subsample(rec.steps, max_samples)
    groups = rec.episode[index]
    variables = _variables(rec, index)
    table = np.full((len(reps), len(variables)), np.nan)
    per_column: dict[str, dict[str, list[float | None]]] = {}
    for i, (name, x) in enumerate(reps.items()):
        per_column[name] = {}
        for j, (var, y) in enumerate(variables.items()):
            r2 = decode_r2(x[index], y, groups, n_folds)
            table[i, j] = np.nanmean(r2) if np.isfinite(r2).any() else np.nan
            per_column[name][var] = [None if not np.isfinite(v) else float(v) for v in r2]
    return {"rows": list(reps), "variables": list(variables), "r2": table, "per_column": per_column}


def _variables(rec: Recording, index: np.ndarray, split_up_to: int = 6) -> dict[str, np.ndarray]:
    """Decoding targets {name: [n, d]}: variables of at most `split_up_to` columns are split into `name[i]`;
    constant targets are left out."""
    out = {}
    for name, value in rec.variables.items():
        value = flat(value)[index]
        parts = {f"{name}[{i}]": value[:, i:i + 1] for i in range(value.shape[1])} \
            if 1 < value.shape[1] <= split_up_to else {name: value}
        out.update({k: v for k, v in parts.items() if v.std(axis=0).max() > 1e-9})
    return out


def _subsample(n: int, limit: int) -> np.ndarray:
    """Evenly spaced row indices, at most `limit` of them."""
    return np.arange(n) if n <= limit else np.linspace(0, n - 1, limit).astype(int)


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear centred kernel alignment of x [S, a] and y [S, b] (Kornblith et al. 2019), in [0, 1]."""
    x = x - x.mean(axis=0)
    y = y - y.mean(axis=0)
    cross = np.linalg.norm(y.T @ x) ** 2
    norm = np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)
    return float(cross / norm) if norm > 0 else float("nan")


def rsa(rec: Recording, max_samples: int = 2000) -> dict[str, Any]:
    """Linear CKA between every pair of representations (inputs included): {'names', 'cka' [R, R]}."""
    reps = representations(rec)
    index = _subsample(rec.steps, max_samples)
    names = list(reps)
    data = [reps[n][index].astype(np.float64) for n in names]
    cka = np.eye(len(names))
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            cka[i, j] = cka[j, i] = linear_cka(data[i], data[j])
    return {"names": names, "cka": cka}


def weight_statistics(variables: list[tuple[str, np.ndarray]]) -> list[dict[str, Any]]:
    """Per weight array: shape, mean, std, min, max, Frobenius and spectral norm, fraction near zero."""
    out = []
    for name, w in variables:
        w = np.asarray(w, np.float64)
        stats = {"name": name, "shape": list(w.shape), "size": int(w.size), "mean": float(w.mean()),
                 "std": float(w.std()), "min": float(w.min()), "max": float(w.max()),
                 "frobenius": float(np.linalg.norm(w)), "near_zero": float(np.mean(np.abs(w) < 1e-3))}
        if w.ndim >= 2:
            matrix = w.reshape(-1, w.shape[-1])
            stats["spectral_norm"] = float(np.linalg.norm(matrix, 2))
        out.append(stats)
    return out
