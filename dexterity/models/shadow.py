"""The `shadow` architecture: a brain-inspired, multi-sensory recurrent network for the Shadow Hand.

Senses are routed by name to cortical modules (docs/shadow.md has the diagram and sizes):

    somatosensation, proprioception (+ any other vector) -> SSC  (somatosensory cortex)
    goal                                                  -> PFC  (prefrontal cortex)
    vision: an image   -> VisualEncoder (`visual_encoder_*`, loadable from pretraining)
            a vector   -> a small dense module (`vision_dense*`, the object pose of ManipulateBlock)
    [SSC, PFC, vision] -> PPC (posterior parietal cortex) -> MCX (motor cortex: rnn/lstm/gru cell,
                          or a dense layer with ffn) -> policy head (the distribution's)

The value is read from a separate feed-forward pathway over every input plus the privileged
`asymmetric` sense; with `shared` the value head reads the MCX features (+ asymmetric) instead.
Senses that an env does not provide are simply absent (reach tasks have no vision).
"""
from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from dexterity.errors import ConfigError
from dexterity.models.base import (TENSOR_OPS, BaseModel, VisualEncoder, cell_state_sizes, dense, recurrent_cell,
                                   register_architecture)
from dexterity.spaces import ASYMMETRIC_KEY, Sense

SSC_SENSES = ("somatosensation", "proprioception")
PFC_SENSES = ("goal",)
VISION_KEY = "vision"

SIZES: dict[str, tuple[int, ...]] = {
    # module: widths of its dense layers (MCX: the recurrent core or the ffn dense layer)
    "ssc": (128, 64),
    "pfc": (32,),
    "vision": (32,),
    "ppc": (128,),
    "mcx": (128,),
    "value": (256, 128),
}
VISUAL_FEATURES = 256  # width of the VisualEncoder output for image senses


class DenseStack:
    """Dense tanh layers with orthogonal init: features [B, F] -> [B, widths[-1]]."""

    def __init__(self, name: str, widths: tuple[int, ...]):
        self.layers = [dense(width, f"{name}_dense{i}") for i, width in enumerate(widths)]

    def __call__(self, x: Any, ops: Any = TENSOR_OPS) -> Any:
        """[B, F] -> [B, widths[-1]], the layers run by `ops` (TensorOps or NumpyOps)."""
        for layer in self.layers:
            x = ops.apply(layer, x)
        return x


def route_senses(senses: list[Sense]) -> dict[str, list[Sense]]:
    """Assign each sense to a module: ssc, pfc, vision_vector, images or asymmetric."""
    routes: dict[str, list[Sense]] = {"ssc": [], "pfc": [], "vision_vector": [], "images": [], "asymmetric": []}
    for sense in senses:
        if sense.is_image:
            routes["images"].append(sense)
        elif sense.name == ASYMMETRIC_KEY:
            routes["asymmetric"].append(sense)
        elif sense.name in PFC_SENSES:
            routes["pfc"].append(sense)
        elif sense.name == VISION_KEY:
            routes["vision_vector"].append(sense)
        else:  # somatosensation, proprioception and any other vector input
            routes["ssc"].append(sense)
    return routes


class ShadowModel(BaseModel):
    """SSC/PFC/vision -> PPC -> MCX core -> policy head; a value pathway (or head on MCX if shared)."""

    def __init__(self, senses: list[Sense], distribution: Any, model_type: str, shared: bool):
        super().__init__(senses, distribution)
        self.routes = route_senses(senses)
        if not any(self.routes[k] for k in ("ssc", "pfc", "vision_vector", "images")):
            raise ConfigError("architecture 'shadow' needs at least one sense besides 'asymmetric'")
        self.model_type, self.shared = model_type, shared
        self.ssc = DenseStack("ssc", SIZES["ssc"]) if self.routes["ssc"] else None
        self.pfc = DenseStack("pfc", SIZES["pfc"]) if self.routes["pfc"] else None
        self.vision = DenseStack("vision", SIZES["vision"]) if self.routes["vision_vector"] else None
        self.encoder = VisualEncoder("visual_encoder", VISUAL_FEATURES) if self.routes["images"] else None
        self.ppc = DenseStack("ppc", SIZES["ppc"])
        width = SIZES["mcx"][0]
        if model_type != "ffn":
            self.mcx: keras.layers.Layer = recurrent_cell(model_type, width, f"mcx_{model_type}")
            self._state_sizes = cell_state_sizes(model_type, width)
        else:
            self.mcx = dense(width, "mcx_dense0")
            self._state_sizes = []
        self.policy_head = distribution.build_head("policy_head")
        self.value_path = None if shared else DenseStack("value", SIZES["value"])
        self.value_head = dense(1, "value_head", gain=1.0, activation=None)

    @property
    def layers(self) -> list[keras.layers.Layer]:
        out: list[keras.layers.Layer] = []
        for module in (self.ssc, self.pfc, self.vision, self.encoder, self.ppc):
            if module is not None:
                out += list(module.layers)
        out += [self.mcx, self.policy_head]
        if self.value_path is not None:
            out += self.value_path.layers
        return out + [self.value_head]

    def state_sizes(self) -> list[int]:
        return list(self._state_sizes)

    def _inputs(self, obs: dict[str, Any], route: str, ops: Any) -> list[Any]:
        return [ops.rows(obs[s.name], s.shape[0]) for s in self.routes[route]]

    def _areas(self, obs: dict[str, Any], ops: Any) -> tuple[list[Any], list[Any]]:
        """Module outputs feeding the PPC ([B, F_i] each) and the raw inputs of the value pathway."""
        areas, raw = [], []
        for route, module in (("ssc", self.ssc), ("pfc", self.pfc), ("vision_vector", self.vision)):
            inputs = self._inputs(obs, route, ops)
            if inputs:
                areas.append(module(ops.concat(inputs), ops))
                raw += inputs
        for sense in self.routes["images"]:
            features = ops.apply(self.encoder, ops.floats(obs[sense.name]))
            areas.append(features)
            raw.append(features)
        return areas, raw

    def step(self, obs: dict[str, tf.Tensor], state: list[tf.Tensor]
             ) -> tuple[tf.Tensor, tf.Tensor, list[tf.Tensor]]:
        """obs [B, *shape] per sense, state [B, units] each -> params [B, P], value [B], new state."""
        return self.forward(obs, state, TENSOR_OPS)

    def forward(self, obs: dict[str, Any], state: list[Any], ops: Any) -> tuple[Any, Any, list[Any]]:
        """`step` with the layers run by `ops` (TensorOps, or NumpyOps for TensorFlow-free inference)."""
        areas, raw = self._areas(obs, ops)
        asym = self._inputs(obs, "asymmetric", ops)
        h = self.ppc(ops.concat(areas), ops)
        if self.recurrent:
            h, new_state = ops.cell(self.mcx, h, state)
        else:
            h, new_state = ops.apply(self.mcx, h), []
        params = ops.apply(self.policy_head, h)
        if self.value_path is None:
            value = ops.apply(self.value_head, ops.concat([h, *asym]))
        else:
            value = ops.apply(self.value_head, self.value_path(ops.concat(raw + asym), ops))
        return params, ops.first_column(value), new_state

@register_architecture("shadow")
def build_shadow(senses: list[Sense], distribution: Any, model_type: str, shared: bool,
                 config: dict[str, Any]) -> ShadowModel:
    """Builder for `--architecture shadow` (sizes in SIZES; the config chooses core type and sharing)."""
    return ShadowModel(senses, distribution, model_type, shared)
