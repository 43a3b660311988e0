"""The rollout store and what the learner makes of it: Rollout.concatenate, the next_values wiring of
the gatherer (bootstrap from the final observation on truncation), acting and learning agreeing on
log-probs (ratio exactly 1 before the first update), and the KL stop decided on allreduced values."""
import numpy as np
import pytest
import tensorflow as tf

from dexterity.agent import checkpoint as ckpt
from dexterity.agent.learner import Learner
from dexterity.agent.rollout import Gatherer, Rollout
from dexterity.configs.hp_config import derive_config, make_config
from dexterity.configs.layout import Minibatches
from dexterity.distributed import Comm
from dexterity.envpool import EnvPool
from dexterity.transformers import make_transformer

PLUGIN = ["tests.plugins.counter_env"]
HORIZON, N_ENVS = 8, 3


def _setup(model="ffn", state_norming=False, **changes):
    config = make_config(**{"model": model, "tbptt": 4, "workers": N_ENVS, "horizon": HORIZON,
                            "batch_size": HORIZON * N_ENVS, "state_norming": state_norming, "seed": 3, **changes})
    pool = EnvPool("CounterEnv-v0", N_ENVS, seed=3, sequential=True, plugins=PLUGIN)
    brain = ckpt.build_brain(config, pool.senses, pool.observation_space, pool.action_space, seed=3)
    reward_norm = make_transformer(config["reward_transformer"], N_ENVS, config)
    return config, pool, brain, Gatherer(pool, brain.policy, brain.state_norm, reward_norm, HORIZON)


@pytest.fixture(scope="module")
def gathered():
    """One ffn rollout of CounterEnv (advantages computed) and the brain's initial weights."""
    config, pool, brain, gatherer = _setup()
    with pool:
        rollout = gatherer.gather()
    rollout.compute_advantages(config["discount"], config["lam"])
    return config, brain, rollout, [w.copy() for w in brain.policy.model.get_weights()]


