"""A multi-sensory Gymnasium env registered by a plugin: `PointReach-v0` (guide: docs/custom-environments.md).

    python train.py PointReach-v0 --plugin examples.custom_env
    python train.py PointReach-v0 --plugin examples.custom_env --env-kwargs '{"vision": false}'
    python examples/custom_env.py                 # 15 cycles without vision, then an evaluation
    python examples/custom_env.py --iterations 2  # any train.py flag is passed on

A point mass in the unit square must reach a goal. Observations follow dexterity's sensory
layout: a Dict with `vision` (uint8 H x W x 3 image: an image input, scaled to [0, 1] and
encoded by a CNN), `proprioception` (position, velocity), `goal` (goal position) and
`asymmetric` (goal minus position: privileged, read by the value function only).
TensorFlow-free: this module is imported in the env worker processes.
"""
from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

MIN_IMAGE = 36  # the built-in CNN (8x8/4, 4x4/2, 3x3/1 convolutions) needs at least 36 x 36 pixels


class PointReachEnv(gym.Env):
    """2-D point mass; action: acceleration in [-1, 1]^2; reward: -distance to the goal; 50 steps."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 20}

    def __init__(self, vision: bool = True, image_size: int = MIN_IMAGE, render_mode: str | None = None):
        if vision and image_size < MIN_IMAGE:
            raise ValueError(f"image_size must be at least {MIN_IMAGE}, got {image_size}")
        self.vision, self.image_size, self.render_mode = vision, image_size, render_mode
        spaces: dict[str, gym.Space] = {}
        if vision:
            spaces["vision"] = gym.spaces.Box(0, 255, (image_size, image_size, 3), np.uint8)
        spaces["proprioception"] = gym.spaces.Box(-np.inf, np.inf, (4,), np.float32)
        spaces["goal"] = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        spaces["asymmetric"] = gym.spaces.Box(-2.0, 2.0, (2,), np.float32)
        self.observation_space = gym.spaces.Dict(spaces)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.position = np.zeros(2)
        self.velocity = np.zeros(2)
        self.goal = np.zeros(2)

    def _image(self) -> np.ndarray:
        """Top-down view: the goal in green, the point in red, on a grey floor."""
        size = self.image_size
        image = np.full((size, size, 3), 40, np.uint8)
        for where, colour in ((self.goal, (40, 220, 40)), (self.position, (230, 40, 40))):
            row, col = np.clip(((where + 1.0) / 2.0 * (size - 1)).round().astype(int), 1, size - 2)
            image[row - 1:row + 2, col - 1:col + 2] = colour
        return image

    def _observation(self) -> dict[str, np.ndarray]:
        obs = {"proprioception": np.concatenate([self.position, self.velocity]).astype(np.float32),
               "goal": self.goal.astype(np.float32), "asymmetric": (self.goal - self.position).astype(np.float32)}
        if self.vision:
            obs = {"vision": self._image(), **obs}
        return obs

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        super().reset(seed=seed)
        self.position = self.np_random.uniform(-0.8, 0.8, 2)
        self.velocity = np.zeros(2)
        self.goal = self.np_random.uniform(-0.8, 0.8, 2)
        return self._observation(), {}

    def step(self, action: np.ndarray) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        action = np.clip(np.asarray(action, np.float64), -1.0, 1.0)
        self.velocity = 0.8 * self.velocity + 0.05 * action
        self.position = np.clip(self.position + self.velocity, -1.0, 1.0)
        distance = float(np.linalg.norm(self.goal - self.position))
        success = distance < 0.1
        # episodes are truncated by the TimeLimit wrapper (max_episode_steps below), never terminated
        return self._observation(), -distance, False, False, {"is_success": float(success)}

    def render(self) -> np.ndarray:
        return self._image()


# registering at import: `--plugin examples.custom_env` makes the id known in every process
gym.register("PointReach-v0", entry_point=PointReachEnv, max_episode_steps=50, reward_threshold=-5.0)


if __name__ == "__main__":
    from _runner import train_and_evaluate  # examples/ is sys.path[0] when run as a script
    train_and_evaluate(__file__, ["PointReach-v0", "--env-kwargs", '{"vision": false}', "--iterations", "15",
                                  "--workers", "4", "--horizon", "250", "--batch-size", "100", "--processes", "2"])
