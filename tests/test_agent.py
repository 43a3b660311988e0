"""PPOAgent in-process: save/load round trip, export, gif recording, resume state."""
import numpy as np
import pytest

from dexterity.agent import checkpoint as ckpt
from dexterity.agent.ppo import PPOAgent
from dexterity.configs.hp_config import make_config
from dexterity.storage import models_dir

SMALL = dict(workers=2, horizon=32, batch_size=32, epochs=2, sequential=True, seed=3)


@pytest.fixture(params=[("CartPole-v1", "ffn"), ("Pendulum-v1", "gru")], ids=["cartpole-ffn", "pendulum-gru"])
def trained(request, storage):
    env_id, model = request.param
    agent = PPOAgent(env_id, make_config(model=model, tbptt=8, **SMALL), verbose=False)
    agent.drill(2)
    yield agent
    agent.close()


def _observations(agent, n=16):
    rng = np.random.default_rng(0)
    return {s.name: rng.normal(size=(n, *s.shape)).astype(np.float32) for s in agent.brain.senses}


def test_save_load_round_trip_gives_identical_actions(trained):
    folder = models_dir(trained.agent_id) / "last"
    brain = ckpt.load_brain(folder)
    raw = _observations(trained)
    reset = np.ones(16, np.float32)
    original = trained.policy.act(trained.brain.state_norm.transform(raw), trained.policy.initial_state(16), reset,
                                  deterministic=True)
    loaded = brain.policy.act(brain.state_norm.transform(raw), brain.policy.initial_state(16), reset,
                              deterministic=True)
    for a, b in zip(original[:3], loaded[:3]):
        np.testing.assert_array_equal(a, b)
    trained.policy.reseed(5)
    brain.policy.reseed(5)
    sampled = [p.act(brain.state_norm.transform(raw), p.initial_state(16), reset)[0]
               for p in (trained.policy, brain.policy)]
    np.testing.assert_array_equal(*sampled)


def test_an_export_path_that_cannot_be_written_is_refused_before_training(trained, tmp_path):
    from dexterity.agent.export import check_exportable
    from dexterity.errors import DexterityError
    (tmp_path / "file").write_text("keep")
    check_exportable(trained.brain, tmp_path / "new" / "deeper" / "policy")  # folders it may make
    with pytest.raises(DexterityError, match="is not a folder"):
        check_exportable(trained.brain, tmp_path / "file" / "policy")
    with pytest.raises(DexterityError, match="not an exported policy"):
        check_exportable(trained.brain, tmp_path / "file")
    assert (tmp_path / "file").read_text() == "keep" and not (tmp_path / "new").exists()


def test_export_reproduces_deterministic_actions(trained, tmp_path):
    from dexterity.agent.export import ExportedPolicy, export_policy
    export_policy(trained.brain, tmp_path / "exported")
    exported = ExportedPolicy(tmp_path / "exported")
    raw = _observations(trained)
    actions, state = exported(raw, exported.initial_state(16))
    expected = trained.policy.act(trained.brain.state_norm.transform(raw), trained.policy.initial_state(16),
                                  np.ones(16, np.float32), deterministic=True)[0]
    np.testing.assert_allclose(actions, trained.policy.distribution.to_env(expected), rtol=1e-5, atol=1e-5)
    assert len(state) == len(trained.policy.initial_state(1))


def test_resume_restores_optimizer_normalisers_and_iteration(trained):
    resumed = PPOAgent.resume(trained.agent_id, verbose=False)
    try:
        assert resumed.iteration == 2 and resumed.frames == trained.frames
        for a, b in zip(resumed.learner.optimizer.variables, trained.learner.optimizer.variables):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        assert resumed.brain.state_norm.state_dict() == trained.brain.state_norm.state_dict()
        assert resumed.reward_norm.state_dict() == trained.reward_norm.state_dict()
    finally:
        resumed.close()


