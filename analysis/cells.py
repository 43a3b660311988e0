"""The recurrent cores of a loaded model as maps h -> F(h, x) with their Jacobians (TensorFlow).

A recurrent core is any keras layer of `model.layers` with a `state_size` (SimpleRNN, GRU and
LSTM cells, and custom cells that follow the keras cell interface `cell(x, states) -> (out,
states)`). Its full state h is the concatenation of its state tensors (LSTM: [h, c]).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from analysis.fixed_points import StepFn


def recurrent_cells(model: Any) -> list[Any]:
    """The keras layers of `model.layers` that are recurrent cells (they have a `state_size`)."""
    return [layer for layer in model.layers if getattr(layer, "state_size", None) is not None]


def state_sizes(cell: Any) -> list[int]:
    """Widths of a cell's state tensors: [units] for rnn/gru, [units, units] for lstm."""
    size = cell.state_size
    return [int(s) for s in size] if isinstance(size, (list, tuple)) else [int(size)]


def recorded_states(activations: dict[str, np.ndarray], cell: Any) -> np.ndarray | None:
    """A cell's full state after every recorded step [S, sum(state_sizes)], or None if not recorded.

    The recording keeps the cell output as `<name>` and only the states that differ from it as
    `<name>/state<k>` (analysis.investigator.layer_arrays); a missing state<k> equals the output.
    """
    if cell.name not in activations:
        return None
    parts = [activations.get(f"{cell.name}/state{k}", activations[cell.name]) for k in range(len(state_sizes(cell)))]
    if [p.shape[1] for p in parts] != state_sizes(cell):
        return None
    return np.concatenate(parts, axis=1)


def cell_map(cell: Any, x: np.ndarray) -> StepFn:
    """F(h) = the cell's next full state from full states h [N, H] under the fixed input x [D].

    Returns step(h) -> (F [N, H], dF/dh [N, H, H]) in float64 numpy (computed in float32, traced once).
    """
    import tensorflow as tf
    sizes = state_sizes(cell)
    x = tf.constant(np.asarray(x, np.float32)[None])

    @tf.function(reduce_retracing=True)
    def evaluate(h: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        with tf.GradientTape() as tape:
            tape.watch(h)
            states = tf.split(h, sizes, axis=1)
            _, new = cell(tf.repeat(x, tf.shape(h)[0], axis=0), list(states))
            f = tf.concat(tf.nest.flatten(new), axis=1)
        return f, tape.batch_jacobian(f, h)

    def step(h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        f, jac = evaluate(tf.constant(np.asarray(h, np.float32)))
        return f.numpy().astype(np.float64), jac.numpy().astype(np.float64)
    return step
