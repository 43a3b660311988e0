"""Env steps/s of each Shadow Hand task against the raw `mj_step` rate of its model.

    python benchmarks/hand_physics.py [--seconds 3] [--tasks ReachAbsolute-v0 ...] [--with-vision]
    python benchmarks/hand_physics.py --profiles [--stability-steps 100000]   # physics profiles
    python benchmarks/hand_physics.py --memory 64 [--tasks ...]                 # resident MB per env

Tasks: each task (on its default physics profile) against the raw `mj_step` rate of its model.

Random actions, one process, episodes reset as they end. Env and raw rates are measured in
alternating rounds and the best round of each is reported (other processes add noise). The raw rate runs `mj_step` with
`nstep=substeps` on the same model from the same start pose with random controls, and is
reported in env-step equivalents (mj_steps/s / substeps). The visual task's rendering is
replaced by a constant image unless --with-vision. Target ratio: >= 0.85.

--profiles: ManipulateBlock-v0 under each physics profile (`dexterity.environments.physics`): env
steps/s and their ratio to `reference`, measured in alternating rounds in one run, then the fidelity
figures against `reference` (`dexterity.environments.fidelity`: block rest drift over 10 s, steady-state
joint tracking error, fingertip path gap over 1 s, a random-action stability run) and whether the
profile passes every check.

--memory N: each task's resident memory per env, from N envs created, reset and stepped in a fresh
process (the growth of its resident set over one env already made, divided by N). The envs of a
process share their model where the task allows it (`HandEnv.shares_model`).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Callable
from pathlib import Path

import gymnasium as gym
import mujoco
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository's dexterity, run from anywhere
import dexterity  # noqa: F401,E402  (registers the tasks)
from dexterity.environments import TASKS  # noqa: E402
from _child import run_in_fresh_process  # noqa: E402  (benchmarks/ is on sys.path: run as a script or from the tests)


def _timed(step, seconds: float) -> float:
    """Calls of `step()` per second over about `seconds` (after a short warm-up)."""
    for _ in range(20):
        step()
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(50):
            step()
        count += 50
    return count / (time.perf_counter() - start)


def _best_interleaved(env_step, raw_step, seconds: float, rounds: int) -> tuple[float, float]:
    """Best rate of each over `rounds` alternating measurements (robust to load from other processes)."""
    env_rates, raw_rates = [], []
    for _ in range(rounds):
        env_rates.append(_timed(env_step, seconds / rounds))
        raw_rates.append(_timed(raw_step, seconds / rounds))
    return max(env_rates), max(raw_rates)


def env_stepper(env_id: str, with_vision: bool, **kwargs) -> tuple[Callable[[], None], gym.Env]:
    """A function doing one env step with a random action (resetting as episodes end), and the env."""
    env = gym.make(env_id, disable_env_checker=True, **kwargs)
    u = env.unwrapped
    if "Visual" in env_id and not with_vision:
        blank = np.zeros(env.observation_space["vision"].shape, np.uint8)
        u._vision = lambda: blank
    env.reset(seed=0)
    env.action_space.seed(0)
    actions = [env.action_space.sample() for _ in range(1000)]
    state = {"i": 0}

    def step() -> None:
        state["i"] += 1
        _, _, terminated, truncated, _ = env.step(actions[state["i"] % 1000])
        if terminated or truncated:
            env.reset()

    return step, env


def raw_stepper(env: gym.Env) -> Callable[[], None]:
    """One bare `mj_step(model, data, nstep=substeps)` on the env's model from its start pose."""
    u = env.unwrapped
    data = mujoco.MjData(u.model)
    data.qpos[:] = u._initial_qpos
    rng = np.random.default_rng(0)
    low, high = u.model.actuator_ctrlrange.T
    controls = rng.uniform(low, high, (1000, u.model.nu))
    state = {"i": 0}

    def step() -> None:
        state["i"] += 1
        data.ctrl[:] = controls[state["i"] % 1000]
        mujoco.mj_step(u.model, data, nstep=u.substeps)

    return step


def profile_table(seconds: float, rounds: int, stability_steps: int) -> list[dict]:
    """Speed (ratio to reference, alternating rounds) and fidelity of every physics profile."""
    from dexterity.environments.fidelity import fidelity_report
    from dexterity.environments.physics import DEFAULT_PROFILE, PROFILES
    steppers = {name: env_stepper("ManipulateBlock-v0", False, physics=name)[0] for name in PROFILES}
    rates: dict[str, list[float]] = {name: [] for name in PROFILES}
    for _ in range(rounds):
        for name, step in steppers.items():
            rates[name].append(_timed(step, seconds / rounds))
    best = {name: max(r) for name, r in rates.items()}
    print(f"{'profile':10s} {'steps/s':>8s} {'x ref':>6s} {'rest mm':>8s} {'rest rad':>8s} {'track':>7s} "
          f"{'d track':>7s} {'worst j':>7s} {'free mm':>7s} {'block mm':>8s} {'joint/s':>7s} {'block/s':>7s} "
          f"{'warn':>4s} pass")
    rows = []
    for name in PROFILES:
        fid = fidelity_report(name, stability_steps)
        row = {"profile": name, "default": name == DEFAULT_PROFILE, "description": PROFILES[name].description,
               "env_steps_per_s": best[name], "ratio_to_reference": best[name] / best["reference"], **fid}
        rows.append(row)
        print(f"{name:10s} {best[name]:8.0f} {row['ratio_to_reference']:6.2f} {1e3 * fid['rest_position_m']:8.2f} "
              f"{fid['rest_rotation_rad']:8.3f} {fid['tracking_mean_rad']:7.3f} {fid['tracking_mean_diff_rad']:7.4f} "
              f"{fid['tracking_joint_diff_rad']:7.4f} {1e3 * fid['free_gap_m']:7.2f} {1e3 * fid['block_gap_m']:8.2f} "
              f"{fid['max_joint_speed']:7.1f} {fid['max_block_speed']:7.2f} {fid['warnings'] + fid['nonfinite']:4d} "
              f"{'yes' if fid['passes'] else 'no: ' + ', '.join(k for k, ok in fid['checks'].items() if not ok)}",
              flush=True)
    return rows


