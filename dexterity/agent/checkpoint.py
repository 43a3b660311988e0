"""Self-describing checkpoints: build a policy from its saved config and spaces, save and restore state.

A checkpoint folder (docs/storage.md) carries everything needed to rebuild the agent's policy
without the training script or the environment: config, spaces, weights, optimizer state,
normaliser statistics and RNG state. Folders are written atomically.
"""
from __future__ import annotations

import dataclasses
import json
import pickle
import zipfile
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from dexterity.agent.freezing import freeze_components, parse_components
from dexterity.agent.policy import Policy
from dexterity.configs.hp_config import defaults, derive_config
from dexterity.distributions import default_distribution, get_distribution
from dexterity.errors import AgentNotFoundError, ConfigError
from dexterity.models import build_model
from dexterity.spaces import Sense
from dexterity.storage import (check_save_name, models_dir, read_json, resolve_agent_id, write_folder_atomically,
                               write_json)
from dexterity.transformers import Transformer, make_transformer

FORMAT = 1


def spread_states(states: list[Any] | None, n: int, offset: int = 0) -> list[Any] | None:
    """Env training states (agent.json `env_states`) for envs offset .. offset+n-1, cycling over the saved
    ones when the counts differ; None when none were saved."""
    if not states:
        return None
    return [states[(offset + i) % len(states)] for i in range(n)]


@dataclasses.dataclass
class Brain:
    """Everything that maps observations to actions: the policy and the state normaliser."""

    policy: Policy
    state_norm: Transformer
    senses: list[Sense]
    observation_space: gym.Space
    action_space: gym.Space


def make_distribution(config: dict[str, Any], action_space: gym.Space) -> Any:
    """The configured distribution for an action space (clear errors for incompatible ones)."""
    options = {"bins": config.get("bins", 11), "log_std_init": config.get("log_std_init", 0.0)}
    if config["distribution"] is None:
        return default_distribution(action_space, **options)
    return get_distribution(config["distribution"], action_space, **options)


def build_brain(config: dict[str, Any], senses: list[Sense], observation_space: gym.Space,
                action_space: gym.Space, seed: int, rank: int = 0) -> Brain:
    """Distribution, model (weights initialised from the seed, frozen components frozen), policy and
    state normaliser.

    The policy's sampling stream derives from (seed, rank), so ranks do not share action noise.
    """
    import keras
    keras.utils.set_random_seed(seed % (2 ** 31))
    distribution = make_distribution(config, action_space)
    model = build_model(config, senses, distribution)
    freeze_components(model, parse_components(config.get("freeze_components")))
    policy = Policy(model, distribution, int(np.random.SeedSequence([seed, rank, 1]).generate_state(1)[0]))
    state_norm = make_transformer(config.get("state_transformer", "state_normaliser"), senses, config)
    return Brain(policy, state_norm, senses, observation_space, action_space)


def _save_npz(path: Path, arrays: list[np.ndarray], names: list[str]) -> None:
    np.savez(path, **{f"{i:03d}:{name}": a for i, (name, a) in enumerate(zip(names, arrays))})


def _load_npz(path: Path) -> list[np.ndarray]:
    try:
        with np.load(path) as data:
            return [data[key] for key in sorted(data.files)]
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise AgentNotFoundError(f"{path} is missing or corrupt ({exc})") from None


def save_checkpoint(folder: Path, info: dict[str, Any], brain: Brain, optimizer: Any | None = None,
                    reward_norm: Transformer | None = None, rng_state: dict[str, Any] | None = None) -> None:
    """Write a checkpoint folder atomically (a crash leaves the previous one intact)."""
    model = brain.policy.model

    def fill(tmp: Path) -> None:
        write_json(tmp / "agent.json", {**info, "format": FORMAT})
        _save_npz(tmp / "weights.npz", model.get_weights(), [v.path for v in model.variables])
        if optimizer is not None:
            _save_npz(tmp / "optimizer.npz", [np.array(v.numpy()) for v in optimizer.variables],
                      [v.path for v in optimizer.variables])
        norms = {"state": brain.state_norm.state_dict(),
                 "reward": reward_norm.state_dict() if reward_norm is not None else None}
        write_json(tmp / "normalisers.json", norms)
        with open(tmp / "spaces.pkl", "wb") as f:
            pickle.dump({"observation_space": brain.observation_space, "action_space": brain.action_space,
                         "senses": brain.senses}, f)
        write_json(tmp / "rng.json", rng_state or {})

    write_folder_atomically(folder, fill)


