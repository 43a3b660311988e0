"""Analyses of a Recording: PCA over time, cross-validated linear decoding, representational similarity
(linear CKA) and weight statistics. numpy and scikit-learn only; each returns JSON-ready results.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from analysis.recording import Recording, flat
from dexterity.errors import DexterityError


def representations(rec: Recording, with_inputs: bool = True) -> dict[str, np.ndarray]:
    """{name: [S, d]}: 'input' (every normalised sense, concatenated) then each layer, in call order."""
    out: dict[str, np.ndarray] = {}
    if with_inputs and rec.inputs:
        out["input"] = np.concatenate([flat(v) for v in rec.inputs.values()], axis=1)
    out.update({k: flat(v) for k, v in rec.activations.items()})
    return out


def participation_ratio(x: np.ndarray) -> float:
    """(sum of covariance eigenvalues)^2 / sum of their squares, of x [S, d]: the effective dimension.

    Equals ||X||_F^4 / ||X'X||_F^2 for centred X, computed through the smaller Gram matrix.
    """
    x = x - x.mean(axis=0)
    gram = x @ x.T if x.shape[0] < x.shape[1] else x.T @ x
    denominator = float(np.sum(gram * gram))
    return float(np.sum(x * x) ** 2 / denominator) if denominator > 0 else 0.0


def pca(rec: Recording, components: int = 10, max_samples: int = 2000) -> dict[str, dict[str, Any]]:
    """Per layer: explained variance ratio [k], projections [S, min(k, 3)] on the top components, dimension.

    Components are fitted on at most `max_samples` evenly spaced steps; every step is projected.
    """
    from sklearn.decomposition import PCA
    index = _subsample(rec.steps, max_samples)
    out = {}
    for name, x in representations(rec, with_inputs=False).items():
        k = int(min(components, x.shape[1], len(index)))
        if k < 1 or np.allclose(x.std(axis=0), 0):
            out[name] = {"explained_variance_ratio": [], "projection": np.zeros((len(x), 0)), "dimension": 0.0}
            continue
        model = PCA(n_components=k, random_state=0).fit(x[index])
        out[name] = {"explained_variance_ratio": model.explained_variance_ratio_.tolist(),
                     "projection": model.transform(x)[:, :3], "dimension": participation_ratio(x[index])}
    return out


def splitter(groups: np.ndarray, n_folds: int, min_episodes: int) -> tuple[Any, np.ndarray | None]:
    """(cross-validation splitter, groups to split by) for steps [n] of the episodes `groups` [n]: whole
    episodes, min(n_folds, episodes) folds, when there are at least `min_episodes` (and two); else
    contiguous blocks of steps, min(n_folds, n) folds; (None, None) below two steps. The outer folds of
    decoding ask for `n_folds` episodes, the inner ones that choose its penalties for two."""
    from sklearn.model_selection import GroupKFold, KFold
    episodes = len(np.unique(groups))
    if episodes >= max(min_episodes, 2):
        return GroupKFold(n_splits=min(n_folds, episodes)), groups
    k = min(n_folds, len(groups))
    return (KFold(n_splits=k), None) if k >= 2 else (None, None)


# Ridge penalties tried, relative to the fit: alpha = n r, n its steps, for a representation scaled to
# unit total variance (so every eigenvalue of x'x / n is at most 1): r = 1e-7 is nearly least squares,
# r = 1e2 shrinks every direction at least 100-fold, nearly to the mean.
RELATIVE_ALPHAS = np.logspace(-7, 2, 10)


def ridge_paths(x: np.ndarray, y: np.ndarray, alphas: np.ndarray) -> np.ndarray:
    """Ridge coefficients [A, d_x, d_y] of centred x [n, d_x] -> centred y [n, d_y], one per alpha:
    (x'x + alpha I)^-1 x'y = V diag(1 / (lambda + alpha)) V' x'y from one eigendecomposition of the
    d_x x d_x Gram matrix x'x = V diag(lambda) V' (representations are reduced to at most 512 columns,
    1024 with the input in predictability: far cheaper than an SVD of x)."""
    evals, v = np.linalg.eigh(x.T @ x)
    evals = np.clip(evals, 0.0, None)
    vtxy = v.T @ (x.T @ y)
    return np.stack([v @ (vtxy / (evals + a)[:, None]) for a in alphas])


def _ridge_predictions(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, relative: np.ndarray
                       ) -> np.ndarray:
    """Predictions [A, n_test, d_y] of ridge fits with an intercept on (x_train, y_train), one per
    relative penalty (alpha = len(x_train) * relative)."""
    mx, my = x_train.mean(axis=0), y_train.mean(axis=0)
    paths = ridge_paths(x_train - mx, y_train - my, len(x_train) * np.asarray(relative))
    return np.matmul(x_test - mx, paths) + my  # [n, d] @ [A, d, e] -> [A, n, e]


def choose_alphas(x: np.ndarray, y: np.ndarray, groups: np.ndarray, n_folds: int,
                  relative: np.ndarray = RELATIVE_ALPHAS) -> np.ndarray:
    """Per target [d_y], the relative penalty with the least squared error over inner folds that hold out
    whole episodes: steps of one episode are alike, so leaving out single steps would favour fitting
    the episodes seen (a goal code standing in for the joint angles of that episode) over generalising.
    Too few steps to split: the largest penalty."""
    folds, split_groups = splitter(groups, n_folds, min_episodes=2)
    if folds is None:
        return np.full(y.shape[1], relative[-1])
    err = np.zeros((len(relative), y.shape[1]))
    for train, test in folds.split(x, y, split_groups):
        err += ((_ridge_predictions(x[train], y[train], x[test], relative) - y[test]) ** 2).sum(axis=1)
    return relative[np.argmin(err, axis=0)]


def decode_r2(x: np.ndarray, y: np.ndarray, groups: np.ndarray, n_folds: int = 5) -> np.ndarray:
    """Cross-validated R^2 [d_y] of a ridge regression x [S, d_x] -> y [S, d_y] (NaN for constant columns,
    and for every column when x holds a NaN or an infinity).

    The representation is centred and scaled as a whole (one factor: its total variance in the
    training folds), not unit by unit: a unit that hardly varies in the training episodes would
    otherwise be amplified into a wild prediction on a held-out one. The penalty of each target is
    chosen inside the training folds, again holding out whole episodes (choose_alphas). Predictions
    of every held-out fold are pooled, then R^2 = 1 - SS_res / SS_tot per column.
    """
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if len(x) < n_folds:
        raise DexterityError(f"--folds {n_folds}: only {len(x)} steps to decode from; record more or use fewer folds")
    if not np.isfinite(x).all():
        return np.full(y.shape[1], np.nan)
    folds, split_groups = splitter(groups, n_folds, min_episodes=n_folds)
    pred = np.zeros_like(y)
    columns = np.arange(y.shape[1])
    for train, test in folds.split(x, y, split_groups):
        xs = x / (float(np.sqrt(np.sum(x[train].var(axis=0)))) or 1.0)
        relative, which = np.unique(choose_alphas(xs[train], y[train], groups[train], n_folds), return_inverse=True)
        pred[test] = _ridge_predictions(xs[train], y[train], xs[test], relative)[which, :, columns].T
    return 1.0 - np.sum((y - pred) ** 2, axis=0) / _column_ss(y)


def _column_ss(y: np.ndarray) -> np.ndarray:
    """Sum of squared deviations from the mean per column of y [S, d]; NaN for a constant column."""
    ss = np.sum((y - y.mean(axis=0)) ** 2, axis=0)
    return np.where(ss > 1e-12, ss, np.nan)


def pooled_r2(r2: np.ndarray, y: np.ndarray) -> float:
    """One R^2 for a variable of several columns y [S, d] from their R^2 [d]: 1 - sum SS_res / sum SS_tot
    (the share of the variable's whole variance explained; NaN columns, i.e. constant ones, left out)."""
    ss_tot = _column_ss(y)
    keep = np.isfinite(r2) & np.isfinite(ss_tot)
    if not keep.any():
        return float("nan")
    return float(1.0 - np.sum((1.0 - r2[keep]) * ss_tot[keep]) / np.sum(ss_tot[keep]))


def decode(rec: Recording, n_folds: int = 5, max_samples: int = 4000, max_features: int = 512) -> dict[str, Any]:
    """R^2 of every variable from every representation: {'rows', 'variables', 'r2' [rows, vars], 'per_column',
    'by_variable'} ('by_variable': {recorded variable: [R^2 per row]}, pooled over all its columns, so
    a variable split into `name[i]` in 'variables' also has one figure).

    Representations wider than `max_features` (images, convolution maps) are first reduced by a
    fixed random projection to `max_features` dimensions.
    """
    reps = representations(rec)
    index = _subsample(rec.steps, max_samples)
    groups = rec.episode[index]
    variables = _variables(rec, index)
    if not variables:  # nothing varied: nothing to decode
        return {"rows": list(reps), "variables": [], "r2": np.zeros((len(reps), 0)),
                "per_column": {name: {} for name in reps}, "by_variable": {}}
    bounds = np.cumsum([0] + [v.shape[1] for v in variables.values()])
    targets = np.concatenate(list(variables.values()), axis=1)  # one multi-output fit per representation
    table = np.full((len(reps), len(variables)), np.nan)
    per_column: dict[str, dict[str, list[float | None]]] = {}
    wholes = _recorded_names(variables)
    by_variable: dict[str, list[float | None]] = {whole: [] for whole in wholes}
    for i, (name, x) in enumerate(reps.items()):
        r2_all = decode_r2(_reduce(x[index], max_features), targets, groups, n_folds)
        per_column[name] = {}
        for j, var in enumerate(variables):
            r2 = r2_all[bounds[j]:bounds[j + 1]]
            table[i, j] = pooled_r2(r2, variables[var])
            per_column[name][var] = [None if not np.isfinite(v) else float(v) for v in r2]
        for whole, parts in wholes.items():
            cols = np.concatenate([np.arange(bounds[j], bounds[j + 1]) for j in parts])
            value = pooled_r2(r2_all[cols], targets[:, cols])
            by_variable[whole].append(None if np.isnan(value) else value)
    return {"rows": list(reps), "variables": list(variables), "r2": table, "per_column": per_column,
            "by_variable": by_variable}


def _recorded_names(variables: dict[str, np.ndarray]) -> dict[str, list[int]]:
    """{recorded variable: indices of its entries in `variables`} (`name[i]` entries belong to `name`)."""
    out: dict[str, list[int]] = {}
    for j, key in enumerate(variables):
        whole = key[:key.rindex("[")] if key.endswith("]") and "[" in key else key
        out.setdefault(whole, []).append(j)
    return out


def _reduce(x: np.ndarray, max_features: int) -> np.ndarray:
    """x [S, d] -> [S, min(d, max_features)]: a fixed Gaussian random projection when d is larger (images,
    convolution maps); it approximately keeps the geometry of the rows (Johnson-Lindenstrauss)."""
    if x.shape[1] <= max_features:
        return x
    projection = np.random.default_rng(0).normal(size=(x.shape[1], max_features)).astype(np.float32)
    return x @ (projection / np.float32(np.sqrt(max_features)))


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
    """Linear centred kernel alignment of x [S, a] and y [S, b] (Kornblith et al. 2019), in [0, 1].

    ||y'x||^2 / (||x'x|| ||y'y||) on centred data; through the [S, S] Gram matrices when a
    representation is wider than S (images), which gives the same value.
    """
    x = x - x.mean(axis=0)
    y = y - y.mean(axis=0)
    if max(x.shape[1], y.shape[1]) > len(x):
        gx, gy = x @ x.T, y @ y.T
        cross, norm = float(np.sum(gx * gy)), np.linalg.norm(gx) * np.linalg.norm(gy)
    else:
        cross = np.linalg.norm(y.T @ x) ** 2
        norm = np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)
    return float(cross / norm) if norm > 0 else float("nan")


def rsa(rec: Recording, max_samples: int = 1000) -> dict[str, Any]:
    """Linear CKA between every pair of representations (inputs included): {'names', 'cka' [R, R]}.

    Uses the centred Gram matrices [n, n] of at most `max_samples` evenly spaced steps, once each.
    """
    reps = representations(rec)
    index = _subsample(rec.steps, max_samples)
    names = list(reps)
    grams = []
    for name in names:
        x = reps[name][index].astype(np.float64)
        x -= x.mean(axis=0)
        gram = x @ x.T
        norm = np.linalg.norm(gram)
        grams.append(gram / norm if norm > 0 else gram)
    cka = np.eye(len(names))
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            cka[i, j] = cka[j, i] = float(np.sum(grams[i] * grams[j]))
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
