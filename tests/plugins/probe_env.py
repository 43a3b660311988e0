"""A tiny env registered by a plugin module: reports what its worker process has imported."""
import sys
import time

import gymnasium as gym
import numpy as np


class ProbeEnv(gym.Env):
    """1-D random walk; 10 steps per episode; action 1 earns reward 1.

    step_s: each step sleeps that long (an expensive env); image: observations are 6x6 uint8
    images (2-D, grey). `made` counts the instances created in this process; `lifetime_steps()`
    the steps an instance ever took (resets do not clear it).
    """

    action_space = gym.spaces.Discrete(2)
    made = 0

    def __init__(self, render_mode=None, step_s=0.0, image=False):
        ProbeEnv.made += 1
        self.render_mode, self.step_s, self.image = render_mode, step_s, image
        self.observation_space = gym.spaces.Box(0, 255, (6, 6), np.uint8) if image else \
            gym.spaces.Box(-np.inf, np.inf, (2,), np.float32)
        self.t = self.lifetime = 0

    def _obs(self):
        if self.image:
            return self.np_random.integers(0, 256, (6, 6)).astype(np.uint8)
        return self.np_random.normal(size=2).astype(np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self._obs(), {}

    def step(self, action):
        self.t += 1
        self.lifetime += 1
        if self.step_s:
            time.sleep(self.step_s)
        return self._obs(), float(action), False, self.t >= 10, {}

    def render(self):
        return np.zeros((8, 8, 3), np.uint8)

    def lifetime_steps(self) -> int:
        return self.lifetime

    def tensorflow_loaded(self) -> bool:
        return "tensorflow" in sys.modules

    def pid(self) -> int:
        import os
        return os.getpid()


gym.register("ProbeEnv-v0", entry_point=ProbeEnv)