STRUCTURAL = ("architecture", "model", "distribution", "shared", "bins")  # fixed once an agent is built


def saved_config(info: dict[str, Any], changes: dict[str, Any] | None) -> dict[str, Any]:
    """A checkpoint's config with `changes` applied (parameters added since it was saved: their
    defaults); ConfigError for a change of the network's structure."""
    changes = dict(changes or {})
    clash = [k for k in STRUCTURAL if k in changes and changes[k] != info["config"][k]]
    if clash:
        had = ", ".join(f"{k}={info['config'][k]}" for k in clash)
        raise ConfigError(f"cannot change {', '.join(clash)} of a saved agent (it has {had})")
    return derive_config({**defaults(), **info["config"]}, changes)


def save_name(agent_id: str, which: str | int | None = None) -> str:
    """The name of a save of a (resolved) agent: 'last', 'best' or a cycle number; None: 'best' where
    it exists, else 'last'. Any other name is an AgentNotFoundError."""
    if which is None:
        return "best" if (models_dir(agent_id) / "best" / "agent.json").is_file() else "last"
    return check_save_name(which)


def checkpoint_dir(agent_id: str | None, which: str | int | None = "last") -> Path:
    """Folder of a saved agent's checkpoint `which` (see `save_name`; None: best, else last)."""
    agent_id = resolve_agent_id(agent_id)
    which = save_name(agent_id, which)
    folder = models_dir(agent_id) / which
    if not (folder / "agent.json").is_file():
        saves = sorted(p.name for p in models_dir(agent_id).iterdir() if (p / "agent.json").is_file())
        raise AgentNotFoundError(f"agent '{agent_id}' has no save '{which}' (available: {', '.join(saves) or 'none'})")
    return folder


def load_saved(agent_id: str | None, which: str | None = None) -> tuple[dict[str, Any], "Brain", str]:
    """(info, brain, save name) of a saved agent's checkpoint `which` (None: best, else last), with
    the plugins it trained with imported; unknown ids, saves and corrupt files raise."""
    from dexterity.plugins import import_plugins
    folder = checkpoint_dir(agent_id, which)
    info = read_info(folder)
    import_plugins(info.get("plugins", ()))
    return info, load_brain(folder, info), folder.name


_INFO_FIELDS: dict[str, tuple[tuple[type, ...], bool]] = {  # field: (types, required)
    "config": ((dict,), True), "env_id": ((str,), True), "iteration": ((int,), True), "frames": ((int,), True),
    "best_return": ((int, float, type(None)), False), "wall_time": ((int, float, type(None)), False),
    "env_kwargs": ((dict, type(None)), False), "env_states": ((list, type(None)), False),
    "plugins": ((list, tuple), False), "preset": ((str, type(None)), False)}


def _check_info(info: Any, path: Path) -> None:
    """AgentNotFoundError naming the first missing or mistyped field of an agent.json."""
    if not isinstance(info, dict):
        raise AgentNotFoundError(f"{path} is not a dexterity checkpoint")
    for name, (types, required) in _INFO_FIELDS.items():
        if name not in info:
            if required:
                raise AgentNotFoundError(f"{path} is not a dexterity checkpoint (no '{name}')")
            continue
        value = info[name]
        if not isinstance(value, types) or isinstance(value, bool) or (name in ("iteration", "frames") and value < 0):
            raise AgentNotFoundError(f"{path} is corrupt: '{name}' is {value!r}")


def read_info(folder: Path) -> dict[str, Any]:
    """A checkpoint folder's agent.json, checked. `agent_id` is the agent folder's name (an agent
    copied by hand is its copy); `copied_from` the id agent.json names when that differs."""
    info = read_json(folder / "agent.json", "checkpoint")
    _check_info(info, folder / "agent.json")
    written, info["agent_id"] = info.get("agent_id"), folder.parent.name
    if isinstance(written, str) and written != info["agent_id"]:
        info["copied_from"] = written
    from dexterity.environments import saved_env_kwargs
    info["env_kwargs"] = saved_env_kwargs(info["env_id"], info.get("env_kwargs"))
    return info


