"""Load benchmark of the monitor: many long experiments, how fast do the pages answer?

    python benchmarks/monitor_load.py                  # 500 experiments x 1000 cycles (~1 min set-up)
    python benchmarks/monitor_load.py --storage DIR    # reuse / keep the generated storage

Targets (issue 5): overview < 1 s, experiment page < 0.5 s, on 2 cores. Prints each time and
its ratio to the target (< 1 is good). "cold" = first request of a fresh app (empty caches;
the files are in the OS page cache since they were just written or read), "warm" = median of
later requests. Requests go through a real HTTP server on localhost. The overview's best
return comes from the ``best`` checkpoints when they exist; the last line measures a storage
without ``saved_models`` (best found by scanning every progress file).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from fake_storage import make_storage  # noqa: E402
from monitor import create_app  # noqa: E402

TARGETS = {"overview": 1.0, "experiment": 0.5}


def generate(root: Path, experiments: int, cycles: int) -> None:
    """Write the fake storage unless it is already there."""
    exp_root = root / "experiments"
    if exp_root.is_dir() and len(os.listdir(exp_root)) >= experiments:
        print(f"reusing {experiments} experiments in {root}")
        return
    t = time.perf_counter()
    make_storage(root, experiments, cycles)
    size = sum(f.stat().st_size for f in exp_root.rglob("progress.jsonl"))
    print(f"generated {experiments} experiments x {cycles} cycles in {root} "
          f"({size / 1e6:.0f} MB of progress) in {time.perf_counter() - t:.1f} s")


def serve(root: Path) -> tuple[str, object]:
    """Start the monitor on a free localhost port in a thread; returns (base url, server)."""
    import logging
    from werkzeug.serving import make_server
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = make_server("127.0.0.1", 0, create_app(root), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}", server


def fetch(url: str) -> tuple[float, int]:
    """Seconds to fetch ``url`` completely, and its size in bytes."""
    t = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as res:
        body = res.read()
        assert res.status == 200, (url, res.status)
    return time.perf_counter() - t, len(body)


def report(name: str, cold: float, warm: list[float], size: int, target: float | None) -> None:
    """Print one measurement line (``warm`` may be empty)."""
    med = statistics.median(warm) if warm else None
    ratio = f"  ratio cold {cold / target:.2f}" if target else ""
    if target and med is not None:
        ratio += f", warm {med / target:.2f}"
    ratio += f" (target {target} s)" if target else ""
    warm_text = f"{med * 1000:7.1f} ms" if med is not None else "      - ms"
    print(f"{name:<28} cold {cold * 1000:7.1f} ms  warm {warm_text}  {size / 1e3:7.0f} kB{ratio}")


def measure(base: str, ids: list[str], repeats: int) -> None:
    """Time every page of the monitor."""
    cold, size = fetch(base + "/")
    report("overview /", cold, [fetch(base + "/")[0] for _ in range(repeats)], size, TARGETS["overview"])
    cold, size = fetch(base + "/api/experiments")
    report("overview JSON", cold, [fetch(base + "/api/experiments")[0] for _ in range(repeats)], size, None)
    firsts = [fetch(f"{base}/experiment/{i}") for i in ids[1:6]]
    url = f"{base}/experiment/{ids[1]}"
    report("experiment page", max(t for t, _ in firsts), [fetch(url)[0] for _ in range(repeats)],
           firsts[0][1], TARGETS["experiment"])
    url = f"{base}/api/experiment/{ids[1]}/progress?since=990"
    report("progress poll (since=990)", fetch(url)[0], [fetch(url)[0] for _ in range(repeats)],
           fetch(url)[1], None)
    url = f"{base}/compare?ids={','.join(ids[20:29])}"
    cold, size = fetch(url)
    report("compare (9 runs, 3 groups)", cold, [fetch(url)[0] for _ in range(repeats)], size, None)
    cold, size = fetch(base + "/benchmarks")
    report("benchmarks", cold, [fetch(base + "/benchmarks")[0] for _ in range(repeats)], size, None)


def cold_without_checkpoints(root: Path) -> None:
    """Overview of a fresh app when no ``saved_models`` exist (best return found by scanning)."""
    models, hidden = root / "saved_models", root / "saved_models.hidden-by-monitor-load"
    models.rename(hidden)
    try:
        base, server = serve(root)
        cold, size = fetch(base + "/")
        server.shutdown()
    finally:
        hidden.rename(models)
    report("overview / without ckpts", cold, [], size, TARGETS["overview"])


def main() -> None:
    """Generate (or reuse) the storage, serve it, measure."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--experiments", type=int, default=500)
    parser.add_argument("--cycles", type=int, default=1000)
    parser.add_argument("--storage", type=Path, default=None,
                        help="where to generate (kept); default: a temporary folder, removed")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="monitor-load-") as tmp:
        root = args.storage or Path(tmp) / "storage"
        generate(root, args.experiments, args.cycles)
        ids = sorted(os.listdir(root / "experiments"))
        base, server = serve(root)
        print(f"cores available: {len(os.sched_getaffinity(0))}; serving {root} at {base}")
        try:
            measure(base, ids, args.repeats)
        finally:
            server.shutdown()
        cold_without_checkpoints(root)


if __name__ == "__main__":
    main()
