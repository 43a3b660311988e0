"""Run under `mpirun -np 2`: allreduce-averaged gradients and merged normaliser statistics equal
the single-process results on the pooled data. Rank 0 prints CHECKS PASSED or raises."""
import dexterity  # noqa: F401  (quiet TensorFlow settings before its import)
import gymnasium as gym
import numpy as np
import tensorflow as tf

from dexterity.agent.learner import Learner
from dexterity.agent.policy import Policy
from dexterity.configs.hp_config import make_config
from dexterity.distributed import Comm, make_comm
from dexterity.distributions import get_distribution
from dexterity.models import build_model
from dexterity.spaces import Sense
from dexterity.transformers import StateNormaliser

SENSES = [Sense("obs", (3,), "float32", False)]


def pooled_batch(model_type, n_seq=8):
    length = 4 if model_type != "ffn" else 1
    rng = np.random.default_rng(42)
    f = lambda *shape: tf.constant(rng.normal(size=shape).astype(np.float32))  # noqa: E731
    batch = {"obs": {"obs": f(n_seq, length, 3)}, "actions": f(n_seq, length, 2), "log_probs": f(n_seq, length),
             "values": f(n_seq, length), "advantages": f(n_seq, length), "returns": f(n_seq, length),
             "resets": tf.constant((rng.random((n_seq, length)) < 0.2).astype(np.float32))}
    batch["states"] = [f(n_seq, 64) for _ in range(2 if model_type != "ffn" else 0)]
    return batch


def gradients(comm, model_type, batch):
    config = make_config(model=model_type, tbptt=4, workers=2, horizon=16, batch_size=16, norm_advantages=False,
                         seed=0)
    dist = get_distribution("gaussian", gym.spaces.Box(-1, 1, (2,)))
    import keras
    keras.utils.set_random_seed(0)
    model = build_model(config, SENSES, dist)
    learner = Learner(Policy(model, dist, seed=0), config, comm, seed=0)
    grads, _ = learner.gradients(batch)
    return [g.numpy() for g in grads]


def check_gradients(comm):
    for model_type in ("ffn", "gru"):
        batch = pooled_batch(model_type)
        half = batch["log_probs"].shape[0] // comm.size
        mine = tf.nest.map_structure(lambda x: x[comm.rank * half:(comm.rank + 1) * half], batch)
        averaged = gradients(comm, model_type, mine)
        single = gradients(Comm(), model_type, batch)
        for a, s in zip(averaged, single):
            np.testing.assert_allclose(a, s, rtol=1e-5, atol=1e-5)


def check_normaliser(comm):
    rng = np.random.default_rng(7)
    data = [rng.normal(loc=r, scale=r + 1, size=(50 + 13 * r, 3)) for r in range(comm.size)]
    norm = StateNormaliser(SENSES)
    norm.update({"obs": data[comm.rank]})
    norm.sync(comm)
    n, mean, var = norm.moments()["obs"].moments
    pooled = np.concatenate(data)
    assert n == len(pooled)
    np.testing.assert_allclose(mean, pooled.mean(0), rtol=1e-10)
    np.testing.assert_allclose(var, pooled.var(0), rtol=1e-10)


if __name__ == "__main__":
    comm = make_comm()
    assert comm.size == 2, comm.size
    check_gradients(comm)
    check_normaliser(comm)
    ok = comm.allgather(True)
    if comm.is_root and all(ok):
        print("CHECKS PASSED", flush=True)
