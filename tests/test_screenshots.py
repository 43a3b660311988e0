"""docs/make_screenshots.py: refuses bad input in one line; picks the pages; takes real screenshots."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from fake_storage import make_experiment

SCRIPT = ROOT / "docs" / "make_screenshots.py"
sys.path.insert(0, str(ROOT / "docs"))
from make_screenshots import ShotError, choose  # noqa: E402

BROWSER = next((p for b in ("chromium", "chromium-browser", "google-chrome") if (p := shutil.which(b))), None)


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=300)


def test_refuses_missing_storage(tmp_path: Path):
    proc = run(str(tmp_path / "nope"))
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: ") and "no storage folder" in proc.stderr
    (tmp_path / "experiments").mkdir()
    proc = run(str(tmp_path), "--results", str(tmp_path / "missing"))
    assert proc.returncode == 2 and proc.stderr.startswith("error: --results")


def test_choose_pages():
    rows = [{"id": "a", "iterations": 5, "group": "g1"}, {"id": "b", "iterations": 50, "group": "g2"},
            {"id": "c", "iterations": 7, "group": "g2"}, {"id": "d", "iterations": 1, "group": ""}]
    assert choose(rows, None, None) == ("b", ["b", "c"])           # most cycles; the largest group
    assert choose(rows, "a", None, group="g1") == ("a", ["a"])
    assert choose(rows, None, "d,a") == ("b", ["d", "a"])
    with pytest.raises(ShotError, match="no experiment x"):
        choose(rows, "x", None)
    with pytest.raises(ShotError, match="no experiment group 'g9'"):
        choose(rows, None, None, group="g9")
    with pytest.raises(ShotError, match="holds no experiments"):
        choose([], None, None)


@pytest.mark.skipif(BROWSER is None, reason="no chromium binary installed")
def test_takes_four_screenshots(tmp_path: Path):
    storage = tmp_path / "storage"
    for k in range(2):
        make_experiment(storage, f"run-{k}", index=k, cycles=20, seed=k)
        meta = storage / "experiments" / f"run-{k}" / "meta.json"
        meta.write_text(json.dumps({**json.loads(meta.read_text()), "experiment_group": "seeds"}))
    out = tmp_path / "img"
    proc = run(str(storage), "--out", str(out), "--results", str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-2000:]
    from PIL import Image
    for name in ("overview", "experiment", "compare", "benchmarks"):
        with Image.open(out / f"monitor-{name}.png") as img:
            assert img.size[0] == 1400 and img.mode == "P"  # reduced to a palette
            assert len(img.getcolors(256) or []) > 8  # a drawn page, not a blank one
    assert "/compare?ids=run-0,run-1" in proc.stdout
