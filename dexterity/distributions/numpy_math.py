"""The built-in distributions' sampling, mode and log-probability in numpy (TensorFlow-free inference).

Pure functions of parameter arrays, twins of the TensorFlow methods in `continuous.py` and
`discrete.py` (tested against them and against closed forms). Shapes: mean, log_std, alpha, beta
[B, A]; logits [..., n]; actions as stored by the distribution.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.special import gammaln

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
_TINY = float(np.finfo(np.float32).tiny)


def gaussian_log_prob(mean: np.ndarray, log_std: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """Diagonal normal log-density of actions [B, A] -> [B]."""
    z = (np.asarray(actions, mean.dtype) - mean) * np.exp(-log_std)
    return np.sum(-0.5 * np.square(z) - log_std - _HALF_LOG_2PI, axis=-1)


def gaussian_sample(mean: np.ndarray, log_std: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """mean + std * N(0, 1) -> [B, A] float32."""
    return (mean + np.exp(log_std) * rng.standard_normal(mean.shape, dtype=np.float32)).astype(np.float32)


def beta_log_prob(alpha: np.ndarray, beta: np.ndarray, x: np.ndarray, eps: float) -> np.ndarray:
    """Log-density of independent betas at x [B, A] (clipped to [eps, 1 - eps]) -> [B]."""
    x = np.clip(np.asarray(x, np.float64), eps, 1.0 - eps)
    a, b = alpha.astype(np.float64), beta.astype(np.float64)
    log_pdf = (a - 1.0) * np.log(x) + (b - 1.0) * np.log1p(-x) - (gammaln(a) + gammaln(b) - gammaln(a + b))
    return np.sum(log_pdf, axis=-1).astype(np.float32)


def beta_sample(alpha: np.ndarray, beta: np.ndarray, rng: np.random.Generator, eps: float) -> np.ndarray:
    """Beta draws [B, A] in [eps, 1 - eps], float32."""
    return np.clip(rng.beta(alpha, beta), eps, 1.0 - eps).astype(np.float32)


def beta_mode(alpha: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """(a - 1) / (a + b - 2) where both exceed 1, else the mean a / (a + b) -> [B, A]."""
    unimodal = (alpha > 1.0) & (beta > 1.0)
    mode = (alpha - 1.0) / np.where(unimodal, alpha + beta - 2.0, 1.0)
    return np.where(unimodal, mode, alpha / (alpha + beta)).astype(np.float32)


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """[..., n] -> log-probabilities [..., n]."""
    shifted = logits - np.max(logits, axis=-1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


def categorical_log_prob(logits: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """logits [..., n], integer actions [...] -> log-probabilities [...]."""
    log_p = log_softmax(logits)
    return np.take_along_axis(log_p, np.asarray(actions, np.int64)[..., None], axis=-1)[..., 0]


def gumbel_argmax(logits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Categories [...] (int32) drawn from logits [..., n] by the Gumbel-max trick."""
    u = np.maximum(rng.random(logits.shape, dtype=np.float32), _TINY)
    return np.argmax(logits - np.log(-np.log(u)), axis=-1).astype(np.int32)
