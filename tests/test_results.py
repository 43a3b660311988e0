"""Benchmark results: the final training return, the committed result files, the table script, and
the monitor's Benchmarks page showing committed results."""
from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from dexterity.results import check_result, final_return, machine, mean_std
from monitor import create_app
from monitor_fixtures import page_data

COMMITTED = sorted((ROOT / "benchmarks" / "results" / "mujoco").glob("*.json"))
TABLE = ROOT / "benchmarks" / "results_table.py"


def test_final_return_takes_the_last_ten_episodes():
    records = [{"rollout/episodes": 4, "rollout/return_mean": 100.0},
               {"rollout/episodes": 0},                                  # no episode ended
               {"rollout/episodes": 3, "rollout/return_mean": 10.0},
               {"rollout/episodes": 2, "rollout/return_mean": float("nan")},  # ignored: not a number
               {"rollout/episodes": 5, "rollout/return_mean": 1.0}]
    # last 10 episodes: 5 x 1.0, 3 x 10.0, then 2 of the first cycle's 4 at 100.0
    assert final_return(records) == (pytest.approx((5 * 1.0 + 3 * 10.0 + 2 * 100.0) / 10), 10)
    assert final_return(records, episodes=6) == (pytest.approx((5 + 10) / 6), 6)
    assert final_return(records[:1]) == (100.0, 4)  # fewer episodes than asked: all of them
    assert final_return([{"rollout/episodes": 0}]) == (None, 0)


def test_mean_std_and_machine():
    assert mean_std([1.0, 3.0]) == (2.0, pytest.approx(2 ** 0.5))
    assert mean_std([5.0]) == (5.0, 0.0) and mean_std([None, float("nan")]) == (None, None)
    info = machine(ranks=2)
    assert info["nproc"] >= 1 and isinstance(info["cpu"], str) and info["ranks"] == 2


def result_doc(env_id: str = "HalfCheetah-v5", finals=(5000.0, 5500.0, 6000.0)) -> dict:
    """A result document as benchmark.py writes it (the real writer is checked in test_benchmark.py)."""
    runs = [{"seed": i, "agent_id": f"20260101-00000{i}-abcd", "frames": 1001472, "wall_s": 1800.0 + i,
             "final_return": f, "final_episodes": 10} for i, f in enumerate(finals)]
    mean, std = mean_std(list(finals))
    curves = [[0.0, f / 2, f] for f in finals]
    return {"name": env_id, "env_id": env_id, "cycles": 3, "steps": 1000000, "repetitions": len(finals),
            "created": "2026-12-01T00:00:00Z", "host": "vm", "command": f"benchmark.py {env_id} ...",
            "machine": {"host": "vm", "nproc": 2, "cpu": "AMD EPYC", "ranks": 1},
            "versions": {"dexterity": "0.1.0"}, "reward_threshold": 4800.0,
            "configs": {"mujoco": {"runs": runs, "agent_ids": [r["agent_id"] for r in runs],
                                   "returns": curves, "frames": [[2048, 4096, 6144]] * len(finals),
                                   "mean": [sum(c) / len(c) for c in zip(*curves)],
                                   "std": [0.0, 1.0, 2.0], "final_mean": mean, "final_std": std,
                                   "wall_s_mean": 1801.0, "eval_mean": 6100.0, "eval_std": 50.0,
                                   "eval_deterministic": True, "eval_returns": [6050.0, 6100.0, 6150.0]}}}


def test_check_result_names_what_is_missing():
    assert check_result(result_doc()) == []
    broken = result_doc()
    del broken["machine"]["cpu"]
    broken["configs"]["mujoco"]["runs"].pop()
    problems = check_result(broken)
    assert "machine must give nproc and cpu" in problems and "mujoco: needs 3 runs" in problems
    assert check_result([]) == ["not a JSON object"]


