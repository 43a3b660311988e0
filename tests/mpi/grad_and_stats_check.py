"""Run under `mpirun -np 2`: allreduce-averaged gradients and merged normaliser statistics equal
the single-process results on the pooled data (state and reward normalisers, the latter against
discounted returns computed by hand). Rank 0 prints CHECKS PASSED or raises."""
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
from dexterity.transformers import RewardNormaliser, StateNormaliser

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


def discounted_returns(rewards, dones, discount):
    """Per-env running discounted returns [T, N], reset after a done (written out, not the library's)."""
    out = np.zeros_like(rewards)
    for n in range(rewards.shape[1]):
        ret = 0.0
        for t in range(rewards.shape[0]):
            ret = ret * discount + rewards[t, n]
            out[t, n] = ret
            if dones[t, n]:
                ret = 0.0
    return out


def check_reward_normaliser(comm):
    """Two rounds of per-rank rewards; after each sync every rank holds the statistics of the pooled
    discounted returns of all ranks' envs, and scales rewards identically."""
    discount, n_envs, steps = 0.9, 3, 20
    norm = RewardNormaliser(n_envs, discount)
    pooled = []
    for round_ in range(2):
        per_rank = []
        for r in range(comm.size):
            rng = np.random.default_rng(100 * round_ + r)
            rewards = rng.normal(loc=r + 1.0, scale=1.0 + r, size=(steps, n_envs))
            dones = rng.random((steps, n_envs)) < 0.15
            per_rank.append((rewards, dones))
        rewards, dones = per_rank[comm.rank]
        for t in range(steps):
            norm.update(rewards[t], dones[t])
        norm.sync(comm)
        # the accumulators carry over between rounds: compute both rounds' returns in one go per rank
        for r, (rw, dn) in enumerate(per_rank):
            if round_ == 0:
                pooled.append([(rw, dn)])
            else:
                pooled[r].append((rw, dn))
        returns = np.concatenate([discounted_returns(np.concatenate([x[0] for x in parts]),
                                                     np.concatenate([x[1] for x in parts]), discount).ravel()
                                  for parts in pooled])
        n, mean, var = norm.moments()["return"].moments
        assert n == len(returns), (n, len(returns))
        np.testing.assert_allclose(mean, returns.mean(), rtol=1e-10)
        np.testing.assert_allclose(var, returns.var(), rtol=1e-10)
    probe = np.array([1.0, -2.0, 3.0])
    scaled = comm.allgather(norm.transform(probe))
    np.testing.assert_array_equal(scaled[0], scaled[-1])
    np.testing.assert_allclose(scaled[0], np.clip(probe / np.sqrt(var + 1e-8), -10, 10), rtol=1e-6)


if __name__ == "__main__":
    comm = make_comm()
    assert comm.size == 2, comm.size
    check_gradients(comm)
    check_normaliser(comm)
    check_reward_normaliser(comm)
    ok = comm.allgather(True)
    if comm.is_root and all(ok):
        print("CHECKS PASSED", flush=True)
