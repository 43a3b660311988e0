"""Environments stepped in one process (`EnvGroup`): what a worker process of `dexterity.envpool` runs.

TensorFlow-free: worker processes import this module and render with MuJoCo. `make_env` is the one
place an environment is built (dexterity's tasks and the plugins registered, bad options as one
clear error); `env_seed` derives each env's seed from the run's.
"""
from __future__ import annotations

import sys
import time
from typing import Any, Sequence

import gymnasium as gym
import numpy as np

from dexterity import envlayout
from dexterity.errors import DexterityError
from dexterity.plugins import import_plugins
from dexterity.spaces import ObservationEncoder, empty_batch


_MUJOCO_WARNED: set[str] = set()


def _mujoco_warning_once(message: str) -> None:
    """Print a MuJoCo warning the first time this process sees it (a model compiled for each of N envs
    repeated its compiler's deprecation warnings N times)."""
    if message not in _MUJOCO_WARNED:
        _MUJOCO_WARNED.add(message)
        print(f"MuJoCo warning: {message}", file=sys.stderr, flush=True)


def _warn_once_from_mujoco() -> None:
    """Route MuJoCo's warnings through `_mujoco_warning_once`, unless someone installed a handler already."""
    try:
        import mujoco
    except ImportError:
        return
    if mujoco.get_mju_user_warning() is None:
        mujoco.set_mju_user_warning(_mujoco_warning_once)


def make_env(env_id: str, env_kwargs: dict[str, Any] | None = None, plugins: Sequence[str] = ()) -> gym.Env:
    """gym.make with dexterity's tasks and the plugins registered; unknown ids give a clear error."""
    import dexterity  # noqa: F401  (registers the hand tasks)
    import_plugins(plugins)
    _warn_once_from_mujoco()
    try:
        return gym.make(env_id, **(env_kwargs or {}))
    except gym.error.Error as exc:
        raise DexterityError(f"cannot make environment '{env_id}': {exc}") from exc
    except (ImportError, ModuleNotFoundError) as exc:
        raise DexterityError(f"environment '{env_id}' needs a missing package: {exc}") from exc
    except (TypeError, ValueError) as exc:
        if isinstance(exc, ValueError) and not _works_without(env_id, env_kwargs):
            raise  # a ValueError the options did not cause: the env's own, worth its traceback
        raise DexterityError(f"environment '{env_id}' rejected its options {env_kwargs}: {exc}") from exc


def _works_without(env_id: str, env_kwargs: dict[str, Any] | None, steps: int = 0) -> bool:
    """Whether `env_id` builds (and, with `steps`, resets and takes that many random steps) without any
    options, so that the options it failed with are to blame."""
    if not env_kwargs:
        return False
    try:
        env = gym.make(env_id)
        try:
            if steps:
                env.reset(seed=0)
                for _ in range(steps):
                    env.step(env.action_space.sample())
        finally:
            env.close()
    except Exception:  # noqa: BLE001  (any failure: the options are not shown to be the cause)
        return False
    return True


def blame_options(env_id: str, env_kwargs: dict[str, Any] | None, exc: Exception) -> None:
    """Raise a one-line DexterityError for `exc`, a TypeError or ValueError an env made with `env_kwargs`
    raised while resetting or stepping, when the same env without them resets and steps (a mistyped
    option, say); return otherwise, so that the caller re-raises the env's own error with its traceback."""
    if isinstance(exc, (TypeError, ValueError)) and _works_without(env_id, env_kwargs, steps=5):
        raise DexterityError(f"environment '{env_id}' failed with its options {env_kwargs} "
                             f"({type(exc).__name__}: {exc}); without them it steps") from exc


def follow_tracked_body(env: gym.Env) -> None:
    """Point a Gymnasium MuJoCo env's free camera at its `trackbodyid` body (x, y) before a frame.

    Gymnasium's renderer reads `default_camera_config` once and then renders from a free camera, so a
    runner (HalfCheetah, Walker2d, ...) leaves the picture; with `{"trackbodyid": B}` in that config
    (env kwarg `default_camera_config`) the camera follows body B, height and angles as configured.
    Other envs are untouched.
    """
    base = env.unwrapped
    renderer = getattr(base, "mujoco_renderer", None)
    body = (getattr(renderer, "default_cam_config", None) or {}).get("trackbodyid")
    viewer = getattr(renderer, "viewer", None)
    if body is None or viewer is None or not hasattr(viewer, "cam") or not 0 <= int(body) < base.model.nbody:
        return
    viewer.cam.lookat[:2] = base.data.xpos[int(body)][:2]


def env_seed(seed: int, rank: int, index: int) -> int:
    """Seed of environment `index` on `rank`, derived from the run's seed."""
    return int(np.random.SeedSequence([seed, rank, index]).generate_state(1)[0])


