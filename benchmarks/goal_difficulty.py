"""Which block-reorientation goals a ManipulateBlock agent reaches: success by the rotation a goal asks for.

    python benchmarks/goal_difficulty.py AGENT_ID [--save last] [-n 256] [--env-kwargs JSON] [-d]

Runs the saved agent in this process (envs in-process, TensorFlow-free inference as in training)
on fresh episodes, by default on the full task (`{"curriculum": false, "goal_angle": null}`), and
records every goal attempt: the rotation from the block's orientation when the goal was drawn to
the goal (its angle, and the vertical component |a_z| of its axis in the world frame: about 1 is a
turn about the palm's normal, spinning the block on the palm; about 0 a turn about a horizontal
axis, rolling the block over), and how the attempt ended (reached, timed out, dropped).
Prints the fraction reached per angle x axis bin and the mean steps a reached goal took.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ANGLE_EDGES = (0.0, 1.0, 1.5, 2.0, 2.5, np.pi + 1e-9)
AXIS_EDGES = (0.0, 0.5, 0.87, 1.0 + 1e-9)  # |a_z|: mostly horizontal, oblique, mostly vertical


def turn_to_goal(block: np.ndarray, goal: np.ndarray) -> tuple[float, float]:
    """Quaternions (w, x, y, z) [4] of the block and the goal -> (angle rad, |vertical component of
    the axis|) of the world-frame rotation goal * block^-1."""
    from dexterity.environments.rotations import quat_conjugate, quat_multiply
    w, x, y, z = quat_multiply(goal, quat_conjugate(block))
    vector = np.array([x, y, z])
    norm = float(np.linalg.norm(vector))
    angle = 2.0 * float(np.arctan2(norm, abs(w)))
    return angle, (abs(float(vector[2])) / norm if norm > 1e-12 else 1.0)


def attempts_table(attempts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows per (angle bin, axis bin): attempts, fraction reached, mean steps of the reached ones."""
    rows = []
    for a0, a1 in zip(ANGLE_EDGES[:-1], ANGLE_EDGES[1:]):
        for z0, z1 in zip(AXIS_EDGES[:-1], AXIS_EDGES[1:]):
            cell = [t for t in attempts if a0 <= t["angle"] < a1 and z0 <= t["axis_z"] < z1]
            reached = [t for t in cell if t["outcome"] == "reached"]
            rows.append({"angle": (a0, min(a1, np.pi)), "axis_z": (z0, min(z1, 1.0)), "attempts": len(cell),
                         "reached": len(reached) / len(cell) if cell else None,
                         "steps": float(np.mean([t["steps"] for t in reached])) if reached else None})
    return rows


def step_outcome(goals_before: int, goals_now: int, ended: dict[str, Any] | None, terminated: bool) -> str | None:
    """How a step ended the open goal attempt of one env: "reached", "dropped", "timed out", or None
    (still open). `ended` is the pool's episode record when the step ended the episode (the env is
    reset by then, so its own goal count is the new episode's): its `success` is the last step's."""
    if ended is not None:
        return "reached" if ended.get("success") else "dropped" if terminated else "timed out"
    return "reached" if goals_now > goals_before else None


