"""monitor/evaluations.py: evaluation records as the experiment page's rows."""
from monitor.evaluations import TASK_CHARS, evaluation_rows


def test_a_record_as_evaluate_writes_it():
    from dexterity.cli.evaluate import evaluation_record
    episodes = [{"return": 1.0, "length": 100, "success": 0.0, "consecutive_goals": 0},
                {"return": 3.0, "length": 140, "success": 0.0, "consecutive_goals": 3}]
    result = {"iteration": 1600, "save": "1600", "env_id": "ManipulateBlock-v0", "records": episodes}
    record = evaluation_record(result, False, 20261130, {"curriculum": False, "goal_angle": None})
    rows, shown = evaluation_rows([record])
    assert shown == {"success": True, "goals": True}
    row = rows[0]
    assert row["task"] == 'ManipulateBlock-v0 {"curriculum": false, "goal_angle": null}'
    assert row["actions"] == "sampled" and row["return"] == (2.0, 1.0) and row["length"] == 120.0
    assert row["seed"] == 20261130  # whole, not rounded to 4 digits
    assert (row["goals"], row["goals_max"], row["success"]) == (1.5, 3, 0.0)
    assert row["when"] == record["time"] and row["iteration"] == 1600 and row["save"] == "1600"
    assert evaluation_rows([{**record, "save": 400}])[0][0]["save"] == "400"


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
