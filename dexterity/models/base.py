"""The model contract and the architecture registry.

A model maps one time step of observations and a recurrent state to policy parameters, a value
and the next state:

    params [B, P], value [B], new_state = model.step(obs: dict[name, [B, *shape]], state)

`state` is a list of [B, units] tensors (empty for feed-forward models) created by
`initial_state(B)`; the agent zeroes it where episodes start, so models never see resets. For
truncated backpropagation through time the agent unrolls `step` over sequences of `tbptt`
steps. `variables` must list every weight (they are what is saved and averaged across ranks).
The built-in models write `step` once as `forward(obs, state, ops)`, so that rollouts can run it
in numpy (`dexterity.agent.numpy_policy`); custom models need not, they act through TensorFlow.

Register a builder with `@register_architecture("name")`; it is called as
`builder(senses, distribution, model_type, shared, config) -> BaseModel` and selected with
`train.py --architecture name`.
"""
from __future__ import annotations

import abc
from typing import Any, Callable

import keras
import numpy as np
import tensorflow as tf

from dexterity.errors import ConfigError
from dexterity.spaces import ASYMMETRIC_KEY, Sense

Builder = Callable[..., "BaseModel"]
_ARCHITECTURES: dict[str, Builder] = {}
RECURRENT_TYPES = ("rnn", "lstm", "gru")


class BaseModel(abc.ABC):
    """Policy and value network; subclasses create keras layers in __init__ and implement step."""

    weights_version: int = 0  # bumped whenever the weights change (numpy inference re-reads them then)

    def __init__(self, senses: list[Sense], distribution: Any):
        self.senses = senses
        self.distribution = distribution

    @abc.abstractmethod
    def step(self, obs: dict[str, tf.Tensor], state: list[tf.Tensor]
             ) -> tuple[tf.Tensor, tf.Tensor, list[tf.Tensor]]:
        """One time step: obs [B, *shape] per sense -> (params [B, P], value [B], new state)."""

    def state_sizes(self) -> list[int]:
        """Widths of the recurrent state tensors (empty for feed-forward models)."""
        return []

    @property
    def recurrent(self) -> bool:
        """Whether the model carries state: the one answer the agent, learner and checks use."""
        return bool(self.state_sizes())

    def initial_state(self, batch: int) -> list[tf.Tensor]:
        return [tf.zeros((batch, size), tf.float32) for size in self.state_sizes()]

    @property
    @abc.abstractmethod
    def layers(self) -> list[keras.layers.Layer]:
        """Every keras layer of the model, in a fixed order."""

    @property
    def variables(self) -> list[Any]:
        seen, out = set(), []
        for layer in self.layers:
            for v in layer.weights:
                if id(v) not in seen:
                    seen.add(id(v))
                    out.append(v)
        return out

    @property
    def trainable_variables(self) -> list[Any]:
        return [v for v in self.variables if v.trainable]

    def build(self) -> None:
        """Create every weight by running one step on zeros."""
        obs = {s.name: tf.zeros((1, *s.shape), tf.float32) for s in self.senses}
        self.step(obs, self.initial_state(1))

    def get_weights(self) -> list[np.ndarray]:
        return [np.array(v.numpy()) for v in self.variables]

    def set_weights(self, weights: list[np.ndarray]) -> None:
        variables = self.variables
        if len(weights) != len(variables):
            raise ValueError(f"expected {len(variables)} weight arrays, got {len(weights)}")
        for v, w in zip(variables, weights):
            if tuple(v.shape) != tuple(w.shape):
                raise ValueError(f"weight {v.path}: expected shape {tuple(v.shape)}, got {tuple(w.shape)}")
            v.assign(w)
        self.mark_weights_changed()

    def mark_weights_changed(self) -> None:
        """Tell copies of the weights (the numpy inference twin) to re-read them; `set_weights` and the
        learner call it, and so must any other code that assigns to the variables."""
        self.weights_version = self.weights_version + 1


