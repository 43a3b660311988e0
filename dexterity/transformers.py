"""Input and output transformers: state normalisation and reward scaling with mergeable statistics.

A transformer keeps the statistics it had at the last synchronisation (`base`) and what it has
seen since (`delta`); it uses their combination. `sync(comm)` pools every rank's delta into the
base (parallel variance formula), so all ranks end a cycle with identical statistics. The state
is saved with the agent and frozen at evaluation. TensorFlow-free.
"""
from __future__ import annotations

import abc
import dataclasses
from typing import Any, Callable, Sequence

import numpy as np

from dexterity.spaces import Sense

Moments = tuple[float, np.ndarray, np.ndarray]  # (count, mean, var) with var the population variance


def combine_moments(a: Moments, b: Moments) -> Moments:
    """Statistics of the union of two samples from the statistics of each (Chan et al.)."""
    n_a, mean_a, var_a = a
    n_b, mean_b, var_b = b
    n = n_a + n_b
    if n == 0:
        return 0.0, np.array(mean_a, np.float64), np.array(var_a, np.float64)
    delta = mean_b - mean_a
    mean = mean_a + delta * (n_b / n)
    m2 = var_a * n_a + var_b * n_b + delta ** 2 * (n_a * n_b / n)
    return float(n), mean, m2 / n


def batch_moments(batch: np.ndarray) -> Moments:
    """Moments of a batch [B, *shape] over its first axis."""
    batch = np.asarray(batch, np.float64)
    return float(batch.shape[0]), batch.mean(axis=0), batch.var(axis=0)


