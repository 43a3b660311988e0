"""Train a VisualEncoder with a task head on rendered scenes; report per-epoch losses and a held-out metric.

    result = pretrain("hands", data, size=64, epochs=20)   # -> PretrainResult (encoder layers, metrics)
"""
from __future__ import annotations

import dataclasses
import sys
import time
from typing import Any

import keras
import numpy as np

from dexterity.models.base import VisualEncoder
from dexterity.pretrained import PREFIX, read_pretrained
from dexterity.pretraining.data import SceneData
from dexterity.pretraining.tasks import Task, get_task, images01


@dataclasses.dataclass
class PretrainResult:
    task: str
    encoder: VisualEncoder
    history: list[dict[str, float]]   # per epoch: epoch, train_loss, val_loss, seconds
    metrics: dict[str, float]         # held-out scores of the trained network
    baseline: dict[str, float]        # held-out scores of the trivial predictor
    metric: str                       # the main metric's key
    standardisation: dict[str, list[float]] | None = None


def build_network(task: Task, size: int) -> tuple[keras.Model, VisualEncoder]:
    """images [B, S, S, 3] in [0, 1] -> task output; returns (model, its VisualEncoder)."""
    encoder = VisualEncoder("visual_encoder")
    inputs = keras.Input((size, size, 3), name="image")
    output = task.head(encoder(inputs), size)
    return keras.Model(inputs, output, name=f"pretrain_{task.name}"), encoder


def _compile(model: keras.Model, task: Task, lr: float) -> None:
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True) if task.loss == "classify" else "mse"
    model.compile(optimizer=keras.optimizers.Adam(lr), loss=loss)


class _EpochPrinter(keras.callbacks.Callback):
    """Prints and keeps train and validation loss after every epoch."""

    def __init__(self, epochs: int, verbose: bool):
        super().__init__()
        self.epochs, self.verbose, self.history = epochs, verbose, []
        self._start = time.perf_counter()

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        logs = logs or {}
        record = {"epoch": epoch + 1, "train_loss": float(logs.get("loss", np.nan)),
                  "val_loss": float(logs.get("val_loss", np.nan)), "seconds": time.perf_counter() - self._start}
        self.history.append(record)
        if self.verbose:
            print(f"epoch {epoch + 1}/{self.epochs}: train loss {record['train_loss']:.4f}, "
                  f"val loss {record['val_loss']:.4f} ({record['seconds']:.1f} s)", flush=True)


def load_into(encoder: VisualEncoder, name: str) -> None:
    """Start from a saved pretrained encoder (pretrain.py --load)."""
    from dexterity.errors import DexterityError
    weights, _ = read_pretrained(name)
    for layer in encoder.layers:
        suffix = layer.name[len(PREFIX):]
        if not layer.weights:
            continue
        saved = weights.get(suffix, [])
        if [tuple(w.shape) for w in layer.weights] != [tuple(s.shape) for s in saved]:
            raise DexterityError(f"--load {name}: layer {layer.name} does not fit (pretrained on another size?)")
        for variable, value in zip(layer.weights, saved):
            variable.assign(value)


def pretrain(task_name: str, data: SceneData, size: int, epochs: int = 20, batch_size: int = 32,
             lr: float = 1e-3, validation: float = 0.2, seed: int = 0, load: str | None = None,
             verbose: bool = True) -> PretrainResult:
    """Train encoder + head on `data` (a held-out fraction `validation` is never trained on)."""
    keras.utils.set_random_seed(seed)
    task = get_task(task_name)
    train, held = data.split(validation, seed)
    x_train, x_val = images01(train.images), images01(held.images)
    y_train, y_val = task.targets(train), task.targets(held)
    standard = None
    if task.name == "hands":  # standardise the targets so that every variable counts alike
        mean, std = y_train.mean(axis=0), y_train.std(axis=0) + 1e-6
        y_train, y_val = (y_train - mean) / std, (y_val - mean) / std
        standard = {"mean": mean.tolist(), "std": std.tolist()}
    if task.name == "reconstruct":  # learn the deviation from the mean image (MSE and PSNR are unchanged)
        mean_image = y_train.mean(axis=0)
        y_train, y_val = y_train - mean_image, y_val - mean_image
    model, encoder = build_network(task, size)
    if load:
        load_into(encoder, load)
    _compile(model, task, lr)
    printer = _EpochPrinter(epochs, verbose)
    model.fit(x_train, y_train, validation_data=(x_val, y_val), epochs=epochs, batch_size=batch_size,
              shuffle=True, verbose=0, callbacks=[printer])
    pred = model.predict(x_val, batch_size=256, verbose=0)
    metrics = task.score(y_val, pred)
    baseline = task.score(y_val, task.baseline(y_train, y_val))
    if verbose:
        print(f"held-out ({len(held)} scenes): {_format(metrics)}; trivial baseline: {_format(baseline)}",
              file=sys.stdout, flush=True)
    return PretrainResult(task.name, encoder, printer.history, metrics, baseline, task.metric, standard)


def _format(scores: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.4f}" for k, v in scores.items())


def trained_layers(encoder: VisualEncoder) -> dict[str, Any]:
    """{suffix: layer} of the encoder's weighted layers (what save_encoder writes)."""
    return {layer.name[len(PREFIX):]: layer for layer in encoder.layers if layer.weights}