class EnvGroup:
    """Environments stepped in one process, reset at episode ends, with episode statistics."""

    def __init__(self, env_id: str, indices: Sequence[int], seed: int, rank: int = 0,
                 env_kwargs: dict[str, Any] | None = None, plugins: Sequence[str] = ()):
        self.indices = list(indices)
        self.env_id, self.env_kwargs = env_id, env_kwargs
        self._make = lambda: make_env(env_id, env_kwargs, plugins)
        self.envs = [self._make() for _ in self.indices]
        self.seeds = [env_seed(seed, rank, i) for i in self.indices]
        env = self.envs[0]
        self.encoder = ObservationEncoder(env.observation_space)
        self.returns = np.zeros(len(self.envs))
        self.lengths = np.zeros(len(self.envs), np.int64)
        self._reset_done = False

    def describe(self) -> dict[str, Any]:
        """Spaces and spec facts of the environment (identical for every env of the pool)."""
        env = self.envs[0]
        spec = env.spec
        return {"observation_space": env.observation_space, "action_space": env.action_space,
                "reward_threshold": getattr(spec, "reward_threshold", None),
                "max_episode_steps": getattr(spec, "max_episode_steps", None),
                "senses": self.encoder.senses, "render_mode": getattr(env, "render_mode", None),
                "reward_config": getattr(env.unwrapped, "reward_config", None)}

    def reset(self) -> dict[str, np.ndarray]:
        """Reset every env (seeded on the first call) -> obs dict of [k, *shape]."""
        observations = []
        try:
            for i, env in enumerate(self.envs):
                obs, _ = env.reset(seed=None if self._reset_done else self.seeds[i])
                if not self._reset_done:
                    env.action_space.seed(self.seeds[i])
                observations.append(obs)
        except Exception as exc:
            blame_options(self.env_id, self.env_kwargs, exc)
            raise
        self._reset_done = True
        self.returns[:] = 0.0
        self.lengths[:] = 0
        return self.encoder.encode_batch(observations)

    def step(self, actions: np.ndarray) -> dict[str, Any]:
        """Step every env with actions [k, ...]; reset those whose episode ended.

        Returns obs (dict [k, ...], the next observations, already reset where done), rewards [k],
        terminated [k], truncated [k], final_obs (dict [k, ...], the last observation of episodes
        that ended this step, zeros elsewhere) and episodes (a dict per ended episode).
        """
        k = len(self.envs)
        rewards = np.zeros(k, np.float64)
        terminated = np.zeros(k, bool)
        truncated = np.zeros(k, bool)
        final_obs = None
        observations, episodes = [], []
        try:
            for i, env in enumerate(self.envs):
                obs, reward, term, trunc, info = env.step(actions[i])
                rewards[i], terminated[i], truncated[i] = reward, term, trunc
                self.returns[i] += reward
                self.lengths[i] += 1
                if term or trunc:
                    if final_obs is None:
                        final_obs = empty_batch(self.encoder.senses, k)
                    for key, value in self.encoder.encode(obs).items():
                        final_obs[key][i] = value
                    episodes.append(self._episode_record(i, info))
                    obs, _ = env.reset()
                observations.append(obs)
        except Exception as exc:  # an option that breaks stepping is one clear error, the env's own bug is not
            blame_options(self.env_id, self.env_kwargs, exc)
            raise
        return {"obs": self.encoder.encode_batch(observations), "rewards": rewards, "terminated": terminated,
                "truncated": truncated, "final_obs": final_obs, "episodes": episodes}

    def probe(self) -> float:
        """Seconds per env step, timed on a separate env instance (the seeded envs are not touched)."""
        env = self._make()
        try:
            return envlayout.measure_step_cost(env, ObservationEncoder(env.observation_space).encode)
        except Exception as exc:
            blame_options(self.env_id, self.env_kwargs, exc)
            raise
        finally:
            env.close()

    def echo(self, actions: np.ndarray, busy_s: float = 0.0) -> dict[str, Any]:
        """A step-shaped reply (zero observations of the real shapes) after busy_s x k seconds of spinning in
        place of k env steps: times the worker layout's messaging and scheduling (dexterity.envlayout)."""
        k = len(self.envs)
        end = time.perf_counter() + busy_s * k
        while time.perf_counter() < end:
            pass
        return {"obs": empty_batch(self.encoder.senses, k), "rewards": np.zeros(k), "terminated": np.zeros(k, bool),
                "truncated": np.zeros(k, bool), "final_obs": None, "episodes": []}

    def _episode_record(self, i: int, info: dict[str, Any]) -> dict[str, Any]:
        record = {"env": self.indices[i], "return": float(self.returns[i]), "length": int(self.lengths[i])}
        if "is_success" in info:
            record["success"] = float(info["is_success"])
        if "consecutive_goals_reached" in info:
            record["consecutive_goals"] = int(info["consecutive_goals_reached"])
        if "goal_angle" in info:
            record["goal_angle"] = float(info["goal_angle"])
        self.returns[i] = 0.0
        self.lengths[i] = 0
        return record

    def render(self) -> list[np.ndarray | None]:
        """An rgb frame of every env (envs made with render_mode='rgb_array')."""
        for env in self.envs:
            follow_tracked_body(env)
        return [env.render() for env in self.envs]

    def call(self, method: str, *args: Any) -> list[Any]:
        """Call a method of every env's unwrapped object (e.g. 'state_info')."""
        return [getattr(env.unwrapped, method)(*args) for env in self.envs]

    def training_states(self) -> list[Any]:
        """Each env's `get_training_state()` (learning progress such as a curriculum), None without one."""
        return [getattr(env.unwrapped, "get_training_state", lambda: None)() for env in self.envs]

    def set_training_states(self, states: Sequence[Any]) -> None:
        """Give env i states[i] through its `set_training_state` (envs without one ignore theirs)."""
        for env, state in zip(self.envs, states):
            setter = getattr(env.unwrapped, "set_training_state", None)
            if setter is not None and state is not None:
                setter(state)

    def close(self) -> None:
        for env in self.envs:
            env.close()
