"""End-to-end tests of the monitor in a real headless Chromium (skipped when none is installed).

The app runs in a thread on a free localhost port; Chromium loads a page, runs its scripts
(plotly.js included, served by the app itself: no network) and dumps the resulting DOM, on
which we assert. The page scripts record what they drew in data attributes (``data-points``,
``data-curves``...).
"""
from __future__ import annotations

import json
import logging
import re
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Iterator

import pytest
from flask import request

from fake_storage import make_benchmark, make_experiment, write_progress
from monitor import create_app

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
BROWSER = next((path for name in BROWSERS if (path := shutil.which(name))), None)
pytestmark = pytest.mark.skipif(BROWSER is None, reason="no chromium binary installed "
                                "(apt-get install chromium; run.sh test does it)")

LIVE_EXTRA = 5  # records appended to the live run right after its page was served


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The monitor on a generated storage, served on 127.0.0.1:<free port>."""
    from werkzeug.serving import make_server

    root = tmp_path_factory.mktemp("browser") / "storage"
    make_experiment(root, "run-a", cycles=60, seed=0, gifs=1, evaluations=2, eval_every=10,
                    resumed_at=(0, 30))
    make_experiment(root, "run-b", index=1, cycles=50, seed=0, config={"lr_pi": 1e-3})
    make_experiment(root, "live", index=2, cycles=20, seed=1, status="running")
    make_benchmark(root, cycles=20)
    make_benchmark(root.parent / "results", name="HalfCheetah-v5", cycles=30, configs=("mujoco",))
    app = create_app(root, results_root=root.parent / "results")

    @app.after_request
    def grow_live_run(response):
        """Simulate the trainer: new cycles arrive after the live page was served."""
        if request.path == "/experiment/live":
            write_progress(root / "experiments" / "live" / "progress.jsonl", LIVE_EXTRA,
                           seed=1, start=20 + LIVE_EXTRA * grow_live_run.calls)
            grow_live_run.calls += 1
        return response

    grow_live_run.calls = 0
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_port}", root
    srv.shutdown()


def dump_dom(url: str, tmp_path: Path, budget_ms: int = 8000) -> str:
    """The DOM of ``url`` after its scripts ran (Chromium ``--dump-dom``)."""
    cmd = [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--no-first-run", "--no-default-browser-check", "--disable-extensions",
           f"--user-data-dir={tmp_path / 'chromium-profile'}",
           f"--virtual-time-budget={budget_ms}", "--dump-dom", url]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def attribute(dom: str, element_id: str, name: str) -> str | None:
    """Value of attribute ``name`` on the element with ``id=element_id`` in a DOM dump."""
    tag = re.search(rf'<[^>]*\bid="{re.escape(element_id)}"[^>]*>', dom)
    if tag is None:
        return None
    value = re.search(rf'\b{re.escape(name)}="([^"]*)"', tag.group(0))
    return value.group(1) if value else None


def test_overview_lists_experiments(server, tmp_path: Path) -> None:
    base, _ = server
    dom = dump_dom(base + "/", tmp_path)
    for agent_id in ("run-a", "run-b", "live"):
        assert f'data-id="{agent_id}"' in dom
    assert attribute(dom, "experiments", "data-rows") == "3"  # overview.js ran
    assert "3 of 3 experiments" in dom


def test_experiment_page_draws_return_curve(server, tmp_path: Path) -> None:
    base, _ = server
    dom = dump_dom(base + "/experiment/run-a", tmp_path)
    assert "js-plotly-plot" in dom  # plotly.js (served by the app) ran
    assert int(attribute(dom, "plot-return", "data-points") or 0) >= 60
    assert int(attribute(dom, "plot-loss", "data-points") or 0) >= 120
    assert attribute(dom, "panel-success", "hidden") is not None  # no success data: hidden
    assert 'class="main-svg"' in dom


def test_live_experiment_extends_its_plots(server, tmp_path: Path) -> None:
    base, _ = server
    dom = dump_dom(base + "/experiment/live", tmp_path, budget_ms=12000)
    records = re.search(r'<body[^>]*data-records="(\d+)"', dom)
    assert records is not None and int(records.group(1)) == 20 + LIVE_EXTRA  # the page had 20
    assert int(attribute(dom, "plot-return", "data-points") or 0) >= 20 + LIVE_EXTRA


def test_compare_page_draws_two_curves(server, tmp_path: Path) -> None:
    base, _ = server
    dom = dump_dom(base + "/compare?ids=run-a,run-b", tmp_path)
    assert attribute(dom, "compare-plot", "data-curves") == "2"
    assert attribute(dom, "compare-plot", "data-groups") == "2"
    assert int(attribute(dom, "compare-plot", "data-points") or 0) >= 110


def test_benchmarks_page_draws_configs(server, tmp_path: Path) -> None:
    base, _ = server
    dom = dump_dom(base + "/benchmarks", tmp_path)
    assert int(attribute(dom, "bench-0", "data-points") or 0) == 2 * 20
    assert int(attribute(dom, "result-0-0", "data-points") or 0) == 30  # a results suite: one config
    data = json.loads(re.search(r'<script id="data" type="application/json">(.*?)</script>',
                                dom, re.S).group(1))
    assert data["storage"][0]["name"] == "cartpole-lr" and data["results"][0]["suite"] == "benchmarks"
