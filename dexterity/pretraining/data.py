"""Pretraining data: rendered in parallel TF-free worker processes, cached under storage/pretrained/data/.

    data = load_or_generate(size=64, samples=3000, seed=0)   # renders once, then reads the cache
    data.images [N, S, S, 3] uint8, data.targets [N, 31] float32, data.labels [N] int64

The cache file is named by (size, samples, seed); a cached set is reused as it is. Workers are
`python -m dexterity.pretraining.scenes` subprocesses (fresh interpreters, so never TensorFlow).
"""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from dexterity.errors import DexterityError
from dexterity.pretraining.scenes import FINGERS, TARGET_NAMES, VERSION
from dexterity.storage import storage_root

MIN_SIZE = 36  # the VisualEncoder's three convolutions need at least 36 x 36 pixels


@dataclasses.dataclass
class SceneData:
    """Rendered scenes: images [N, S, S, 3] uint8, targets [N, 31] (joint angles, block pose), labels [N]."""

    images: np.ndarray
    targets: np.ndarray
    labels: np.ndarray
    target_names: tuple[str, ...] = tuple(TARGET_NAMES)
    label_names: tuple[str, ...] = FINGERS

    def __len__(self) -> int:
        return int(len(self.images))

    def split(self, validation: float, seed: int = 0) -> tuple["SceneData", "SceneData"]:
        """(train, held-out) subsets; a fixed permutation from `seed`."""
        order = np.random.default_rng(seed).permutation(len(self))
        n_val = max(1, int(round(validation * len(self))))
        return self.subset(order[n_val:]), self.subset(order[:n_val])

    def subset(self, index: np.ndarray) -> "SceneData":
        return SceneData(self.images[index], self.targets[index], self.labels[index])


def cache_path(size: int, samples: int, seed: int) -> Path:
    return storage_root() / "pretrained" / "data" / f"scenes-v{VERSION}-s{size}-n{samples}-seed{seed}.npz"


def _progress_reader(proc: subprocess.Popen, counts: list[int], slot: int) -> None:
    """Read a worker's `progress K` lines into counts[slot]."""
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("progress "):
            counts[slot] = int(line.split()[1])


def _start_workers(size: int, samples: int, seed: int, processes: int, folder: Path
                   ) -> tuple[list[subprocess.Popen], list[Path], list[int], list[threading.Thread]]:
    bounds = np.linspace(0, samples, processes + 1).astype(int)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    procs, files, threads = [], [], []
    counts = [0] * processes
    for k in range(processes):
        out = folder / f"part{k}.npz"
        cmd = [sys.executable, "-m", "dexterity.pretraining.scenes", "--out", str(out), "--size", str(size),
               "--seed", str(seed), "--start", str(bounds[k]), "--stop", str(bounds[k + 1])]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        thread = threading.Thread(target=_progress_reader, args=(proc, counts, k), daemon=True)
        thread.start()
        procs.append(proc)
        files.append(out)
        threads.append(thread)
    return procs, files, counts, threads


def generate(size: int, samples: int, seed: int, processes: int = 0, verbose: bool = True) -> SceneData:
    """Render `samples` scenes in parallel worker processes (one per core by default)."""
    processes = max(1, min(processes or os.cpu_count() or 1, samples))
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="dexterity-scenes-") as tmp:
        procs, files, counts, threads = _start_workers(size, samples, seed, processes, Path(tmp))
        try:
            while any(p.poll() is None for p in procs):
                if verbose:
                    print(f"\rrendering scenes: {sum(counts)}/{samples}", end="", file=sys.stderr, flush=True)
                time.sleep(0.2)
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
        for thread in threads:
            thread.join(timeout=5)
        failed = [p for p in procs if p.returncode != 0]
        if failed:
            err = failed[0].stderr.read() if failed[0].stderr else ""
            raise DexterityError(f"scene rendering failed (exit {failed[0].returncode}): "
                                 f"{err.strip().splitlines()[-1] if err.strip() else 'no message'}")
        for p in procs:
            if p.stderr:
                p.stderr.close()
        parts = [np.load(f) for f in files]
        data = SceneData(*(np.concatenate([p[k] for p in parts]) for k in ("images", "targets", "labels")))
    if verbose:
        print(f"\rrendered {samples} scenes of {size}x{size} px in {time.perf_counter() - start:.1f} s "
              f"with {processes} processes", file=sys.stderr, flush=True)
    return data


def check_scene_args(size: int, samples: int) -> None:
    """DexterityError naming the flag unless images are at least MIN_SIZE px and there are 10 scenes."""
    if size < MIN_SIZE:
        raise DexterityError(f"--size {size}: the visual encoder needs images of at least {MIN_SIZE} px")
    if samples < 10:
        raise DexterityError(f"--samples {samples}: need at least 10 scenes")


def load_or_generate(size: int, samples: int, seed: int = 0, processes: int = 0, verbose: bool = True
                     ) -> SceneData:
    """The cached data set of (size, samples, seed), rendered and saved first when missing."""
    check_scene_args(size, samples)
    path = cache_path(size, samples, seed)
    if path.is_file():
        try:
            with np.load(path) as f:
                data = SceneData(f["images"], f["targets"], f["labels"])
            if verbose:
                print(f"using cached scenes {path}", file=sys.stderr)
            return data
        except (OSError, ValueError, KeyError) as exc:
            print(f"warning: cached scenes {path} unreadable ({exc}); rendering again", file=sys.stderr)
    data = generate(size, samples, seed, processes, verbose)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.npz")
    np.savez(tmp, images=data.images, targets=data.targets, labels=data.labels)
    tmp.replace(path)
    return data
