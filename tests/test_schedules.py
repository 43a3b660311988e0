"""Learning-rate schedules: defined on the run's target (the cycle drill trains to), also past the
config's `iterations` and when resuming with more iterations; never lr 0 before the target. The
entropy bonus's step to 0 at `entropy_until` env steps."""
import gymnasium as gym
import pytest
import tensorflow as tf

from fake_rollout import random_rollout
from dexterity.agent.learner import Learner, adapt_lr, entropy_coefficient, learning_rate
from dexterity.agent.policy import Policy
from dexterity.agent.ppo import PPOAgent
from dexterity.configs.hp_config import make_config
from dexterity.distributed import Comm
from dexterity.distributions import get_distribution
from dexterity.errors import ConfigError
from dexterity.models import build_model
from dexterity.spaces import Sense

LR = 1e-3
TINY = dict(workers=2, horizon=16, batch_size=16, epochs=1, sequential=True, seed=4, lr_pi=LR)


@pytest.mark.parametrize("schedule, expected", [
    (None, [1e-3, 1e-3, 1e-3, 1e-3]),
    ("none", [1e-3, 1e-3, 1e-3, 1e-3]),
    ("exponential", [1e-3, 0.5e-3, 0.25e-3, 0.125e-3]),
    ("linear", [1e-3, 0.75e-3, 0.5e-3, 0.25e-3]),
])
def test_learning_rate_of_every_schedule(schedule, expected):
    config = make_config(lr_pi=LR, lr_schedule=schedule, lr_decay=0.5, iterations=4)
    assert [learning_rate(config, k) for k in range(4)] == pytest.approx(expected)


@pytest.mark.parametrize("schedule, expected", [
    (None, [1e-3] * 4),
    ("exponential", [1e-3, 0.5e-3, 0.25e-3, 0.125e-3]),
    # first run to cycle 2: 1 - k/2; resumed to 4: 1 - k/4
    ("linear", [1e-3, 0.5e-3, 0.5e-3, 0.25e-3]),
])
def test_drill_past_the_config_and_resume_with_more_iterations(storage, schedule, expected):
    config = make_config(lr_schedule=schedule, lr_decay=0.5, iterations=1, **TINY)
    with PPOAgent("CartPole-v1", config, verbose=False) as agent:
        first = agent.drill(2)  # past the config's 1 iteration, as examples/quickstart.py does
        agent_id = agent.agent_id
    with PPOAgent.resume(agent_id, verbose=False) as agent:
        assert agent.config["iterations"] == 2  # the saved target
        second = agent.drill(4)
        assert agent.config["iterations"] == 4
    lrs = [r["train/lr"] for r in first + second]
    assert lrs == pytest.approx(expected)
    assert min(lrs) > 0


@pytest.mark.parametrize("lr, kl, expected", [
    (1e-3, 0.040, 1e-3 / 1.5),   # above twice the target 0.016
    (1e-3, 0.007, 1.5e-3),       # below half of it
    (1e-3, 0.016, 1e-3),         # between: unchanged
    (1e-3, 0.032, 1e-3),         # exactly twice: unchanged
    (1e-3, 0.008, 1e-3),         # exactly half: unchanged
    (1.2e-6, 1.0, 1e-6),         # the floor
    (8e-3, 0.0, 1e-2),           # the ceiling
])
def test_adapt_lr_by_hand(lr, kl, expected):
    assert adapt_lr(lr, kl, 0.016) == pytest.approx(expected, rel=1e-12)


def _adaptive_lrs(records):
    return [r["train/lr"] for r in records]


# epochs=2: with a target no KL stays under (1e-9) every epoch divides by 1.5, so a cycle by 2.25;
# with one every KL is under (10.0), x1.5 per epoch up to the ceiling 1e-2.
@pytest.mark.parametrize("target, expected", [
    (1e-9, [LR / 2.25 ** k for k in range(4)]),
    (10.0, [1e-3, 2.25e-3, 5.0625e-3, 1e-2]),
])
def test_adaptive_schedule_in_training_and_across_a_resume(storage, target, expected):
    config = make_config(lr_schedule="adaptive", adaptive_kl=target, **{**TINY, "epochs": 2})
    with PPOAgent("CartPole-v1", config, verbose=False) as agent:
        first = agent.drill(2)
        agent_id = agent.agent_id
    with PPOAgent.resume(agent_id, verbose=False) as agent:  # the rate saved with the optimizer goes on
        second = agent.drill(4)
    assert _adaptive_lrs(first + second) == pytest.approx(expected, rel=1e-6)


