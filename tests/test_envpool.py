"""The env pool: TF-free worker processes, same results in-process and in workers, episode records."""
import os
import sys

import numpy as np
import pytest
import tensorflow as tf  # noqa: F401  (the parent has TensorFlow loaded, as the trainer does)

from dexterity.envpool import EnvPool, env_seed
from dexterity.errors import DexterityError

PLUGIN = ["tests.plugins.probe_env"]
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_worker_processes_never_import_tensorflow():
    assert "tensorflow" in sys.modules
    with EnvPool("ProbeEnv-v0", 3, seed=0, processes=2, plugins=PLUGIN) as pool:
        assert pool.call("tensorflow_loaded") == [False, False, False]
        assert all(pid != os.getpid() for pid in pool.call("pid"))


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1"])
def test_processes_and_sequential_give_identical_trajectories(env_id):
    results = []
    for sequential in (True, False):
        with EnvPool(env_id, 4, seed=3, processes=2, sequential=sequential) as pool:
            rng = np.random.default_rng(0)
            obs = [pool.reset()["obs"]]
            for _ in range(30):
                if env_id.startswith("CartPole"):
                    actions = rng.integers(0, 2, 4)
                else:
                    actions = rng.uniform(-2, 2, (4, 1)).astype(np.float32)
                obs.append(pool.step(actions)["obs"]["obs"])
            results.append(np.stack(obs))
    np.testing.assert_array_equal(results[0], results[1])


def test_episode_records_and_final_observations():
    with EnvPool("ProbeEnv-v0", 2, seed=0, sequential=True, plugins=PLUGIN) as pool:
        pool.reset()
        for t in range(10):
            out = pool.step(np.ones(2, np.int64))
        assert out["truncated"].all() and not out["terminated"].any()
        assert [e["return"] for e in out["episodes"]] == [10.0, 10.0]
        assert [e["length"] for e in out["episodes"]] == [10, 10]
        assert out["final_obs"]["obs"].shape == (2, 2)
        assert not np.array_equal(out["final_obs"]["obs"], out["obs"]["obs"])


def test_env_seeds_differ_per_rank_and_worker():
    seeds = {env_seed(1, r, w) for r in range(3) for w in range(4)}
    assert len(seeds) == 12


def test_unknown_env_id_is_a_user_error():
    with pytest.raises(DexterityError, match="Nope-v0"):
        EnvPool("Nope-v0", 2, seed=0, processes=2)


def test_training_states_round_trip_through_worker_processes():
    kwargs = {"goal_angle": 0.8, "curriculum": True}
    with EnvPool("ManipulateBlock-v0", 3, seed=0, processes=2, env_kwargs=kwargs) as pool:
        assert pool.training_states() == [{"goal_angle": 0.8}] * 3
        pool.set_training_states([{"goal_angle": 1.0}, None, {"goal_angle": 9.0}])
        assert pool.training_states() == [{"goal_angle": 1.0}, {"goal_angle": 0.8}, {"goal_angle": np.pi}]
    with EnvPool("ProbeEnv-v0", 2, seed=0, sequential=True, plugins=PLUGIN) as pool:
        pool.set_training_states([{"goal_angle": 1.0}] * 2)  # envs without the hook ignore their state
        assert pool.training_states() == [None, None]
