"""benchmark.py: 2 configs x 2 repetitions x 2 cycles on CartPole-v1 write the results file and plot."""
import json

import numpy as np
import pytest

from conftest import assert_one_line_error, progress_records, run_script

SMALL = ["--workers", "2", "--horizon", "32", "--batch-size", "32", "--epochs", "2", "--sequential"]


def test_confidence_band_matches_t_interval():
    from dexterity.cli.benchmark import confidence_band
    curves = np.array([[1.0, 2.0], [3.0, np.nan], [5.0, 4.0]])
    band = confidence_band(curves)
    assert band["mean"] == pytest.approx([3.0, 3.0]) and band["std"] == pytest.approx([2.0, np.sqrt(2)])
    half = 4.302652729911275 * 2.0 / np.sqrt(3)  # t(0.975, 2)
    assert band["ci_low"][0] == pytest.approx(3.0 - half) and band["ci_high"][0] == pytest.approx(3.0 + half)
    single = confidence_band(np.array([[1.0, 2.0]]))
    assert single["ci_low"] == single["mean"] == single["ci_high"] == [1.0, 2.0]


def test_parse_config_applies_changes():
    from dexterity.cli.benchmark import parse_config
    from dexterity.errors import ConfigError
    preset, config = parse_config("discrete:lr_pi=1e-3,epochs=3,lr_schedule=none", {"workers": 2})
    assert preset == "discrete" and config["lr_pi"] == 1e-3 and config["epochs"] == 3
    assert config["lr_schedule"] is None and config["workers"] == 2 and config["c_entropy"] == 0.01
    with pytest.raises(ConfigError, match="not key=value"):
        parse_config("discrete:nonsense=1", {})
    with pytest.raises(ConfigError, match="unknown preset"):
        parse_config("nope", {})


def test_cycles_from_steps():
    from dexterity.cli.benchmark import build_parser, cycles_for
    config = {"workers": 8, "horizon": 256}
    assert cycles_for(build_parser().parse_args(["E", "n", "-c", "mujoco", "--steps", "1000000"]), config) == 489
    assert cycles_for(build_parser().parse_args(["E", "n", "--pcon", "mujoco", "--steps", "2048"]), config) == 1
    assert cycles_for(build_parser().parse_args(["E", "n", "-c", "mujoco", "-i", "7"]), config) == 7
    assert cycles_for(build_parser().parse_args(["E", "n", "-c", "mujoco"]), config) == 100


def test_two_configs_two_repetitions(storage, tmp_path):
    results = tmp_path / "results" / "cartpole"
    proc = run_script("benchmark.py", "CartPole-v1", "bench-test", "-r", "2", "--steps", "128", "-c", "discrete",
                      "default:lr_pi=1e-3", "-e", "--deterministic", "--eval-episodes", "3", *SMALL,
                      "--results", str(results))
    assert "wrote" in proc.stdout
    doc = json.loads((results / "bench-test.json").read_text())  # --results: the file goes there
    assert not (storage / "benchmarks" / "bench-test.json").exists()
    assert (storage / "benchmarks" / "bench-test.png").stat().st_size > 1000
    assert {"name", "env_id", "cycles", "repetitions", "created", "host", "reward_threshold", "configs"} <= set(doc)
    assert doc["env_id"] == "CartPole-v1" and doc["cycles"] == 2 and doc["repetitions"] == 2
    from dexterity.results import check_result  # complete enough for the table and the monitor
    assert check_result(doc) == [] and doc["steps"] == 128 and doc["machine"]["nproc"] >= 1
    assert doc["command"].startswith("benchmark.py CartPole-v1 bench-test") and "tensorflow" in doc["versions"]
    assert doc["reward_threshold"] == 475.0 and list(doc["configs"]) == ["discrete", "default:lr_pi=1e-3"]
    for entry in doc["configs"].values():
        assert entry["seeds"] == [0, 1] and len(set(entry["agent_ids"])) == 2
        assert np.array(entry["returns"]).shape == (2, 2) and entry["frames"] == [[64, 128], [64, 128]]
        for key in ("mean", "std", "ci_low", "ci_high"):
            assert len(entry[key]) == 2 and all(np.isfinite(entry[key])), key
        assert entry["mean"] == pytest.approx(np.mean(entry["returns"], axis=0), rel=1e-5)  # 6 digits kept
        assert all(lo <= m <= hi for lo, m, hi in zip(entry["ci_low"], entry["mean"], entry["ci_high"]))
        assert len(entry["eval_returns"]) == 2 and np.isfinite(entry["eval_mean"]) and entry["eval_deterministic"]
        for run, agent_id in zip(entry["runs"], entry["agent_ids"]):  # every agent is a normal experiment too
            meta = json.loads((storage / "experiments" / agent_id / "meta.json").read_text())
            assert meta["status"] == "finished" and meta["config"]["seed"] == run["seed"]
            progress = progress_records(storage, agent_id)
            episodes = sum(r.get("rollout/episodes", 0) for r in progress)
            assert run["final_episodes"] == min(10, episodes) and run["frames"] == 128 and run["wall_s"] > 0
            evaluations = (storage / "experiments" / agent_id / "evaluations.jsonl").read_text().splitlines()
            record = json.loads(evaluations[-1])  # what evaluate.py ID -n 3 --deterministic --save last writes
            assert record["deterministic"] and record["save"] == "last" and record["episodes"] == 3
            assert record["return_mean"] == run["eval"]["return_mean"]
    for spec, entry in doc["configs"].items():  # the runs of each config form an experiment group
        assert entry["experiment_group"] == f"bench-test/{spec}"
        for agent_id in entry["agent_ids"]:
            meta = json.loads((storage / "experiments" / agent_id / "meta.json").read_text())
            assert meta["experiment_group"] == f"bench-test/{spec}"
    from monitor import create_app  # the monitor compares the groups: the same band as the benchmark's
    res = create_app(storage).test_client().get("/compare?groups=bench-test/discrete|bench-test/default:lr_pi=1e-3")
    from monitor_fixtures import page_data
    groups = {g["label"]: g for g in page_data(res.data)["groups"]}
    for spec, entry in doc["configs"].items():
        agg = groups[f"bench-test/{spec}"]["agg"]["iteration"]
        assert agg["mean"] == pytest.approx(entry["mean"], rel=1e-4)
        half = np.subtract(entry["ci_high"], entry["mean"])  # scipy's t against the monitor's table
        assert np.subtract(agg["high"], agg["mean"]) == pytest.approx(half, rel=1e-3, abs=1e-3)
        assert np.subtract(agg["mean"], agg["low"]) == pytest.approx(half, rel=1e-3, abs=1e-3)
    from monitor.bench import read_benchmark, results as committed  # the monitor's benchmarks page reads the file
    page = read_benchmark(results / "bench-test.json")
    assert page["error"] is None and [c["band"] for c in page["configs"]] == ["95% CI", "95% CI"]
    suites = committed(results.parent)
    assert [b["name"] for b in suites[0]["benches"]] == ["bench-test"]
    shown = suites[0]["benches"][0]["configs"][0]
    assert shown["band"] == "± std" and shown["final_mean"] == pytest.approx(doc["configs"]["discrete"]["final_mean"])
    assert shown["frames"] == [64, 128]


