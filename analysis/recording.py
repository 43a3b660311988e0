"""A recording: every layer's activations with the env state over whole episodes (TF-free to read).

Stored as `<out>/recording.npz` and `<out>/recording.json`. All arrays have one row per recorded
time step (S rows, episodes concatenated):

| npz key | shape | content |
| --- | --- | --- |
| `act/<layer>` | [S, units] | a layer's output at that step (recurrent cells: output, and `<cell>/state<k>` states) |
| `input/<sense>` | [S, d] | the normalised observation the model read (images: raw uint8, flattened) |
| `var/<name>` | [S, d] | env state: `state_info()` entries of hand tasks, else the raw observation `obs/<sense>` |
| `cellin/<cell>` | [S, d] | the input x each recurrent cell read at that step (cell(x, states)) |
| `episode`, `step` | [S] | episode index (0..E-1) and step within the episode |
| `reward` | [S] | reward received after the step |
"""
from __future__ import annotations

import dataclasses
import json
import os
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from dexterity.errors import DexterityError


@dataclasses.dataclass
class Recording:
    activations: dict[str, np.ndarray]   # layer -> [S, units], in call order
    inputs: dict[str, np.ndarray]        # sense -> [S, d]
    variables: dict[str, np.ndarray]     # env state variable -> [S, d]
    episode: np.ndarray                  # [S]
    step: np.ndarray                     # [S]
    reward: np.ndarray                   # [S]
    meta: dict[str, Any]
    cell_inputs: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)  # cell -> [S, d]

    @property
    def steps(self) -> int:
        return int(len(self.episode))

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        arrays = {f"act/{k}": v for k, v in self.activations.items()}
        arrays.update({f"input/{k}": v for k, v in self.inputs.items()})
        arrays.update({f"var/{k}": v for k, v in self.variables.items()})
        arrays.update({f"cellin/{k}": v for k, v in self.cell_inputs.items()})
        meta = {**self.meta, "layers": list(self.activations), "inputs": list(self.inputs),
                "variables": list(self.variables), "cell_inputs": list(self.cell_inputs), "steps": self.steps,
                "shapes": {k: list(v.shape) for k, v in arrays.items()}}
        # both files in full under temporary names, then the json, then the npz (which `load` looks for)
        # take their places: a crash leaves the previous pair or no npz, never a half-written file
        with open(folder / "recording.tmp.npz", "wb") as f:
            np.savez_compressed(f, episode=self.episode, step=self.step, reward=self.reward, **arrays)
            f.flush()
            os.fsync(f.fileno())  # on disk before it takes the name `load` looks for
        (folder / "recording.json.tmp").write_text(json.dumps(meta, indent=1))
        (folder / "recording.npz").unlink(missing_ok=True)
        os.replace(folder / "recording.json.tmp", folder / "recording.json")
        os.replace(folder / "recording.tmp.npz", folder / "recording.npz")

    @classmethod
    def load(cls, folder: Path) -> "Recording":
        path = folder / "recording.npz"
        if not path.is_file():
            raise DexterityError(f"no recording at {path}; run `python -m analysis record --id ID` first")
        try:
            meta = json.loads((folder / "recording.json").read_text())
            with np.load(path) as data:
                def group(prefix: str, names: list[str]) -> dict[str, np.ndarray]:
                    return {n: data[f"{prefix}/{n}"] for n in names}
                return cls(group("act", meta["layers"]), group("input", meta["inputs"]),
                           group("var", meta["variables"]), data["episode"], data["step"], data["reward"], meta,
                           group("cellin", meta.get("cell_inputs", [])))
        except (OSError, EOFError, ValueError, KeyError, TypeError, zipfile.BadZipFile, zlib.error) as exc:
            raise DexterityError(f"the recording in {folder} is incomplete or corrupt ({type(exc).__name__}: {exc}); "
                                 f"run `python -m analysis record --id ID --out {folder}` again") from None


def flat(x: np.ndarray) -> np.ndarray:
    """[S, ...] -> [S, d] float32 (uint8 images scaled to [0, 1], as the model sees them)."""
    scale = np.float32(1.0 / 255.0) if np.asarray(x).dtype == np.uint8 else np.float32(1.0)
    return np.asarray(x, np.float32).reshape(len(x), -1) * scale