def test_curriculum_progress_is_saved_and_resumed(storage):
    kwargs = {"goal_angle": 0.8, "curriculum": True}
    config = make_config(workers=2, horizon=16, batch_size=32, epochs=1, sequential=True, seed=3)
    with PPOAgent("ManipulateBlock-v0", config, env_kwargs=kwargs, verbose=False) as agent:
        agent.drill(1)
        assert agent.pool.training_states() == [{"goal_angle": 0.8}] * 2
        agent.pool.set_training_states([{"goal_angle": 1.6}, {"goal_angle": 2.0}])
        agent.save("last")
    assert ckpt.read_info(models_dir(agent.agent_id) / "last")["env_states"] == [{"goal_angle": 1.6},
                                                                                 {"goal_angle": 2.0}]
    with PPOAgent.resume(agent.agent_id, verbose=False) as resumed:
        assert resumed.pool.training_states() == [{"goal_angle": 1.6}, {"goal_angle": 2.0}]
    with PPOAgent.resume(agent.agent_id, {"workers": 3, "batch_size": 16}, verbose=False) as wider:  # cycled
        assert wider.pool.training_states() == [{"goal_angle": 1.6}, {"goal_angle": 2.0}, {"goal_angle": 1.6}]
    from dexterity.cli.evaluate import evaluate
    records = evaluate(agent.agent_id, 1, "last", sequential=True)["records"]
    assert records[0]["goal_angle"] == 1.6  # evaluated where training left the curriculum
    full = evaluate(agent.agent_id, 1, "last", sequential=True, env_kwargs={"goal_angle": None, "curriculum": False})
    assert "goal_angle" not in full["records"][0]
    with PPOAgent("CartPole-v1", make_config(**SMALL), verbose=False) as plain:
        plain.save("last")
        assert "env_states" not in ckpt.read_info(models_dir(plain.agent_id) / "last")


def test_evaluate_starts_no_more_envs_than_episodes(trained, monkeypatch):
    from dexterity import envpool
    from dexterity.cli.evaluate import evaluate
    sizes = []

    class Counting(envpool.EnvPool):
        def __init__(self, env_id, n_envs, *args, **kwargs):
            sizes.append(n_envs)
            super().__init__(env_id, n_envs, *args, **kwargs)

    monkeypatch.setattr(envpool, "EnvPool", Counting)
    assert len(evaluate(trained.agent_id, 3, "last", workers=16, sequential=True)["records"]) == 3
    assert len(evaluate(trained.agent_id, 12, "last", sequential=True)["records"]) == 12
    assert sizes == [3, 8]


def test_gif_of_an_episode_is_written(storage, tmp_path):
    from dexterity.agent.media import record_episode, write_video
    agent = PPOAgent("CartPole-v1", make_config(**SMALL), verbose=False, write_experiment=False)
    try:
        frames, total = record_episode("CartPole-v1", agent.brain, seed=0, max_steps=20)
    finally:
        agent.close()
    assert 1 <= len(frames) <= 20 and frames[0].ndim == 3 and total > 0
    path = write_video(frames, tmp_path / "episode.gif")
    assert path.stat().st_size > 1000


@pytest.mark.parametrize("returns, stops", [
    ([480, 490, 500, 470, 500], True),
    ([480, 490, 500, 470, 400], False),                   # mean 468
    ([480, None, 490, 500, None, 470, 500], True),        # cycles that finished no episode are left out
    ([480, None, 490, 500, 470], False),                  # only four cycles with episodes
])
def test_stop_early_averages_the_last_cycles_that_finished_episodes(returns, stops):
    """A good CartPole policy runs 500-step episodes, longer than a cycle's 128 steps per env: some
    cycles finish none, and they must not keep --stop-early from ever stopping."""
    from types import SimpleNamespace
    from dexterity.agent.ppo import PPOAgent
    history = [{"iteration": i} if r is None else {"iteration": i, "rollout/return_mean": r}
               for i, r in enumerate(returns)]
    agent = SimpleNamespace(config={"stop_early": True, "stop_window": 5}, history=history,
                            info={"reward_threshold": 475.0})
    assert PPOAgent._should_stop(agent) is stops


def test_a_failed_run_records_its_error_and_a_resume_clears_it(storage):
    from dexterity.storage import ExperimentLog
    agent = PPOAgent("CartPole-v1", make_config(**SMALL), verbose=False)
    try:
        real_cycle, calls = agent.cycle, []

        def cycle(*args):
            calls.append(1)
            if len(calls) == 2:
                raise RuntimeError("boom in cycle 2\nsecond line of the message")
            return real_cycle(*args)
        agent.cycle = cycle
        with pytest.raises(RuntimeError):
            agent.drill(3)
        meta = ExperimentLog(agent.agent_id).read_meta()
        assert meta["status"] == "failed" and meta["error"] == "RuntimeError: boom in cycle 2"
        assert meta["iteration"] == 1
        agent.cycle = real_cycle
        agent.drill(2)
        meta = ExperimentLog(agent.agent_id).read_meta()
        assert meta["status"] == "finished" and "error" not in meta
    finally:
        agent.close()


def test_failure_line_is_one_line_with_the_type_unless_the_error_is_the_users():
    from dexterity.errors import ConfigError, failure_line
    assert failure_line(ConfigError("lr must be > 0")) == "lr must be > 0"
    assert failure_line(ValueError("a\nb")) == "ValueError: a"
    assert failure_line(MemoryError()) == "MemoryError"
    long = failure_line(ValueError("x" * 1000), limit=50)
    assert len(long) == 50 and long.endswith("...")
