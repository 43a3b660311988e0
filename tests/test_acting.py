"""The one act loop (dexterity.agent.acting): recurrent state zeroed exactly for the envs whose episode
ended, for every caller that steps envs through it (gatherer, evaluation, gif recording, observe),
checked against a hand-built expectation; and the loop stays TensorFlow-free."""
import subprocess
import sys

import numpy as np
import pytest

from dexterity.agent import media
from dexterity.agent.acting import ActLoop, zero_ended
from dexterity.agent.rollout import Gatherer, run_episodes
from dexterity.cli.observe import play


class ScriptedPool:
    """N envs; env i's episodes last lengths[i] steps (ending terminated for even i, truncated for odd i).
    Observations are the step count within the episode; the pool resets ended envs itself."""

    def __init__(self, lengths, index_offset=0):
        self.lengths = np.asarray(lengths)
        self.n_envs, self.index_offset = len(lengths), index_offset
        self.t = np.zeros(self.n_envs, int)
        self.resets = self.renders = 0

    def _obs(self):
        return {"obs": self.t[:, None].astype(np.float32)}

    def reset(self):
        self.t[:] = 0
        self.resets += 1
        return self._obs()

    def step(self, actions):
        assert len(actions) == self.n_envs
        self.t += 1
        ended = self.t >= self.lengths
        terminated = ended & (np.arange(self.n_envs) % 2 == 0)
        truncated = ended & ~terminated
        final = {"obs": np.where(ended, self.t, 0)[:, None].astype(np.float32)} if truncated.any() else None
        episodes = [{"env": int(i) + self.index_offset, "return": float(self.lengths[i]),
                     "length": int(self.lengths[i])} for i in np.flatnonzero(ended)]
        self.t[ended] = 0
        return {"obs": self._obs(), "rewards": np.ones(self.n_envs, np.float32), "terminated": terminated,
                "truncated": truncated, "final_obs": final, "episodes": episodes}

    def render(self):
        self.renders += 1
        return [np.zeros((4, 4, 3), np.uint8)] * self.n_envs

    def set_training_states(self, states):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class CountingPolicy:
    """A TF-free stand-in whose recurrent state counts the steps since it was last zeroed. It never
    zeroes anything itself (it ignores `reset`): zeroing must come from the act loop."""

    class distribution:  # noqa: N801
        to_env = staticmethod(lambda actions: actions)

    def __init__(self):
        self.seen = []

    def initial_state(self, batch):
        return [np.zeros((batch, 2), np.float32)]

    def act(self, obs, state, reset, deterministic=False):
        self.seen.append(state[0][:, 0].copy())
        n = len(reset)
        return np.zeros((n, 1), np.float32), np.zeros(n, np.float32), np.zeros(n, np.float32), [state[0] + 1.0]

    def value(self, obs, state, reset):
        return np.zeros(len(reset), np.float32)


class IdentityNorm:
    def update(self, obs):
        pass

    def transform(self, obs):
        return obs


class FakeBrain:
    def __init__(self, policy):
        self.policy, self.state_norm = policy, IdentityNorm()


def expected_states(lengths, steps):
    """[steps, N]: the state each step should act from = steps since env i's episode began."""
    return np.array([[t % length for length in lengths] for t in range(steps)], np.float32)


LENGTHS = [2, 3, 5]


def test_zero_ended_zeroes_exactly_the_flagged_rows():
    state = [np.arange(8, dtype=np.float32).reshape(4, 2) + 1, np.ones((4, 3), np.float32)]
    out = zero_ended(state, np.array([0, 1, 0, 1], np.float32))
    np.testing.assert_array_equal(out[0], [[1, 2], [0, 0], [5, 6], [0, 0]])
    np.testing.assert_array_equal(out[1], [[1, 1, 1], [0, 0, 0], [1, 1, 1], [0, 0, 0]])
    np.testing.assert_array_equal(state[0][1], [3, 4])  # the input is left as it was
    assert zero_ended([], np.ones(4, np.float32)) == []