def test_adaptive_rate_starts_at_lr_pi_when_the_schedule_or_lr_pi_changes(storage):
    config = make_config(lr_schedule="adaptive", adaptive_kl=1e-9, **{**TINY, "epochs": 2})
    with PPOAgent("CartPole-v1", config, verbose=False) as agent:
        agent.drill(2)  # leaves 1e-3 / 2.25 ** 2 in the optimizer
        agent_id = agent.agent_id
    with PPOAgent.fork(agent_id, changes={"lr_pi": 5e-4}, verbose=False) as agent:
        assert _adaptive_lrs(agent.drill(3)) == pytest.approx([5e-4], rel=1e-6)
    decayed = make_config(lr_schedule="exponential", lr_decay=0.5, **{**TINY, "epochs": 2})
    with PPOAgent("CartPole-v1", decayed, verbose=False) as agent:
        agent.drill(2)  # leaves 5e-4 in the optimizer
        agent_id = agent.agent_id
    with PPOAgent.fork(agent_id, changes={"lr_schedule": "adaptive", "adaptive_kl": 1e-9}, verbose=False) as agent:
        assert _adaptive_lrs(agent.drill(4)) == pytest.approx([LR, LR / 2.25], rel=1e-6)


def test_the_adaptive_rate_changes_between_the_epochs_of_a_cycle(storage, monkeypatch):
    seen = []
    run_epoch = Learner._run_epoch

    def spy(self, data, order):
        seen.append(self.current_lr())  # the rate this epoch's steps use
        return run_epoch(self, data, order)

    monkeypatch.setattr(Learner, "_run_epoch", spy)
    config = make_config(lr_schedule="adaptive", adaptive_kl=1e-9, **{**TINY, "epochs": 3})
    with PPOAgent("CartPole-v1", config, verbose=False) as agent:
        agent.drill(2)
    assert seen == pytest.approx([LR / 1.5 ** k for k in range(6)], rel=1e-6)


def test_adaptive_lr_pi_outside_the_bounds_is_refused():
    with pytest.raises(ConfigError, match="lr_pi"):
        make_config(lr_schedule="adaptive", lr_pi=0.02)
    assert make_config(lr_schedule="linear", lr_pi=0.02)["lr_pi"] == 0.02


@pytest.mark.parametrize("until, frames, expected", [
    (None, 0, 0.01), (None, 10 ** 9, 0.01),  # no schedule: the bonus throughout
    (100, 0, 0.01), (100, 99, 0.01),         # cycles that start before the step count
    (100, 100, 0.0), (100, 5000, 0.0),       # from there on, none
])
def test_entropy_coefficient_by_hand(until, frames, expected):
    config = make_config(c_entropy=0.01, entropy_until=until)
    assert entropy_coefficient(config, frames) == expected


def test_entropy_bonus_stops_at_entropy_until_also_across_a_resume(storage):
    # 2 envs x 16 steps: cycles start at 0, 32, 64, 96 env steps; the bonus stops at 64
    config = make_config(c_entropy=0.01, entropy_until=64, **TINY)
    with PPOAgent("CartPole-v1", config, verbose=False) as agent:
        first = agent.drill(1)
        agent_id = agent.agent_id
    with PPOAgent.resume(agent_id, verbose=False) as agent:
        second = agent.drill(4)
    assert [r["train/c_entropy"] for r in first + second] == pytest.approx([0.01, 0.01, 0.0, 0.0])
    with PPOAgent("CartPole-v1", make_config(c_entropy=0.01, **TINY), verbose=False) as agent:
        assert "train/c_entropy" not in agent.drill(1)[0]  # recorded only under a schedule


def test_the_traced_loss_reads_the_cycles_entropy_bonus():
    """The epoch function is traced once; the bonus passed to each call must still reach the loss.
    At learning rate 0 the weights stay put, so one whole-rollout minibatch has the same gradient
    every call unless the bonus changes (the reported norm is before clipping)."""
    senses = [Sense("proprioception", (5,), "float32", False)]
    dist = get_distribution("gaussian", gym.spaces.Box(-1, 1, (2,)))
    rollout = random_rollout()

    def grad_norms(c_entropy, overrides):
        config = make_config(workers=4, horizon=16, batch_size=64, epochs=1, seed=0, c_entropy=c_entropy)
        learner = Learner(Policy(build_model(config, senses, dist), dist, 0), config, Comm(), seed=0)
        learner.policy.model.set_weights(weights)
        return [learner.optimise(rollout, 0.0, c_entropy=c)["train/grad_norm"] for c in overrides]

    tf.keras.utils.set_random_seed(0)
    probe = make_config(workers=4, horizon=16, batch_size=64, epochs=1, seed=0)
    weights = build_model(probe, senses, dist).get_weights()
    without, bonus, without_again = grad_norms(0.0, [None, 5.0, 0.0])
    (configured,) = grad_norms(5.0, [None])
    assert without_again == pytest.approx(without, rel=1e-5)
    assert bonus == pytest.approx(configured, rel=1e-5)
    assert abs(bonus - without) > 1e-3 * without
