"""Training throughput against raw environment throughput, measured in one run.

    python benchmarks/throughput.py HalfCheetah-v5 --pcon mujoco --cycles 5

Prints the raw steps/s of the same envs in the same worker layout stepped with random actions,
the whole-cycle training steps/s (gather + optimise, first cycle excluded: it traces), and their
ratio. The training figure counts every env step of a cycle (all ranks when under mpirun).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def raw_steps_per_s(env_id: str, config: dict, steps_per_env: int, env_kwargs: dict) -> float:
    """Random-action steps/s of config['workers'] envs in the training worker layout."""
    from dexterity.envpool import EnvPool
    with EnvPool(env_id, config["workers"], seed=0, processes=config["processes"], sequential=config["sequential"],
                 env_kwargs=env_kwargs) as pool:
        space = pool.action_space
        space.seed(0)
        actions = [np.stack([space.sample() for _ in range(pool.n_envs)]) for _ in range(16)]
        pool.reset()
        start = time.perf_counter()
        for t in range(steps_per_env):
            pool.step(actions[t % 16])
        return steps_per_env * pool.n_envs / (time.perf_counter() - start)


def training_steps_per_s(env_id: str, config: dict, cycles: int, env_kwargs: dict) -> tuple[float, dict]:
    """Whole-cycle training steps/s over `cycles` cycles after one warm-up cycle."""
    from dexterity.agent.ppo import PPOAgent
    from dexterity.distributed import make_comm
    with PPOAgent(env_id, config, comm=make_comm(), env_kwargs=env_kwargs, write_experiment=False,
                  verbose=False) as agent:
        agent.cycle()
        records = [agent.cycle() for _ in range(cycles)]
        steps = records[-1]["frames"] - records[0]["frames"] + agent.config["workers"] * agent.config["horizon"]
        seconds = sum(r["time/cycle_s"] for r in records)
        phases = {k: float(np.mean([r[k] for r in records])) for k in ("time/gather_s", "time/optimise_s")}
        return steps / seconds, phases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("env")
    parser.add_argument("--pcon", default="default")
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--workers", type=int)
    parser.add_argument("--horizon", type=int)
    parser.add_argument("--processes", type=int)
    parser.add_argument("--sequential", action="store_true")
    parser.add_argument("--model")
    args = parser.parse_args()
    from dexterity import tf_setup
    tf_setup.tensorflow()
    from dexterity.configs.hp_config import derive_config, get_preset
    changes = {k: getattr(args, k) for k in ("workers", "horizon", "processes", "model") if getattr(args, k)}
    if args.sequential:
        changes["sequential"] = True
    config = derive_config(get_preset(args.pcon), {**changes, "seed": 0})
    raw = raw_steps_per_s(args.env, config, max(config["horizon"], 200), {})
    train, phases = training_steps_per_s(args.env, config, args.cycles, {})
    layout = "in-process" if config["sequential"] else f"{config['processes'] or os.cpu_count()} worker processes"
    print(f"{args.env} ({args.pcon}: {config['workers']} envs x {config['horizon']} steps, "
          f"{config['epochs']} epochs, minibatch {config['batch_size']}, envs {layout})")
    print(f"  raw env steps/s (random actions): {raw:10.0f}")
    print(f"  training steps/s (whole cycle):   {train:10.0f}   gather {phases['time/gather_s']:.2f}s, "
          f"optimise {phases['time/optimise_s']:.2f}s per cycle")
    print(f"  ratio training / raw:             {train / raw:10.3f}")


if __name__ == "__main__":
    main()
