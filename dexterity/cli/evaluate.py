"""evaluate.py: run a saved agent for N episodes with its frozen normalisers and report its return."""
from __future__ import annotations

import argparse
import sys
from typing import Any

import numpy as np

from dexterity.cli.common import check_count, check_save, check_seed, parse_env_kwargs, run_main, set_storage

EVAL_SEED = 12345  # default seed of the evaluation envs and sampling


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="evaluate.py", description="Evaluate a saved agent.")
    parser.add_argument("id", nargs="?", default=None, help="agent id (default: the most recently saved agent)")
    parser.add_argument("-n", "--episodes", type=int, default=10, help="episodes to run (default 10)")
    parser.add_argument("--save", default=None,
                        help="which checkpoint: best, last or an iteration (default: best if saved, else last)")
    parser.add_argument("-d", "--deterministic", action="store_true", help="take the mode instead of sampling")
    parser.add_argument("--env", default=None, help="evaluate on another env id than the agent's")
    parser.add_argument("--env-kwargs", default=None, metavar="JSON",
                        help="override the agent's env kwargs, as JSON (e.g. a harder goal_angle)")
    parser.add_argument("--workers", type=int, default=None, help="parallel envs (default 8), never more than the episodes")
    parser.add_argument("--sequential", action=argparse.BooleanOptionalAction, default=None,
                        help="run the envs in this process (--no-sequential: in worker processes; default: "
                             "chosen from a measured env step cost, rendering envs in workers)")
    parser.add_argument("--seed", type=int, default=EVAL_SEED, help="seed of the evaluation envs and sampling")
    parser.add_argument("--cpu", action="store_true", help="force the CPU")
    parser.add_argument("--storage", default=None, help="storage root (default: $DEXTERITY_STORAGE or ./storage)")
    return parser


def evaluate(agent_id: str | None, episodes: int, which: str | None = None, deterministic: bool = False,
             env_id: str | None = None, workers: int = 0, sequential: bool | None = None, seed: int = EVAL_SEED,
             env_kwargs: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run `episodes` episodes of a saved agent; returns {agent_id, iteration, save, env_id, records}.

    env_kwargs update the kwargs the agent was trained with (None values included, e.g. goal_angle).
    workers: parallel envs (0: 8), never more than `episodes`.
    sequential: True in this process, False in worker processes, None chosen (dexterity.envlayout).
    """
    from dexterity.agent.checkpoint import check_compatible, load_saved, run_env_kwargs, spread_states
    from dexterity.agent.rollout import run_episodes
    from dexterity.envpool import EnvPool
    from dexterity.errors import DexterityError
    if episodes < 1:
        raise DexterityError("-n must be at least 1")
    if workers < 0:
        raise DexterityError(f"--workers must be at least 1 (0: the default), got {workers}")
    info, brain, which = load_saved(agent_id, which)
    brain.policy.reseed(seed)
    n_envs = min(workers or 8, episodes)  # an env without an episode to run would only cost time
    kwargs = run_env_kwargs(info, env_kwargs)
    with EnvPool(env_id or info["env_id"], n_envs, seed, processes=n_envs, sequential=sequential,
                 env_kwargs=kwargs, plugins=info.get("plugins", ())) as pool:
        check_compatible(pool, brain, env_id or info["env_id"])
        states = spread_states(info.get("env_states"), n_envs) if env_id is None else None
        if states:
            pool.set_training_states(states)  # e.g. the goal curriculum where training left it
        records = run_episodes(pool, brain.policy, brain.state_norm, episodes, deterministic)
    return {"agent_id": info["agent_id"], "iteration": info["iteration"], "save": which,
            "env_id": env_id or info["env_id"], "records": records}


def evaluation_record(result: dict[str, Any], deterministic: bool, seed: int,
                      overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The evaluations.jsonl record of an `evaluate` result: return and length statistics of its episodes."""
    from dexterity.storage import utc_now
    records = result["records"]
    returns = np.array([r["return"] for r in records])
    lengths = np.array([r["length"] for r in records])
    successes = [r["success"] for r in records if "success" in r]
    goals = [r["consecutive_goals"] for r in records if "consecutive_goals" in r]
    return {"iteration": result["iteration"], "save": result["save"], "env_id": result["env_id"],
            "episodes": len(records), "return_mean": float(returns.mean()), "return_std": float(returns.std()),
            "length_mean": float(lengths.mean()), "length_std": float(lengths.std()),
            "deterministic": deterministic, "time": utc_now(), "seed": seed,
            **({"env_kwargs": overrides} if overrides else {}),
            **({"success_rate": float(np.mean(successes))} if successes else {}),
            **({"consecutive_goals": float(np.mean(goals)), "consecutive_goals_max": max(goals)} if goals else {})}


def check_args(args: argparse.Namespace) -> None:
    """One-line errors for bad numbers, before TensorFlow loads and any episode runs."""
    check_count("-n/--episodes", args.episodes)
    check_count("--workers", args.workers)
    check_seed("--seed", args.seed)
    check_save(args.save)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    check_args(args)
    overrides = parse_env_kwargs(args.env_kwargs)
    set_storage(args.storage)
    from dexterity import tf_setup
    tf_setup.tensorflow(cpu=args.cpu)
    from dexterity.storage import ExperimentLog
    result = evaluate(args.id, args.episodes, args.save, args.deterministic, args.env, args.workers or 0,
                      args.sequential, args.seed, overrides)
    rec = evaluation_record(result, args.deterministic, args.seed, overrides)
    line = (f"agent {result['agent_id']} ({result['save']}, cycle {result['iteration']}) on {result['env_id']}: "
            f"{rec['episodes']} episodes, return {rec['return_mean']:.2f} ± {rec['return_std']:.2f}, "
            f"length {rec['length_mean']:.1f} ± {rec['length_std']:.1f}")
    if "success_rate" in rec:
        line += f", success rate {rec['success_rate']:.2f}"
    if "consecutive_goals" in rec:
        line += f", consecutive goals {rec['consecutive_goals']:.2f} (max {rec['consecutive_goals_max']})"
    print(line + (" (deterministic)" if args.deterministic else "") + (f" with {args.env_kwargs}" if overrides else ""))
    log = ExperimentLog(result["agent_id"])
    if log.dir.is_dir():
        log.append_evaluation(rec)
    return 0


def cli() -> None:
    run_main(lambda: main(sys.argv[1:]))


if __name__ == "__main__":
    cli()