def run_env_kwargs(info: dict[str, Any], overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The env kwargs to run a saved agent with: those it trained with (training aids, physics profile,
    action interface; `read_info`'s), updated key by key by `overrides` (None values included, e.g.
    goal_angle)."""
    return {**(info.get("env_kwargs") or {}), **(overrides or {})}


def check_compatible(pool: Any, brain: "Brain", env_id: str) -> None:
    """ConfigError unless the envs of `pool` have the agent's action space and observation layout."""
    if pool.action_space != brain.action_space:
        raise ConfigError(f"env {env_id} has action space {pool.action_space}; the agent was trained on "
                          f"{brain.action_space}")
    mine = [(s.name, tuple(s.shape)) for s in brain.senses]
    theirs = [(s.name, tuple(s.shape)) for s in pool.senses]
    if mine != theirs:
        raise ConfigError(f"env {env_id} observes {theirs}; the agent was trained on {mine}")


def load_brain(folder: Path, info: dict[str, Any] | None = None, config: dict[str, Any] | None = None) -> Brain:
    """Rebuild the policy and state normaliser of a checkpoint folder (weights loaded)."""
    info = info or read_info(folder)
    try:
        with open(folder / "spaces.pkl", "rb") as f:
            spaces = pickle.load(f)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError) as exc:
        raise AgentNotFoundError(f"{folder / 'spaces.pkl'} is missing or corrupt ({exc})") from None
    if not isinstance(spaces, dict) or not {"senses", "observation_space", "action_space"} <= set(spaces):
        raise AgentNotFoundError(f"{folder / 'spaces.pkl'} is corrupt (not the saved spaces)")
    try:
        config = config or saved_config(info, None)
        brain = build_brain(config, spaces["senses"], spaces["observation_space"], spaces["action_space"],
                            int(config.get("seed") or 0))
    except ConfigError as exc:
        raise AgentNotFoundError(f"checkpoint {folder} cannot be rebuilt: {exc}") from None
    try:
        brain.policy.model.set_weights(_load_npz(folder / "weights.npz"))
    except ValueError as exc:
        raise AgentNotFoundError(f"{folder / 'weights.npz'} does not fit the model: {exc}") from None
    restore_normaliser(brain.state_norm, load_normalisers(folder), "state", folder)
    return brain


def load_optimizer(folder: Path, optimizer: Any) -> None:
    path = folder / "optimizer.npz"
    if not path.exists():
        return
    values = _load_npz(path)
    if len(values) != len(optimizer.variables):
        raise AgentNotFoundError(f"{path} does not fit the optimizer ({len(values)} arrays)")
    for v, value in zip(optimizer.variables, values):
        if tuple(v.shape) != value.shape:
            raise AgentNotFoundError(f"{path} does not fit the optimizer ({v.path}: {value.shape} for {tuple(v.shape)})")
    for v, value in zip(optimizer.variables, values):
        v.assign(value)


def load_normalisers(folder: Path) -> dict[str, Any]:
    """normalisers.json: {"state": statistics or null, "reward": statistics or null}."""
    path = folder / "normalisers.json"
    norms = read_json(path, "checkpoint normalisers")
    if not isinstance(norms, dict) or any(not isinstance(norms.get(k), (dict, type(None))) for k in ("state", "reward")):
        raise AgentNotFoundError(f"{path} is corrupt (not {{'state': ..., 'reward': ...}})")
    return norms


def restore_normaliser(norm: Transformer, norms: dict[str, Any], which: str, folder: Path) -> None:
    """Load the `which` ('state' or 'reward') statistics of `load_normalisers` into `norm`."""
    try:
        norm.load_state_dict(norms.get(which) or {})
    except (KeyError, TypeError, ValueError) as exc:
        raise AgentNotFoundError(f"{folder / 'normalisers.json'}: the {which} statistics do not fit ({exc})") from None


def load_rng(folder: Path) -> dict[str, Any]:
    path = folder / "rng.json"
    rng = read_json(path, "checkpoint RNG state") if path.exists() else {}
    if not isinstance(rng, dict):
        raise AgentNotFoundError(f"{path} is corrupt (not a JSON object)")
    return rng
