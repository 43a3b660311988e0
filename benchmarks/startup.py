"""Start-up cost of TensorFlow: `import tensorflow` as is against `dexterity.tf_setup.tensorflow()`.

    python benchmarks/startup.py --repeats 5

Each measurement is a fresh interpreter (subprocess) timing only the import; the two ways are
interleaved so that both see the same machine load. Prints each time, the medians and their ratio.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys

_TIMED = {
    "import tensorflow": "import tensorflow",
    "tf_setup.tensorflow()": "from dexterity import tf_setup; tf_setup.tensorflow(cpu=True)",
}


def time_import(statement: str) -> float:
    """Seconds one fresh interpreter takes to run `statement` (interpreter start-up excluded)."""
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if args.repeats < 1:
        parser.exit(2, "startup.py: --repeats must be >= 1\n")
    times: dict[str, list[float]] = {name: [] for name in _TIMED}
    for _ in range(args.repeats):
        for name, statement in _TIMED.items():
            times[name].append(time_import(statement))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {os.cpu_count()} cpus, load average at the end {load:.1f}")
    for name, values in times.items():
        print(f"  {name:24s} median {statistics.median(values):5.2f} s   ({', '.join(f'{v:.2f}' for v in values)})")
    plain, ours = (statistics.median(v) for v in times.values())
    print(f"  tf_setup / plain import: {ours / plain:.2f}")


if __name__ == "__main__":
    main()
