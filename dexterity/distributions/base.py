"""The policy-distribution contract, the registry and helpers shared by the built-in families.

See the package docstring (`dexterity.distributions`) for how to add a distribution.
"""
from __future__ import annotations

import abc
from typing import Any, Callable

import gymnasium as gym
import keras
import numpy as np
import tensorflow as tf

from dexterity.errors import ConfigError

HEAD_GAIN = 0.01  # orthogonal-init gain of every policy head's kernel


class BasePolicyDistribution(abc.ABC):
    """A family of action distributions, stateless: every method is a function of `params`.

    Subclasses set, in `__init__` after validating the action space, the attributes
    `param_size` (width P of a parameter vector), `action_shape` (shape of ONE stored action)
    and `action_dtype`; the class attributes `name` (set by `register_distribution`) and
    `is_continuous`. Tensors: params [B, P], actions [B, *action_shape].
    `xla_sampling` is False where `sample` uses an op without an XLA kernel (inference then
    samples in plain graph mode instead of trying to compile it).
    """

    name: str = ""
    is_continuous: bool = False
    xla_sampling: bool = True
    param_size: int
    action_shape: tuple[int, ...]
    action_dtype: np.dtype

    def __init__(self, action_space: gym.spaces.Space, **options: Any):
        """Options a family does not use are ignored (the agent passes e.g. `bins` to all)."""
        self.action_space = action_space
        self.options = dict(options)

    @abc.abstractmethod
    def build_head(self, name: str = "policy_head") -> keras.layers.Layer:
        """A layer mapping features [B, F] -> params [B, P]."""

    @abc.abstractmethod
    def sample(self, params: tf.Tensor, generator: tf.random.Generator) -> tf.Tensor:
        """Random actions [B, *action_shape]; deterministic given the generator state."""

    @abc.abstractmethod
    def mode(self, params: tf.Tensor) -> tf.Tensor:
        """Deterministic actions [B, *action_shape]."""

    @abc.abstractmethod
    def log_prob(self, params: tf.Tensor, actions: tf.Tensor) -> tf.Tensor:
        """Log-probability (density) of stored actions [B, *action_shape] -> [B]."""

    @abc.abstractmethod
    def entropy(self, params: tf.Tensor) -> tf.Tensor:
        """Entropy [B]."""

    @abc.abstractmethod
    def kl(self, params_p: tf.Tensor, params_q: tf.Tensor) -> tf.Tensor:
        """KL(p || q) [B]."""

    @abc.abstractmethod
    def to_env(self, actions: np.ndarray) -> np.ndarray:
        """Stored actions [B, *action_shape] (numpy) -> actions the env accepts [B, *space.shape]."""

    # ---- optional numpy twins (TensorFlow-free inference; see dexterity.agent.numpy_policy) ----
    # A distribution without them acts through TensorFlow: `has_numpy_twins` is then False and
    # these are never called; the errors below only say so if one is called directly.

    def np_sample(self, params: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """`sample` in numpy: params [B, P] -> actions [B, *action_shape]."""
        raise NotImplementedError(f"{type(self).__name__} has no numpy sampler (it acts through TensorFlow)")

    def np_mode(self, params: np.ndarray) -> np.ndarray:
        """`mode` in numpy: params [B, P] -> actions [B, *action_shape]."""
        raise NotImplementedError(f"{type(self).__name__} has no numpy mode (it acts through TensorFlow)")

    def np_log_prob(self, params: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """`log_prob` in numpy: params [B, P], actions [B, *action_shape] -> [B] float32."""
        raise NotImplementedError(f"{type(self).__name__} has no numpy log-probability (it acts through TensorFlow)")

    @property
    def has_numpy_twins(self) -> bool:
        """Whether `np_sample`, `np_mode` and `np_log_prob` are defined by the same class as their
        TensorFlow methods (a subclass that overrides `sample` but inherits `np_sample` has none)."""
        cls = type(self)
        return all(_owner(cls, "np_" + name) is _owner(cls, name) is not BasePolicyDistribution
                   for name in ("sample", "mode", "log_prob"))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, param_size={self.param_size}, " \
               f"action_shape={self.action_shape})"


_REGISTRY: dict[str, type[BasePolicyDistribution]] = {}


def register_distribution(name: str) -> Callable[[type], type]:
    """Class decorator: register a BasePolicyDistribution subclass under `name` and set its `name`."""
    def decorator(cls: type) -> type:
        if not (isinstance(cls, type) and issubclass(cls, BasePolicyDistribution)):
            raise TypeError(f"@register_distribution({name!r}) needs a subclass of BasePolicyDistribution, got {cls!r}")
        old = _REGISTRY.get(name)
        if old is not None and _qualified(old) != _qualified(cls):
            raise ConfigError(f"distribution name '{name}' is already registered by {_qualified(old)}")
        missing = sorted(getattr(cls, "__abstractmethods__", ()))
        if missing:
            raise ConfigError(f"distribution '{name}' ({_qualified(cls)}) does not implement "
                              f"{', '.join(missing)} (abstract methods of BasePolicyDistribution)")
        cls.name = name
        _REGISTRY[name] = cls
        return cls
    return decorator


def _owner(cls: type, name: str) -> type | None:
    """The class in `cls`'s MRO that defines attribute `name`."""
    return next((c for c in cls.__mro__ if name in c.__dict__), None)


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def list_distributions() -> list[str]:
    """Registered distribution names, sorted."""
    return sorted(_REGISTRY)


def get_distribution(name: str, action_space: gym.spaces.Space, **options: Any) -> BasePolicyDistribution:
    """An instance of the distribution registered as `name` for `action_space`."""
    if name not in _REGISTRY:
        raise ConfigError(f"unknown distribution '{name}'; known: {', '.join(list_distributions())}")
    cls = _REGISTRY[name]
    try:
        distribution = cls(action_space, **options)
    except ConfigError:
        raise
    except Exception as exc:
        if cls.__module__.startswith("dexterity."):
            raise
        raise ConfigError(f"distribution '{name}' ({_qualified(cls)}) failed for action space {action_space}: "
                          f"{type(exc).__name__}: {exc}") from exc
    missing = [a for a in ("param_size", "action_shape", "action_dtype") if not hasattr(distribution, a)]
    if missing:
        raise ConfigError(f"distribution '{name}' ({_qualified(cls)}) does not set {', '.join(missing)} in __init__")
    return distribution


def default_distribution(action_space: gym.spaces.Space, **options: Any) -> BasePolicyDistribution:
    """Discrete -> categorical, MultiDiscrete -> multi-categorical, Box -> gaussian."""
    if isinstance(action_space, gym.spaces.Discrete):
        return get_distribution("categorical", action_space, **options)
    if isinstance(action_space, gym.spaces.MultiDiscrete):
        return get_distribution("multi-categorical", action_space, **options)
    if isinstance(action_space, gym.spaces.Box):
        return get_distribution("gaussian", action_space, **options)
    raise ConfigError(f"no default policy distribution for action space {action_space} "
                      f"(Discrete, MultiDiscrete and Box have one)")


def head_dense(units: int, name: str) -> keras.layers.Dense:
    """Linear layer with orthogonal kernel (gain 0.01) and zero bias: features [B, F] -> [B, units]."""
    return keras.layers.Dense(units, kernel_initializer=keras.initializers.Orthogonal(gain=HEAD_GAIN),
                              bias_initializer="zeros", name=name)


def bounded_box(space: gym.spaces.Space, name: str, finite: bool) -> tuple[int, np.ndarray, np.ndarray]:
    """Validate a Box action space -> (A = flat size, low [A], high [A]) as float32."""
    if not isinstance(space, gym.spaces.Box):
        raise ConfigError(f"the {name} distribution needs a Box action space, got {space}")
    low = np.asarray(space.low, np.float32).reshape(-1)
    high = np.asarray(space.high, np.float32).reshape(-1)
    if finite and not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
        raise ConfigError(f"the {name} distribution needs finite Box bounds, got low={space.low}, high={space.high}")
    return int(low.size), low, high


def to_env_shape(actions: np.ndarray, space: gym.spaces.Space) -> np.ndarray:
    """Flat actions [B, A] or [B] -> [B, *space.shape] in the space's dtype."""
    actions = np.asarray(actions)
    return actions.reshape((actions.shape[0], *space.shape)).astype(space.dtype, copy=False)
