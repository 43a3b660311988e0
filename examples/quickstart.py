"""Train, resume and evaluate an agent from Python instead of train.py (guide: docs/getting-started.md).

    python examples/quickstart.py                  # CartPole-v1, 20 cycles, resumed to 25, evaluated
    python examples/quickstart.py --iterations 2   # a 2-cycle smoke run (resumed to 3)

What `python train.py CartPole-v1 --pcon discrete --iterations 20` does, step by step.
"""
from __future__ import annotations

import argparse

import numpy as np


def main(iterations: int, workers: int, horizon: int, storage: str | None) -> None:
    """Build a config, train, resume the saved agent for a few more cycles, evaluate it."""
    import os
    if storage:
        os.environ["DEXTERITY_STORAGE"] = storage
    from dexterity import tf_setup
    tf_setup.tensorflow()  # quiet, deterministic TensorFlow before anything builds a model
    from dexterity.agent.ppo import PPOAgent
    from dexterity.configs.hp_config import derive_config, get_preset

    # a preset, changed the way train.py flags change it; make_config(...) starts from the defaults
    config = derive_config(get_preset("discrete"), {"workers": workers, "horizon": horizon,
                                                    "batch_size": min(256, workers * horizon),
                                                    "iterations": iterations, "seed": 1, "processes": 2})
    with PPOAgent("CartPole-v1", config, preset="discrete") as agent:
        records = agent.drill()  # one record per cycle, also in storage/experiments/<id>/progress.jsonl
        agent_id = agent.agent_id
    print(f"trained {agent_id}: {len(records)} cycles")

    with PPOAgent.resume(agent_id) as agent:  # weights, optimizer, normalisers, RNG, curves
        agent.drill(iterations + max(1, iterations // 4))
        episodes = agent.evaluate_episodes(5, deterministic=True)
    returns = np.array([e["return"] for e in episodes])
    print(f"resumed to cycle {agent.iteration}; deterministic return {returns.mean():.1f} ± {returns.std():.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--horizon", type=int, default=128)
    parser.add_argument("--storage", default=None, help="storage root (default: $DEXTERITY_STORAGE or ./storage)")
    args = parser.parse_args()
    main(args.iterations, args.workers, args.horizon, args.storage)
