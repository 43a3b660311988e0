"""The monitor on files written by a real training run (train.py), and the fake storage the other
monitor tests use checked against that run's schema, so the two cannot drift apart."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, progress_records
from fake_storage import DEFAULT_CONFIG, make_experiment
from monitor import create_app
from monitor_fixtures import page_data, strict_json

OPTIONAL_RECORD_KEYS = ("eval/", "rollout/success_rate", "rollout/consecutive_goals")


@pytest.fixture(scope="module")
def real_run(tmp_path_factory) -> tuple[Path, str]:
    """A 3-cycle CartPole run with evaluation episodes: (storage root, agent id)."""
    root = tmp_path_factory.mktemp("real") / "storage"
    env = dict(os.environ, DEXTERITY_STORAGE=str(root))
    proc = subprocess.run([sys.executable, str(ROOT / "train.py"), "CartPole-v1", "--iterations", "3",
                           "--workers", "2", "--horizon", "32", "--batch-size", "32", "--epochs", "1",
                           "--sequential", "--seed", "1", "--eval"],
                          capture_output=True, text=True, timeout=600, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (agent_id,) = os.listdir(root / "experiments")
    return root, agent_id


def test_overview_and_api_of_a_real_run(real_run):
    root, agent_id = real_run
    client = create_app(root).test_client()
    html = client.get("/").get_data(as_text=True)
    assert f'data-id="{agent_id}"' in html and "CartPole-v1" in html and "simple / ffn / categorical" in html
    (row,) = strict_json(client.get("/api/experiments").data)
    assert row["id"] == agent_id and row["errors"] == []
    assert row["iterations"] == 3 and row["frames"] == 3 * 2 * 32 and row["status"] == "finished"
    assert row["best"] is not None and row["last"] is not None


def test_experiment_page_and_progress_of_a_real_run(real_run):
    root, agent_id = real_run
    client = create_app(root).test_client()
    res = client.get(f"/experiment/{agent_id}")
    assert res.status_code == 200
    html = res.get_data(as_text=True)
    assert "batch_size" in html and "lr_pi" in html  # the trainer's config, shown
    data = page_data(res.data)
    assert data["count"] == 3 and data["columns"]["iteration"] == [0, 1, 2]
    for key in ("rollout/return_mean", "train/approx_kl", "train/lr", "time/steps_per_s", "eval/return_mean"):
        assert len(data["columns"][key]) == 3, key
    panels = {p["id"] for p in data["panels"]}
    assert {"return", "loss", "kl", "lr", "speed"} <= panels
    progress = strict_json(client.get(f"/api/experiment/{agent_id}/progress?since=1").data)
    assert progress["count"] == 3 and progress["columns"]["iteration"] == [1, 2]


def _real_files(root: Path, agent_id: str) -> tuple[dict, list[dict]]:
    exp = root / "experiments" / agent_id
    meta = json.loads((exp / "meta.json").read_text())
    return meta, progress_records(root, agent_id)


def test_fake_storage_writes_the_trainers_schema(real_run, tmp_path):
    """Every key the fake experiments carry is one a real run writes (else monitor tests would test
    a format nobody produces); the config is the trainer's config, key for key."""
    meta, records = _real_files(*real_run)
    fake_id = make_experiment(tmp_path, "fake", cycles=3, eval_every=1, success=True)
    fake_meta, fake_records = _real_files(tmp_path, fake_id)
    assert set(fake_meta) <= set(meta), set(fake_meta) - set(meta)
    assert set(fake_meta["config"]) == set(meta["config"]) == set(DEFAULT_CONFIG)
    real_keys = set().union(*records)
    extra = {k for r in fake_records for k in r if k not in real_keys and not k.startswith(OPTIONAL_RECORD_KEYS)}
    assert not extra, f"fake progress keys no trainer writes: {sorted(extra)}"
