"""Run under `mpirun -np R`: trains 2 cycles of Pendulum-v1 and compares the weights of the ranks.

    identical_weights_check.py [MODEL [WORKERS BATCH_SIZE]]

Rank 0 prints WEIGHTS IDENTICAL when all ranks agree, and `OPTIMISER STEPS n ...`: the Adam
step count of every optimising rank (the same on all of them, or the allreduces did not match).
Also runs without mpirun (one rank).
"""
import sys

import numpy as np

from dexterity.agent.ppo import PPOAgent
from dexterity.configs.hp_config import make_config
from dexterity.distributed import make_comm

if __name__ == "__main__":
    comm = make_comm()
    model = sys.argv[1] if len(sys.argv) > 1 else "ffn"
    workers, batch = (int(sys.argv[2]), int(sys.argv[3])) if len(sys.argv) > 3 else (4, 32)
    config = make_config(model=model, tbptt=8, workers=workers, horizon=32, batch_size=batch, epochs=2, seed=5,
                         sequential=True)
    with PPOAgent("Pendulum-v1", config, comm=comm, verbose=False, write_experiment=False) as agent:
        agent.drill(2)
        weights = agent.policy.model.get_weights()
        stats = agent.brain.state_norm.state_dict()
        steps = int(agent.learner.optimizer.iterations.numpy()) if agent.role.optimiser else None
    gathered = comm.allgather((weights, stats, steps))
    for other_weights, other_stats, _ in gathered[1:]:
        for a, b in zip(gathered[0][0], other_weights):
            np.testing.assert_array_equal(a, b)
        assert other_stats == gathered[0][1]
    if comm.is_root:
        print("OPTIMISER STEPS", *[s for _, _, s in gathered if s is not None], flush=True)
        print("WEIGHTS IDENTICAL", flush=True)
