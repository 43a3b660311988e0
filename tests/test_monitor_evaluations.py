"""monitor/evaluations.py: evaluation records as the experiment page's rows."""
from monitor.evaluations import TASK_CHARS, evaluation_rows


def test_a_record_as_evaluate_writes_it():
    record = {"iteration": 1600, "save": "1600", "env_id": "ManipulateBlock-v0", "episodes": 256,
              "return_mean": 1.69, "return_std": 7.24, "length_mean": 120.7, "deterministic": False,
              "time": "2026-11-30T19:11:45Z", "seed": 12345,
              "env_kwargs": {"curriculum": False, "goal_angle": None}, "success_rate": 0.0,
              "consecutive_goals": 0.4453125, "consecutive_goals_max": 3}
    rows, shown = evaluation_rows([record])
    assert shown == {"success": True, "goals": True}
    row = rows[0]
    assert row["task"] == 'ManipulateBlock-v0 {"curriculum": false, "goal_angle": null}'
    assert row["actions"] == "sampled" and row["return"] == (1.69, 7.24) and row["seed"] == 12345
    assert (row["goals"], row["goals_max"], row["success"]) == (0.4453125, 3, 0.0)
    assert row["when"] == "2026-11-30T19:11:45Z" and row["iteration"] == 1600 and row["save"] == "1600"


def test_missing_or_malformed_fields_show_as_gaps_and_non_records_are_skipped():
    rows, shown = evaluation_rows(["junk", None, {"deterministic": True, "return_mean": "high",
                                                  "time": 1.5, "env_kwargs": []}])
    assert len(rows) == 1 and shown == {"success": False, "goals": False}
    row = rows[0]
    assert row["actions"] == "deterministic" and row["return"] == (None, None) and row["task"] == "–"
    assert row["when"] == "–" and row["goals"] is None and row["save"] == "–"


def test_long_env_kwargs_are_cut():
    rows, _ = evaluation_rows([{"env_id": "X-v0", "env_kwargs": {"k": "v" * 200}}])
    assert len(rows[0]["task"]) == len("X-v0 ") + TASK_CHARS and rows[0]["task"].endswith("…")
