"""Learning benchmarks of the Shadow Hand presets, through the normal training code (PPOAgent).

    python benchmarks/hand_learning.py reach                     # ReachAbsolute-v0, preset hand
    python benchmarks/hand_learning.py manipulate --budget 2e6   # ManipulateBlock-v0, preset manipulate
    python benchmarks/hand_learning.py reach --set lr_pi=1e-3 --set workers=8   # try a variant
    python benchmarks/hand_learning.py manipulate --env-kwargs '{"control_period": 0.08}'   # an env variant

reach: trains until the success rate of the training episodes, averaged over the last `--every`
cycles (or, with `--metric eval_success`, that of the deterministic evaluation episodes), reaches
`--target` (0.9), or until `--budget` env steps; every `--every` cycles it prints
env steps, wall time, that success rate, the mean return and the success rate of deterministic
evaluation episodes. manipulate: trains for `--budget` steps and prints the consecutive goals
reached per episode (stochastic training episodes and deterministic evaluation episodes) and, as
`full_goals`, those of `--full-episodes` stochastic episodes on the full task (goals uniform on
SO(3), no curriculum: the figure the task is judged by).
The last line is a summary (`result: ...`) fit for copying into a report.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

TASKS = {"reach": ("ReachAbsolute-v0", "hand"), "manipulate": ("ManipulateBlock-v0", "manipulate")}


def parse_sets(items: list[str]) -> dict[str, Any]:
    """`key=value` strings -> config changes (values parsed as JSON where possible)."""
    changes = {}
    for item in items:
        key, _, text = item.partition("=")
        try:
            changes[key] = json.loads(text)
        except json.JSONDecodeError:
            changes[key] = text
    return changes


def window_stats(records: list[dict[str, Any]]) -> dict[str, float]:
    """Episode-weighted means over cycle records: success rate, return, consecutive goals."""
    out = {}
    weights = np.array([r.get("rollout/episodes", 0) for r in records], float)
    for key in ("rollout/success_rate", "rollout/return_mean", "rollout/consecutive_goals"):
        pairs = [(r[key], w) for r, w in zip(records, weights) if key in r and w > 0]
        if pairs:
            values, w = np.array(pairs).T
            out[key.split("/")[1]] = float(np.average(values, weights=w))
    return out


def eval_stats(agent: Any, episodes: int) -> dict[str, float]:
    """Deterministic evaluation episodes: success rate and mean consecutive goals where reported."""
    records = agent.evaluate_episodes(episodes, deterministic=True)
    out = {"eval_return": float(np.mean([r["return"] for r in records]))}
    if any("success" in r for r in records):
        out["eval_success"] = float(np.mean([r.get("success", 0.0) for r in records]))
    if any("consecutive_goals" in r for r in records):
        out["eval_goals"] = float(np.mean([r.get("consecutive_goals", 0) for r in records]))
    return out


def full_task_goals(agent: Any, episodes: int, deterministic: bool = False) -> float:
    """Mean consecutive goals of `episodes` episodes of the agent's env with goals uniform on SO(3)."""
    from dexterity.agent.rollout import run_episodes
    from dexterity.envpool import EnvPool
    kwargs = {**agent.env_kwargs, "curriculum": False, "goal_angle": None}
    with EnvPool(agent.env_id, min(episodes, 8), 424242, processes=agent.config["processes"],
                 sequential=agent.config["sequential"], env_kwargs=kwargs) as pool:
        records = run_episodes(pool, agent.policy, agent.brain.state_norm, episodes, deterministic)
    return float(np.mean([r.get("consecutive_goals", 0) for r in records]))