def test_deterministic_without_evaluation_is_an_error_line(storage):
    proc = run_script("benchmark.py", "CartPole-v1", "x", "--steps", "64", "-c", "default", "--deterministic",
                      check=False)
    assert proc.returncode == 2 and proc.stderr.startswith("error: --deterministic applies to the evaluation")


@pytest.mark.parametrize("args, text", [
    (["-r", "1", "-i", "1", "-c", "nope"], "unknown preset 'nope'"),
    (["-i", "0", "-c", "default"], "-i/--cycles must be at least 1, got 0"),  # not the default 100 cycles
    (["--steps", "0", "-c", "default"], "--steps must be at least 1, got 0"),
    (["-r", "0", "-i", "1", "-c", "default"], "--repetitions"),
    (["-i", "1", "-e", "--eval-episodes", "0", "-c", "default"], "--eval-episodes"),
    (["-i", "1", "-c", "default", "--lr-pi", "nan"], "--lr-pi must be finite"),
    (["-i", "1", "-c", "default:seed=3"], "the benchmark sets seed"),
    (["-i", "1", "-c", "default:iterations=9"], "the benchmark sets iterations"),
])
def test_bad_input_is_an_error_line_before_any_training(storage, args, text):
    assert_one_line_error(run_script("benchmark.py", "CartPole-v1", "x", *args, check=False), text)
    assert not storage.exists()


def test_a_bad_benchmark_name_is_an_error_line_and_makes_no_folder(storage, tmp_path):
    proc = run_script("benchmark.py", "CartPole-v1", "bad/name", "-i", "1", "-c", "default",
                      "--results", str(tmp_path / "new"), check=False)
    assert_one_line_error(proc, "benchmark name 'bad/name' must be a file name")
    assert not (tmp_path / "new").exists() and not storage.exists()


def test_learning_curve_windows_weight_rollout_keys_by_episodes(tmp_path):
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(root / "benchmarks"))
    from learning_curve import windows
    records = [{"frames": 100, "rollout/episodes": 1, "rollout/return_mean": 1.0, "train/entropy": -1.0},
               {"frames": 200, "rollout/episodes": 3, "rollout/return_mean": 5.0, "train/entropy": -2.0},
               {"frames": 300, "rollout/episodes": 0, "train/entropy": -3.0},
               {"frames": 400, "rollout/episodes": 2, "rollout/return_mean": 0.0}]
    rows = windows(records, 250, ["rollout/return_mean", "train/entropy", "rollout/goal_angle"])
    assert [(r["start"], r["end"], r["episodes"]) for r in rows] == [(100, 200, 4), (300, 400, 2)]
    assert rows[0]["rollout/return_mean"] == 4.0 and rows[0]["train/entropy"] == -2.0
    assert rows[1]["rollout/return_mean"] == 0.0 and rows[1]["train/entropy"] == -3.0
    assert rows[0]["rollout/goal_angle"] is None
    folder = tmp_path / "experiments" / "20260101-000000-abcd"
    folder.mkdir(parents=True)
    (folder / "progress.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n{broken\n")
    script = [sys.executable, str(root / "benchmarks" / "learning_curve.py"), "20260101-000000-abcd",
              "--storage", str(tmp_path), "--window", "250", "--markdown", "--keys", "rollout/return_mean"]
    proc = subprocess.run(script, capture_output=True, text=True, check=True)
    assert proc.stdout.splitlines()[2] == "| 0.00-0.00 | 4 | 4 |" and "skipped unreadable line 5" in proc.stderr
    missing = subprocess.run(script[:2] + ["20260101-000000-ffff", "--storage", str(tmp_path)],
                             capture_output=True, text=True)
    assert missing.returncode == 2 and missing.stderr.startswith("error: no progress file")
