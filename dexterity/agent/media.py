"""Recording episodes as gif/mp4: frames are rendered in a TF-free worker process, never here."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from dexterity.agent.acting import ActLoop
from dexterity.agent.checkpoint import Brain
from dexterity.envpool import EnvPool
from dexterity.errors import DexterityError


def record_episode(env_id: str, brain: Brain, env_kwargs: dict[str, Any] | None = None, plugins: Sequence[str] = (),
                   seed: int = 0, deterministic: bool = True, max_steps: int = 1000,
                   training_state: Any = None) -> tuple[list[np.ndarray], float]:
    """Run one episode with rendering in a worker process; returns (rgb frames, episode return).

    training_state: given to the env first (e.g. the goal curriculum reached in training)."""
    kwargs = {**(env_kwargs or {}), "render_mode": "rgb_array"}
    frames: list[np.ndarray] = []
    total = 0.0
    with EnvPool(env_id, 1, seed, processes=1, env_kwargs=kwargs, plugins=plugins) as pool:
        if training_state is not None:
            pool.set_training_states([training_state])
        loop = ActLoop(pool, brain.policy, brain.state_norm.transform, deterministic)
        loop.start()
        for _ in range(max_steps):
            frame = pool.render()[0]
            if frame is None:
                raise DexterityError(f"{env_id} renders no rgb frames (render_mode='rgb_array' unsupported)")
            frames.append(np.asarray(frame, np.uint8))
            step = loop.step()
            total += float(step.result["rewards"][0])
            if step.done[0]:
                break
    return frames, total


def shrink(frame: np.ndarray, max_width: int) -> np.ndarray:
    """Downscale a frame [H, W, 3] by an integer stride so that its width is at most max_width."""
    stride = int(np.ceil(frame.shape[1] / max_width))
    return frame[::stride, ::stride] if stride > 1 else frame


def write_video(frames: list[np.ndarray], path: str | Path, fps: int = 25, max_width: int = 320,
                max_frames: int = 400) -> Path:
    """Write frames as .gif (or .mp4 by extension); long episodes are subsampled to max_frames."""
    import imageio.v3 as iio
    if not frames:
        raise DexterityError("no frames to write")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    step = int(np.ceil(len(frames) / max_frames))
    frames = [shrink(f, max_width) for f in frames[::step]]
    if path.suffix == ".mp4":
        iio.imwrite(path, np.stack(frames), fps=fps / step, codec="libx264", macro_block_size=1)
    else:
        iio.imwrite(path, np.stack(frames), duration=1000 * step / fps, loop=0)
    return path
