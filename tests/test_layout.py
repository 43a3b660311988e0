"""The checks that need the rank layout or the model (dexterity.configs.layout): environments per rank,
--batch-size as the global minibatch split over the optimising ranks, recurrence from the model."""
import pytest

from dexterity.configs.hp_config import make_config
from dexterity.configs.layout import Minibatches, envs_per_rank, minibatch_plan
from dexterity.errors import ConfigError


def test_one_rank_takes_data_over_batch_size_steps():
    config = make_config(workers=4, horizon=32, batch_size=32)
    assert minibatch_plan(config, False, (1,), 0) == Minibatches(length=1, rows=32, steps=4, weight=1.0)


def test_two_ranks_split_the_global_minibatch_and_take_as_many_steps():
    config = make_config(workers=4, horizon=32, batch_size=32)
    plans = [minibatch_plan(config, False, (1, 1), i) for i in range(2)]
    assert plans == [Minibatches(1, 16, 4, 1.0)] * 2


def test_unequal_optimisers_take_shares_in_proportion_and_the_same_steps():
    """3 ranks, 2 optimisers: one trains on 2 ranks' data, the other on 1 rank's."""
    config = make_config(workers=6, horizon=32, batch_size=48)
    big, small = (minibatch_plan(config, False, (2, 1), i) for i in range(2))
    assert (big.rows, small.rows) == (32, 16) and big.steps == small.steps == 4
    assert big.rows + small.rows == 48
    # weighted mean over optimisers = the gradient of the whole 48-row minibatch
    assert (big.weight + small.weight) / 2 == pytest.approx(1.0)
    assert big.weight / 2 == pytest.approx(32 / 48) and small.weight / 2 == pytest.approx(16 / 48)


def test_recurrent_plans_count_sequences():
    config = make_config(model="gru", tbptt=8, workers=4, horizon=32, batch_size=32)
    assert minibatch_plan(config, True, (1, 1), 0) == Minibatches(8, 2, 4, 1.0)


@pytest.mark.parametrize("changes, recurrent, shares, message", [
    (dict(workers=4, horizon=32, batch_size=32), False, (1, 1, 1), "cannot be spread evenly over 3 ranks"),
    (dict(workers=4, horizon=8, batch_size=32), False, (1, 1, 1, 1), None),
    (dict(workers=2, horizon=32, batch_size=64), False, (1, 1), None),
    (dict(workers=2, horizon=32, batch_size=2), False, (1, 1), None),
    (dict(workers=2, horizon=32, batch_size=1), False, (1, 1), "--batch-size 1 cannot be split over 2"),
    (dict(workers=6, horizon=32, batch_size=32), False, (2, 1), "cannot be split over 2 optimising"),
    (dict(workers=2, horizon=30, batch_size=30, tbptt=8), True, (1,), "--horizon 30 must be a multiple of --tbptt"),
    (dict(workers=2, horizon=32, batch_size=4, tbptt=8), True, (1,), "--batch-size 4 must be a multiple"),
    (dict(workers=2, horizon=32, batch_size=16, tbptt=8), True, (1, 1), None),
])
def test_layouts_that_cannot_work_are_refused_with_one_clear_line(changes, recurrent, shares, message):
    config = make_config(**changes)
    if message is None:
        plans = [minibatch_plan(config, recurrent, shares, i) for i in range(len(shares))]
        assert len({p.steps for p in plans}) == 1
        return
    with pytest.raises(ConfigError, match=message):
        minibatch_plan(config, recurrent, shares, 0)


def test_a_feed_forward_model_ignores_tbptt():
    config = make_config(workers=2, horizon=30, batch_size=30, tbptt=8)
    assert minibatch_plan(config, False, (1,), 0).length == 1


def test_envs_per_rank():
    assert envs_per_rank(make_config(workers=6, horizon=8, batch_size=8), 3) == 2
