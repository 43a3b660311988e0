"""A custom input transformer: divisive normalisation of each sense (guide: docs/custom-transformers.md).

    python examples/custom_transformer.py

Standardise each vector sense with running statistics, then divide by the pooled activity of
the sense, z / sqrt(sigma^2 + mean(z^2)), the gain control model of sensory cortex (Carandini
and Heeger). Statistics live in `RunningMoments`, so merging across ranks and saving are
inherited from `dexterity.transformers.Transformer`.

Select it for training with
    python train.py CartPole-v1 --plugin examples.custom_transformer --state-transformer divisive_normaliser
Run as a script, it exercises the component the way the agent does: update, sync across ranks,
transform, state round trip.
"""
from __future__ import annotations

import json

import numpy as np

from dexterity.distributed import Comm
from dexterity.spaces import Sense
from dexterity.transformers import RunningMoments, Transformer, register_transformer


@register_transformer("divisive_normaliser")
class DivisiveNormaliser(Transformer):
    """Per vector sense: z = clip((x - mean) / std); out = z / sqrt(sigma^2 + mean(z^2)); images -> [0, 1]."""

    @classmethod
    def from_config(cls, inputs: list[Sense], config: dict) -> "DivisiveNormaliser":
        """Built by the agent from the env's senses and the hp config."""
        return cls(inputs, clip=config["obs_clip"])

    def __init__(self, senses: list[Sense], sigma: float = 1.0, clip: float = 10.0):
        self.senses, self.sigma, self.clip = senses, sigma, clip
        self._stats = {s.name: RunningMoments(s.shape) for s in senses if not s.is_image}

    def moments(self) -> dict[str, RunningMoments]:
        """Named statistics: what `sync` merges across ranks and `state_dict` saves."""
        return self._stats

    def update(self, obs: dict[str, np.ndarray]) -> None:
        """Add a batch of raw observations (dict of [B, *shape]) to the statistics."""
        if not self.frozen:
            for key, stats in self._stats.items():
                stats.update(obs[key])

    def transform(self, obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Raw observations [B, *shape] -> float32 inputs for the model."""
        out = {}
        for s in self.senses:
            x = obs[s.name]
            if s.is_image:
                out[s.name] = x.astype(np.float32) / np.float32(255.0)
                continue
            _, mean, var = self._stats[s.name].moments
            z = np.clip((x - mean) / np.sqrt(var + 1e-8), -self.clip, self.clip)
            pooled = np.sqrt(self.sigma ** 2 + np.mean(z ** 2, axis=-1, keepdims=True))
            out[s.name] = (z / pooled).astype(np.float32)
        return out


class LoopbackComm(Comm):
    """Stands in for N ranks in one process: `allgather` returns what every simulated rank contributed."""

    def __init__(self, contributions: list) -> None:
        super().__init__()
        self.contributions = contributions

    def allgather(self, obj: object) -> list:
        return list(self.contributions)


def demo(seed: int = 0) -> dict[str, float]:
    """Two simulated ranks see half of the data each; after sync both equal one rank that saw it all."""
    senses = [Sense("proprioception", (6,), "float32", False)]
    rng = np.random.default_rng(seed)
    data = rng.normal(3.0, 2.0, size=(400, 6))
    ranks = [DivisiveNormaliser(senses) for _ in range(2)]
    for rank, part in zip(ranks, np.split(data, 2)):
        rank.update({"proprioception": part})
    deltas = [{k: m.delta for k, m in r.moments().items()} for r in ranks]
    for rank in ranks:
        rank.sync(LoopbackComm(deltas))  # what the agent does at the end of every cycle
    alone = DivisiveNormaliser(senses)
    alone.update({"proprioception": data})
    alone.sync(Comm())
    restored = DivisiveNormaliser(senses)
    restored.load_state_dict(json.loads(json.dumps(ranks[0].state_dict())))  # saved as JSON with the agent
    batch = {"proprioception": data[:5]}
    outputs = [t.transform(batch)["proprioception"] for t in (*ranks, alone, restored)]
    return {"max_difference_between_ranks": float(np.abs(outputs[0] - outputs[1]).max()),
            "max_difference_to_single_rank": float(np.abs(outputs[0] - outputs[2]).max()),
            "max_difference_after_reload": float(np.abs(outputs[0] - outputs[3]).max()),
            "count": ranks[0].moments()["proprioception"].count}


if __name__ == "__main__":
    for key, value in demo().items():
        print(f"{key}: {value:.3g}")
