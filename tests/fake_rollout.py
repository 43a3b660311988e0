"""A rollout of random numbers for optimiser tests: what a Learner reads, no env behind it."""
import numpy as np

from dexterity.agent.rollout import Rollout


def random_rollout(t: int = 16, n: int = 4, seed: int = 0) -> Rollout:
    """t steps x n envs of a 5-wide "proprioception" sense and 2-d actions, advantages and returns
    filled in, no resets, no recurrent states."""
    rng = np.random.default_rng(seed)
    normal = lambda: rng.normal(size=(t, n)).astype(np.float32)  # noqa: E731
    return Rollout(obs={"proprioception": rng.normal(size=(t, n, 5)).astype(np.float32)},
                   actions=rng.normal(size=(t, n, 2)).astype(np.float32), log_probs=normal() - 2.0, values=normal(),
                   rewards=normal(), terminated=np.zeros((t, n), bool), truncated=np.zeros((t, n), bool),
                   resets=np.zeros((t, n), np.float32), states=[], next_values=normal(), episodes=[],
                   advantages=normal(), returns=normal())
