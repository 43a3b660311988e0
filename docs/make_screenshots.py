"""Screenshots of the monitor for the README and docs/monitor.md, taken from a real storage folder.

    python docs/make_screenshots.py STORAGE                      # writes docs/img/monitor-*.png
    python docs/make_screenshots.py STORAGE --experiment ID --group NAME --results DIR
    python docs/make_screenshots.py STORAGE --compare ID1,ID2,ID3

Starts the monitor (`python -m monitor --storage STORAGE`) on a free local port in a subprocess,
loads four pages in headless Chromium and saves them: the overview (`monitor-overview.png`), one
experiment (`monitor-experiment.png`; default: the one with the most cycles), a comparison of
seeds (`monitor-compare.png`: the runs of --group or --compare; default: the experiment group with
the most runs) and the
Benchmarks page (`monitor-benchmarks.png`; the committed results of --results, default the
repository's benchmarks/results, and STORAGE/benchmarks). Images are reduced to 256 colours.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
SIZES = {"overview": (1400, 560), "experiment": (1400, 1500), "compare": (1400, 800), "benchmarks": (1400, 880)}


class ShotError(Exception):
    """Bad input or a failed step: one line for the user."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_monitor(storage: Path, results: Path | None, port: int) -> subprocess.Popen:
    """``python -m monitor`` on ``port``; returns once it answers (ShotError when it does not within 60 s)."""
    cmd = [sys.executable, "-m", "monitor", "--storage", str(storage), "--port", str(port)]
    if results is not None:
        cmd += ["--results", str(results)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ShotError(f"the monitor stopped: {(proc.stderr.read() or '').strip()[-300:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/experiments", timeout=2):
                return proc
        except OSError:
            time.sleep(0.3)
    proc.terminate()
    raise ShotError("the monitor did not answer within 60 s")


def get_json(url: str) -> Any:
    """A JSON answer of the monitor."""
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


def choose(rows: list[dict[str, Any]], experiment: str | None, compare: str | None,
           group: str | None = None) -> tuple[str, list[str]]:
    """The experiment to show and the ids to compare (defaults: most cycles; the largest experiment group)."""
    if not rows:
        raise ShotError("the storage holds no experiments")
    ids = {r["id"] for r in rows}
    chosen = experiment or max(rows, key=lambda r: (r.get("iterations") or 0, r["id"]))["id"]
    if compare:
        wanted = [i for i in compare.split(",") if i]
    else:
        groups = Counter(r["group"] for r in rows if r.get("group"))
        if group is not None and group not in groups:
            raise ShotError(f"no experiment group {group!r} in the storage")
        if not groups:
            raise ShotError("no experiment group in the storage: name the runs to compare with --compare")
        group = group or groups.most_common(1)[0][0]
        wanted = sorted(r["id"] for r in rows if r.get("group") == group)
    missing = [i for i in [chosen, *wanted] if i not in ids]
    if missing:
        raise ShotError(f"no experiment {missing[0]} in the storage")
    return chosen, wanted


def screenshot(browser: str, url: str, path: Path, size: tuple[int, int], profile: Path) -> None:
    """Headless Chromium draws ``url`` (its scripts run for up to 8 s of virtual time) into ``path``."""
    cmd = [browser, "--headless", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
           "--no-first-run", "--disable-extensions", "--disable-background-networking",
           f"--user-data-dir={profile}", f"--window-size={size[0]},{size[1]}",
           "--virtual-time-budget=8000", f"--screenshot={path}", url]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0 or not path.is_file():
        raise ShotError(f"chromium failed on {url}: {proc.stderr.strip()[-300:]}")


def shrink(path: Path) -> None:
    """Reduce a PNG to 256 colours (Pillow), which keeps screenshots small; left as is without Pillow."""
    try:
        from PIL import Image
    except ImportError:
        return
    with Image.open(path) as img:
        small = img.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)


def take_all(args: argparse.Namespace, browser: str) -> list[Path]:
    """Start the monitor, take the four screenshots, stop the monitor; returns the files written."""
    port = free_port()
    proc = start_monitor(args.storage, args.results, port)
    base, out = f"http://127.0.0.1:{port}", []
    try:
        chosen, compared = choose(get_json(base + "/api/experiments"), args.experiment, args.compare,
                                   args.group)
        pages = {"overview": "/", "experiment": f"/experiment/{quote(chosen)}",
                 "compare": "/compare?ids=" + quote(",".join(compared), safe=","), "benchmarks": "/benchmarks"}
        args.out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="screenshots-") as profile:
            for name, page in pages.items():
                path = args.out / f"monitor-{name}.png"
                screenshot(browser, base + page, path, SIZES[name], Path(profile))
                shrink(path)
                out.append(path)
                print(f"{path}: {page}")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Screenshots of the monitor from a real storage folder.")
    parser.add_argument("storage", type=Path, help="storage folder holding experiments/")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img", help="where the PNGs go (docs/img)")
    parser.add_argument("--experiment", default=None, metavar="ID", help="the experiment page to show")
    parser.add_argument("--compare", default=None, metavar="IDS", help="comma-separated runs to compare")
    parser.add_argument("--group", default=None, metavar="NAME", help="compare the runs of this experiment group")
    parser.add_argument("--results", type=Path, default=None, metavar="DIR",
                        help="committed results for the Benchmarks page (default: the repository's)")
    parser.add_argument("--browser", default=None, help="Chromium binary (default: found on PATH)")
    args = parser.parse_args(argv)
    try:
        if not (args.storage / "experiments").is_dir():
            raise ShotError(f"{args.storage} is no storage folder (it has no experiments/ folder)")
        if args.results is not None and not args.results.is_dir():
            raise ShotError(f"--results {args.results}: no such folder")
        browser = args.browser or next((p for b in BROWSERS if (p := shutil.which(b))), None)
        if browser is None or shutil.which(browser) is None:
            raise ShotError("no Chromium found (apt-get install chromium, or give --browser)")
        take_all(args, browser)
    except ShotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