def test_act_loop_carries_and_zeroes_the_state():
    pool, policy = ScriptedPool(LENGTHS), CountingPolicy()
    loop = ActLoop(pool, policy, lambda raw: raw)
    steps = [loop.step() for _ in range(12)]
    np.testing.assert_array_equal(np.array(policy.seen), expected_states(LENGTHS, 12))
    resets = np.array([s.reset for s in steps])
    np.testing.assert_array_equal(resets, expected_states(LENGTHS, 12) == 0)
    np.testing.assert_array_equal(steps[1].done, [True, False, False])
    assert pool.resets == 1  # the pool resets ended envs itself; the loop reset it once, at the start


def test_gatherer_zeroes_ended_episodes_across_cycles():
    pool, policy = ScriptedPool(LENGTHS), CountingPolicy()
    gatherer = Gatherer(pool, policy, IdentityNorm(), None, horizon=4)
    first, second = gatherer.gather(), gatherer.gather()  # episodes run on from one cycle to the next
    want = expected_states(LENGTHS, 8)
    np.testing.assert_array_equal(np.array(policy.seen), want)
    stored = np.concatenate([first.states[0], second.states[0]])[..., 0]
    np.testing.assert_array_equal(stored, want)
    np.testing.assert_array_equal(np.concatenate([first.resets, second.resets]), want == 0)
    np.testing.assert_array_equal(first.obs["obs"][..., 0], want[:4])  # the observation the state belongs to


def test_evaluation_zeroes_ended_episodes():
    pool, policy = ScriptedPool(LENGTHS, index_offset=6), CountingPolicy()
    records = run_episodes(pool, policy, IdentityNorm(), episodes=5)  # quotas 2, 2, 1: ends at step 6
    np.testing.assert_array_equal(np.array(policy.seen), expected_states(LENGTHS, 6))
    assert [r["env"] for r in records] == [6, 6, 7, 7, 8]


def test_gif_recording_zeroes_nothing_within_its_one_episode(monkeypatch):
    policy = CountingPolicy()
    monkeypatch.setattr(media, "EnvPool", lambda *args, **kwargs: ScriptedPool([4]))
    frames, total = media.record_episode("Scripted-v0", FakeBrain(policy), max_steps=10)
    assert len(frames) == 4 and total == 4.0
    np.testing.assert_array_equal(np.array(policy.seen), expected_states([4], 4))


def test_observe_zeroes_the_state_between_episodes_and_after_a_cut():
    policy, pool = CountingPolicy(), ScriptedPool([3])
    records = play(pool, FakeBrain(policy), 2, True, 100, [], fps=1000)
    assert [r["length"] for r in records] == [3, 3] and pool.resets == 1
    np.testing.assert_array_equal(np.array(policy.seen), expected_states([3], 6))
    policy, pool = CountingPolicy(), ScriptedPool([3])
    records = play(pool, FakeBrain(policy), 2, True, 2, [], fps=1000)  # every episode cut after 2 steps
    assert [r.get("cut") for r in records] == [True, True] and pool.resets == 3
    np.testing.assert_array_equal(np.array(policy.seen)[:, 0], [0, 1, 0, 1])


@pytest.mark.parametrize("module", ["dexterity.agent.acting", "dexterity.agent.numpy_policy"])
def test_act_loop_never_imports_tensorflow(module):
    code = (f"import sys, {module}\n"
            "assert not any(m.split('.')[0] in ('tensorflow', 'keras') for m in sys.modules), 'TensorFlow imported'")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_no_other_module_steps_envs_with_a_policy():
    """Acting on envs (a policy's act, the pool's step) happens in the act loop only."""
    import re
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    pattern = re.compile(r"\bpool\.step\(|policy\.act\(")
    offenders = [f"{path.relative_to(root)}:{i}" for folder in ("dexterity", "analysis", "examples")
                 for path in sorted((root / folder).rglob("*.py")) if path.name != "acting.py"
                 for i, line in enumerate(path.read_text().splitlines(), 1) if pattern.search(line)]
    assert offenders == []
