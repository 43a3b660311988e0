"""Live progress of long cycles: settings, plain lines and their rate limit, the terminal bar, and a
training run whose cycle lines stay as they were."""
import io
import re
import time

import pytest

from conftest import progress_records, run_script
from dexterity.agent.progress import CycleProgress, LiveProgress, Settings, make_progress, settings
from dexterity.agent.report import format_line
from dexterity.errors import ConfigError


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_settings_choose_bar_on_a_terminal_lines_elsewhere_and_obey_the_variables():
    assert settings(env={}, stream=Terminal()) == Settings("bar", 3.0, 0.25)
    assert settings(env={}, stream=io.StringIO()) == Settings("lines", 3.0, 30.0)
    assert settings(False, env={}, stream=Terminal()).mode == "off"
    assert settings(env={"DEXTERITY_PROGRESS": "off"}, stream=Terminal()).mode == "off"
    assert settings(env={"DEXTERITY_PROGRESS": "lines"}, stream=Terminal()).mode == "lines"
    chosen = settings(env={"DEXTERITY_PROGRESS_DELAY": "0", "DEXTERITY_PROGRESS_INTERVAL": "5"}, stream=io.StringIO())
    assert (chosen.delay, chosen.interval) == (0.0, 5.0)
    assert type(make_progress(False, stream=Terminal())) is CycleProgress


@pytest.mark.parametrize("env, message", [
    ({"DEXTERITY_PROGRESS": "sometimes"}, "DEXTERITY_PROGRESS must be one of auto, bar, lines, off"),
    ({"DEXTERITY_PROGRESS_DELAY": "soon"}, "DEXTERITY_PROGRESS_DELAY must be a number of seconds"),
    ({"DEXTERITY_PROGRESS_INTERVAL": "-1"}, "DEXTERITY_PROGRESS_INTERVAL must be a number of seconds"),
])
def test_bad_settings_are_one_clear_error(env, message):
    with pytest.raises(ConfigError, match=message):
        settings(env=env, stream=io.StringIO())


def test_train_py_refuses_a_bad_setting_with_one_line_before_building_anything(storage, monkeypatch):
    monkeypatch.setenv("DEXTERITY_PROGRESS", "sometimes")
    proc = run_script("train.py", "CartPole-v1", "--iterations", "1", check=False)
    assert proc.returncode == 2 and proc.stdout == ""
    expected = "error: DEXTERITY_PROGRESS must be one of auto, bar, lines, off, got 'sometimes'"
    assert proc.stderr.splitlines() == [expected]


def test_plain_lines_wait_for_the_delay_then_come_at_most_once_per_interval():
    clock, out = Clock(), io.StringIO()
    progress = LiveProgress(Settings("lines", delay=3.0, interval=30.0), ranks=2, stream=out, clock=clock)
    progress.start_cycle("cycle 3/450")
    progress.phase("gather", 1000, "steps", per_rank=True)
    for second in range(100):            # one update per 0.1 s over 10 s: only the one at 3.0 s is shown
        clock.now = 100.0 + second / 10
        progress.update(second * 10)
    assert out.getvalue().splitlines() == ["  ... cycle 3/450 gather 600/2.0k steps (30%), 3s into the cycle"]
    clock.now = 132.9                    # 29.9 s after the last line
    progress.update(990)
    progress.phase("optimise", 80, "minibatch steps")
    progress.update(8)
    assert len(out.getvalue().splitlines()) == 1
    clock.now = 133.0                    # 30 s after it
    progress.update(16)
    last = out.getvalue().splitlines()[-1]
    assert last == "  ... cycle 3/450 optimise 16/80 minibatch steps (20%), 33s into the cycle"
    progress.end_cycle()
    clock.now = 500.0                    # outside a cycle nothing is due
    progress.update(1)
    assert len(out.getvalue().splitlines()) == 2


