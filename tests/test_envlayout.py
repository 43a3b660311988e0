"""In-process or worker-process envs: the cost rule against hand-worked numbers, and real pools.

The pools are built with TensorFlow loaded, as the trainer's are; nothing here renders in this
process (the one test whose env renders runs isolated, in case a bug moved it here).
"""
import os
import sys

import gymnasium as gym
import numpy as np
import pytest
import tensorflow as tf  # noqa: F401  (the parent has TensorFlow loaded, as the trainer does)

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from conftest import run_script  # noqa: E402
from dexterity import envlayout  # noqa: E402
from dexterity.configs.hp_config import defaults, derive_config, make_config  # noqa: E402
from dexterity.envlayout import choose_layout, has_image, renders  # noqa: E402
from dexterity.envpool import EnvPool, LocalEnvGroup, ProcessEnvGroup  # noqa: E402
from tests.plugins import probe_env  # noqa: E402

PLUGIN = ["tests.plugins.probe_env"]
MS = 1e-3


# ---- the pure rule: T_local = n c, T_workers = max(ceil(n / P), n / min(P, cores)) c + o --------

def test_cheap_env_stays_in_process_when_workers_are_not_clearly_cheaper():
    # n=8, c=0.1 ms, o=0.3 ms, P=2: T_local = 0.8 ms; T_workers = 4 x 0.1 + 0.3 = 0.7 ms; 0.7 x 1.25 > 0.8
    choice = choose_layout(8, processes=2, cores=2, renders=False, step_s=0.1 * MS, overhead_s=0.3 * MS)
    assert choice.local
    assert choice.local_cost_s == pytest.approx(0.8 * MS) and choice.workers_cost_s == pytest.approx(0.7 * MS)
    # o=0.2 ms: T_workers = 0.6 ms; 0.6 x 1.25 = 0.75 <= 0.8: workers
    assert not choose_layout(8, 2, 2, False, 0.1 * MS, 0.2 * MS).local
    # without the margin the 0.7 ms case would have gone to workers
    assert not choose_layout(8, 2, 2, False, 0.1 * MS, 0.3 * MS, margin=1.0).local


def test_physics_bound_env_goes_to_workers():
    # hand-like: n=128, c=0.4 ms, o=0.5 ms: T_local = 51.2 ms, T_workers = 64 x 0.4 + 0.5 = 26.1 ms
    choice = choose_layout(128, 2, 2, False, 0.4 * MS, 0.5 * MS)
    assert not choice.local and choice.processes == 2
    assert choice.local_cost_s == pytest.approx(51.2 * MS) and choice.workers_cost_s == pytest.approx(26.1 * MS)
    assert choice.describe().startswith("2 worker processes (automatic: env step 0.4 ms")


def test_more_workers_than_cores_and_uneven_groups():
    # P=8 on 2 cores, n=8: the cores' share 8 / 2 = 4 steps, not the group's 1: T_workers = 4 x 1 + 1 = 5 ms
    assert choose_layout(8, 8, 2, False, 1 * MS, 1 * MS).workers_cost_s == pytest.approx(5 * MS)
    # n=5 on P=2: the larger group has 3 envs: T_workers = 3 x 1 ms + 0
    assert choose_layout(5, 2, 2, False, 1 * MS, 0.0).workers_cost_s == pytest.approx(3 * MS)


def test_rendering_goes_to_workers_and_one_core_or_worker_in_process_without_timing():
    choice = choose_layout(8, 2, 2, renders=True, step_s=0.001 * MS, overhead_s=10 * MS)
    assert not choice.local and "renders" in choice.reason
    assert not choose_layout(8, 1, 1, renders=True).local  # even on one core
    assert choose_layout(8, 2, 1, renders=False).local      # one core: workers only add messaging
    assert choose_layout(1, 1, 2, renders=False).local      # one env, one worker process
    with pytest.raises(ValueError, match="step_s"):
        choose_layout(8, 2, 2, renders=False)


def test_image_observations_and_render_modes_count_as_rendering():
    image = gym.spaces.Box(0, 255, (6, 6), np.uint8)
    assert has_image(image) and has_image(gym.spaces.Box(0, 255, (4, 4, 3), np.uint8))
    assert not has_image(gym.spaces.Box(0, 255, (6,), np.uint8))
    assert not has_image(gym.spaces.Box(0.0, 1.0, (4, 4, 3), np.float32))
    assert has_image(gym.spaces.Dict({"a": gym.spaces.Box(-1, 1, (2,)), "b": gym.spaces.Tuple((image,))}))
    flat = {"observation_space": gym.spaces.Box(-1, 1, (3,)), "render_mode": None}
    assert not renders(flat, {}) and not renders(flat, None)
    assert renders({**flat, "render_mode": "rgb_array"}, {})
    assert renders(flat, {"render_mode": "rgb_array"})


