"""Frozen components: named parts of a model whose weights stay fixed during RL (`--freeze-components`).

A component name selects every layer of `model.layers` whose name equals it or starts with it
followed by "_": `visual_encoder` selects visual_encoder_conv1 .. visual_encoder_dense, `policy`
every layer of the policy branch and the policy head, `policy_gru` that one cell. Frozen layers
get `trainable = False`, so the learner neither computes their gradients nor keeps optimizer
state for them; their weights are still saved, loaded and broadcast like all others. The
config's `freeze_components` is saved with the agent, so a resumed agent is frozen alike.
"""
from __future__ import annotations

import re
from typing import Any

from dexterity.errors import ConfigError

NAME = re.compile(r"^[A-Za-z0-9_.#/-]+$")


def parse_components(text: str | None) -> list[str]:
    """'a,b, c' -> ['a', 'b', 'c'] (None or '' -> []); a name with other characters is a ConfigError."""
    names = [n.strip() for n in (text or "").split(",") if n.strip()]
    bad = [n for n in names if not NAME.match(n)]
    if bad:
        raise ConfigError(f"freeze_components: '{bad[0]}' is not a component name (letters, digits, _ . - #)")
    return list(dict.fromkeys(names))


def selects(name: str, layer_name: str) -> bool:
    """Whether component `name` covers the layer called `layer_name`."""
    return layer_name == name or layer_name.startswith(name + "_")


def component_names(model: Any) -> list[str]:
    """Names that select something: every layer name and every '_'-separated prefix of one."""
    out: list[str] = []
    for layer in model.layers:
        parts = layer.name.split("_")
        out += ["_".join(parts[:k]) for k in range(1, len(parts) + 1)]
    return list(dict.fromkeys(out))


def freeze_components(model: Any, names: list[str]) -> list[str]:
    """Set `trainable = False` on the layers the names select; returns the frozen layer names.

    Raises ConfigError for a name that selects no layer with weights, or when nothing would be
    left to train.
    """
    frozen: list[str] = []
    for name in names:
        layers = [layer for layer in model.layers if selects(name, layer.name) and layer.weights]
        if not layers:
            known = ", ".join(n for n in component_names(model) if any(
                selects(n, layer.name) and layer.weights for layer in model.layers))
            raise ConfigError(f"--freeze-components: '{name}' names no layer with weights of this model; "
                              f"known: {known}")
        for layer in layers:
            layer.trainable = False
            frozen.append(layer.name)
    if names and not model.trainable_variables:
        raise ConfigError(f"--freeze-components {','.join(names)} freezes every layer: nothing left to train")
    return list(dict.fromkeys(frozen))