def test_a_short_cycle_shows_nothing():
    clock, out = Clock(), io.StringIO()
    progress = LiveProgress(Settings("lines", delay=3.0, interval=0.0), stream=out, clock=clock)
    for cycle in range(3):
        progress.start_cycle(f"cycle {cycle + 1}/3")
        progress.phase("gather", 10, "steps")
        for step in range(10):
            clock.now += 0.2
            progress.update(step + 1)
        progress.end_cycle()
    assert out.getvalue() == ""


def test_the_terminal_bar_is_drawn_and_stopped_with_the_cycle():
    clock, out = Clock(), Terminal()
    progress = LiveProgress(Settings("bar", delay=0.0, interval=0.25), stream=out, clock=clock)
    progress.start_cycle("cycle 1/2")
    progress.phase("gather", 64, "steps")
    clock.now += 1.0
    progress.update(32)
    assert "cycle 1/2 gather" in out.getvalue() and "32/64" in out.getvalue()
    progress.phase("optimise", 8, "minibatch steps")  # the bar switches at once
    assert "cycle 1/2 optimise" in out.getvalue()
    progress.end_cycle()
    assert progress._bar is None


def test_an_update_that_is_not_due_costs_next_to_nothing():
    progress = LiveProgress(Settings("lines", delay=3.0, interval=30.0), stream=io.StringIO())
    progress.start_cycle("cycle 1/1")
    progress.phase("gather", 10**6, "steps")
    start = time.perf_counter()
    for step in range(100_000):
        progress.update(step)
    per_update = (time.perf_counter() - start) / 100_000
    assert per_update < 20e-6, f"{per_update * 1e6:.1f} us per update"  # an env step costs tens of us or more


LINE = re.compile(r"^  \.\.\. cycle (\d)/2 (gather|optimise) (\d+)/(\d+) (steps|minibatch steps) \((\d+)%\), "
                  r"\d+s into the cycle$")


def test_a_run_shows_both_phases_and_keeps_its_cycle_lines(storage, monkeypatch):
    monkeypatch.setenv("DEXTERITY_PROGRESS", "lines")       # as under SLURM, every update shown
    monkeypatch.setenv("DEXTERITY_PROGRESS_DELAY", "0")
    monkeypatch.setenv("DEXTERITY_PROGRESS_INTERVAL", "0")
    monkeypatch.setenv("DEXTERITY_XLA_EPOCH", "0")          # quicker to trace; the progress is the same
    proc = run_script("train.py", "CartPole-v1", "--iterations", "2", "--workers", "2", "--horizon", "32",
                      "--batch-size", "32", "--epochs", "2", "--seed", "1", "--no-tensorboard")
    assert "\r" not in proc.stdout and "\x1b" not in proc.stdout
    lines = proc.stdout.splitlines()
    shown = [LINE.match(line).groups() for line in lines if line.startswith("  ... ")]
    for cycle in ("1", "2"):  # 2 envs x 32 steps; 2 epochs x 64 / 32 minibatch steps
        gather = [int(g[2]) for g in shown if g[:2] == (cycle, "gather")]
        optimise = [int(g[2]) for g in shown if g[:2] == (cycle, "optimise")]
        assert gather == list(range(0, 65, 2)) and {g[3] for g in shown if g[1] == "gather"} == {"64"}
        assert optimise == [0, 2, 4] and {g[3] for g in shown if g[1] == "optimise"} == {"4"}
    rest = [line for line in lines if not line.startswith("  ... ")]
    assert rest[0].startswith("agent ") and rest[1].startswith("envs: ") and rest[-1].startswith("done: ")
    agent_id = rest[0].split()[1]
    rest = [rest[0]] + rest[2:]  # agent, cycle 1, cycle 2, done
    assert len(rest) == 4
    records = progress_records(storage, agent_id)
    for printed, record in zip(rest[1:3], records):
        assert re.fullmatch(re.escape(format_line(record, 2, None)) + r" \| ETA \d+s", printed)
