"""A tiny env registered by a plugin module: reports what its worker process has imported."""
import sys

import gymnasium as gym
import numpy as np


class ProbeEnv(gym.Env):
    """1-D random walk; 10 steps per episode; action 1 earns reward 1."""

    observation_space = gym.spaces.Box(-np.inf, np.inf, (2,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def __init__(self, render_mode=None):
        self.render_mode = render_mode
        self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self.np_random.normal(size=2).astype(np.float32), {}

    def step(self, action):
        self.t += 1
        obs = self.np_random.normal(size=2).astype(np.float32)
        return obs, float(action), False, self.t >= 10, {}

    def render(self):
        return np.zeros((8, 8, 3), np.uint8)

    def tensorflow_loaded(self) -> bool:
        return "tensorflow" in sys.modules

    def pid(self) -> int:
        import os
        return os.getpid()


gym.register("ProbeEnv-v0", entry_point=ProbeEnv)
