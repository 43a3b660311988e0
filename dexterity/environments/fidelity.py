"""Fidelity of a physics profile against `reference`: the measurements behind the profile choice.

Each function simulates a hand task under one profile and returns plain numbers; the tests
(`tests/test_physics.py`) hold them to the tolerances in `TOLERANCES`, and
`benchmarks/hand_physics.py --profiles` prints them per profile. TensorFlow-free.

- `rest_drift`: the block lying on the still hand (start pose held) for 10 s: how far it moves.
- `tracking_error`: commanded joint targets held for 1 s (no block): steady-state |angle - target|.
- `trajectory_gap`: one action sequence from one state (the reference's settled start), 1 s:
  distance between the fingertip paths of the profile and of the reference.
- `stability`: random actions (uniform, resampled each step) with resets: non-finite states,
  MuJoCo's own warnings and the largest joint and block speeds.
"""
from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from dexterity.environments.base import N_HAND_JOINTS, HandEnv
from dexterity.environments.physics import step_physics

# What a profile must meet against `reference`. Under `reference` itself the block creeps on the
# still hand (8 mm and 0.1 rad in 10 s, about 0.5 mm/s after the first second), the steady-state
# joint error is 0.18 rad on average (gravity against the weak position gains), and a 1 ms Euler
# simulation's fingertips differ from it by 1 mm (free hand) to 2.5 mm (block) over 1 s: the
# tolerances ask a profile not to add more than a few millimetres to those.
TOLERANCES = {
    "rest_position_diff_m": 0.002,     # |block displacement over 10 s - reference's|
    "rest_rotation_diff_rad": 0.02,    # |block rotation over 10 s - reference's|
    "tracking_mean_diff_rad": 0.005,   # |mean steady-state error - reference's|, over joints and targets
    "tracking_joint_diff_rad": 0.02,   # the same per actuated joint, worst joint
    "free_gap_m": 0.010,               # fingertip path gap to reference, free hand (mean over sequences of the max over 1 s)
    "block_gap_m": 0.015,              # the same with the block in the hand (contacts amplify differences)
    "max_joint_speed": 50.0,           # rad/s, hand joints, stability run (reference: 13)
    "max_block_speed": 5.0,            # m/s, the block, stability run (reference: 1.1)
}


def _make(env_id: str, physics: Any) -> HandEnv:
    return gym.make(env_id, physics=physics, disable_env_checker=True).unwrapped


def rest_drift(physics: Any, seconds: float = 10.0, seed: int = 0) -> dict[str, float]:
    """Block on the still hand (start pose, start controls held): displacement (m), rotation (rad)."""
    from dexterity.environments.rotations import quat_angle
    env = _make("ManipulateBlock-v0", physics)
    env.reset(seed=seed)
    start_pos, start_quat = env.object_position().copy(), env.object_quaternion().copy()
    env.data.qvel[:] = 0.0
    step_physics(env.model, env.data, env.physics_steps(seconds))
    out = {"rest_position_m": float(np.linalg.norm(env.object_position() - start_pos)),
           "rest_rotation_rad": float(quat_angle(env.object_quaternion(), start_quat)),
           "finite": bool(np.isfinite(env.data.qpos).all())}
    env.close()
    return out


def tracking_error(physics: Any, targets: int = 16, seconds: float = 1.0, seed: int = 0) -> np.ndarray:
    """[targets, 20] |joint angle - target| (rad) of each actuated joint after holding random
    targets (the central 80% of each range) for `seconds`, from the start pose (reach model, no block).
    The coupled distal actuators (FFJ1 ...) are compared with their two joints' sum, which they drive."""
    env = _make("ReachAbsolute-v0", physics)
    rng = np.random.default_rng(seed)
    out = np.zeros((targets, env.model.nu))
    for i in range(targets):
        env.reset(seed=seed + i)
        ctrl = env._ctrl_center + env._ctrl_half * rng.uniform(-0.8, 0.8, env.model.nu)
        env.data.ctrl[:] = ctrl
        step_physics(env.model, env.data, env.physics_steps(seconds))
        angle = env.data.qpos[env._act_qpos].copy()
        angle[env._coupled_act] += env.data.qpos[env._coupled_qpos]
        out[i] = np.abs(angle - ctrl)
    env.close()
    return out


def fingertip_paths(physics: Any, start: dict[str, np.ndarray], actions: np.ndarray,
                    env_id: str = "ManipulateBlock-v0") -> np.ndarray:
    """[T, 5, 3] fingertip positions after each of the [T, 20] actions (absolute control, 40 ms
    per step), from the state `start` (qpos, qvel, ctrl of the same model)."""
    env = _make(env_id, physics)
    env.reset(seed=0)
    env.data.qpos[:], env.data.qvel[:], env.data.ctrl[:] = start["qpos"], start["qvel"], start["ctrl"]
    paths = []
    for action in actions:
        env.step(action)
        paths.append(env.fingertip_positions().copy())
    env.close()
    return np.array(paths)