def register_architecture(name: str) -> Callable[[Builder], Builder]:
    """Decorator: make a model builder selectable with `--architecture name`."""
    def decorate(builder: Builder) -> Builder:
        existing = _ARCHITECTURES.get(name)
        if existing is not None and existing.__module__ != builder.__module__ \
                and existing.__module__.startswith("dexterity."):
            raise ConfigError(f"architecture name '{name}' is taken by the built-in one ({existing.__module__}); "
                              f"register yours under another name")
        _ARCHITECTURES[name] = builder
        return builder
    return decorate


def list_architectures() -> list[str]:
    return sorted(_ARCHITECTURES)


def build_model(config: dict[str, Any], senses: list[Sense], distribution: Any) -> BaseModel:
    """Build (and initialise the weights of) the model the config names, then check its contract.

    A builder from a user module (not `dexterity.*`) that raises, returns something else than a
    BaseModel, or whose `step` gives wrongly shaped outputs, becomes a ConfigError naming the
    architecture, the module that registered it and what is wrong.
    """
    name = config["architecture"]
    if name not in _ARCHITECTURES:
        raise ConfigError(f"unknown architecture '{name}'; known: {', '.join(list_architectures())}")
    builder = _ARCHITECTURES[name]
    module = getattr(builder, "__module__", None) or "?"
    where = f"architecture '{name}' (registered by {module})"
    try:
        model = builder(senses, distribution, config["model"], config["shared"], config)
        if not isinstance(model, BaseModel):
            raise ConfigError(f"{where}: builder returned {type(model).__name__}, not a BaseModel")
        model.build()
        batch = 2
        obs = {s.name: tf.zeros((batch, *s.shape), tf.float32) for s in senses}
        state = model.initial_state(batch)
        params, value, new_state = model.step(obs, state)
    except ConfigError:
        raise
    except Exception as exc:
        if module.startswith("dexterity."):
            raise
        raise ConfigError(f"{where} failed to build: {type(exc).__name__}: {exc}") from exc
    problems = _contract_problems(model, distribution, batch, params, value, state, new_state)
    if problems:
        raise ConfigError(f"{where} breaks the model contract: {'; '.join(problems)}")
    return model


def _shape(x: Any) -> tuple | None:
    shape = getattr(x, "shape", None)
    return None if shape is None else tuple(int(d) if d is not None else -1 for d in shape)


def _contract_problems(model: BaseModel, distribution: Any, batch: int, params: Any, value: Any,
                       state: list[Any], new_state: Any) -> list[str]:
    """What is wrong with one step's outputs on a batch of `batch` zero observations (empty: nothing)."""
    problems = []
    want = (batch, int(distribution.param_size))
    if _shape(params) != want:
        problems.append(f"policy params have shape {_shape(params)}, expected {want} "
                        f"(batch, param_size of the {type(distribution).__name__} distribution)")
    if _shape(value) != (batch,):
        problems.append(f"value has shape {_shape(value)}, expected ({batch},) (one value per row, no trailing 1)")
    want_state = [(batch, int(size)) for size in model.state_sizes()]
    if [_shape(s) for s in state] != want_state:
        problems.append(f"initial_state({batch}) has shapes {[_shape(s) for s in state]}, expected {want_state} "
                        f"from state_sizes()")
    if not isinstance(new_state, (list, tuple)):
        problems.append(f"new state is a {type(new_state).__name__}, expected a list of tensors")
    elif [_shape(s) for s in new_state] != want_state:
        problems.append(f"new state has shapes {[_shape(s) for s in new_state]}, expected {want_state} "
                        f"from state_sizes()")
    if not model.trainable_variables:
        problems.append("it has no trainable variables (list every keras layer in `layers`)")
    return problems


# ---- building blocks -------------------------------------------------------------------------

