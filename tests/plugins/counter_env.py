"""A deterministic env for wiring tests: observation [t / 10, 1 on the final step], truncated after 5 steps."""
import gymnasium as gym
import numpy as np


class CounterEnv(gym.Env):
    """obs [t / 10, final flag]; reward t; truncated at t = 5, so the final observation is [0.5, 1]
    and differs from the first observation of the next episode, [0, 0]."""

    observation_space = gym.spaces.Box(-np.inf, np.inf, (2,), np.float32)
    action_space = gym.spaces.Discrete(2)
    LENGTH = 5

    def __init__(self, render_mode=None):
        self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(2, np.float32), {}

    def step(self, action):
        self.t += 1
        final = self.t >= self.LENGTH
        return np.array([self.t / 10, float(final)], np.float32), float(self.t), False, final, {}


gym.register("CounterEnv-v0", entry_point=CounterEnv)
