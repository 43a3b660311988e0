"""Monitor: experiment groups (filter, compare with the 95% confidence band) and the dynamics figure."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from fake_storage import make_experiment
from monitor_fixtures import page_data, strict_json
from monitor import create_app
from monitor.series import aggregate, t_975


def _set_group(root: Path, agent_id: str, group: str) -> None:
    """Give a fake experiment the meta key train.py writes for --experiment-group."""
    path = root / "experiments" / agent_id / "meta.json"
    meta = json.loads(path.read_text())
    path.write_text(json.dumps({**meta, "experiment_group": group}))


@pytest.fixture
def grouped(tmp_path: Path) -> Path:
    root = tmp_path / "store"
    for i, (name, group) in enumerate([("a0", "sweep/lr=3e-4"), ("a1", "sweep/lr=3e-4"), ("a2", "sweep/lr=3e-4"),
                                       ("b0", "sweep/lr=1e-3"), ("b1", "sweep/lr=1e-3"), ("c0", None)]):
        make_experiment(root, name, index=i, cycles=20 + i, seed=i)
        if group:
            _set_group(root, name, group)
    return root


def test_t_quantile_matches_scipy():
    for dof in (1, 2, 4, 10, 30, 31, 45, 100, 1000):
        assert t_975(dof) == pytest.approx(stats.t.ppf(0.975, dof), abs=1e-3), dof


def test_aggregate_confidence_band_is_a_t_interval():
    runs = [{"iteration": [0, 1], "y": [1.0, 2.0]}, {"iteration": [0, 1], "y": [3.0, 2.0]},
            {"iteration": [0, 1], "y": [5.0, 2.0]}]
    agg = aggregate(runs, "iteration", band="ci95")
    half = 4.302652729911275 * 2.0 / np.sqrt(3)   # t(0.975, 2) * sample std 2 / sqrt(3)
    assert agg["mean"] == [3.0, 2.0]
    assert agg["low"][0] == pytest.approx(3.0 - half, abs=2e-3) and agg["high"][1] == pytest.approx(2.0)


def test_overview_filters_by_group(grouped: Path):
    client = create_app(grouped).test_client()
    page = client.get("/").data.decode()
    assert page.count('<option value="sweep/lr=3e-4"') == 1 and "sweep/lr=1e-3" in page
    only = client.get("/?group=sweep/lr=1e-3").data.decode()
    assert 'data-id="b0"' in only and 'data-id="b1"' in only and 'data-id="a0"' not in only
    rows = strict_json(client.get("/api/experiments?group=sweep/lr=3e-4").data)
    assert sorted(r["id"] for r in rows) == ["a0", "a1", "a2"] and rows[0]["group"] == "sweep/lr=3e-4"
    assert len(strict_json(client.get("/api/experiments").data)) == 6
    assert b"sweep/lr=3e-4" in client.get("/experiment/a0").data


def test_compare_groups_mean_and_confidence_band(grouped: Path):
    client = create_app(grouped).test_client()
    res = client.get("/compare?groups=sweep/lr=3e-4|sweep/lr=1e-3|nope")
    assert res.status_code == 200 and b"nope: no such experiment group" in res.data
    groups = {g["label"]: g for g in page_data(res.data)["groups"]}
    assert set(groups) == {"sweep/lr=3e-4", "sweep/lr=1e-3"}
    three = groups["sweep/lr=3e-4"]
    assert sorted(r["id"] for r in three["runs"]) == ["a0", "a1", "a2"] and three["band"] == "95% CI"
    agg = three["agg"]["iteration"]
    assert agg["x"][0] == 0 and agg["x"][-1] == 19  # the cycles all three runs cover
    ys = np.array([[r["y"][r["iteration"].index(5)] for r in three["runs"]]])[0]
    half = stats.t.ppf(0.975, 2) * ys.std(ddof=1) / np.sqrt(3)
    assert agg["mean"][5] == pytest.approx(ys.mean(), rel=1e-5)
    assert agg["high"][5] - agg["mean"][5] == pytest.approx(half, rel=1e-3)


def test_dynamics_figure_is_listed_after_the_others(tmp_path: Path):
    root = tmp_path / "store"
    make_experiment(root, "d0", cycles=3)
    folder = root / "experiments" / "d0" / "analysis"
    folder.mkdir()
    for name in ("dynamics", "weights", "pca"):
        (folder / f"{name}.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (folder / "dynamics.json").write_text(json.dumps({"timescales": {}, "predictability": {}, "fixed_points": {}}))
    page = create_app(root).test_client().get("/experiment/d0").data.decode()
    assert page.index("pca.png") < page.index("weights.png") < page.index("dynamics.png")
    assert "timescales, predictability, fixed_points" in page
