"""Learning-rate schedules: defined on the run's target (the cycle drill trains to), also past the
config's `iterations` and when resuming with more iterations; never lr 0 before the target."""
import pytest

from dexterity.agent.learner import learning_rate
from dexterity.agent.ppo import PPOAgent
from dexterity.configs.hp_config import make_config

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
