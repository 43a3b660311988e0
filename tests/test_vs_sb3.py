"""benchmarks/vs_sb3.py: the run order and the summary arithmetic (no torch, SB3 or TensorFlow needed)."""
from __future__ import annotations

import sys

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import vs_sb3  # noqa: E402


def test_parse_layout():
    assert vs_sb3.parse_layout("8x256") == (8, 256)
    assert vs_sb3.parse_layout("1X2048") == (1, 2048)


def test_plan_interleaves_and_alternates_who_goes_first():
    runs = vs_sb3.plan(["8x256", "1x2048"], 2)
    assert runs == [("dexterity", "8x256"), ("sb3", "8x256"), ("dexterity", "1x2048"), ("sb3", "1x2048"),
                    ("sb3", "8x256"), ("dexterity", "8x256"), ("sb3", "1x2048"), ("dexterity", "1x2048")]


def _run(framework: str, layout: str, whole: float, post: float) -> dict:
    return {"framework": framework, "layout": layout, "whole_s": whole, "post_startup_s": post, "steps": 6000}


def test_summarise_takes_medians_and_the_ratio_of_rates():
    runs = [_run("dexterity", "8x256", 10.0, 6.0), _run("sb3", "8x256", 30.0, 24.0),
            _run("dexterity", "8x256", 12.0, 8.0), _run("sb3", "8x256", 40.0, 36.0),
            _run("dexterity", "8x256", 50.0, 40.0), _run("sb3", "8x256", 20.0, 12.0)]
    ours, sb3 = vs_sb3.summarise(runs)
    assert (ours["whole_s"], ours["post_startup_s"], ours["startup_s"], ours["runs"]) == (12.0, 8.0, 4.0, 3)
    assert (sb3["whole_s"], sb3["post_startup_s"]) == (30.0, 24.0)
    assert ours["steps_per_s"] == pytest.approx(500.0)
    assert ours["ratio"] == pytest.approx(30.0 / 12.0)  # ours/SB3 of steps/s: SB3's time over ours
    assert ours["post_ratio"] == pytest.approx(3.0)
    assert sb3["ratio"] == pytest.approx(1.0)


def test_summarise_without_sb3_runs_has_no_ratio_and_the_table_shows_a_dash():
    rows = vs_sb3.summarise([_run("dexterity", "1x2048", 10.0, 5.0)])
    assert rows[0]["ratio"] is None
    table = vs_sb3.format_table(rows)
    assert table.splitlines()[-1] == "| dexterity | 1x2048 | 1 | 10.0 | 5.0 | 5.0 | 600 | 1200 | - | - |"
