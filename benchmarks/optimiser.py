"""The PPO epoch function compiled with XLA against graph mode, on a synthetic rollout of a preset.

    python benchmarks/optimiser.py HalfCheetah-v5 --pcon mujoco
    python benchmarks/optimiser.py ReachAbsolute-v0 --pcon hand

Builds the preset's model for the env's senses and action space, fills one cycle of data
(workers x horizon) with random values, and prints the first call (tracing/compiling) and the
median of the next ones, for `jit_compile` off and on (see `learner.xla_epochs` for the choice).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def synthetic_rollout(senses: list, dist, state_sizes: list[int], t: int, n: int, seed: int = 0):
    """A Rollout [t, n] of random observations, actions in the distribution's support and returns."""
    from dexterity.agent.rollout import Rollout
    rng = np.random.default_rng(seed)
    normal = lambda: rng.normal(size=(t, n)).astype(np.float32)  # noqa: E731
    actions = rng.uniform(0.1, 0.9, (t, n, *dist.action_shape)).astype(dist.action_dtype) \
        if dist.is_continuous else np.zeros((t, n, *dist.action_shape), dist.action_dtype)
    return Rollout(obs={s.name: rng.normal(size=(t, n, *s.shape)).astype(np.float32) for s in senses},
                   actions=actions, log_probs=normal() - 3.0, values=normal(), rewards=normal(),
                   terminated=np.zeros((t, n), bool), truncated=np.zeros((t, n), bool),
                   resets=np.zeros((t, n), np.float32), next_values=normal(), episodes=[],
                   states=[np.zeros((t, n, size), np.float32) for size in state_sizes],
                   advantages=normal(), returns=normal())


def time_optimise(config: dict, senses: list, space, jit: bool, repeats: int = 3) -> tuple[float, float]:
    """(first call, median of `repeats` later calls) of Learner.optimise in seconds."""
    from dexterity.agent import learner as learner_module
    from dexterity.agent.checkpoint import make_distribution
    from dexterity.agent.policy import Policy
    from dexterity.distributed import Comm
    from dexterity.models import build_model
    os.environ["DEXTERITY_XLA_EPOCH"] = "1" if jit else "0"
    dist = make_distribution(config, space)
    model = build_model(config, senses, dist)
    learner = learner_module.Learner(Policy(model, dist, 0), config, Comm(), 0)
    rollout = synthetic_rollout(senses, dist, model.state_sizes(), config["horizon"], config["workers"])
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        learner.optimise(rollout, 1e-4)
        times.append(time.perf_counter() - start)
    return times[0], float(np.median(times[1:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("env")
    parser.add_argument("--pcon", default="default")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from dexterity import tf_setup
    tf_setup.tensorflow()
    from dexterity.configs.hp_config import derive_config, get_preset
    from dexterity.envpool import EnvPool
    config = derive_config(get_preset(args.pcon), {"seed": 0})
    with EnvPool(args.env, 1, 0, sequential=True) as pool:
        senses, space = pool.senses, pool.action_space
    print(f"{args.env} ({args.pcon}: {config['architecture']} {config['model']}, {config['epochs']} epochs of "
          f"{config['workers'] * config['horizon']} steps, minibatch {config['batch_size']}), cpus {os.cpu_count()}")
    results = {}
    for jit in (False, True):
        first, later = results[jit] = time_optimise(config, senses, space, jit, args.repeats)
        print(f"  {'XLA  ' if jit else 'graph'}: first call {first:6.2f} s, then {later:7.3f} s per optimise")
    print(f"  graph / XLA time per optimise: {results[False][1] / results[True][1]:.2f}")


if __name__ == "__main__":
    main()
