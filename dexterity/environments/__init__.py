"""Shadow Hand tasks on the official mujoco bindings, registered with Gymnasium on `import dexterity`.

Never import TensorFlow here: these environments render (gifs, vision observations) and rendering
in a process with TensorFlow loaded segfaults. Without a display, MuJoCo renders through EGL.
"""
from __future__ import annotations

import os

if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
    os.environ.setdefault("MUJOCO_GL", "egl")

# id -> (entry point, kwargs, max_episode_steps, reward_threshold)
TASKS: dict[str, tuple[str, dict, int | None, float]] = {
    "ReachAbsolute-v0": ("dexterity.environments.reach:ReachEnv", {"relative_control": False}, 100, 0.0),
    "ReachRelative-v0": ("dexterity.environments.reach:ReachEnv", {"relative_control": True}, 100, 0.0),
    "FreeReach-v0": ("dexterity.environments.reach:FreeReachEnv", {}, 100, 4.0),
    **{f"FreeReach{f.upper()}-v0": ("dexterity.environments.reach:FreeReachEnv", {"finger": f}, 100, 4.0)
       for f in ("ff", "mf", "rf", "lf")},
    "ManipulateBlock-v0": ("dexterity.environments.manipulate:ManipulateBlockEnv", {}, None, 100.0),
    "ManipulateBlockDiscrete-v0": ("dexterity.environments.manipulate:ManipulateBlockDiscreteEnv", {}, None, 100.0),
    "ManipulateBlockVisual-v0": ("dexterity.environments.manipulate:ManipulateBlockVisualEnv", {}, None, 100.0),
}


def register_environments() -> None:
    """Register the dexterity tasks with Gymnasium (idempotent)."""
    import gymnasium as gym

    for env_id, (entry_point, kwargs, max_steps, threshold) in TASKS.items():
        if env_id in gym.envs.registry:
            continue
        gym.register(id=env_id, entry_point=entry_point, kwargs=dict(kwargs), max_episode_steps=max_steps,
                     reward_threshold=threshold)


# Env kwargs whose default changed (2026-11-30): the value an agent saved without the kwarg was
# trained with (2 ms Euler physics; 100 steps, i.e. 4 s, per goal).
LEGACY_KWARGS: dict[str, dict] = {
    env_id: {"physics": "reference", **({"goal_timeout": 100} if "Manipulate" in env_id else {})} for env_id in TASKS}


def pinned_env_kwargs(env_id: str, kwargs: dict | None) -> dict:
    """`kwargs` with the defaults that may change between versions written out (the physics profile,
    the goal timeout: null means the 8 s default), so that a saved agent keeps the env it learned on."""
    out = dict(kwargs or {})
    if env_id in TASKS:
        from dexterity.environments.physics import DEFAULT_PROFILE
        out.setdefault("physics", DEFAULT_PROFILE)
        if "goal_timeout" in LEGACY_KWARGS[env_id]:
            out.setdefault("goal_timeout", None)
    return out


def saved_env_kwargs(env_id: str, kwargs: dict | None) -> dict:
    """The env kwargs of an agent saved with `kwargs`: those it lacks take their value of the time
    before they existed (`LEGACY_KWARGS`), e.g. the reference physics for agents saved before profiles."""
    return {**LEGACY_KWARGS.get(env_id, {}), **(kwargs or {})}
