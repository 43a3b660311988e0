"""The act loop: the one place that acts on observations, carries the recurrent state across steps,
zeroes it where an episode ended and steps the environments.

The gatherer (training), evaluation (`run_episodes`), gif recording (`media`), `observe.py` and
the analysis recorder all step their envs through `ActLoop`. It is TensorFlow-free: it needs
only a policy object with `initial_state(batch)`, `act(obs, state, reset, deterministic)` and
`distribution.to_env(actions)` (`Policy`, whose built-in models act in numpy, or any stand-in)
and a pool with `reset()` / `step(actions)` (`EnvPool`).

Conventions, for N environments: `reset` [N] float32 is 1 where the coming step starts an episode
(all ones after `start`); the state the policy acts from has those rows zeroed (`zero_ended`), so
a recurrent model never carries memory from one episode into the next.
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple, Protocol

import numpy as np

Observations = dict[str, np.ndarray]


class ActingPolicy(Protocol):
    """What the act loop needs of a policy (`dexterity.agent.policy.Policy` is one)."""

    distribution: Any  # with to_env(actions [N, ...]) -> env actions

    def initial_state(self, batch: int) -> list[np.ndarray]: ...

    def act(self, obs: Observations, state: list[np.ndarray], reset: np.ndarray, deterministic: bool = False
            ) -> tuple[np.ndarray, Any, Any, list[np.ndarray]]: ...


def zero_ended(state: list[np.ndarray], reset: np.ndarray) -> list[np.ndarray]:
    """Recurrent state [N, units] each, with the rows where reset [N] is 1 set to zero (new arrays;
    `state` itself when no row is flagged, the common case of a hot loop)."""
    if not state or not np.asarray(reset).any():
        return state
    keep = (1.0 - np.asarray(reset, np.float32))[:, None]
    return [s * keep for s in state]


class Step(NamedTuple):
    """One step of N envs: what the policy saw and did, and what the envs answered."""

    obs: Observations               # observations the policy acted on (after `observe`), [N, ...]
    state: list[np.ndarray]         # recurrent state it acted from, ended episodes zeroed, [N, units] each
    reset: np.ndarray               # [N] float32, 1 where this step started an episode
    actions: np.ndarray             # [N, ...] in the distribution's space (unclipped)
    log_probs: Any                  # [N] (whatever the policy returned)
    values: Any                     # [N]
    new_state: list[np.ndarray]     # recurrent state after the step (not yet zeroed), [N, units] each
    result: dict[str, Any]          # pool.step's answer: obs, rewards, terminated, truncated, final_obs, episodes
    done: np.ndarray                # [N] bool, terminated | truncated


class ActLoop:
    """N envs of a pool acting with one batched policy call per step.

    `observe` maps raw observations to what the policy reads (e.g. a normaliser's transform);
    the loop keeps the raw observation, recurrent state and reset flags between calls, so
    episodes run on across `step` calls (and across gatherer cycles) until `start` resets them.
    """

    def __init__(self, pool: Any, policy: ActingPolicy, observe: Callable[[Observations], Observations],
                 deterministic: bool = False):
        self.pool, self.policy, self.observe, self.deterministic = pool, policy, observe, deterministic
        self.raw: Observations | None = None
        self.state: list[np.ndarray] = []
        self.reset = np.ones(pool.n_envs, np.float32)

    def start(self) -> Observations:
        """Reset every env and the recurrent state -> the raw observations [N, ...]."""
        self.raw = self.pool.reset()
        self.state = self.policy.initial_state(self.pool.n_envs)
        self.reset = np.ones(self.pool.n_envs, np.float32)
        return self.raw

    def pending_state(self) -> list[np.ndarray]:
        """The state the next step will act from (rows of starting episodes zeroed), [N, units] each."""
        return zero_ended(self.state, self.reset)

    def step(self) -> Step:
        """Act on the current observations, step the envs, carry the state (starts the envs if needed)."""
        if self.raw is None:
            self.start()
        obs = self.observe(self.raw)
        state, reset = self.pending_state(), self.reset
        actions, log_probs, values, new_state = self.policy.act(obs, state, reset, self.deterministic)
        result = self.pool.step(self.policy.distribution.to_env(actions))
        done = result["terminated"] | result["truncated"]
        self.raw, self.state, self.reset = result["obs"], new_state, done.astype(np.float32)
        return Step(obs, state, reset, actions, log_probs, values, new_state, result, done)
