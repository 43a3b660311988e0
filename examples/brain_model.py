"""A small brain-inspired recurrent model, registered as `--architecture brain` (tutorial: docs/custom-models.md).

    python train.py CartPole-v1 --plugin examples.brain_model --architecture brain --model rnn --tbptt 8
    python examples/brain_model.py                 # the same, 30 cycles, then an evaluation
    python examples/brain_model.py --iterations 2  # any train.py flag is passed on

The model:
- sensory areas: one small dense layer per vector sense (a CNN for images), like the separate
  primary areas of each modality;
- association: the areas' outputs concatenated;
- motor cortex: a leaky rate network (continuous-time RNN, time constant `TAU` steps),
  h_t = (1 - 1/tau) h_{t-1} + 1/tau * tanh(W x_t + U h_{t-1} + b), read out by the policy head;
- critic: a feed-forward pathway from the association features and the privileged
  `asymmetric` inputs to the value (the policy never sees `asymmetric`).
"""
from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from dexterity.errors import ConfigError
from dexterity.models import BaseModel, VisualEncoder, register_architecture
from dexterity.models.base import dense, split_senses
from dexterity.spaces import Sense

AREA_UNITS = 32   # width of each sensory area
MOTOR_UNITS = 64  # neurons of the recurrent motor layer (the recurrent state)
CRITIC_UNITS = 64
TAU = 4.0         # membrane time constant, in env steps (1: no leak, a plain tanh RNN)


class LeakyRecurrentLayer:
    """h_t = (1 - a) h_{t-1} + a tanh(W x_t + U h_{t-1} + b), a = 1 / tau: x [B, F], h [B, units]."""

    def __init__(self, units: int, tau: float, name: str):
        self.units, self.alpha = units, 1.0 / tau
        self.input_weights = dense(units, f"{name}_input", activation=None)  # W and b
        self.recurrent_weights = keras.layers.Dense(  # U: orthogonal, no bias
            units, use_bias=False, name=f"{name}_recurrent", kernel_initializer=keras.initializers.Orthogonal(1.0))

    @property
    def layers(self) -> list[keras.layers.Layer]:
        return [self.input_weights, self.recurrent_weights]

    def __call__(self, x: tf.Tensor, h: tf.Tensor) -> tf.Tensor:
        drive = tf.tanh(self.input_weights(x) + self.recurrent_weights(h))
        return (1.0 - self.alpha) * h + self.alpha * drive


class BrainModel(BaseModel):
    """Sensory areas -> association -> leaky motor layer -> policy; association + asymmetric -> critic."""

    def __init__(self, senses: list[Sense], distribution: Any, tau: float = TAU):
        super().__init__(senses, distribution)
        self.vectors, self.images, self.asymmetric = split_senses(senses)
        self.areas = {s.name: dense(AREA_UNITS, f"area_{s.name}") for s in self.vectors}
        self.vision = VisualEncoder("visual_encoder", features=AREA_UNITS) if self.images else None
        self.motor = LeakyRecurrentLayer(MOTOR_UNITS, tau, "motor")
        self.critic = dense(CRITIC_UNITS, "critic")
        self.policy_head = distribution.build_head("policy_head")  # gain 0.01 init, size param_size
        self.value_head = dense(1, "value_head", gain=1.0, activation=None)

    @property
    def layers(self) -> list[keras.layers.Layer]:
        """Every layer, in a fixed order: this order is the order of the saved weights."""
        vision = self.vision.layers if self.vision else []
        return [*self.areas.values(), *vision, *self.motor.layers, self.critic, self.policy_head, self.value_head]

    def state_sizes(self) -> list[int]:
        return [MOTOR_UNITS]

    def step(self, obs: dict[str, tf.Tensor], state: list[tf.Tensor]
             ) -> tuple[tf.Tensor, tf.Tensor, list[tf.Tensor]]:
        """obs [B, *shape] per sense, state [[B, MOTOR_UNITS]] -> params [B, P], value [B], new state."""
        areas = [self.areas[s.name](tf.cast(obs[s.name], tf.float32)) for s in self.vectors]
        areas += [self.vision(tf.cast(obs[s.name], tf.float32)) for s in self.images]
        association = tf.concat(areas, axis=-1) if len(areas) > 1 else areas[0]
        motor = self.motor(association, state[0])
        privileged = [tf.cast(obs[s.name], tf.float32) for s in self.asymmetric]
        critic = self.critic(tf.concat([association, *privileged], axis=-1))
        return self.policy_head(motor), self.value_head(critic)[:, 0], [motor]


@register_architecture("brain")
def build_brain(senses: list[Sense], distribution: Any, model_type: str, shared: bool,
                config: dict[str, Any]) -> BrainModel:
    """Builder: called as builder(senses, distribution, model_type, shared, config)."""
    if model_type != "rnn":
        raise ConfigError(f"the brain architecture is a leaky rate network: use --model rnn (got --model {model_type})")
    if shared:
        raise ConfigError("the brain architecture has its own critic pathway: drop --shared")
    return BrainModel(senses, distribution)


if __name__ == "__main__":
    from _runner import train_and_evaluate  # examples/ is sys.path[0] when run as a script
    train_and_evaluate(__file__, ["CartPole-v1", "--architecture", "brain", "--model", "rnn", "--tbptt", "8",
                                  "--iterations", "30", "--processes", "1"])
