"""Running statistics: merging equals the statistics of the pooled data; normalisers behave."""
import numpy as np
import pytest

from dexterity.distributed import Comm
from dexterity.spaces import Sense
from dexterity.transformers import (RewardNormaliser, RunningMoments, StateNormaliser, batch_moments,
                                    combine_moments)


def test_combine_moments_equals_pooled_statistics():
    rng = np.random.default_rng(0)
    a, b = rng.normal(2, 3, size=(50, 4)), rng.normal(-1, 0.5, size=(7, 4))
    n, mean, var = combine_moments(batch_moments(a), batch_moments(b))
    pooled = np.concatenate([a, b])
    assert n == 57
    np.testing.assert_allclose(mean, pooled.mean(0), rtol=1e-10)
    np.testing.assert_allclose(var, pooled.var(0), rtol=1e-10)


def test_running_moments_incremental_and_merged_deltas_equal_pooled():
    rng = np.random.default_rng(1)
    chunks = [rng.normal(size=(k, 3)) for k in (1, 5, 20, 3)]
    ranks = [RunningMoments((3,)), RunningMoments((3,))]
    for i, chunk in enumerate(chunks):
        ranks[i % 2].update(chunk)
    deltas = [r.delta for r in ranks]
    for r in ranks:
        r.merge_deltas(deltas)
    pooled = np.concatenate(chunks)
    for r in ranks:
        n, mean, var = r.moments
        assert n == len(pooled)
        np.testing.assert_allclose(mean, pooled.mean(0), rtol=1e-9)
        np.testing.assert_allclose(var, pooled.var(0), rtol=1e-9)
    # the initial base (count 0) does not bias the statistics
    assert ranks[0].count == len(pooled)


def test_running_moments_state_round_trip_keeps_counts():
    m = RunningMoments((2,))
    m.update(np.array([[1.0, 2.0], [3.0, 6.0]]))
    restored = RunningMoments((2,))
    restored.load_state_dict(m.state_dict())
    assert restored.count == 2
    restored.update(np.array([[5.0, 10.0]]))
    np.testing.assert_allclose(restored.moments[1], [3.0, 6.0])


def test_state_normaliser_normalises_vectors_clips_and_scales_images():
    senses = [Sense("obs", (2,), "float32", False), Sense("vision", (2, 2, 3), "uint8", True)]
    norm = StateNormaliser(senses, clip=3.0)
    data = np.array([[0.0, 10.0], [2.0, 30.0]])
    norm.update({"obs": data, "vision": np.zeros((2, 2, 2, 3), np.uint8)})
    norm.sync(Comm())
    out = norm.transform({"obs": np.array([[1.0, 20.0], [100.0, 20.0]]),
                          "vision": np.full((2, 2, 2, 3), 255, np.uint8)})
    np.testing.assert_allclose(out["obs"][0], [0.0, 0.0], atol=1e-6)
    assert out["obs"][1, 0] == pytest.approx(3.0)  # (100 - 1) / 1 clipped to 3
    assert out["obs"].dtype == np.float32
    np.testing.assert_allclose(out["vision"], 1.0)
    norm.frozen = True
    norm.update({"obs": np.full((5, 2), 1e6), "vision": np.zeros((5, 2, 2, 3), np.uint8)})
    assert norm.moments()["obs"].count == 2


def test_disabled_state_normaliser_passes_values_through():
    norm = StateNormaliser([Sense("obs", (1,), "float32", False)], enabled=False)
    norm.update({"obs": np.array([[5.0]])})
    assert norm.transform({"obs": np.array([[7.0]])})["obs"][0, 0] == 7.0


def test_reward_normaliser_scales_by_discounted_return_std():
    norm = RewardNormaliser(n_envs=1, discount=0.5)
    returns = []
    ret = 0.0
    for r, done in [(1.0, False), (1.0, False), (1.0, True), (2.0, False)]:
        ret = ret * 0.5 + r
        returns.append(ret)
        norm.update(np.array([r]), np.array([done]))
        if done:
            ret = 0.0
    expected_std = np.std(returns)
    assert norm.transform(np.array([1.0]))[0] == pytest.approx(1.0 / expected_std, rel=1e-5)