def run(task: str, budget: float, every: int, target: float, changes: dict[str, Any], eval_episodes: int,
        metric: str = "success_rate", env_kwargs: dict[str, Any] | None = None, preset: str | None = None,
        full_episodes: int = 0) -> None:
    """Train the task's preset, printing a line every `every` cycles; stop at the target or the budget.

    The agent is saved (`last`) at every printed line, so `evaluate.py ID` can examine it afterwards.
    """
    from dexterity import tf_setup
    tf_setup.tensorflow(cpu=True)
    from dexterity.agent.ppo import PPOAgent
    from dexterity.configs.hp_config import derive_config, get_preset, preset_env_kwargs
    env_id, default_preset = TASKS[task]
    preset = preset or default_preset
    env_kwargs = {**preset_env_kwargs(preset), **(env_kwargs or {})}
    config = derive_config(get_preset(preset), changes)
    print(f"{task}: {env_id}, preset {preset}, changes {changes or 'none'}, env kwargs {env_kwargs or 'none'}, "
          f"{config['workers']} envs x "
          f"{config['horizon']} steps, {config['architecture']}/{config['model']}/{config['distribution']}, "
          f"seed {config['seed']}", flush=True)
    start, records, reached = time.perf_counter(), [], None
    with PPOAgent(env_id, config, preset=preset, verbose=False, env_kwargs=env_kwargs) as agent:
        print(f"agent {agent.agent_id} (saved at every printed line)", flush=True)
        while agent.frames < budget and reached is None:
            records.append(agent.cycle())
            if len(records) % every:
                continue
            stats = {**window_stats(records[-every:]), **eval_stats(agent, eval_episodes),
                     "gather_s": float(np.mean([r["time/gather_s"] for r in records[-every:]])),
                     "optimise_s": float(np.mean([r["time/optimise_s"] for r in records[-every:]]))}
            if "rollout/goal_angle" in records[-1]:
                stats["goal_angle"] = float(records[-1]["rollout/goal_angle"])
            if full_episodes:
                stats["full_goals"] = full_task_goals(agent, full_episodes)
            wall = time.perf_counter() - start
            print(f"cycle {len(records):4d} | steps {agent.frames:9d} | wall {wall:7.0f}s | "
                  + " | ".join(f"{k} {v:.3f}" for k, v in stats.items()), flush=True)
            agent.save("last", wall)
            if task == "reach" and stats.get(metric, 0.0) >= target:
                reached = (agent.frames, wall)
        wall = time.perf_counter() - start
        if task == "reach":
            print(f"result: agent {agent.agent_id}: {metric} >= {target} after {reached[0]} steps, {reached[1]:.0f} s"
                  if reached else f"result: agent {agent.agent_id}: {metric} {target} not reached within "
                  f"{agent.frames} steps, {wall:.0f} s", flush=True)
        else:
            final = {**window_stats(records[-every:]), **eval_stats(agent, eval_episodes)}
            print(f"result: agent {agent.agent_id}: after {agent.frames} steps, {wall:.0f} s: consecutive goals "
                  f"{final.get('consecutive_goals', float('nan')):.2f} (training episodes), "
                  f"{final.get('eval_goals', float('nan')):.2f} (deterministic)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", choices=sorted(TASKS))
    parser.add_argument("--budget", type=float, default=None,
                        help="env steps (default 5e6 for reach, 2e6 for manipulate)")
    parser.add_argument("--every", type=int, default=5, help="cycles per printed line (and success window)")
    parser.add_argument("--target", type=float, default=0.9, help="reach: success rate to stop at")
    parser.add_argument("--metric", choices=["success_rate", "eval_success"], default="success_rate",
                        help="reach: stop on the training episodes' success rate or the deterministic one")
    parser.add_argument("--eval-episodes", type=int, default=16, help="deterministic episodes per printed line")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config change")
    parser.add_argument("--preset", default=None, help="preset to start from (default: the task's)")
    parser.add_argument("--env-kwargs", default=None, metavar="JSON", help="env kwargs, as JSON")
    parser.add_argument("--full-episodes", type=int, default=0,
                        help="manipulate: stochastic episodes on the full task at each printed line")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    budget = args.budget or (5e6 if args.task == "reach" else 2e6)
    run(args.task, budget, args.every, args.target, {"seed": args.seed, **parse_sets(args.set)}, args.eval_episodes,
        args.metric, json.loads(args.env_kwargs) if args.env_kwargs else None, args.preset, args.full_episodes)


if __name__ == "__main__":
    main()
