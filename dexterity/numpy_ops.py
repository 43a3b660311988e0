"""TensorFlow-free forward passes of the built-in layer types, fed with the Keras layers' weights.

Pure functions (`dense`, `simple_rnn`, `lstm`, `gru`) compute one layer on float32 arrays
[B, F]; `NumpyOps` runs a model's `forward(obs, state, ops)` with them instead of the Keras
layers (`dexterity.models.base.TensorOps` is the TensorFlow twin). Weights are copied from
the Keras variables by `NumpyOps.load()`; nothing here imports TensorFlow or Keras.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

Array = np.ndarray


class Unsupported(Exception):
    """A layer without a numpy twin (e.g. convolutions): the model keeps the TensorFlow path."""


def sigmoid(x: Array) -> Array:
    """Logistic function, overflow-free for large |x|."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def softplus(x: Array) -> Array:
    """log(1 + exp(x)), overflow-free."""
    return np.logaddexp(np.zeros((), x.dtype), x)


ACTIVATIONS: dict[str, Callable[[Array], Array]] = {
    "linear": lambda x: x, "tanh": np.tanh, "relu": lambda x: np.maximum(x, 0.0), "sigmoid": sigmoid,
}


def dense(x: Array, kernel: Array, bias: Array | None, activation: str = "linear") -> Array:
    """x [B, F] @ kernel [F, U] + bias [U], then the activation -> [B, U]."""
    y = x @ kernel
    if bias is not None:
        y += bias
    return ACTIVATIONS[activation](y)


def simple_rnn(x: Array, h: Array, kernel: Array, recurrent: Array, bias: Array) -> Array:
    """Elman cell: tanh(x W + h U + b); x [B, F], h [B, U] -> new h [B, U]."""
    return np.tanh(x @ kernel + h @ recurrent + bias)


def lstm(x: Array, h: Array, c: Array, kernel: Array, recurrent: Array, bias: Array) -> tuple[Array, Array]:
    """LSTM cell with gates ordered (input, forget, cell, output) as Keras stores them -> (h, c) [B, U]."""
    u = h.shape[-1]
    z = x @ kernel + h @ recurrent + bias
    i, f, g, o = z[:, :u], z[:, u:2 * u], z[:, 2 * u:3 * u], z[:, 3 * u:]
    c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
    return sigmoid(o) * np.tanh(c), c


def gru(x: Array, h: Array, kernel: Array, recurrent: Array, bias: Array) -> Array:
    """GRU cell with reset after the recurrent matmul (Keras `reset_after=True`), gates (update, reset,
    candidate); bias [2, 3U] = (input bias, recurrent bias) -> new h [B, U]."""
    u = h.shape[-1]
    xs, hs = x @ kernel + bias[0], h @ recurrent + bias[1]
    zr = sigmoid(xs[:, :2 * u] + hs[:, :2 * u])
    z, r = zr[:, :u], zr[:, u:]
    candidate = np.tanh(xs[:, 2 * u:] + r * hs[:, 2 * u:])
    return z * h + (1.0 - z) * candidate


# ---- Keras layers -> numpy callables ---------------------------------------------------------

def _value(variable: Any) -> Array:
    return np.array(variable.numpy(), dtype=np.float32)


def _keras_class(layer: Any) -> str:
    """The Keras class name of a layer that is exactly a Keras built-in ('' for any other class)."""
    cls = type(layer)
    return cls.__name__ if cls.__module__.startswith("keras.") else ""


def _check_config(layer: Any, expected: dict[str, Any]) -> None:
    config = layer.get_config()
    for key, value in expected.items():
        if key in config and config[key] != value:
            raise Unsupported(f"{layer.name}: {key}={config[key]!r} has no numpy twin")


class DenseLayer:
    """keras.layers.Dense: [B, F] -> [B, U]."""

    def __init__(self, layer: Any):
        self.layer = layer
        self.activation = layer.get_config()["activation"]
        if not isinstance(self.activation, str) or self.activation not in ACTIVATIONS:
            raise Unsupported(f"{layer.name}: activation {self.activation!r} has no numpy twin")
        self.kernel: Array = np.zeros((0, 0), np.float32)
        self.bias: Array | None = None

    def load(self) -> None:
        self.kernel = _value(self.layer.kernel)
        self.bias = _value(self.layer.bias) if self.layer.use_bias else None

    def __call__(self, x: Array) -> Array:
        return dense(x, self.kernel, self.bias, self.activation)


class CellLayer:
    """SimpleRNNCell, LSTMCell or GRUCell (Keras defaults): (x [B, F], state) -> (h [B, U], new state)."""

    def __init__(self, layer: Any, kind: str):
        self.layer, self.kind = layer, kind
        defaults = {"activation": "tanh", "use_bias": True, "dropout": 0.0, "recurrent_dropout": 0.0}
        if kind != "SimpleRNNCell":
            defaults["recurrent_activation"] = "sigmoid"
        if kind == "GRUCell":
            defaults["reset_after"] = True
        _check_config(layer, defaults)
        self.weights: list[Array] = []

    def load(self) -> None:
        self.weights = [_value(v) for v in (self.layer.kernel, self.layer.recurrent_kernel, self.layer.bias)]

    def __call__(self, x: Array, state: list[Array]) -> tuple[Array, list[Array]]:
        if self.kind == "LSTMCell":
            h, c = lstm(x, state[0], state[1], *self.weights)
            return h, [h, c]
        h = (gru if self.kind == "GRUCell" else simple_rnn)(x, state[0], *self.weights)
        return h, [h]


def numpy_layer(layer: Any) -> Any:
    """The numpy twin of a layer: a Keras Dense or recurrent cell, or a layer with a `numpy_layer()`
    method (the distributions' heads); raises Unsupported for anything else."""
    own = getattr(layer, "numpy_layer", None)
    if own is not None:
        return own()
    kind = _keras_class(layer)
    if kind == "Dense":
        return DenseLayer(layer)
    if kind in ("SimpleRNNCell", "LSTMCell", "GRUCell"):
        return CellLayer(layer, kind)
    raise Unsupported(f"layer {getattr(layer, 'name', layer)} ({type(layer).__name__}) has no numpy twin")


class NumpyOps:
    """The operations a model's `forward` uses, on numpy arrays with numpy twins of its layers."""

    def __init__(self, layers: list[Any]):
        self.twins = {id(layer): numpy_layer(layer) for layer in layers}

    def load(self) -> None:
        """Copy every layer's current Keras weights."""
        for twin in self.twins.values():
            twin.load()

    def apply(self, layer: Any, x: Array) -> Array:
        return self.twins[id(layer)](x)

    def cell(self, layer: Any, x: Array, state: list[Array]) -> tuple[Array, list[Array]]:
        return self.twins[id(layer)](x, list(state))

    @staticmethod
    def concat(parts: list[Array]) -> Array:
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=-1)

    @staticmethod
    def floats(x: Array) -> Array:
        return np.asarray(x, np.float32)

    @staticmethod
    def rows(x: Array, width: int) -> Array:
        """[B, ...] -> [B, width]."""
        return np.reshape(np.asarray(x, np.float32), (-1, width))

    @staticmethod
    def first_column(x: Array) -> Array:
        return x[:, 0]
