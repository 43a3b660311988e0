"""The standard architectures: simple, deeper, wider; each as ffn, rnn, lstm or gru, shared or not."""
from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from dexterity.models.base import (BaseModel, VisualEncoder, cell_state_sizes, dense, recurrent_cell,
                                   register_architecture, split_senses)
from dexterity.spaces import Sense


class Branch:
    """Dense layers, an optional recurrent cell, dense layers: features [B, F] -> [B, units]."""

    def __init__(self, name: str, model_type: str, pre: list[int], core: int, post: list[int]):
        if model_type != "ffn":
            self.pre = [dense(u, f"{name}_dense{i}") for i, u in enumerate(pre)]
            self.cell = recurrent_cell(model_type, core, f"{name}_{model_type}")
            self.post = [dense(u, f"{name}_post{i}") for i, u in enumerate(post)]
            self.state_sizes = cell_state_sizes(model_type, core)
        else:
            self.pre = [dense(u, f"{name}_dense{i}") for i, u in enumerate(pre + [core] + post)]
            self.cell, self.post, self.state_sizes = None, [], []

    @property
    def layers(self) -> list[keras.layers.Layer]:
        return self.pre + ([self.cell] if self.cell is not None else []) + self.post

    def __call__(self, x: tf.Tensor, state: list[tf.Tensor]) -> tuple[tf.Tensor, list[tf.Tensor]]:
        for layer in self.pre:
            x = layer(x)
        if self.cell is not None:
            x, state = self.cell(x, list(state))
            state = list(state)
        for layer in self.post:
            x = layer(x)
        return x, state


class StandardModel(BaseModel):
    """Vector senses (and CNN-encoded images) -> branch(es) -> policy head and value head.

    Shared: one branch feeds both heads; the value head also reads the asymmetric inputs.
    Distinct: a policy branch and a value branch (the latter reads the asymmetric inputs).
    """

    def __init__(self, senses: list[Sense], distribution: Any, model_type: str, shared: bool,
                 pre: list[int], core: int, post: list[int]):
        super().__init__(senses, distribution)
        self.shared = shared
        self.vectors, self.images, self.asymmetric = split_senses(senses)
        self.encoder = VisualEncoder("visual_encoder") if self.images else None
        names = ["trunk"] if shared else ["policy", "value"]
        self.branches = [Branch(n, model_type, pre, core, post) for n in names]
        self.policy_head = distribution.build_head("policy_head")
        self.value_head = dense(1, "value_head", gain=1.0, activation=None)

    @property
    def layers(self) -> list[keras.layers.Layer]:
        out = list(self.encoder.layers) if self.encoder else []
        for branch in self.branches:
            out += branch.layers
        return out + [self.policy_head, self.value_head]

    def state_sizes(self) -> list[int]:
        return [size for branch in self.branches for size in branch.state_sizes]

    def _features(self, obs: dict[str, tf.Tensor]) -> tuple[tf.Tensor, list[tf.Tensor]]:
        parts = [tf.cast(obs[s.name], tf.float32) for s in self.vectors]
        parts += [self.encoder(tf.cast(obs[s.name], tf.float32)) for s in self.images]
        asym = [tf.cast(obs[s.name], tf.float32) for s in self.asymmetric]
        return (tf.concat(parts, axis=-1) if len(parts) > 1 else parts[0]), asym

    def step(self, obs: dict[str, tf.Tensor], state: list[tf.Tensor]
             ) -> tuple[tf.Tensor, tf.Tensor, list[tf.Tensor]]:
        x, asym = self._features(obs)
        if self.shared:
            h, new_state = self.branches[0](x, state)
            params = self.policy_head(h)
            value = self.value_head(tf.concat([h, *asym], axis=-1) if asym else h)
            return params, value[:, 0], new_state
        k = len(self.branches[0].state_sizes)
        h_pi, state_pi = self.branches[0](x, state[:k])
        h_v, state_v = self.branches[1](tf.concat([x, *asym], axis=-1) if asym else x, state[k:])
        return self.policy_head(h_pi), self.value_head(h_v)[:, 0], state_pi + state_v


SIZES = {
    # name: (dense layers before the core, core width, dense layers after the core)
    "simple": ([64], 64, []),
    "deeper": ([64, 64], 64, [64]),
    "wider": ([256], 256, []),
}


def _standard(name: str) -> None:
    pre, core, post = SIZES[name]

    @register_architecture(name)
    def build(senses: list[Sense], distribution: Any, model_type: str, shared: bool,
              config: dict[str, Any]) -> StandardModel:
        return StandardModel(senses, distribution, model_type, shared, pre, core, post)


for _name in SIZES:
    _standard(_name)
