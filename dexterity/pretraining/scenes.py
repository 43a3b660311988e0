"""Rendering pretraining scenes of the Shadow Hand and its block; a TF-free worker process.

A scene is a hand pose and a block pose set kinematically (no physics) and rendered from the
camera of `ManipulateBlockVisual-v0`, so the pretrained encoder sees what the agent will see.
One of the four fingers (ff, mf, rf, lf) is flexed and the other three are mostly extended: that
finger is the scene's class label. Scene `i` of a data set depends only on (seed, i), never on
how the work is split over processes.

Worker: `python -m dexterity.pretraining.scenes --out FILE --size S --seed SEED --start A --stop B`
writes scenes A..B-1 to FILE (npz) and prints `progress K` lines as it goes. Never import
TensorFlow here: rendering in a process with TensorFlow loaded segfaults.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

FINGERS = ("ff", "mf", "rf", "lf")
# flexion joints (indices into the 24 hand joints) of ff, mf, rf, lf
FLEX_JOINTS = ((3, 4, 5), (7, 8, 9), (11, 12, 13), (16, 17, 18))
N_JOINTS = 24
VERSION = 2  # bump when scenes change: cached data sets carry it in their file name
TARGET_NAMES = [f"joint{i}" for i in range(N_JOINTS)] + ["block_x", "block_y", "block_z",
                                                          "block_qw", "block_qx", "block_qy", "block_qz"]


def scene_rng(seed: int, index: int) -> np.random.Generator:
    """The random stream of scene `index` of data set `seed`."""
    return np.random.default_rng(np.random.SeedSequence([seed, index]))


def sample_pose(rng: np.random.Generator, low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, int]:
    """Joint angles [24] within [low, high] with one finger flexed; returns (angles, flexed finger)."""
    unit = rng.uniform(0.15, 0.85, N_JOINTS)          # abduction, thumb: central 70%
    unit[:2] = rng.uniform(0.35, 0.65, 2)             # wrist: central 30% (the whole hand moves with it)
    label = int(rng.integers(len(FINGERS)))
    for finger, joints in enumerate(FLEX_JOINTS):
        lo, hi = (0.6, 1.0) if finger == label else (0.0, 0.3)
        unit[list(joints)] = rng.uniform(lo, hi, len(joints))
    return low + (high - low) * unit, label


def random_quaternion(rng: np.random.Generator) -> np.ndarray:
    """A uniformly distributed unit quaternion (w, x, y, z) with w >= 0."""
    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    return q if q[0] >= 0 else -q


class SceneRenderer:
    """Sets scenes on a ManipulateBlockVisual env and renders them: image [S, S, 3] uint8."""

    def __init__(self, size: int):
        import dexterity  # noqa: F401  (headless GL set-up)
        from dexterity.environments.manipulate import ManipulateBlockVisualEnv
        self.env = ManipulateBlockVisualEnv(vision_size=size)
        self.env.reset(seed=0)
        self.low, self.high = self.env.model.jnt_range[:N_JOINTS].T.copy()
        self.rest_position = self.env.object_position().copy()

    def render(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, int]:
        """Draw and render one scene -> (image [S, S, 3] uint8, targets [31], label)."""
        angles, label = sample_pose(rng, self.low, self.high)
        position = self.rest_position + rng.uniform([-0.01, -0.015, 0.0], [0.01, 0.015, 0.02])
        quaternion = random_quaternion(rng)
        self.env.set_scene(angles, position, quaternion)
        image = self.env.camera_image()  # the task's own camera and render settings
        return image.copy(), np.concatenate([angles, position, quaternion]).astype(np.float32), label

    def close(self) -> None:
        self.env.close()


def render_range(size: int, seed: int, start: int, stop: int, report_every: int = 10
                 ) -> dict[str, np.ndarray]:
    """Scenes start..stop-1 -> {images [n, S, S, 3] uint8, targets [n, 31], labels [n]}."""
    renderer = SceneRenderer(size)
    images, targets, labels = [], [], []
    try:
        for i in range(start, stop):
            image, target, label = renderer.render(scene_rng(seed, i))
            images.append(image)
            targets.append(target)
            labels.append(label)
            if (i - start + 1) % report_every == 0 or i == stop - 1:
                print(f"progress {i - start + 1}", flush=True)
    finally:
        renderer.close()
    return {"images": np.stack(images), "targets": np.stack(targets), "labels": np.array(labels, np.int64)}


def _main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="render pretraining scenes (started by dexterity.pretraining.data)")
    parser.add_argument("--out", required=True)
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--start", type=int, required=True)
    parser.add_argument("--stop", type=int, required=True)
    args = parser.parse_args(argv)
    arrays = render_range(args.size, args.seed, args.start, args.stop)
    out = Path(args.out)
    tmp = out.with_name(out.name + ".tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(out)
    assert "tensorflow" not in sys.modules, "a rendering worker must never import TensorFlow"


if __name__ == "__main__":
    _main()
