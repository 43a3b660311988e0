"""Learning benchmarks of the Shadow Hand presets, through the normal training code (PPOAgent).

    python benchmarks/hand_learning.py reach                     # ReachAbsolute-v0, preset hand
    python benchmarks/hand_learning.py manipulate --budget 2e6   # ManipulateBlock-v0, preset manipulate
    python benchmarks/hand_learning.py reach --set lr_pi=1e-3 --set workers=8   # try a variant

reach: trains until the success rate of the training episodes, averaged over the last `--every`
cycles (or, with `--metric eval_success`, that of the deterministic evaluation episodes), reaches
`--target` (0.9), or until `--budget` env steps; every `--every` cycles it prints
env steps, wall time, that success rate, the mean return and the success rate of deterministic
evaluation episodes. manipulate: trains for `--budget` steps and prints the consecutive goals
reached per episode (stochastic training episodes and deterministic evaluation episodes).
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


def run(task: str, budget: float, every: int, target: float, changes: dict[str, Any], eval_episodes: int,
        metric: str = "success_rate") -> None:
    """Train the task's preset, printing a line every `every` cycles; stop at the target or the budget.

    The agent is saved (`last`) at every printed line, so `evaluate.py ID` can examine it afterwards.
    """
    from dexterity import tf_setup
    tf_setup.tensorflow(cpu=True)
    from dexterity.agent.ppo import PPOAgent
    from dexterity.configs.hp_config import derive_config, get_preset
    env_id, preset = TASKS[task]
    config = derive_config(get_preset(preset), changes)
    print(f"{task}: {env_id}, preset {preset}, changes {changes or 'none'}, {config['workers']} envs x "
          f"{config['horizon']} steps, {config['architecture']}/{config['model']}/{config['distribution']}, "
          f"seed {config['seed']}", flush=True)
    start, records, reached = time.perf_counter(), [], None
    with PPOAgent(env_id, config, preset=preset, verbose=False) as agent:
        print(f"agent {agent.agent_id} (saved at every printed line)", flush=True)
        while agent.frames < budget and reached is None:
            records.append(agent.cycle())
            if len(records) % every:
                continue
            stats = {**window_stats(records[-every:]), **eval_stats(agent, eval_episodes),
                     "gather_s": float(np.mean([r["time/gather_s"] for r in records[-every:]])),
                     "optimise_s": float(np.mean([r["time/optimise_s"] for r in records[-every:]]))}
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
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    budget = args.budget or (5e6 if args.task == "reach" else 2e6)
    run(args.task, budget, args.every, args.target, {"seed": args.seed, **parse_sets(args.set)}, args.eval_episodes,
        args.metric)


if __name__ == "__main__":
    main()
