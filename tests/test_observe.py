"""observe.py on a small trained agent: videos written, options, clear errors (no display here)."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import assert_one_line_error, run_script

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def agent(tmp_path_factory):
    """A 1-cycle ReachAbsolute agent (shadow/gru) in its own storage root -> (storage, agent id)."""
    root = tmp_path_factory.mktemp("observe") / "storage"
    run_script("train.py", "ReachAbsolute-v0", "--architecture", "shadow", "--model", "gru", "--workers", "2",
               "--horizon", "32", "--batch-size", "32", "--tbptt", "8", "--epochs", "1", "--iterations", "1",
               "--seed", "3", "--storage", str(root))
    (agent_id,) = [p.name for p in (root / "saved_models").iterdir()]
    return root, agent_id


def test_default_output_without_a_display_is_a_gif_in_the_experiment_folder(agent, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    root, agent_id = agent
    proc = run_script("observe.py", agent_id, "--storage", str(root), "--max-steps", "20",
                      "--env", "ReachAbsolute-v0")
    gifs = list((root / "experiments" / agent_id / "gifs").glob("observe-*.gif"))
    assert len(gifs) == 1 and gifs[0].stat().st_size > 1000
    assert "deterministic" in proc.stdout and "episode 1: return" in proc.stdout


def test_mp4_stochastic_two_episodes(agent, tmp_path):
    root, agent_id = agent
    out = tmp_path / "hand.mp4"
    proc = run_script("observe.py", agent_id, "--storage", str(root), "--save", "last", "--stochastic",
                      "--episodes", "2", "--max-steps", "10", "--output", str(out))
    assert out.stat().st_size > 1000 and out.read_bytes()[4:8] == b"ftyp"
    assert "episode 2:" in proc.stdout and "stochastic" in proc.stdout


def test_env_kwargs_update_the_saved_ones(agent, tmp_path):
    root, agent_id = agent
    out = tmp_path / "reference.gif"
    proc = run_script("observe.py", agent_id, "--storage", str(root), "--max-steps", "5", "--output", str(out),
                      "--env-kwargs", '{"physics": "reference", "control_period": 0.08}')
    assert out.stat().st_size > 1000 and "episode 1: return" in proc.stdout


@pytest.mark.parametrize("args,message", [
    (["nope-agent"], "error: "),
    (["--save", "77"], "no save '77'"),
    (["--save", "x" * 300], "a save is 'last', 'best' or a cycle number"),
    (["a" * 300], "longer than 128 characters"),
    (["--env", "CartPole-v1"], "rejected its options {'physics'"),  # the saved kwargs go to a forced env too
    (["--output", "x.avi"], ".gif or .mp4"),
    (["--env-kwargs", "{bad"], "--env-kwargs"),
    (["--env-kwargs", '{"physics": "slowest"}'], "unknown physics profile"),
])
def test_errors_are_one_line_and_exit_2(agent, args, message):
    root, agent_id = agent
    argv = args if not args[0].startswith("-") else [agent_id, *args]
    assert_one_line_error(run_script("observe.py", *argv, "--storage", str(root), check=False), message)


@pytest.mark.parametrize("args, text", [
    (["--seed", "-5"], "--seed"),
    (["--seed", str(2 ** 32)], "--seed"),
    (["--episodes", "0"], "--episodes"),
    (["--fps", "0"], "--fps"),
    (["--output", "{file}/x.gif"], "is not a folder"),
    (["--output", "{tmp}"], ".gif or .mp4"),
    (["--output", "{tmp}/folder.gif"], "is a folder"),
    (["--env-kwargs", '{"render_mode": "human"}'], "sets render_mode itself"),
    pytest.param(["--output", "/proc/x.gif"], "--output /proc/x.gif: cannot write in /proc",
                 marks=pytest.mark.skipif(not Path("/proc").is_dir(), reason="no /proc")),
])
def test_bad_flags_are_one_line_before_the_agent_loads(storage, tmp_path, args, text):
    """Flags are checked first (the agent id does not even exist); an --output folder that is missing but
    can be made is not made before the run."""
    (tmp_path / "file").write_text("")
    (tmp_path / "folder.gif").mkdir()
    args = [a.replace("{file}", str(tmp_path / "file")).replace("{tmp}", str(tmp_path)) for a in args]
    assert_one_line_error(run_script("observe.py", "nope-agent", *args, check=False), text)
    proc = run_script("observe.py", "nope-agent", "--output", str(tmp_path / "new" / "x.gif"), check=False)
    assert_one_line_error(proc, "no saved agent")
    assert not (tmp_path / "new").exists()


def test_corrupt_weights_give_a_clear_error(agent, tmp_path):
    root, agent_id = agent
    import shutil
    copy = tmp_path / "storage"
    shutil.copytree(root, copy)
    (copy / "saved_models" / agent_id / "last" / "weights.npz").write_bytes(b"garbage")
    proc = run_script("observe.py", agent_id, "--save", "last", "--storage", str(copy), check=False)
    assert proc.returncode == 2 and "corrupt" in proc.stderr, proc.stderr
    meta = json.loads((root / "experiments" / agent_id / "meta.json").read_text())
    assert meta["config"]["architecture"] == "shadow"


class _FakePolicy:
    def initial_state(self, n):
        return []

    def act(self, obs, state, reset, deterministic):
        return [[0.0]], None, None, state

    class distribution:  # noqa: N801
        to_env = staticmethod(lambda a: a)


class _FakeBrain:
    policy = _FakePolicy()

    class state_norm:  # noqa: N801
        transform = staticmethod(lambda raw: raw)


class _FakePool:
    """A 1-env pool whose episodes last 3 steps; counts renders and resets."""

    n_envs = 1

    def __init__(self):
        self.t, self.renders, self.resets = 0, 0, 0

    def reset(self):
        self.resets += 1
        self.t = 0
        return {"obs": [[0.0]]}

    def render(self):
        self.renders += 1
        return [[[[0, 0, 0]]]]

    def step(self, actions):
        self.t += 1
        done = self.t % 3 == 0
        return {"obs": {"obs": [[0.0]]}, "rewards": [1.0], "terminated": np.array([done]),
                "truncated": np.array([False]),
                "episodes": [{"return": 3.0, "length": 3, "success": 1.0}] if done else []}


def test_play_records_episodes_frames_and_window_pacing():
    from dexterity.cli.observe import play
    pool, frames = _FakePool(), []
    records = play(pool, _FakeBrain(), 2, True, 100, frames, fps=1000)
    assert [r["length"] for r in records] == [3, 3] and len(frames) == pool.renders == 6
    pool = _FakePool()
    records = play(pool, _FakeBrain(), 1, True, 2, None, fps=1000)  # window: the env renders itself
    assert records == [{"return": 2.0, "length": 2, "cut": True}] and pool.renders == 0 and pool.resets == 2


def test_a_cut_block_episode_reports_its_goals_so_far():
    from dexterity.cli.observe import play

    class BlockPool(_FakePool):
        def call(self, method):
            assert method == "state_info"
            return [{"consecutive_goals": np.array(4)}]

    records = play(BlockPool(), _FakeBrain(), 1, True, 2, [], fps=1000, env_id="ManipulateBlock-v0")
    assert records == [{"return": 2.0, "length": 2, "cut": True, "consecutive_goals": 4}]
    records = play(BlockPool(), _FakeBrain(), 1, True, 2, [], fps=1000, env_id="CartPole-v1")
    assert "consecutive_goals" not in records[0]


@pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="needs xvfb-run (installed by run.sh test)")
def test_window_mode_with_a_display(agent, tmp_path):
    """With a display (a virtual X server here) the agent acts in MuJoCo's viewer window, no video."""
    root, agent_id = agent
    videos = lambda: sorted((root / "experiments" / agent_id).glob("gifs/observe-*"))  # noqa: E731
    before = videos()
    cmd = ["xvfb-run", "-a", "-s", "-screen 0 800x600x24", sys.executable, "observe.py", agent_id,
           "--storage", str(root), "--max-steps", "15"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "shown in a window" in proc.stdout and "episode 1: return" in proc.stdout
    assert videos() == before  # no video written


def test_an_env_must_match_the_agents_actions_and_senses():
    """check_compatible (evaluate.py, observe.py): same action space and the same senses, by name and shape."""
    from types import SimpleNamespace

    import gymnasium as gym

    from dexterity.agent.checkpoint import check_compatible
    from dexterity.errors import ConfigError
    from dexterity.spaces import Sense
    box = gym.spaces.Box(-1.0, 1.0, (2,))
    brain = SimpleNamespace(action_space=box, senses=[Sense("obs", (3,), "float32", False)])
    check_compatible(SimpleNamespace(action_space=box, senses=[Sense("obs", (3,), "float32", False)]), brain, "Same-v0")
    with pytest.raises(ConfigError, match=r"Wide-v0 observes \[\('obs', \(5,\)\)\]"):
        check_compatible(SimpleNamespace(action_space=box, senses=[Sense("obs", (5,), "float32", False)]), brain, "Wide-v0")
    with pytest.raises(ConfigError, match="Other-v0 has action space"):
        check_compatible(SimpleNamespace(action_space=gym.spaces.Discrete(2), senses=brain.senses), brain, "Other-v0")