class TensorOps:
    """The operations a built-in model's `forward(obs, state, ops)` uses, on TensorFlow tensors.

    `dexterity.numpy_ops.NumpyOps` is the TensorFlow-free twin: the same `forward` then runs
    in numpy for inference, so each architecture's wiring is written once.
    """

    @staticmethod
    def apply(layer: Any, x: tf.Tensor) -> tf.Tensor:
        return layer(x)

    @staticmethod
    def cell(layer: Any, x: tf.Tensor, state: list[tf.Tensor]) -> tuple[tf.Tensor, list[tf.Tensor]]:
        h, new_state = layer(x, list(state))
        return h, list(new_state)

    @staticmethod
    def concat(parts: list[tf.Tensor]) -> tf.Tensor:
        return parts[0] if len(parts) == 1 else tf.concat(parts, axis=-1)

    @staticmethod
    def floats(x: tf.Tensor) -> tf.Tensor:
        return tf.cast(x, tf.float32)

    @staticmethod
    def rows(x: tf.Tensor, width: int) -> tf.Tensor:
        """[B, ...] -> [B, width] float32."""
        return tf.reshape(tf.cast(x, tf.float32), (-1, width))

    @staticmethod
    def first_column(x: tf.Tensor) -> tf.Tensor:
        return x[:, 0]


TENSOR_OPS = TensorOps()


def dense(units: int, name: str, gain: float = float(np.sqrt(2)), activation: str | None = "tanh"
          ) -> keras.layers.Dense:
    """Dense layer with orthogonal kernel init (gain) and zero bias."""
    return keras.layers.Dense(units, activation=activation, name=name,
                              kernel_initializer=keras.initializers.Orthogonal(gain),
                              bias_initializer="zeros")


def recurrent_cell(model_type: str, units: int, name: str) -> keras.layers.Layer:
    """A keras RNN cell: rnn (tanh), lstm or gru, orthogonal init."""
    kwargs = dict(kernel_initializer=keras.initializers.Orthogonal(1.0),
                  recurrent_initializer=keras.initializers.Orthogonal(1.0), name=name)
    if model_type == "rnn":
        return keras.layers.SimpleRNNCell(units, **kwargs)
    if model_type == "lstm":
        return keras.layers.LSTMCell(units, **kwargs)
    if model_type == "gru":
        return keras.layers.GRUCell(units, reset_after=True, **kwargs)
    raise ConfigError(f"unknown model type '{model_type}'; use ffn, rnn, lstm or gru")


def cell_state_sizes(model_type: str, units: int) -> list[int]:
    return [units, units] if model_type == "lstm" else [units]


class VisualEncoder:
    """Small CNN for [B, H, W, C] images in [0, 1] -> [B, features]; the part pretrain.py trains."""

    def __init__(self, name: str = "visual_encoder", features: int = 256):
        init = keras.initializers.Orthogonal(float(np.sqrt(2)))
        self.layers = [
            keras.layers.Conv2D(32, 8, strides=4, activation="relu", kernel_initializer=init, name=f"{name}_conv1"),
            keras.layers.Conv2D(64, 4, strides=2, activation="relu", kernel_initializer=init, name=f"{name}_conv2"),
            keras.layers.Conv2D(64, 3, strides=1, activation="relu", kernel_initializer=init, name=f"{name}_conv3"),
            keras.layers.Flatten(name=f"{name}_flatten"),
            keras.layers.Dense(features, activation="relu", kernel_initializer=init, name=f"{name}_dense"),
        ]

    def __call__(self, images: tf.Tensor) -> tf.Tensor:
        x = images
        for layer in self.layers:
            x = layer(x)
        return x


def split_senses(senses: list[Sense]) -> tuple[list[Sense], list[Sense], list[Sense]]:
    """(vector senses the policy reads, image senses, asymmetric senses only the value reads)."""
    vectors = [s for s in senses if not s.is_image and s.name != ASYMMETRIC_KEY]
    images = [s for s in senses if s.is_image]
    asymmetric = [s for s in senses if s.name == ASYMMETRIC_KEY]
    return vectors, images, asymmetric
