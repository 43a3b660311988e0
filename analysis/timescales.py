"""Intrinsic timescales from the autocorrelation of recorded activity (numpy and scipy only).

For every unit the autocorrelation rho(k) is estimated within episodes (no pair of steps
crosses an episode boundary) and fitted with an exponential decay A exp(-k / tau) over the lags
before rho first drops to zero (Murray et al. 2014 fit the same form across trials). A module's
timescale is the fit of the variance-weighted mean autocorrelation of its units. For an AR(1)
unit x_t+1 = a x_t + noise, rho(k) = a^k, so tau = -1 / ln(a) steps.
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np

MIN_VARIANCE = 1e-12


def autocorrelation(x: np.ndarray, episode: np.ndarray, max_lag: int) -> tuple[np.ndarray, np.ndarray]:
    """Autocorrelation within episodes: x [S, d], episode [S] (rows of an episode consecutive).

    Returns (rho [max_lag + 1, d] with rho[0] = 1 where the unit varies, NaN where it does not;
    pairs [max_lag + 1], the number of step pairs behind each lag). The mean and variance are
    taken over all steps; the covariance at lag k averages every within-episode pair (t, t + k).
    """
    x = np.asarray(x, np.float64)
    x = x - x.mean(axis=0)
    variance = np.mean(x * x, axis=0)
    same = np.asarray(episode)
    cov = np.zeros((max_lag + 1, x.shape[1]))
    pairs = np.zeros(max_lag + 1, np.int64)
    for k in range(max_lag + 1):
        valid = np.flatnonzero(same[k:] == same[:len(same) - k]) if k else np.arange(len(x))
        pairs[k] = len(valid)
        if len(valid):
            cov[k] = np.mean(x[valid] * x[valid + k], axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.where(variance > MIN_VARIANCE, cov / np.where(variance > 0, variance, 1.0), np.nan)
    rho[:, variance <= MIN_VARIANCE] = np.nan
    return rho, pairs


def fit_timescale(rho: np.ndarray, min_pairs_ok: bool = True) -> dict[str, Any]:
    """Fit rho(k) ~ A exp(-k / tau) on lags 1 .. L-1, L the first lag with rho <= 0 (rho [K + 1]).

    Returns {"tau" (steps) or None, "amplitude", "lags" used, "ok", "reason" when not ok}.
    A fit fails when the unit is constant, rho(1) <= 0 (no positive correlation at lag 1), the
    optimiser does not converge, or tau comes out non-finite or beyond 10x the longest lag.
    """
    from scipy.optimize import OptimizeWarning, curve_fit
    rho = np.asarray(rho, np.float64)
    if not min_pairs_ok:
        return _failed("too few step pairs (episodes shorter than the lags)")
    if not np.all(np.isfinite(rho[:2])):
        return _failed("constant activity")
    positive = np.flatnonzero(rho[1:] <= 0)
    last = int(positive[0]) + 1 if len(positive) else len(rho)
    lags = np.arange(1, last)
    if len(lags) == 0:
        return _failed("no positive autocorrelation at lag 1")
    if len(lags) == 1:  # one point: the amplitude cannot be fitted, assume A = 1
        tau = -1.0 / np.log(rho[1]) if rho[1] < 1 else np.inf
        return _result(tau, 1.0, 1, len(rho) - 1)
    guess = max(-1.0 / np.log(np.clip(rho[1], 1e-6, 1 - 1e-6)), 1e-3)
    try:
        with warnings.catch_warnings():  # two lags fit exactly: no covariance, which we do not use
            warnings.simplefilter("ignore", OptimizeWarning)
            (amplitude, tau), _ = curve_fit(lambda k, a, t: a * np.exp(-k / t), lags, rho[lags],
                                            p0=(1.0, guess), bounds=((0.0, 1e-3), (2.0, 1e6)), maxfev=2000)
    except (RuntimeError, ValueError) as exc:
        return _failed(f"fit did not converge ({type(exc).__name__})")
    return _result(float(tau), float(amplitude), len(lags), len(rho) - 1)


def _result(tau: float, amplitude: float, lags: int, max_lag: int) -> dict[str, Any]:
    if not np.isfinite(tau) or tau > 10 * max_lag:
        return _failed(f"timescale beyond 10x the longest lag ({max_lag} steps)", lags)
    return {"tau": tau, "amplitude": amplitude, "lags": lags, "ok": True}


def _failed(reason: str, lags: int = 0) -> dict[str, Any]:
    return {"tau": None, "amplitude": None, "lags": lags, "ok": False, "reason": reason}


def module_timescales(x: np.ndarray, episode: np.ndarray, max_lag: int = 50, min_pairs: int = 20
                      ) -> dict[str, Any]:
    """Timescales of a module's units x [S, d] and of the module as a whole.

    Returns {"units": [fit per unit], "module": fit of the variance-weighted mean autocorrelation,
    "median_unit_tau": median over units with a fit (None when none), "failed": count,
    "mean_rho": [K + 1] the module autocorrelation, "max_lag": K}.
    """
    x = np.asarray(x, np.float64)
    max_lag = int(max(1, min(max_lag, len(x) - 2)))
    rho, pairs = autocorrelation(x, episode, max_lag)
    enough = pairs >= min_pairs
    usable = int(np.argmin(enough)) if not enough.all() else len(pairs)  # lags with enough pairs
    rho = rho[:max(usable, 1)]
    units = [fit_timescale(rho[:, j], usable > 1) for j in range(x.shape[1])]
    weights = np.var(x, axis=0)
    varying = np.isfinite(rho[0]) & (weights > MIN_VARIANCE)
    mean_rho = (rho[:, varying] @ weights[varying] / weights[varying].sum()) if varying.any() \
        else np.full(len(rho), np.nan)
    module = fit_timescale(mean_rho, usable > 1)
    taus = [u["tau"] for u in units if u["ok"]]
    return {"units": units, "module": module, "median_unit_tau": float(np.median(taus)) if taus else None,
            "failed": sum(not u["ok"] for u in units), "mean_rho": mean_rho.tolist(), "max_lag": len(rho) - 1}
