"""Training steps/s with 1 and with N MPI ranks on the same total number of environments.

    python benchmarks/ranks.py Ant-v5 --ranks 2 --pcon mujoco --cycles 6

Runs `train.py` alone and under mpirun, each for `cycles` cycles on the same total `--workers`,
and prints the median whole-cycle steps/s of each (first two cycles excluded: tracing) and their
ratio, for two layouts: `sequential` (each rank steps its environments in its own process: one
process per rank) and `processes` (each rank hosts its environments in cores / ranks worker
processes).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(ranks: int, args: argparse.Namespace, storage: Path, layout: str) -> float:
    """Train once with `ranks` ranks; returns the median steps/s of cycles 3.. ."""
    processes = max(1, (os.cpu_count() or 1) // ranks)
    cmd = [sys.executable, "train.py", args.env, "--pcon", args.pcon, "--iterations", str(args.cycles),
           "--seed", "0"] + (["--sequential"] if layout == "sequential" else ["--no-sequential", "--processes", str(processes)])
    if args.workers:
        cmd += ["--workers", str(args.workers)]
    env = dict(os.environ, DEXTERITY_STORAGE=str(storage), OMPI_ALLOW_RUN_AS_ROOT="1",
               OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    if ranks > 1:
        mpirun = shutil.which("mpirun", path=os.path.dirname(sys.executable)) or "mpirun"
        cmd = [mpirun, "-np", str(ranks), "--oversubscribe", "--bind-to", "none"] + cmd
    subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    progress = next(storage.glob("experiments/*/progress.jsonl"))
    records = [json.loads(line) for line in progress.read_text().splitlines()]
    shutil.rmtree(storage)
    rates = sorted(r["time/steps_per_s"] for r in records[2:])  # the first two cycles trace and warm up
    return rates[len(rates) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("env", nargs="?", default="Ant-v5")
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--pcon", default="mujoco")
    parser.add_argument("--workers", type=int, default=0, help="total environments (default: the preset's)")
    parser.add_argument("--cycles", type=int, default=12)
    args = parser.parse_args()
    print(f"{args.env} ({args.pcon}, same total envs, {args.cycles} cycles, median of cycles 3..)")
    with tempfile.TemporaryDirectory() as tmp:
        for layout in ("sequential", "processes"):
            one = run(1, args, Path(tmp) / "one", layout)
            many = run(args.ranks, args, Path(tmp) / "many", layout)
            print(f"  {layout:>10}: 1 rank {one:7.0f} steps/s | {args.ranks} ranks {many:7.0f} steps/s | "
                  f"ratio {many / one:5.2f}x", flush=True)


if __name__ == "__main__":
    main()
