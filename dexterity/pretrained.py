"""Pretrained visual encoders (storage/pretrained/<name>), loaded into a model with --preload."""
from __future__ import annotations

from typing import Any

from dexterity.errors import DexterityError
from dexterity.storage import storage_root


def check_pretrained(name: str) -> None:
    """Fail early, with one clear line, when --preload cannot be honoured."""
    folder = storage_root() / "pretrained" / name
    if not folder.is_dir():
        raise DexterityError(f"--preload {name}: no pretrained encoder at {folder} "
                             f"(visual pretraining, pretrain.py, is not available yet)")


def preload_encoder(model: Any, name: str) -> None:
    check_pretrained(name)
    raise DexterityError("--preload: loading pretrained encoders is not available yet")
