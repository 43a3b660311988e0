"""The standard architectures: simple, deeper, wider; each as ffn, rnn, lstm or gru, shared or not."""
from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from dexterity.models.base import (TENSOR_OPS, BaseModel, VisualEncoder, cell_state_sizes, dense, recurrent_cell,
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

    def __call__(self, x: Any, state: list[Any], ops: Any = TENSOR_OPS) -> tuple[Any, list[Any]]:
        """features [B, F], state -> (h [B, units], new state); `ops` runs the layers (TensorOps or NumpyOps)."""
        for layer in self.pre:
            x = ops.apply(layer, x)
        if self.cell is not None:
            x, state = ops.cell(self.cell, x, state)
        for layer in self.post:
            x = ops.apply(layer, x)
        return x, list(state)


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

    def _features(self, obs: dict[str, Any], ops: Any) -> tuple[Any, list[Any]]:
        parts = [ops.floats(obs[s.name]) for s in self.vectors]
        parts += [ops.apply(self.encoder, ops.floats(obs[s.name])) for s in self.images]
        asym = [ops.floats(obs[s.name]) for s in self.asymmetric]
        return ops.concat(parts), asym

    def step(self, obs: dict[str, tf.Tensor], state: list[tf.Tensor]
             ) -> tuple[tf.Tensor, tf.Tensor, list[tf.Tensor]]:
        return self.forward(obs, state, TENSOR_OPS)

    def forward(self, obs: dict[str, Any], state: list[Any], ops: Any) -> tuple[Any, Any, list[Any]]:
        """`step` with the layers run by `ops`: obs [B, ...] -> params [B, P], value [B], new state."""
        x, asym = self._features(obs, ops)
        if self.shared:
            h, new_state = self.branches[0](x, state, ops)
            params = ops.apply(self.policy_head, h)
            value = ops.apply(self.value_head, ops.concat([h, *asym]))
            return params, ops.first_column(value), new_state
        k = len(self.branches[0].state_sizes)
        h_pi, state_pi = self.branches[0](x, state[:k], ops)
        h_v, state_v = self.branches[1](ops.concat([x, *asym]), state[k:], ops)
        value = ops.apply(self.value_head, h_v)
        return ops.apply(self.policy_head, h_pi), ops.first_column(value), state_pi + state_v

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