@pytest.mark.parametrize("path", COMMITTED, ids=[p.name for p in COMMITTED])
def test_committed_result_files_parse(path: Path):
    doc = json.loads(path.read_text())
    assert check_result(doc) == [] and path.name == f"{doc['env_id']}.json"


def run_table(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(TABLE), *args], capture_output=True, text=True, timeout=120)


def test_table_from_result_files(tmp_path: Path):
    folder = tmp_path / "mujoco"
    folder.mkdir()
    (folder / "HalfCheetah-v5.json").write_text(json.dumps(result_doc()))
    page = tmp_path / "page.md"
    page.write_text("intro\n<!-- results-table:start -->\nold\n<!-- results-table:end -->\nafter\n")
    proc = run_table("--results", str(folder), "--write", str(page))
    assert proc.returncode == 0, proc.stderr
    text = page.read_text()
    assert text.startswith("intro\n") and text.endswith("after\n") and "old" not in text
    row = next(line for line in text.splitlines() if line.startswith("| HalfCheetah"))
    assert "5500 ± 500 (n=3)" in row and "6100 ± 50 (n=3)" in row and "30 min" in row
    assert "5819 ± 664 (v3)" in row  # SB3 RL Zoo, from benchmarks/published_mujoco.json
    assert "| Hopper | not run yet | not run yet |" in text and "2 cores (AMD EPYC)" in text


def test_table_refuses_an_incomplete_result(tmp_path: Path):
    doc = result_doc()
    del doc["configs"]["mujoco"]["final_mean"]
    (tmp_path / "Hopper-v5.json").write_text(json.dumps(doc))
    proc = run_table("--results", str(tmp_path))
    assert proc.returncode == 2 and proc.stderr.startswith("error: ") and "final_mean" in proc.stderr
    assert "Traceback" not in proc.stderr
    missing = run_table("--results", str(tmp_path / "nope"), "--write", str(tmp_path / "none.md"))
    assert missing.returncode == 2 and "unreadable" in missing.stderr


def test_docs_table_is_current():
    """docs/benchmarks.md holds what the script makes of the committed files."""
    proc = run_table()
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() in (ROOT / "docs" / "benchmarks.md").read_text()


def test_benchmarks_page_shows_committed_results(tmp_path: Path):
    results = tmp_path / "results"
    (results / "mujoco").mkdir(parents=True)
    (results / "mujoco" / "HalfCheetah-v5.json").write_text(json.dumps(result_doc()))
    other = copy.deepcopy(result_doc("Hopper-v5", finals=(2000.0, 2500.0)))
    (results / "mujoco" / "Hopper-v5.json").write_text(json.dumps(other))
    (results / "mujoco" / "notes.json").write_text('{"about": "not a result"}')  # another kind: left out
    (results / "mujoco" / "Ant-v5.json").write_text('{"configs": ')                 # broken: reported
    client = create_app(tmp_path / "storage", results_root=results).test_client()
    res = client.get("/benchmarks")
    assert res.status_code == 200
    html = res.get_data(as_text=True)
    assert f"Results in {results.resolve()}" in html and "5500 ± 500" in html and "6100 ± 50 (det.)" in html
    assert "Ant-v5.json: " in html and "2 cores, AMD EPYC" in html
    suites = page_data(res.data)["results"]
    assert [s["suite"] for s in suites] == ["mujoco"]
    benches = {b["file"]: b for b in suites[0]["benches"]}
    assert set(benches) == {"Ant-v5", "HalfCheetah-v5", "Hopper-v5"} and benches["Ant-v5"]["error"]
    cheetah = benches["HalfCheetah-v5"]["configs"][0]
    assert cheetah["band"] == "± std" and cheetah["frames"] == [2048, 4096, 6144]
    assert cheetah["low"] == [m - s for m, s in zip(cheetah["mean"], [0.0, 1.0, 2.0])]
    assert benches["Hopper-v5"]["configs"][0]["repetitions"] == 2
