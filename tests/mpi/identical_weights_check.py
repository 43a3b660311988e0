"""Run under `mpirun -np 2` after a training run: both ranks rebuild nothing; instead this trains
2 cycles itself and compares the weights of the ranks. Rank 0 prints WEIGHTS IDENTICAL."""
import sys

import numpy as np

from dexterity.agent.ppo import PPOAgent
from dexterity.configs.hp_config import make_config
from dexterity.distributed import make_comm

if __name__ == "__main__":
    comm = make_comm()
    model = sys.argv[1] if len(sys.argv) > 1 else "ffn"
    config = make_config(model=model, tbptt=8, workers=4, horizon=32, batch_size=32, epochs=2, seed=5)
    with PPOAgent("Pendulum-v1", config, comm=comm, verbose=False, write_experiment=False) as agent:
        agent.drill(2)
        weights = agent.policy.model.get_weights()
        stats = agent.brain.state_norm.state_dict()
    gathered = comm.allgather((weights, stats))
    for other_weights, other_stats in gathered[1:]:
        for a, b in zip(gathered[0][0], other_weights):
            np.testing.assert_array_equal(a, b)
        assert other_stats == gathered[0][1]
    if comm.is_root:
        print("WEIGHTS IDENTICAL", flush=True)