def markdown_table(rows: list[dict]) -> str:
    """The --profiles rows as the markdown table of docs/environments.md."""
    lines = ["| profile | settings | env steps/s (x reference) | block rest drift 10 s (mm, rad) | steady-state "
             "joint error (rad; worst joint vs reference) | fingertip gap over 1 s, free hand / with block (mm) | "
             "stability (steps, warnings, top joint and block speed) | passes |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        name = f"**{r['profile']}** (default)" if r["default"] else r["profile"]
        lines.append(
            f"| {name} | {r['description']} | {r['env_steps_per_s']:.0f} ({r['ratio_to_reference']:.2f}x) | "
            f"{1e3 * r['rest_position_m']:.1f}, {r['rest_rotation_rad']:.3f} | {r['tracking_mean_rad']:.3f}; "
            f"{r['tracking_joint_diff_rad']:.4f} | {1e3 * r['free_gap_m']:.1f} / {1e3 * r['block_gap_m']:.1f} | "
            f"{r['steps'] // 1000}k, {r['warnings'] + r['nonfinite']}, {r['max_joint_speed']:.1f} rad/s, "
            f"{r['max_block_speed']:.2f} m/s | {'yes' if r['passes'] else 'no'} |")
    return "\n".join(lines)


def _resident_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


def _memory_child(env_id: str, n: int) -> float:
    """Resident MB per env of `n` envs of `env_id` beyond one env already made (run in a fresh process)."""
    first = gym.make(env_id)
    first.reset(seed=0)
    before = _resident_mb()
    envs = [gym.make(env_id) for _ in range(n)]
    for i, env in enumerate(envs):
        env.reset(seed=i + 1)
        for _ in range(5):
            env.step(env.action_space.sample())
    return (_resident_mb() - before) / n


def memory_per_env(env_id: str, n: int) -> float:
    """Resident MB per env of `env_id` (Linux /proc), measured in a fresh process; a crash of that
    process raises (BrokenProcessPool) instead of hanging."""
    return run_in_fresh_process(_memory_child, env_id, n)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0, help="measuring time per task and per rate")
    parser.add_argument("--tasks", nargs="*", default=list(TASKS), help="task ids (default: all)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating measurements; the best of each counts")
    parser.add_argument("--with-vision", action="store_true", help="include the visual task's rendering")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    parser.add_argument("--profiles", action="store_true", help="compare the physics profiles (speed and fidelity)")
    parser.add_argument("--stability-steps", type=int, default=100_000, help="--profiles: random steps per profile")
    parser.add_argument("--memory", type=int, default=0, metavar="N",
                        help="instead: resident MB per env, from N envs of each task in a fresh process")
    args = parser.parse_args(argv)
    unknown = [t for t in args.tasks if t not in TASKS]
    if unknown:
        parser.error(f"unknown task(s) {', '.join(unknown)}; the hand tasks: {', '.join(TASKS)}")
    if args.memory and args.profiles:
        parser.error("--memory and --profiles are separate runs: give one of them")
    if args.memory:
        rows = []
        print(f"{'task':30s} {'MB per env':>10s}")
        for env_id in args.tasks:
            rows.append({"task": env_id, "envs": args.memory, "mb_per_env": memory_per_env(env_id, args.memory)})
            print(f"{env_id:30s} {rows[-1]['mb_per_env']:10.2f}", flush=True)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(rows, f, indent=1)
        return rows
    if args.profiles:
        rows = profile_table(2 * args.seconds, args.rounds, args.stability_steps)
        print(markdown_table(rows))
        if args.json:
            with open(args.json, "w") as f:
                json.dump(rows, f, indent=1)
        return rows
    rows = []
    print(f"{'task':30s} {'model':38s} {'env steps/s':>11s} {'raw steps/s':>11s} {'ratio':>6s}")
    for env_id in args.tasks:
        env_step, env = env_stepper(env_id, args.with_vision)
        env_sps, raw_sps = _best_interleaved(env_step, raw_stepper(env), 2 * args.seconds, args.rounds)
        row = {"task": env_id, "model": env.unwrapped.model_file, "substeps": env.unwrapped.substeps,
               "env_steps_per_s": env_sps, "raw_steps_per_s": raw_sps, "ratio": env_sps / raw_sps}
        rows.append(row)
        print(f"{env_id:30s} {row['model']:38s} {env_sps:11.0f} {raw_sps:11.0f} {row['ratio']:6.2f}", flush=True)
        env.close()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return rows


if __name__ == "__main__":
    main()
