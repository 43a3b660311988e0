"""The gatherer: steps the env pool with batched policy inference and stores a rollout.

Episodes run on across cycles: the act loop (`dexterity.agent.acting.ActLoop`) keeps the last
observation, recurrent state and reset flags.
The stored observations and rewards are the normalised ones the learner trains on.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from dexterity.agent.acting import ActLoop, Step
from dexterity.agent.gae import compute_gae
from dexterity.agent.policy import Policy
from dexterity.agent.progress import CycleProgress
from dexterity.envpool import EnvPool
from dexterity.transformers import Transformer


@dataclasses.dataclass
class Rollout:
    """One cycle of experience, every array [T, N, ...] (time, environment)."""

    obs: dict[str, np.ndarray]
    actions: np.ndarray
    log_probs: np.ndarray
    values: np.ndarray
    rewards: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    resets: np.ndarray              # 1 where the step's input state is zeroed (an episode starts)
    states: list[np.ndarray]        # recurrent state each step acted from (zero where resets), [T, N, units]
    next_values: np.ndarray         # value of the observation after each step (see compute_gae)
    episodes: list[dict[str, Any]]  # records of the episodes that ended during the rollout
    advantages: np.ndarray | None = None
    returns: np.ndarray | None = None

    def compute_advantages(self, discount: float, lam: float) -> None:
        self.advantages, self.returns = compute_gae(self.rewards, self.values, self.next_values, self.terminated,
                                                    self.truncated, discount, lam)

    @property
    def steps(self) -> int:
        return int(self.rewards.size)

    @classmethod
    def concatenate(cls, parts: list["Rollout"]) -> "Rollout":
        """Rollouts of the same horizon side by side: [T, N1 + N2 + ..., ...] (advantages included)."""
        cat = lambda arrays: np.concatenate(arrays, axis=1)  # noqa: E731
        fields = {}
        for f in dataclasses.fields(cls):
            values = [getattr(p, f.name) for p in parts]
            if f.name == "obs":
                fields[f.name] = {k: cat([v[k] for v in values]) for k in values[0]}
            elif f.name == "states":
                fields[f.name] = [cat([v[i] for v in values]) for i in range(len(values[0]))]
            elif f.name == "episodes":
                fields[f.name] = [e for v in values for e in v]
            else:
                fields[f.name] = None if values[0] is None else cat(values)
        return cls(**fields)


class Gatherer:
    """Collects `horizon` steps from every env of a pool per call to `gather` (through an `ActLoop`)."""

    def __init__(self, pool: EnvPool, policy: Policy, state_norm: Transformer,
                 reward_norm: Transformer | None, horizon: int):
        self.pool, self.policy, self.horizon = pool, policy, horizon
        self.state_norm, self.reward_norm = state_norm, reward_norm
        self.loop = ActLoop(pool, policy, lambda raw: self._observe(raw, update=True))

    def _observe(self, raw: dict[str, np.ndarray], update: bool) -> dict[str, np.ndarray]:
        if update:
            self.state_norm.update(raw)
        return self.state_norm.transform(raw)

    def _allocate(self, step: Step) -> dict[str, Any]:
        t, n = self.horizon, self.pool.n_envs
        return {"obs": {k: np.zeros((t, *v.shape), v.dtype) for k, v in step.obs.items()},
                "actions": np.zeros((t, *step.actions.shape), step.actions.dtype),
                **{k: np.zeros((t, n), np.float32) for k in ("log_probs", "values", "rewards", "resets",
                                                               "next_values")},
                "terminated": np.zeros((t, n), bool), "truncated": np.zeros((t, n), bool),
                "states": [np.zeros((t, *s.shape), np.float32) for s in step.state]}

    def gather(self, progress: CycleProgress | None = None) -> Rollout:
        """Run `horizon` steps of every env and return the rollout (advantages not yet computed).

        `progress` hears the steps gathered so far (this rank's, over all its envs).
        """
        progress = progress or CycleProgress()
        progress.phase("gather", self.horizon * self.pool.n_envs, "steps", per_rank=True)
        buf: dict[str, Any] = {}
        episodes: list[dict[str, Any]] = []
        for t in range(self.horizon):
            step = self.loop.step()
            if not buf:
                buf = self._allocate(step)
            for key, value in step.obs.items():
                buf["obs"][key][t] = value
            for i, s in enumerate(step.state):
                buf["states"][i][t] = s
            buf["actions"][t], buf["log_probs"][t], buf["values"][t] = step.actions, step.log_probs, step.values
            buf["resets"][t] = step.reset
            result = step.result
            buf["rewards"][t] = self._reward(result["rewards"], step.done)
            buf["terminated"][t], buf["truncated"][t] = result["terminated"], result["truncated"]
            if result["truncated"].any():
                final = self._observe(result["final_obs"], update=False)
                buf["next_values"][t] = self.policy.value(final, step.new_state, np.zeros_like(step.reset))
            episodes += result["episodes"]
            progress.update((t + 1) * self.pool.n_envs)
        loop = self.loop
        last = self.policy.value(self._observe(loop.raw, update=False), loop.pending_state(), loop.reset)
        nxt = np.concatenate([buf["values"][1:], last[None]], axis=0)
        buf["next_values"] = np.where(buf["truncated"], buf["next_values"], nxt)
        return Rollout(episodes=episodes, **buf)

    def _reward(self, rewards: np.ndarray, done: np.ndarray) -> np.ndarray:
        if self.reward_norm is None:
            return rewards.astype(np.float32)
        self.reward_norm.update(rewards, done)
        return self.reward_norm.transform(rewards)


def episode_quota(episodes: int, n_envs: int) -> list[int]:
    """Episodes each of n_envs envs runs so that exactly `episodes` run: episodes // n_envs each, one
    more for the first episodes % n_envs envs (short episodes are not over-represented)."""
    return [episodes // n_envs + (i < episodes % n_envs) for i in range(n_envs)]


def run_episodes(pool: EnvPool, policy: Policy, state_norm: Transformer, episodes: int,
                 deterministic: bool = False, max_steps: int = 1_000_000) -> list[dict[str, Any]]:
    """Run exactly `episodes` whole episodes on a fresh reset of `pool` with frozen normalisers.

    Env i runs a fixed quota of episodes (episodes // N, one more for the first episodes % N envs),
    so short episodes are not over-represented. Returns the episode records (return, length,
    success where reported), ordered by env.
    """
    quota = episode_quota(max(episodes, 1), pool.n_envs)
    loop = ActLoop(pool, policy, state_norm.transform, deterministic)
    loop.start()
    per_env: list[list[dict[str, Any]]] = [[] for _ in range(pool.n_envs)]
    for _ in range(max_steps):
        for record in loop.step().result["episodes"]:
            per_env[record["env"] - pool.index_offset].append(record)
        if all(len(records) >= q for records, q in zip(per_env, quota)):
            break
    return [r for records, q in zip(per_env, quota) for r in records[:q]]