def run(agent_id: str, which: str, episodes: int, env_kwargs: dict[str, Any], deterministic: bool,
        n_envs: int = 8, seed: int = 12345) -> list[dict[str, Any]]:
    """Goal attempts of exactly `episodes` whole episodes (env i runs a fixed quota of them, as
    evaluate.py does): dicts of angle, axis_z, outcome, steps."""
    from dexterity.agent.acting import ActLoop
    from dexterity.agent.checkpoint import load_saved, run_env_kwargs
    from dexterity.agent.rollout import episode_quota
    from dexterity.envpool import EnvPool
    from dexterity.errors import DexterityError
    info, brain, which = load_saved(agent_id, which)
    brain.policy.reseed(seed)
    kwargs = run_env_kwargs(info, env_kwargs)
    quota = episode_quota(episodes, n_envs)
    attempts: list[dict[str, Any]] = []
    with EnvPool(info["env_id"], n_envs, seed, sequential=True, env_kwargs=kwargs,
                 plugins=info.get("plugins", ())) as pool:
        envs = [env.unwrapped for env in pool.groups[0].group.envs]
        if not all(hasattr(envs[0], name) for name in ("goal", "consecutive_goals", "object_quaternion")):
            raise DexterityError(f"{info['env_id']} has no block goals: goal_difficulty.py needs a ManipulateBlock task")
        loop = ActLoop(pool, brain.policy, brain.state_norm.transform, deterministic)
        loop.start()
        open_goal, running = [_attempt(env) for env in envs], [[] for _ in envs]
        finished = [0] * n_envs
        while any(f < q for f, q in zip(finished, quota)):
            step = loop.step()
            ended = {record["env"] - pool.index_offset: record for record in step.result["episodes"]}
            for i, env in enumerate(envs):
                open_goal[i]["steps"] += 1
                outcome = step_outcome(open_goal[i]["goals_before"], env.consecutive_goals, ended.get(i),
                                       bool(step.result["terminated"][i]))
                if outcome is None:
                    continue
                running[i].append({**open_goal[i], "outcome": outcome})
                if i in ended:  # only whole episodes count, and only each env's quota of them
                    if finished[i] < quota[i]:
                        attempts.extend(running[i])
                    finished[i] += 1
                    running[i] = []
                open_goal[i] = _attempt(env)
    return attempts


def _attempt(env: Any) -> dict[str, Any]:
    """A goal attempt opening now: the rotation from the block to the env's goal, no steps yet."""
    angle, axis_z = turn_to_goal(env.object_quaternion().copy(), env.goal.copy())
    return {"angle": angle, "axis_z": axis_z, "steps": 0, "goals_before": env.consecutive_goals}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("id")
    parser.add_argument("--save", default="last")
    parser.add_argument("-n", "--episodes", type=int, default=256)
    parser.add_argument("-d", "--deterministic", action="store_true")
    parser.add_argument("--env-kwargs", default='{"curriculum": false, "goal_angle": null}')
    parser.add_argument("--json", default=None, help="also write the attempts and the table to this file")
    args = parser.parse_args()
    try:
        kwargs = json.loads(args.env_kwargs)
        if not isinstance(kwargs, dict) or args.episodes < 1:
            raise ValueError
    except ValueError:
        print("goal_difficulty.py: --env-kwargs must be a JSON object and -n >= 1", file=sys.stderr)
        return 2
    if args.json and not Path(args.json).resolve().parent.is_dir():
        print(f"goal_difficulty.py: no folder for --json {args.json}", file=sys.stderr)
        return 2
    from dexterity.errors import DexterityError
    try:
        attempts = run(args.id, args.save, args.episodes, kwargs, args.deterministic)
    except DexterityError as error:
        print(f"goal_difficulty.py: {error}", file=sys.stderr)
        return 2
    rows = attempts_table(attempts)
    reached = sum(t["outcome"] == "reached" for t in attempts)
    dropped = sum(t["outcome"] == "dropped" for t in attempts)
    print(f"{args.id} ({args.save}), {args.episodes} episodes, {json.dumps(kwargs)}"
          f"{', deterministic' if args.deterministic else ''}: {len(attempts)} goal attempts, "
          f"{reached} reached, {dropped} dropped, {len(attempts) - reached - dropped} timed out")
    print("| rotation to the goal (rad) | axis |a_z| | attempts | reached | mean steps when reached |")
    print("| --- | --- | --- | --- | --- |")
    for row in rows:
        frac = "–" if row["reached"] is None else f"{row['reached']:.2f}"
        steps = "–" if row["steps"] is None else f"{row['steps']:.0f}"
        print(f"| {row['angle'][0]:.1f}-{row['angle'][1]:.2f} | {row['axis_z'][0]:.2f}-{row['axis_z'][1]:.2f} "
              f"| {row['attempts']} | {frac} | {steps} |")
    if args.json:
        Path(args.json).write_text(json.dumps({"attempts": attempts, "table": rows}, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
