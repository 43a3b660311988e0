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
