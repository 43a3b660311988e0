"""TensorFlow-free acting for the built-in models: the per-step cost of a rollout without a TF call.

A TensorFlow call costs 0.1-0.7 ms depending on the machine, the numpy forward pass of a small
network 0.02 ms; on cheap envs that decides the gather rate. `NumpyPolicy` runs a built-in model's
`forward(obs, state, ops)` with `NumpyOps` (numpy twins of its layers, weights copied from Keras)
and the distribution's numpy twins (`np_sample`, `np_mode`, `np_log_prob`). It re-reads the
weights whenever `model.weights_version` moved (the learner bumps it after each optimisation).

`NumpyPolicy.create` returns None, and the policy acts through TensorFlow, for models or
distributions without twins (custom ones, image encoders) and when a check on random inputs
finds the twin differs from the Keras model.

The forward pass runs with numpy's BLAS limited to one thread (`OneBlasThread`): at a rollout's
batch sizes (a few hundred rows, layers of <= 256 units) threads gain little, and OpenBLAS's idle
threads keep spinning after each matmul, taking the cores the env workers step on while this
process waits for them. Measured on a loaded 2-core AMD EPYC (ManipulateBlock-v0, 128 envs, the
`shadow` GRU model): forward 1.3 ms per step instead of ~28 ms, gather 2.7-3.3x faster (docs/benchmark.md).
The results are bitwise those of the threaded matmuls (OpenBLAS splits the output among threads,
not the sums; checked at the model's shapes by tests/test_numpy_inference.py).
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from dexterity.agent.acting import zero_ended
from dexterity.numpy_ops import NumpyOps, Unsupported

TOLERANCE = 1e-4  # largest relative difference from the Keras model accepted by the check at creation


class OneBlasThread:
    """Context manager: numpy's BLAS libraries on one thread inside, their thread counts back outside.

    ~0.005 ms to enter and leave with numpy's and scipy's OpenBLAS loaded (threadpoolctl's own `limit`
    takes 0.02 ms, 40% of a whole act call at HalfCheetah's batch of 8); re-entrant; a no-op without
    threadpoolctl.
    """

    def __init__(self) -> None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            self.libraries: list[Any] = []
        else:  # the BLAS libraries loaded now (numpy's is, by the time a policy exists)
            self.libraries = [lib for lib in ThreadpoolController().lib_controllers if lib.user_api == "blas"]
        self._saved: list[list[int]] = []

    def __enter__(self) -> None:
        saved = [lib.get_num_threads() for lib in self.libraries]
        for lib, threads in zip(self.libraries, saved):
            if threads != 1:
                lib.set_num_threads(1)
        self._saved.append(saved)

    def __exit__(self, *exc: Any) -> None:
        for lib, threads in zip(self.libraries, self._saved.pop()):
            if threads != 1:
                lib.set_num_threads(threads)


def _owner(cls: type, name: str) -> type | None:
    return next((c for c in cls.__mro__ if name in c.__dict__), None)


def unsupported_reason(model: Any, distribution: Any) -> str | None:
    """Why `model` and `distribution` cannot act in numpy (None: they can)."""
    cls = type(model)
    if not callable(getattr(model, "forward", None)) or _owner(cls, "forward") is not _owner(cls, "step"):
        return f"model {cls.__name__} has no forward(obs, state, ops) behind its step"
    if not getattr(distribution, "has_numpy_twins", False):
        return f"distribution {type(distribution).__name__} has no numpy twins"
    return None


class NumpyPolicy:
    """act / value of a built-in model in numpy; holds its own sampling generator."""

    def __init__(self, model: Any, distribution: Any, ops: NumpyOps, seed: int):
        self.model, self.distribution, self.ops = model, distribution, ops
        self.rng = np.random.Generator(np.random.PCG64(seed))
        self.version: int | None = None
        self.one_blas_thread = OneBlasThread()

    @classmethod
    def create(cls, model: Any, distribution: Any, seed: int) -> "NumpyPolicy | None":
        """The numpy twin of (model, distribution), checked on random inputs; None where there is none."""
        reason = unsupported_reason(model, distribution)
        if reason is not None:
            return None
        try:
            twin = cls(model, distribution, NumpyOps(model.layers), seed)
        except Unsupported:
            return None
        difference = twin.check()
        if not difference <= TOLERANCE:
            warnings.warn(f"numpy inference differs from the Keras model by {difference:.2g}: acting through "
                          f"TensorFlow instead", RuntimeWarning, stacklevel=2)
            return None
        return twin

    def _sync(self) -> None:
        if self.version != self.model.weights_version:
            self.ops.load()
            self.version = self.model.weights_version

    def step(self, obs: dict[str, np.ndarray], state: list[np.ndarray], reset: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
        """obs [B, ...], state [B, units] each, reset [B] -> params [B, P], value [B], new state."""
        self._sync()
        with self.one_blas_thread:
            params, value, new_state = self.model.forward(obs, zero_ended(state, reset), self.ops)
        return params, value, [np.asarray(s, np.float32) for s in new_state]

    def act(self, obs: dict[str, np.ndarray], state: list[np.ndarray], reset: np.ndarray,
            deterministic: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]:
        """Like `Policy.act`: actions [B, ...], log_probs [B], values [B], new state."""
        params, value, new_state = self.step(obs, state, reset)
        dist = self.distribution
        actions = dist.np_mode(params) if deterministic else dist.np_sample(params, self.rng)
        actions = np.asarray(actions, dist.action_dtype)
        return actions, dist.np_log_prob(params, actions), value.astype(np.float32), new_state

    def value(self, obs: dict[str, np.ndarray], state: list[np.ndarray], reset: np.ndarray) -> np.ndarray:
        return self.step(obs, state, reset)[1].astype(np.float32)

    def check(self, batch: int = 3) -> float:
        """Largest relative difference |a - b| / (1 + |b|) from the Keras model (params, value, new state, log-probs) on random inputs."""
        import tensorflow as tf
        rng = np.random.default_rng(0)
        obs = {s.name: rng.normal(size=(batch, *s.shape)).astype(np.float32) for s in self.model.senses}
        state = [rng.normal(size=(batch, size)).astype(np.float32) for size in self.model.state_sizes()]
        params, value, new_state = self.step(obs, state, np.zeros(batch, np.float32))
        expected = self.model.step({k: tf.constant(v) for k, v in obs.items()}, [tf.constant(s) for s in state])
        actions = self.distribution.np_mode(params)
        pairs = [(params, expected[0]), (value, expected[1]), *zip(new_state, expected[2]),
                 (self.distribution.np_log_prob(params, actions),
                  self.distribution.log_prob(expected[0], tf.constant(actions)))]
        return max(float(np.max(np.abs(np.asarray(a) - b) / (1.0 + np.abs(b)), initial=0.0))
                   for a, b in ((a, np.asarray(b)) for a, b in pairs))
