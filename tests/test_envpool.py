"""The env pool: TF-free worker processes, same results in-process and in workers, episode records."""
import os
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
import tensorflow as tf  # noqa: F401  (the parent has TensorFlow loaded, as the trainer does)

from dexterity.envgroup import env_seed
from dexterity.envpool import EnvPool
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


def test_batch_encoding_against_hand_built_arrays():
    """Every kind of leaf, nested: Box vectors and matrices (flattened, float32), scalars, one-hots of
    Discrete (with a start) and MultiDiscrete, uint8 images kept as they are."""
    import gymnasium as gym

    from dexterity.spaces import ObservationEncoder
    space = gym.spaces.Dict({"arm": gym.spaces.Dict({"joints": gym.spaces.Box(-1, 1, (2, 3), np.float64)}),
                             "speed": gym.spaces.Box(0, 1, (), np.float64), "mode": gym.spaces.Discrete(3, start=1),
                             "keys": gym.spaces.MultiDiscrete([2, 3]),
                             "camera": gym.spaces.Box(0, 255, (2, 2, 3), np.uint8)})
    rng = np.random.default_rng(0)
    raw = [{"arm": {"joints": rng.normal(size=(2, 3))}, "speed": np.float64(0.1 * i), "mode": 1 + i % 3,
            "keys": np.array([i % 2, 2]), "camera": rng.integers(0, 255, (2, 2, 3), np.uint8)} for i in range(3)]
    batch = ObservationEncoder(space).encode_batch(raw)
    np.testing.assert_array_equal(batch["arm/joints"], np.float32([o["arm"]["joints"].ravel() for o in raw]))
    assert batch["arm/joints"].dtype == np.float32 and batch["speed"].shape == (3, 1)
    np.testing.assert_array_equal(batch["speed"][:, 0], np.float32([0.0, 0.1, 0.2]))
    np.testing.assert_array_equal(batch["mode"], np.eye(3, dtype=np.float32))
    np.testing.assert_array_equal(batch["keys"], np.float32([[1, 0, 0, 0, 1], [0, 1, 0, 0, 1], [1, 0, 0, 0, 1]]))
    np.testing.assert_array_equal(batch["camera"], np.stack([o["camera"] for o in raw]))
    assert batch["camera"].dtype == np.uint8


@pytest.mark.parametrize("env_id, kwargs, text", [
    ("CartPole-v1", {"max_episode_steps": 0}, "positive"),         # gymnasium's ValueError
    ("ManipulateBlock-v0", {"max_goals": "many"}, "max_goals"),    # int("many"): ValueError
    ("ManipulateBlock-v0", {"drop_height": [1]}, "drop_height"),   # float([1]): TypeError
])
def test_options_an_env_rejects_are_one_clear_error(env_id, kwargs, text):
    from dexterity.envgroup import make_env
    with pytest.raises(DexterityError, match=f"rejected its options .*{text}"):
        make_env(env_id, kwargs)


def _broken_env(**kwargs):
    raise ValueError("broken whatever the options")


def test_a_value_error_the_options_did_not_cause_keeps_its_traceback():
    """An env that fails with no options too: its ValueError is its own bug, not blamed on the options."""
    import gymnasium as gym

    from dexterity.envgroup import make_env
    gym.register("BrokenProbe-v0", entry_point=_broken_env)
    with pytest.raises(ValueError, match="broken whatever"):
        make_env("BrokenProbe-v0", {"size": 3})


class _StepsBadly(gym.Env):
    """An env whose own step has a bug (whatever its options): a TypeError raised by its code."""
    observation_space = gym.spaces.Box(-1, 1, (2,))
    action_space = gym.spaces.Discrete(2)

    def __init__(self, **options):
        super().__init__()

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(2, np.float32), {}

    def step(self, action):
        return None + 1  # the bug


@pytest.mark.parametrize("sequential", [True, False], ids=["in-process", "workers"])
def test_an_option_that_breaks_step_is_one_clear_error(sequential):
    """ctrl_cost_weight "abc" builds HalfCheetah but fails in its first step: blamed on the options."""
    with pytest.raises(DexterityError, match="failed with its options {'ctrl_cost_weight': 'abc'} .TypeError"):
        with EnvPool("HalfCheetah-v5", 2, 0, processes=2, sequential=sequential,
                     env_kwargs={"ctrl_cost_weight": "abc"}) as pool:
            pool.reset()
            pool.step(np.zeros((2, 6), np.float32))


def test_an_env_that_steps_badly_without_options_too_keeps_its_own_error():
    gym.register("StepsBadly-v0", entry_point=_StepsBadly)
    with EnvPool("StepsBadly-v0", 1, 0, processes=1, sequential=True, env_kwargs={"size": 3}) as pool:
        pool.reset()
        with pytest.raises(TypeError, match="unsupported operand"):
            pool.step(np.zeros(1, np.int64))


def test_a_mujoco_warning_is_printed_once_per_process():
    """HalfCheetah-v5's model has a deprecated compiler attribute: MuJoCo warns at every compile."""
    code = "from dexterity.envgroup import make_env\nfor _ in range(3):\n    make_env('HalfCheetah-v5').close()"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("settotalmass") == 1 and "MuJoCo warning: " in proc.stderr
