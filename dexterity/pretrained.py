"""Pretrained visual encoders (storage/pretrained/<name>), loaded into a model with --preload.

A pretrained encoder folder (written by pretrain.py) holds

    encoder.npz   the weights of the VisualEncoder layers, keys "<layer>/<index>" with <layer> the
                  part after "visual_encoder_" (conv1, conv2, conv3, dense) and <index> the
                  weight's position in `layer.weights` (0 kernel, 1 bias)
    meta.json     {"name", "task", "image_size", "channels", "features", "samples", "epochs",
                   "metric", "baseline", "history", "created", ...}

`preload_encoder` copies them into every layer of a model whose name starts with
"visual_encoder_"; shapes must match exactly (the dense layer's input depends on the image size).
TensorFlow-free except through the model object it is given.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from dexterity.errors import DexterityError
from dexterity.storage import read_json, storage_root, utc_now, write_folder_atomically, write_json

PREFIX = "visual_encoder_"
WEIGHTS_FILE = "encoder.npz"
META_FILE = "meta.json"


def pretrained_dir(name: str) -> Path:
    """Folder of a pretrained encoder: a name under storage/pretrained, or a path to such a folder."""
    path = Path(name)
    if (path / WEIGHTS_FILE).is_file():
        return path
    if not name or "/" in name or name.startswith(".") or name == "data":
        raise DexterityError(f"'{name}' is not a pretrained encoder name (letters, digits, -_.) or folder")
    return storage_root() / "pretrained" / name


def check_pretrained(name: str) -> None:
    """Fail early, with one clear line, when --preload cannot be honoured."""
    folder = pretrained_dir(name)
    if not (folder / WEIGHTS_FILE).is_file() or not (folder / META_FILE).is_file():
        known = list_pretrained()
        raise DexterityError(f"--preload {name}: no pretrained encoder at {folder} "
                             f"(train one with pretrain.py; available: {', '.join(known) or 'none'})")


def list_pretrained() -> list[str]:
    root = storage_root() / "pretrained"
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / WEIGHTS_FILE).is_file())


def read_pretrained(name: str) -> tuple[dict[str, list[np.ndarray]], dict[str, Any]]:
    """({layer suffix: [weight arrays]}, meta) of a pretrained encoder."""
    check_pretrained(name)
    folder = pretrained_dir(name)
    meta = read_json(folder / META_FILE, "pretrained encoder meta")
    try:
        with np.load(folder / WEIGHTS_FILE) as data:
            flat = {key: np.array(data[key]) for key in data.files}
    except (OSError, ValueError) as exc:
        raise DexterityError(f"--preload {name}: {folder / WEIGHTS_FILE} is corrupt ({exc})") from None
    return _group(flat), meta


def encoder_layers(model: Any) -> dict[str, Any]:
    """{suffix: layer} of the model's layers named visual_encoder_<suffix> that have weights."""
    return {layer.name[len(PREFIX):]: layer for layer in model.layers
            if layer.name.startswith(PREFIX) and layer.weights}


def save_encoder(layers: dict[str, Any], name: str, meta: dict[str, Any]) -> Path:
    """Write encoder layers {suffix: keras layer} and meta to storage/pretrained/<name> (atomically)."""
    folder = pretrained_dir(name)
    arrays = {f"{suffix}/{i}": np.array(w.numpy()) for suffix, layer in layers.items()
              for i, w in enumerate(layer.weights)}

    def fill(tmp: Path) -> None:
        np.savez(tmp / WEIGHTS_FILE, **arrays)
        write_json(tmp / META_FILE, {**meta, "name": folder.name, "created": utc_now(),
                                     "layers": {k: [list(a.shape) for a in ws] for k, ws in
                                                _group(arrays).items()}})

    write_folder_atomically(folder, fill)
    return folder


def _group(arrays: dict[str, np.ndarray]) -> dict[str, list[np.ndarray]]:
    out: dict[str, list[np.ndarray]] = {}
    for key in sorted(arrays, key=lambda k: (k.split("/")[0], int(k.split("/")[1]))):
        out.setdefault(key.split("/")[0], []).append(arrays[key])
    return out


def _check_image_size(model: Any, name: str, meta: dict[str, Any]) -> None:
    size = meta.get("image_size")
    images = [s for s in getattr(model, "senses", []) if getattr(s, "is_image", False)]
    for sense in images:
        if size is not None and tuple(sense.shape[:2]) != (size, size):
            raise DexterityError(f"--preload {name}: the encoder was pretrained on {size}x{size} images but the "
                                 f"model's '{sense.name}' images are {sense.shape[0]}x{sense.shape[1]} "
                                 f"(pretrain again with --size {sense.shape[0]})")


def preload_encoder(model: Any, name: str) -> None:
    """Load the pretrained encoder `name` into the model's visual_encoder_* layers (shapes must match)."""
    weights, meta = read_pretrained(name)
    layers = encoder_layers(model)
    if not layers:
        raise DexterityError(f"--preload {name}: the model has no visual encoder (no visual_encoder_* layers; "
                             f"only agents with image observations, e.g. ManipulateBlockVisual-v0, have one)")
    _check_image_size(model, name, meta)
    missing = sorted(set(layers) - set(weights))
    if missing:
        raise DexterityError(f"--preload {name}: the pretrained encoder has no weights for layer(s) "
                             f"{', '.join(PREFIX + m for m in missing)}")
    for suffix, layer in layers.items():
        saved = weights[suffix]
        if len(saved) != len(layer.weights):
            raise DexterityError(f"--preload {name}: layer {layer.name} has {len(layer.weights)} weights, "
                                 f"the pretrained encoder {len(saved)}")
        for variable, value in zip(layer.weights, saved):
            if tuple(variable.shape) != tuple(value.shape):
                raise DexterityError(f"--preload {name}: shape mismatch in {variable.path}: model "
                                     f"{tuple(variable.shape)}, pretrained {tuple(value.shape)} (pretrained on "
                                     f"{meta.get('image_size')} px images)")
    for suffix, layer in layers.items():
        for variable, value in zip(layer.weights, weights[suffix]):
            variable.assign(value)