class RunningMoments:
    """Mergeable running mean and variance of arrays of a fixed shape."""

    def __init__(self, shape: tuple[int, ...] = ()):
        self.base: Moments = (0.0, np.zeros(shape), np.ones(shape))
        self.delta: Moments = (0.0, np.zeros(shape), np.zeros(shape))

    def update(self, batch: np.ndarray) -> None:
        """Add a batch [B, *shape] to the statistics."""
        if len(batch):
            self.delta = combine_moments(self.delta, batch_moments(batch))

    @property
    def moments(self) -> Moments:
        return combine_moments(self.base, self.delta) if self.delta[0] else self.base

    @property
    def count(self) -> float:
        return self.base[0] + self.delta[0]

    def merge_deltas(self, deltas: Sequence[Moments]) -> None:
        """Fold the deltas of every rank (own included) into the base, in order."""
        base = self.base
        for d in deltas:
            if d[0]:
                base = combine_moments(base, d)
        self.base = base
        self.delta = (0.0, np.zeros_like(base[1]), np.zeros_like(base[2]))

    def state_dict(self) -> dict[str, Any]:
        n, mean, var = self.moments
        return {"count": n, "mean": np.asarray(mean).tolist(), "var": np.asarray(var).tolist()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore saved statistics; ValueError when they do not have this object's shape."""
        mean, var = np.asarray(state["mean"], np.float64), np.asarray(state["var"], np.float64)
        if mean.shape != self.base[1].shape or var.shape != self.base[1].shape:
            raise ValueError(f"statistics of shape {mean.shape} where {self.base[1].shape} is expected")
        self.base = (float(state["count"]), mean, var)
        self.delta = (0.0, np.zeros_like(self.base[1]), np.zeros_like(self.base[2]))


class Transformer(abc.ABC):
    """Interface of input/output transformers. Subclass it for a custom one.

    `update` sees raw data, `transform` maps raw data to what the learner sees; statistics live
    in `RunningMoments` objects listed by `moments()` so merging and saving come for free.
    State transformers take observation dicts (`update(obs)`, `transform(obs)`); reward
    transformers take `update(rewards [N], dones [N])` and `transform(rewards [N])`.
    Register one with `@register_transformer("name")` and select it with
    `--state-transformer name` / `--reward-transformer name`.
    """

    name: str = "transformer"
    frozen: bool = False

    @classmethod
    def from_config(cls, inputs: Any, config: dict[str, Any]) -> "Transformer":
        """Build from the senses (state transformers) or the env count (reward ones) and the hp config."""
        return cls(inputs)

    def summary(self) -> dict[str, float]:
        """Scalars for the progress log (namespaced keys, e.g. 'norm/...'); none by default."""
        return {}

    @abc.abstractmethod
    def moments(self) -> dict[str, RunningMoments]:
        """The named statistics this transformer keeps."""

    def sync(self, comm: Any) -> None:
        """Pool the statistics gathered since the last sync across all ranks of `comm`."""
        stats = self.moments()
        gathered = comm.allgather({k: m.delta for k, m in stats.items()})
        for key, m in stats.items():
            m.merge_deltas([g[key] for g in gathered])

    def state_dict(self) -> dict[str, Any]:
        return {k: m.state_dict() for k, m in self.moments().items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        stats = self.moments()
        for key, m in stats.items():
            if key in state:
                m.load_state_dict(state[key])


@dataclasses.dataclass(frozen=True)
class ArrayOps:
    """The array functions the normalisation formula needs, so that one formula serves numpy
    (training, acting) and TensorFlow (the exported model, `dexterity.agent.export.TF_OPS`)."""

    clip: Callable[[Any, float, float], Any]  # clip(x, low, high)
    widen: Callable[[Any], Any]               # x -> float64 (numpy promotes float32 - float64 itself)
    to_float32: Callable[[Any], Any]


NUMPY_OPS = ArrayOps(clip=np.clip, widen=lambda x: x, to_float32=lambda x: np.asarray(x, np.float32))

Scales = dict[str, tuple[np.ndarray, np.ndarray]]  # sense name -> (mean, std), float64 [*shape] each


class StateNormaliser(Transformer):
    """Normalises each vector sense to zero mean and unit variance, clipped; scales images to [0, 1].

    The one owner of the formula (`apply`) and of its constants (`scales`, `clip`, `EPSILON`):
    the exported TensorFlow model is built from them too.
    """

    name = "state_normaliser"
    EPSILON = 1e-8  # added to the variance before the square root

    @classmethod
    def from_config(cls, inputs: Any, config: dict[str, Any]) -> "StateNormaliser":
        return cls(inputs, clip=config["obs_clip"], enabled=config["state_norming"])

    def __init__(self, senses: list[Sense], clip: float = 10.0, enabled: bool = True):
        self.senses = senses
        self.clip = clip
        self.enabled = enabled
        self._stats = {s.name: RunningMoments(s.shape) for s in senses if not s.is_image}

    def moments(self) -> dict[str, RunningMoments]:
        return self._stats

    def update(self, obs: dict[str, np.ndarray]) -> None:
        """Add a batch of raw observations (dict of [B, *shape]) to the statistics."""
        if self.enabled and not self.frozen:
            for key, m in self._stats.items():
                m.update(obs[key])

    def scales(self) -> Scales:
        """(mean, std = sqrt(var + EPSILON)) of every normalised sense, float64 [*shape]; {} when disabled."""
        if not self.enabled:
            return {}
        out = {}
        for key, m in self._stats.items():
            _, mean, var = m.moments
            out[key] = (mean, np.sqrt(var + self.EPSILON))
        return out

    def apply(self, obs: dict[str, Any], scales: Scales, ops: ArrayOps = NUMPY_OPS) -> dict[str, Any]:
        """The formula: images [B, H, W, C] -> x / 255; senses in `scales` -> clip((x - mean) / std,
        +-clip) computed in float64; others unchanged; every output float32 [B, *shape]."""
        out = {}
        for s in self.senses:
            x = obs[s.name]
            if s.is_image:
                out[s.name] = ops.to_float32(x) * np.float32(1.0 / 255.0)
            elif s.name in scales:
                mean, std = scales[s.name]
                out[s.name] = ops.to_float32(ops.clip((ops.widen(x) - mean) / std, -self.clip, self.clip))
            else:
                out[s.name] = ops.to_float32(x)
        return out

    def transform(self, obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Raw observations -> normalised float32 (vectors) and [0, 1] float32 (images)."""
        return self.apply(obs, self.scales())

    def summary(self) -> dict[str, float]:
        """Scalar summaries for the progress log: mean of means and of stds over all inputs."""
        if not self._stats:
            return {}
        means = np.concatenate([np.ravel(m.moments[1]) for m in self._stats.values()])
        stds = np.concatenate([np.ravel(np.sqrt(m.moments[2])) for m in self._stats.values()])
        return {"norm/state_mean": float(means.mean()), "norm/state_std": float(stds.mean())}


class RewardNormaliser(Transformer):
    """Divides rewards by the running std of the discounted return (per-env return accumulators)."""

    name = "reward_normaliser"

    @classmethod
    def from_config(cls, inputs: Any, config: dict[str, Any]) -> "RewardNormaliser":
        return cls(inputs, config["discount"], config["reward_clip"], enabled=config["reward_norming"])

    def __init__(self, n_envs: int, discount: float, clip: float = 10.0, enabled: bool = True):
        self.discount = discount
        self.clip = clip
        self.enabled = enabled
        self.returns = np.zeros(n_envs)
        self._stats = {"return": RunningMoments(())}

    def moments(self) -> dict[str, RunningMoments]:
        return self._stats

    def update(self, rewards: np.ndarray, dones: np.ndarray) -> None:
        """Accumulate discounted returns [N] with this step's rewards [N]; reset where done [N]."""
        if not self.enabled or self.frozen:
            return
        self.returns = self.returns * self.discount + rewards
        self._stats["return"].update(self.returns)
        self.returns[np.asarray(dones, bool)] = 0.0

    def transform(self, rewards: np.ndarray) -> np.ndarray:
        """Raw rewards [N] -> scaled and clipped float32 rewards [N]."""
        if not self.enabled:
            return np.asarray(rewards, np.float32)
        var = self._stats["return"].moments[2]
        return np.clip(rewards / np.sqrt(var + 1e-8), -self.clip, self.clip).astype(np.float32)

    def summary(self) -> dict[str, float]:
        return {"norm/reward_std": float(np.sqrt(self._stats["return"].moments[2]))}


_TRANSFORMERS: dict[str, type[Transformer]] = {}


def register_transformer(name: str) -> Any:
    """Class decorator: make a Transformer subclass selectable by name in the hp config."""
    def decorate(cls: type[Transformer]) -> type[Transformer]:
        if not (isinstance(cls, type) and issubclass(cls, Transformer)):
            raise TypeError(f"register_transformer('{name}') needs a Transformer subclass, got {cls!r}")
        existing = _TRANSFORMERS.get(name)
        if existing is not None and existing is not cls and existing.__module__.startswith("dexterity."):
            from dexterity.errors import ConfigError
            raise ConfigError(f"transformer name '{name}' is taken by the built-in {existing.__name__}")
        cls.name = name
        _TRANSFORMERS[name] = cls
        return cls
    return decorate


def list_transformers() -> list[str]:
    return sorted(_TRANSFORMERS)


def make_transformer(name: str, inputs: Any, config: dict[str, Any]) -> Transformer:
    """Build the transformer registered as `name` (clear ConfigError for unknown names or broken ones)."""
    from dexterity.errors import ConfigError
    if name not in _TRANSFORMERS:
        raise ConfigError(f"unknown transformer '{name}'; known: {', '.join(list_transformers())}")
    cls = _TRANSFORMERS[name]
    try:
        return cls.from_config(inputs, config)
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(f"transformer '{name}' ({cls.__module__}) failed to build: "
                          f"{type(exc).__name__}: {exc}") from exc


register_transformer("state_normaliser")(StateNormaliser)
register_transformer("reward_normaliser")(RewardNormaliser)
