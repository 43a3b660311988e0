"""Export a trained policy for deployment: a TensorFlow SavedModel with the normalisation built in.

The SavedModel's `act(obs, state)` takes raw observations (dict of [B, *shape] float32, the
layout of `dexterity.spaces`) and the recurrent state, and returns the deterministic action in
the distribution's space, the policy parameters and the next state; `normalise(obs)` returns
what the model reads (the state normaliser's own formula over its frozen statistics).
`export.json` beside it records the senses, state sizes and the action space so that
`ExportedPolicy` can map actions to the env (clip, rescale, bins) with no dexterity checkpoint;
the SavedModel itself loads with plain `tf.saved_model.load` on machines without dexterity.
"""
from __future__ import annotations

import json
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from dexterity.agent.checkpoint import Brain
from dexterity.errors import DexterityError
from dexterity.transformers import ArrayOps

TF_OPS = ArrayOps(clip=tf.clip_by_value, widen=lambda x: tf.cast(x, tf.float64),
                  to_float32=lambda x: tf.cast(x, tf.float32))


class _Exported(tf.Module):
    """`act(obs, state)` and `normalise(obs)` of a brain; the normalisation is the normaliser's own
    formula (`StateNormaliser.apply`) over its statistics frozen as constants."""

    def __init__(self, brain: Brain):
        super().__init__()
        self.model = brain.policy.model
        self.layers = list(brain.policy.model.layers)
        norm = brain.state_norm
        scales = {k: (tf.constant(mean, tf.float64), tf.constant(std, tf.float64))
                  for k, (mean, std) in norm.scales().items()}
        obs_spec = {s.name: tf.TensorSpec([None, *s.shape], tf.float32, name=s.name.replace("/", "_"))
                    for s in brain.senses}
        state_spec = [tf.TensorSpec([None, size], tf.float32) for size in brain.policy.model.state_sizes()]
        distribution = brain.policy.distribution

        def normalise(obs: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
            return norm.apply(obs, scales, TF_OPS)

        def act(obs: dict[str, tf.Tensor], state: list[tf.Tensor]) -> dict[str, Any]:
            params, value, new_state = self.model.step(normalise(obs), list(state))
            return {"action": distribution.mode(params), "params": params, "value": value, "state": new_state}

        self.normalise = tf.function(normalise, input_signature=[obs_spec])
        self.act = tf.function(act, input_signature=[obs_spec, state_spec])


def check_exportable(brain: Brain, path: str | Path) -> None:
    """Fail early (before training) when the policy could not be exported to `path`."""
    from dexterity.transformers import StateNormaliser
    if type(brain.state_norm) is not StateNormaliser:
        raise DexterityError(f"--export-file supports the built-in state normaliser only, not "
                             f"'{brain.state_norm.name}' (its transform has no TensorFlow version)")
    path = Path(path)
    if path.exists() and not (path / "saved_model.pb").exists():
        raise DexterityError(f"--export-file {path} exists and is not an exported policy; not overwriting it")
    ancestor = path.absolute().parent
    while not ancestor.exists():  # the folders export_policy will make
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise DexterityError(f"--export-file {path}: {ancestor} is not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise DexterityError(f"--export-file {path}: cannot write in {ancestor}")


def export_policy(brain: Brain, path: str | Path) -> Path:
    """Write the SavedModel and export.json to folder `path` (replaced if it exists)."""
    check_exportable(brain, path)
    path = Path(path)
    module = _Exported(brain)
    tf.saved_model.save(module, str(path))
    meta = {"senses": [s.__dict__ for s in brain.senses], "state_sizes": brain.policy.model.state_sizes(),
            "distribution": type(brain.policy.distribution).name}
    (path / "export.json").write_text(json.dumps(meta, indent=1))
    with open(path / "spaces.pkl", "wb") as f:
        pickle.dump({"action_space": brain.action_space, "observation_space": brain.observation_space}, f)
    return path


class ExportedPolicy:
    """A loaded export: `policy(obs, state) -> (env_actions, new_state)` on numpy batches."""

    def __init__(self, path: str | Path):
        path = Path(path)
        try:
            self.module = tf.saved_model.load(str(path))
            self.meta = json.loads((path / "export.json").read_text())
            with open(path / "spaces.pkl", "rb") as f:
                spaces = pickle.load(f)
        except (OSError, ValueError, pickle.UnpicklingError) as exc:
            raise DexterityError(f"{path} is not a readable exported policy ({exc})") from None
        from dexterity.agent.checkpoint import make_distribution
        from dexterity.configs.hp_config import make_config
        self.distribution = make_distribution(make_config(distribution=self.meta["distribution"]),
                                              spaces["action_space"])

    def initial_state(self, batch: int) -> list[np.ndarray]:
        return [np.zeros((batch, size), np.float32) for size in self.meta["state_sizes"]]

    def __call__(self, obs: dict[str, np.ndarray], state: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        out = self.module.act({k: np.asarray(v, np.float32) for k, v in obs.items()}, state)
        return self.distribution.to_env(out["action"].numpy()), [s.numpy() for s in out["state"]]