def smooth_actions(rng: np.random.Generator, steps: int, nu: int = 20, keep: float = 0.8) -> np.ndarray:
    """[steps, nu] random actions in [-1, 1] that change smoothly (an AR(1) of factor `keep`)."""
    out, a = np.zeros((steps, nu)), rng.uniform(-0.5, 0.5, nu)
    for t in range(steps):
        a = keep * a + (1.0 - keep) * rng.uniform(-1.0, 1.0, nu) * 2.0
        out[t] = np.clip(a, -1.0, 1.0)
    return out


def trajectory_gap(physics: Any, sequences: int = 8, seconds: float = 1.0, seed: int = 0,
                   env_id: str = "ManipulateBlock-v0") -> np.ndarray:
    """[sequences] the largest fingertip distance (m) over `seconds` between `physics` and
    `reference` driven by the same smooth random actions from the reference's settled start
    (`env_id`: the block task, whose contacts amplify differences, or ReachAbsolute-v0, the free hand)."""
    ref = _make(env_id, "reference")
    ref.reset(seed=seed)
    start = {"qpos": ref.data.qpos.copy(), "qvel": ref.data.qvel.copy(), "ctrl": ref.data.ctrl.copy()}
    steps = int(round(seconds / ref.control_period))
    ref.close()
    rng = np.random.default_rng(seed)
    gaps = []
    for _ in range(sequences):
        actions = smooth_actions(rng, steps)
        a, b = fingertip_paths(physics, start, actions, env_id), fingertip_paths("reference", start, actions, env_id)
        gaps.append(float(np.linalg.norm(a - b, axis=-1).max()))
    return np.array(gaps)


def stability(physics: Any, steps: int = 100_000, seed: int = 0) -> dict[str, float]:
    """Random uniform actions on ManipulateBlock for `steps` env steps (resets as episodes end):
    non-finite states, MuJoCo warnings (bad accelerations, solver/contact overflows), top speeds."""
    import mujoco
    env = _make("ManipulateBlock-v0", physics)
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    actions = rng.uniform(-1.0, 1.0, (1000, env.model.nu))
    nonfinite, joint_speed, block_speed = 0, 0.0, 0.0
    v = env._obj_v
    warnings: dict[str, int] = {}

    def count_warnings() -> None:  # before a reset clears them
        for i in range(len(env.data.warning)):
            if env.data.warning[i].number:
                name = mujoco.mjtWarning(i).name
                warnings[name] = warnings.get(name, 0) + int(env.data.warning[i].number)
    for t in range(steps):
        _, _, terminated, truncated, _ = env.step(actions[t % 1000])
        qvel = env.data.qvel
        if not (np.isfinite(env.data.qpos).all() and np.isfinite(qvel).all()):
            nonfinite += 1
            terminated = True
        else:
            joint_speed = max(joint_speed, float(np.abs(qvel[:N_HAND_JOINTS]).max()))
            block_speed = max(block_speed, float(np.linalg.norm(qvel[v:v + 3])))
        if terminated or truncated:
            count_warnings()
            env.reset()
    count_warnings()
    env.close()
    return {"steps": steps, "nonfinite": nonfinite, "max_joint_speed": joint_speed, "max_block_speed": block_speed,
            "warnings": sum(warnings.values()), "warning_kinds": warnings}


def fidelity_report(physics: Any, stability_steps: int = 100_000) -> dict[str, Any]:
    """Every fidelity figure of `physics` against `reference`, and which checks pass (`TOLERANCES`)."""
    rest, rest_ref = rest_drift(physics), rest_drift("reference")
    track, track_ref = tracking_error(physics), tracking_error("reference")
    stable = stability(physics, stability_steps)
    row = {"rest_position_m": rest["rest_position_m"], "rest_rotation_rad": rest["rest_rotation_rad"],
           "rest_position_diff_m": abs(rest["rest_position_m"] - rest_ref["rest_position_m"]),
           "rest_rotation_diff_rad": abs(rest["rest_rotation_rad"] - rest_ref["rest_rotation_rad"]),
           "tracking_mean_rad": float(track.mean()),
           "tracking_mean_diff_rad": float(abs(track.mean() - track_ref.mean())),
           "tracking_joint_diff_rad": float(np.abs(track.mean(0) - track_ref.mean(0)).max()),
           "free_gap_m": float(trajectory_gap(physics, env_id="ReachAbsolute-v0").mean()),
           "block_gap_m": float(trajectory_gap(physics).mean()),
           **{k: stable[k] for k in ("steps", "nonfinite", "warnings", "max_joint_speed", "max_block_speed")}}
    checks = {key: row[key] <= limit for key, limit in TOLERANCES.items()}
    checks["stable"] = row["nonfinite"] == 0 and row["warnings"] == 0 and rest["finite"]
    return {**row, "checks": checks, "passes": all(checks.values())}
