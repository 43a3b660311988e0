"""A plugin whose model breaks the contract: its value has shape [B, 1] instead of [B]."""
from typing import Any

import keras
import tensorflow as tf

from dexterity.models import BaseModel, register_architecture
from dexterity.models.base import dense


class TrailingOneValue(BaseModel):
    """Feed-forward; forgets to drop the value head's last axis."""

    def __init__(self, senses: Any, distribution: Any):
        super().__init__(senses, distribution)
        self.hidden = dense(8, "hidden")
        self.policy_head = distribution.build_head("policy_head")
        self.value_head = dense(1, "value_head", activation=None)

    @property
    def layers(self) -> list[keras.layers.Layer]:
        return [self.hidden, self.policy_head, self.value_head]

    def step(self, obs: dict, state: list) -> tuple:
        h = self.hidden(tf.concat([obs[s.name] for s in self.senses], axis=-1))
        return self.policy_head(h), self.value_head(h), state  # value [B, 1]: wrong


@register_architecture("trailing-one")
def build(senses: Any, distribution: Any, model_type: str, shared: bool, config: dict) -> TrailingOneValue:
    return TrailingOneValue(senses, distribution)
