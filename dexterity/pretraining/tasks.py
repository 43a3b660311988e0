"""Pretraining tasks: a head on the VisualEncoder, a loss, a held-out metric and its trivial baseline.

| task | head | target | metric (held-out) | baseline |
| --- | --- | --- | --- | --- |
| hands | dense -> 31 | joint angles [24], block position [3], quaternion [4], standardised | mean R^2 | train-mean predictor |
| classify | dense -> 4 logits | the flexed finger (ff, mf, rf, lf) | accuracy | majority class of train |
| reconstruct | dense + 2 transposed convolutions -> [S, S, 3] | the image in [0, 1] minus the mean train image | MSE and PSNR | mean train image |
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

import keras
import numpy as np

from dexterity.errors import DexterityError
from dexterity.pretraining import task_name
from dexterity.pretraining.data import SceneData

def images01(images: np.ndarray) -> np.ndarray:
    """uint8 images [N, S, S, 3] -> float32 in [0, 1], the scaling the agents' state normaliser uses."""
    return images.astype(np.float32) * np.float32(1.0 / 255.0)


@dataclasses.dataclass
class Task:
    """What a task trains on and how it is scored. `targets(data)` -> y; `score(y, pred)` -> metrics."""

    name: str
    head: Callable[[Any, int], Any]           # (features tensor, image size) -> output tensor
    loss: str
    targets: Callable[[SceneData], np.ndarray]
    score: Callable[[np.ndarray, np.ndarray], dict[str, float]]
    baseline: Callable[[np.ndarray, np.ndarray], np.ndarray]  # (train y, held-out y) -> trivial prediction
    metric: str                                               # main metric key in score()
    higher_is_better: bool = True


def r2_score(y: np.ndarray, pred: np.ndarray) -> float:
    """Mean over columns of 1 - SS_res / SS_tot; y, pred [N, K]."""
    ss_res = np.sum((y - pred) ** 2, axis=0)
    ss_tot = np.sum((y - y.mean(axis=0)) ** 2, axis=0)
    return float(np.mean(1.0 - ss_res / np.maximum(ss_tot, 1e-12)))


def _hands_head(features: Any, size: int) -> Any:
    x = keras.layers.Dense(256, activation="relu", name="head_dense")(features)
    return keras.layers.Dense(31, name="head_out")(x)


def _classify_head(features: Any, size: int) -> Any:
    return keras.layers.Dense(4, name="head_logits")(features)


def _reconstruct_head(features: Any, size: int) -> Any:
    if size % 4:
        raise DexterityError(f"--size {size}: the reconstruct task needs an image size divisible by 4")
    cells = size // 4
    x = keras.layers.Dense(cells * cells * 32, activation="relu", name="head_dense")(features)
    x = keras.layers.Reshape((cells, cells, 32), name="head_reshape")(x)
    x = keras.layers.Conv2DTranspose(32, 4, strides=2, padding="same", activation="relu", name="head_up1")(x)
    # linear output: the deviation of the image from the mean training image (see training.pretrain)
    return keras.layers.Conv2DTranspose(3, 4, strides=2, padding="same", name="head_up2")(x)


HAND_GROUPS = {"joints": slice(0, 24), "block_position": slice(24, 27), "block_orientation": slice(27, 31)}


def _score_hands(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """Mean R^2 over all 31 targets, then per group (joint angles, block position, block orientation)."""
    scores = {"r2": r2_score(y, pred), "mse": float(np.mean((y - pred) ** 2))}
    scores.update({f"r2_{group}": r2_score(y[:, cols], pred[:, cols]) for group, cols in HAND_GROUPS.items()})
    return scores


def _score_classify(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    labels = pred if pred.ndim == 1 else np.argmax(pred, axis=-1)
    return {"accuracy": float(np.mean(labels == y))}


def _score_reconstruct(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    mse = float(np.mean((y - pred) ** 2))
    return {"mse": mse, "psnr": float(10.0 * np.log10(1.0 / max(mse, 1e-12)))}


def _mean_baseline(train: np.ndarray, held_out: np.ndarray) -> np.ndarray:
    return np.broadcast_to(train.mean(axis=0), held_out.shape).copy()


def _majority_baseline(train: np.ndarray, held_out: np.ndarray) -> np.ndarray:
    return np.full(held_out.shape, np.bincount(train).argmax())


def get_task(name: str) -> Task:
    name = task_name(name)
    if name == "hands":
        return Task(name, _hands_head, "mse", lambda d: d.targets.astype(np.float32), _score_hands,
                    _mean_baseline, "r2")
    if name == "classify":
        return Task(name, _classify_head, "classify", lambda d: d.labels.astype(np.int64), _score_classify,
                    _majority_baseline, "accuracy")
    return Task(name, _reconstruct_head, "mse", lambda d: images01(d.images), _score_reconstruct, _mean_baseline,
                "mse", higher_is_better=False)