def test_next_values_bootstrap_from_the_final_observation_on_truncation(gathered):
    config, brain, rollout, weights = gathered
    brain.policy.model.set_weights(weights)
    policy, zero = brain.policy, np.zeros(N_ENVS, np.float32)
    value_of = lambda obs: policy.value({"obs": np.tile(np.asarray(obs, np.float32), (N_ENVS, 1))}, [], zero)  # noqa
    truncated_at = 4  # the 5th step of every env ends its episode (obs [0.5, 1]); step 5 starts anew ([0, 0])
    assert rollout.truncated[truncated_at].all() and rollout.truncated.sum() == N_ENVS
    np.testing.assert_allclose(rollout.next_values[truncated_at], value_of([0.5, 1.0]), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(rollout.values[truncated_at + 1], value_of([0.0, 0.0]), rtol=1e-5, atol=1e-6)
    assert not np.allclose(rollout.next_values[truncated_at], rollout.values[truncated_at + 1])
    for t in range(HORIZON - 1):
        if t != truncated_at:
            np.testing.assert_array_equal(rollout.next_values[t], rollout.values[t + 1])
    # after the last step (t = 8, 3 steps into the second episode) the observation is [0.3, 0]
    np.testing.assert_allclose(rollout.next_values[-1], value_of([0.3, 0.0]), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("model", ["ffn", "gru"])
def test_ratio_is_exactly_one_before_the_first_update(model):
    """The learner's log-probs of the stored actions, unrolled from the stored states over sequences
    with resets, equal the acting log-probs: the PPO ratio starts at 1 (no clipping, no KL)."""
    config, pool, brain, gatherer = _setup(model, state_norming=True)
    with pool:
        rollout = gatherer.gather()
    rollout.compute_advantages(config["discount"], config["lam"])
    learner = Learner(brain.policy, config, Comm(), seed=0)
    data = learner.prepare(rollout)
    params, _ = learner._unroll(data)
    log_probs = brain.policy.distribution.log_prob(params, tf.reshape(data["actions"], [-1]))
    ratio = np.exp(log_probs.numpy() - tf.reshape(data["log_probs"], [-1]).numpy())
    np.testing.assert_allclose(ratio, 1.0, atol=1e-5)
    _, metrics = learner.gradients(data)
    assert float(metrics["clip_fraction"]) == 0.0 and abs(float(metrics["approx_kl"])) < 1e-6


def _rollout(n_envs, offset, horizon=4):
    """A rollout whose every entry encodes (field, time, env) so that misplaced data shows."""
    t = np.arange(horizon)[:, None]
    env = np.arange(offset, offset + n_envs)[None, :]
    code = lambda k: (k * 1000 + t * 10 + env).astype(np.float32)  # noqa: E731
    return Rollout(obs={"a": code(1)[..., None].repeat(2, -1), "b": code(2)[..., None]}, actions=code(3),
                   log_probs=code(4), values=code(5), rewards=code(6), terminated=(code(7) % 3 == 0),
                   truncated=(code(8) % 5 == 0), resets=code(9), states=[code(10)[..., None].repeat(4, -1)],
                   next_values=code(11), episodes=[{"env": int(e)} for e in env[0]])


def test_concatenate_puts_the_parts_side_by_side():
    full = _rollout(5, 0)
    parts = [_rollout(2, 0), _rollout(3, 2)]
    for p in (full, *parts):
        p.compute_advantages(0.9, 0.8)
    joined = Rollout.concatenate(parts)
    for name in ("actions", "log_probs", "values", "rewards", "terminated", "truncated", "resets", "next_values",
                 "advantages", "returns"):
        np.testing.assert_array_equal(getattr(joined, name), getattr(full, name), err_msg=name)
    for key in ("a", "b"):
        np.testing.assert_array_equal(joined.obs[key], full.obs[key])
    assert len(joined.states) == 1 and joined.states[0].shape == (4, 5, 4)
    np.testing.assert_array_equal(joined.states[0], full.states[0])
    assert [e["env"] for e in joined.episodes] == [0, 1, 2, 3, 4]
    assert joined.steps == 20


def test_concatenate_keeps_missing_advantages_missing():
    joined = Rollout.concatenate([_rollout(1, 0), _rollout(1, 1)])
    assert joined.advantages is None and joined.returns is None


class _OtherRankHasLargeKL(Comm):
    """One rank of two whose partner reports approx-KL 1.0 (a 1-element allreduce)."""

    def allreduce_mean(self, array):
        array = np.asarray(array, np.float64)
        return (array + 1.0) / 2 if array.shape == (1,) else array


@pytest.mark.parametrize("target_kl, comm, epochs_done", [
    (None, Comm(), 4),                # no KL stop: every epoch
    (1e-12, Comm(), 1),               # any change exceeds it: one epoch
    (0.4, Comm(), 4),                 # this rank alone stays below 0.4
    (0.4, _OtherRankHasLargeKL(), 1),  # the mean over ranks exceeds it: stop on every rank alike
])
def test_kl_stop(gathered, target_kl, comm, epochs_done):
    base, brain, rollout, weights = gathered
    config = derive_config(base, {"epochs": 4, "target_kl": target_kl, "batch_size": 8})
    brain.policy.model.set_weights(weights)
    learner = Learner(brain.policy, config, comm, seed=0)
    out = learner.optimise(rollout, 1e-3)
    assert out["train/epochs_done"] == epochs_done
    assert out["train/steps"] == epochs_done * (HORIZON * N_ENVS // 8)
    assert int(learner.optimizer.iterations.numpy()) == out["train/steps"]


class _RecordingComm(Comm):
    """Single-rank communicator that keeps every 1-element allreduce (the per-epoch KL)."""

    def __init__(self):
        super().__init__()
        self.kls = []

    def allreduce_mean(self, array):
        if np.shape(array) == (1,):
            self.kls.append(float(array[0]))
        return array


def test_kl_over_ranks_is_weighted_by_each_ranks_share(gathered):
    """An optimiser holding a smaller share of the global minibatch (weight 0.5) counts half in the
    KL that every rank compares with --target-kl, as its gradients count half."""
    base, brain, rollout, weights = gathered
    config = derive_config(base, {"epochs": 3, "batch_size": 8})
    kls, outs = {}, {}
    for weight in (1.0, 0.5):
        brain.policy.model.set_weights(weights)
        comm = _RecordingComm()
        plan = Minibatches(length=1, rows=8, steps=HORIZON * N_ENVS // 8, weight=weight)
        outs[weight] = Learner(brain.policy, config, comm, seed=0, plan=plan).optimise(rollout, 1e-3)
        kls[weight] = comm.kls
    assert len(kls[1.0]) == 3 and min(kls[1.0]) > 0
    np.testing.assert_allclose(kls[0.5], np.array(kls[1.0]) / 2, rtol=1e-6)
    for key in ("train/approx_kl", "train/policy_loss", "train/entropy"):  # the cycle's means alike
        assert outs[0.5][key] == pytest.approx(outs[1.0][key] / 2, rel=1e-5), key