def test_cores_are_shared_among_the_ranks_of_a_node():
    cores = envlayout.available_cores()
    assert cores >= 1 and envlayout.available_cores(ranks_on_node=cores * 4) == 1
    assert envlayout.available_cores(ranks_on_node=2) == max(1, cores // 2)


# ---- real pools ---------------------------------------------------------------------------------

def _trajectory(pool, steps=12):
    rng = np.random.default_rng(0)
    obs = [pool.reset()["obs"]]
    for _ in range(steps):
        obs.append(pool.step(rng.integers(0, 2, pool.n_envs))["obs"]["obs"])
    return np.stack(obs)


def test_cheap_env_moves_in_process_with_the_same_trajectories():
    with EnvPool("CartPole-v1", 4, seed=3, processes=2, sequential=None) as pool:
        assert pool.layout.local and "automatic" in pool.layout.reason
        assert len(pool.groups) == 1 and isinstance(pool.groups[0], LocalEnvGroup)
        auto = _trajectory(pool)
    with EnvPool("CartPole-v1", 4, seed=3, processes=2, sequential=False) as pool:
        assert all(isinstance(g, ProcessEnvGroup) for g in pool.groups)
        np.testing.assert_array_equal(auto, _trajectory(pool))


def test_expensive_env_stays_in_workers_and_the_probe_leaves_its_envs_alone(monkeypatch):
    monkeypatch.setattr(envlayout, "available_cores", lambda ranks_on_node=1: 2)  # a sleeping env scales anyway
    kwargs = {"step_s": 0.01}  # T_local = 4 x 10 ms, T_workers = 2 x 10 ms + o
    with EnvPool("ProbeEnv-v0", 4, seed=5, processes=2, sequential=None, env_kwargs=kwargs, plugins=PLUGIN) as pool:
        assert not pool.layout.local and len(pool.groups) == 2
        assert pool.layout.step_s >= 0.01
        assert pool.call("lifetime_steps") == [0] * 4  # the probe stepped an env of its own
        auto = _trajectory(pool)
    with EnvPool("ProbeEnv-v0", 4, seed=5, sequential=True, env_kwargs=kwargs, plugins=PLUGIN) as pool:
        np.testing.assert_array_equal(auto, _trajectory(pool))  # seeded envs as if never probed


@pytest.mark.parametrize("kwargs", [{"render_mode": "rgb_array"}, {"image": True}], ids=["render-mode", "image"])
def test_rendering_env_stays_in_workers_and_is_never_made_here(kwargs):
    made = probe_env.ProbeEnv.made
    with EnvPool("ProbeEnv-v0", 2, seed=0, processes=2, sequential=None, env_kwargs=kwargs, plugins=PLUGIN) as pool:
        assert not pool.layout.local and "renders" in pool.layout.reason
        assert all(isinstance(g, ProcessEnvGroup) for g in pool.groups)
        pool.reset()
    assert probe_env.ProbeEnv.made == made


@pytest.mark.isolated  # a MuJoCo-rendering env: if a bug kept it here, only a child process would crash
def test_vision_task_stays_in_workers():
    with EnvPool("ManipulateBlockVisual-v0", 2, seed=0, processes=2, sequential=None,
                 env_kwargs={"vision_size": 16}) as pool:
        assert not pool.layout.local and "renders" in pool.layout.reason
        assert all(isinstance(g, ProcessEnvGroup) for g in pool.groups)
        assert pool.reset()["vision"].shape == (2, 16, 16, 3)


def test_explicit_choices_are_honoured():
    with EnvPool("ProbeEnv-v0", 4, seed=0, processes=2, sequential=True, env_kwargs={"step_s": 0.01},
                 plugins=PLUGIN) as pool:
        assert pool.layout.local and pool.layout.reason == "--sequential" and len(pool.groups) == 1
    with EnvPool("CartPole-v1", 4, seed=0, processes=2, sequential=False) as pool:
        assert not pool.layout.local and pool.layout.reason == "--no-sequential"
        assert len(pool.groups) == 2 and all(isinstance(g, ProcessEnvGroup) for g in pool.groups)


# ---- config and command lines -----------------------------------------------------------------

def test_sequential_is_automatic_by_default_and_saved_false_still_loads():
    assert make_config()["sequential"] is None
    saved = {**defaults(), "sequential": False}  # an agent.json config written before the automatic choice
    assert derive_config(saved, {})["sequential"] is False
    assert derive_config(saved, {"sequential": None})["sequential"] is None


def test_flags_give_true_false_or_leave_the_choice_automatic():
    from dexterity.cli.common import config_changes
    from dexterity.cli.evaluate import build_parser as evaluate_parser
    from dexterity.cli.train import build_parser as train_parser
    train = train_parser()
    assert config_changes(train.parse_args(["--sequential"]))["sequential"] is True
    assert config_changes(train.parse_args(["--no-sequential"]))["sequential"] is False
    assert "sequential" not in config_changes(train.parse_args([]))
    assert [evaluate_parser().parse_args(a).sequential for a in ([], ["--sequential"], ["--no-sequential"])] == \
        [None, True, False]


def test_a_value_for_the_flag_is_one_clear_error():
    proc = run_script("train.py", "--sequential=maybe", check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("train.py: error: argument --sequential")
