"""Vectorised environments in TensorFlow-free worker processes.

`EnvPool` steps N environments split into groups; each group (`EnvGroup`) lives in its own
worker process started as `python -m dexterity.envpool` (a fresh interpreter: it never imports
the training script, hence never TensorFlow, so MuJoCo rendering is safe there), or in the main
process with `sequential=True`; `sequential=None` chooses from a measured env step cost
(`dexterity.envlayout`; rendering envs always in workers). Groups reset their environments when
an episode ends, hand back the final observation (for bootstrapping on truncation) and
per-episode statistics.
"""
from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import time
import traceback
from multiprocessing.connection import Client, Connection, Listener
from typing import Any, Sequence

import gymnasium as gym
import numpy as np

from dexterity import envlayout
from dexterity.errors import DexterityError
from dexterity.plugins import import_plugins  # noqa: F401  (callers import it from here too)
from dexterity.spaces import ObservationEncoder, Sense, empty_batch


def make_env(env_id: str, env_kwargs: dict[str, Any] | None = None, plugins: Sequence[str] = ()) -> gym.Env:
    """gym.make with dexterity's tasks and the plugins registered; unknown ids give a clear error."""
    import dexterity  # noqa: F401  (registers the hand tasks)
    import_plugins(plugins)
    try:
        return gym.make(env_id, **(env_kwargs or {}))
    except gym.error.Error as exc:
        raise DexterityError(f"cannot make environment '{env_id}': {exc}") from exc
    except (ImportError, ModuleNotFoundError) as exc:
        raise DexterityError(f"environment '{env_id}' needs a missing package: {exc}") from exc
    except (TypeError, ValueError) as exc:
        if isinstance(exc, ValueError) and not env_kwargs:  # fails without options: the env's bug
            raise
        raise DexterityError(f"environment '{env_id}' rejected its options {env_kwargs}: {exc}") from exc


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
        for i, env in enumerate(self.envs):
            obs, _ = env.reset(seed=None if self._reset_done else self.seeds[i])
            if not self._reset_done:
                env.action_space.seed(self.seeds[i])
            observations.append(obs)
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
        return {"obs": self.encoder.encode_batch(observations), "rewards": rewards, "terminated": terminated,
                "truncated": truncated, "final_obs": final_obs, "episodes": episodes}

    def probe(self) -> float:
        """Seconds per env step, timed on a separate env instance (the seeded envs are not touched)."""
        env = self._make()
        try:
            return envlayout.measure_step_cost(env, ObservationEncoder(env.observation_space).encode)
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


# ---- worker processes --------------------------------------------------------------------------

def _serve(conn: Connection) -> None:
    """Worker loop: build the EnvGroup from the first message, then answer commands until 'close'."""
    group = None
    while True:
        try:
            command, args = conn.recv()
        except (EOFError, OSError, KeyboardInterrupt):
            return
        try:
            if command == "init":
                group = EnvGroup(**args)
                reply: tuple = ("ok", group.describe())
            elif command == "close":
                if group is not None:
                    group.close()
                reply = ("ok", None)
            else:
                reply = ("ok", getattr(group, command)(*args))
        except DexterityError as exc:
            reply = ("user_error", str(exc))
        except Exception as exc:  # reported to the parent, which raises it
            reply = ("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")
        try:
            conn.send(reply)
        except (BrokenPipeError, ConnectionResetError, OSError):
            return  # the parent is gone (it failed or was stopped): nothing left to serve
        if command == "close":
            return


class ProcessEnvGroup:
    """An EnvGroup in a separate `python -m dexterity.envpool` process, driven over a socket."""

    def __init__(self, listener: Listener, authkey: bytes, args: dict[str, Any]):
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        self.process = subprocess.Popen([sys.executable, "-m", "dexterity.envpool", "--address",
                                         str(listener.address), "--authkey", authkey.hex()], env=env)
        self.conn = listener.accept()
        self.send("init", args)

    def send(self, command: str, *args: Any) -> None:
        self.conn.send((command, args if command != "init" else args[0]))

    def receive(self) -> Any:
        try:
            status, payload = self.conn.recv()
        except (EOFError, OSError) as exc:
            code = self.process.poll()
            raise RuntimeError(f"environment worker process {self.process.pid} died (exit code {code})") from exc
        if status == "user_error":
            raise DexterityError(payload)
        if status == "error":
            raise RuntimeError(f"environment worker failed: {payload}")
        return payload

    def close(self) -> None:
        try:
            self.send("close")
            self.receive()
        except Exception:
            pass
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()


class LocalEnvGroup:
    """The same interface as ProcessEnvGroup, in this process (--sequential, or chosen automatically)."""

    def __init__(self, args: dict[str, Any]):
        self.group = EnvGroup(**args)
        self._pending: Any = self.group.describe()

    def send(self, command: str, *args: Any) -> None:
        self._pending = getattr(self.group, command)(*args) if command != "close" else self.group.close()

    def receive(self) -> Any:
        return self._pending

    def close(self) -> None:
        self.group.close()


class EnvPool:
    """N environments in `processes` groups; batched reset and step over all of them.

    Observations come back as dict[name, [N, *shape]], rewards/terminated/truncated as [N].
    sequential: True in this process, False in worker processes, None chosen from measurements
    (`dexterity.envlayout`; ranks_on_node ranks share the cores). `layout` says which and why.
    """

    def __init__(self, env_id: str, n_envs: int, seed: int, rank: int = 0, processes: int = 0,
                 sequential: bool | None = False, env_kwargs: dict[str, Any] | None = None,
                 plugins: Sequence[str] = (), index_offset: int = 0, ranks_on_node: int = 1):
        if processes <= 0:
            processes = os.cpu_count() or 1
        processes = 1 if sequential else max(1, min(processes, n_envs))
        self.n_envs = n_envs
        self.index_offset = index_offset
        self.groups: list[Any] = []
        self._listener = None
        start = (env_id, seed, rank, env_kwargs, plugins)
        try:
            self._start(*start, processes, sequential is True)
            self.layout = envlayout.forced_layout(sequential, processes) if sequential is not None else \
                envlayout.settle_layout(self, env_kwargs, ranks_on_node)
            if self.layout.local and sequential is None:
                self.close()  # nothing renders: the envs move into this process
                self._start(*start, 1, True)
        except BaseException:
            self.close()
            raise

    def _start(self, env_id: str, seed: int, rank: int, env_kwargs: dict[str, Any] | None, plugins: Sequence[str],
               processes: int, local: bool) -> None:
        """Start the groups (`processes` workers, or one group here) and read the env's description."""
        splits = np.array_split(np.arange(self.index_offset, self.index_offset + self.n_envs), processes)
        self._bounds = np.cumsum([0] + [len(split) for split in splits])
        base = {"env_id": env_id, "seed": seed, "rank": rank, "env_kwargs": env_kwargs, "plugins": list(plugins)}
        if local:
            self.groups = [LocalEnvGroup({**base, "indices": splits[0].tolist()})]
        else:
            authkey = secrets.token_bytes(16)
            self._listener = Listener(family="AF_UNIX", authkey=authkey)
            for split in splits:
                self.groups.append(ProcessEnvGroup(self._listener, authkey, {**base, "indices": split.tolist()}))
        self.info: dict[str, Any] = self.groups[0].receive()
        for group in self.groups[1:]:
            group.receive()
        self.senses: list[Sense] = self.info["senses"]
        self.observation_space = self.info["observation_space"]
        self.action_space = self.info["action_space"]

    def _broadcast(self, command: str, per_group: list[tuple] | None = None) -> list[Any]:
        for i, group in enumerate(self.groups):
            group.send(command, *(per_group[i] if per_group else ()))
        return [group.receive() for group in self.groups]

    def reset(self) -> dict[str, np.ndarray]:
        """Reset every env -> obs dict [N, *shape]."""
        parts = self._broadcast("reset")
        if len(parts) == 1:
            return parts[0]
        return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}

    def step(self, actions: np.ndarray) -> dict[str, Any]:
        """Step all envs with actions [N, ...]; see EnvGroup.step for the result (here over N)."""
        return self._exchange("step", actions)

    def echo(self, actions: np.ndarray, busy_s: float = 0.0) -> dict[str, Any]:
        """A step's messages, the envs not stepped (EnvGroup.echo: busy_s of spinning per env instead)."""
        return self._exchange("echo", actions, busy_s)

    def _exchange(self, command: str, actions: np.ndarray, *extra: Any) -> dict[str, Any]:
        bounds = self._bounds
        parts = self._broadcast(command, [(actions[bounds[i]:bounds[i + 1]], *extra) for i in range(len(self.groups))])
        if len(parts) == 1:
            return parts[0]
        out = {"obs": {key: np.concatenate([p["obs"][key] for p in parts]) for key in parts[0]["obs"]}}
        for key in ("rewards", "terminated", "truncated"):
            out[key] = np.concatenate([p[key] for p in parts])
        out["episodes"] = [e for p in parts for e in p["episodes"]]
        if any(p["final_obs"] is not None for p in parts):
            fill = [p["final_obs"] if p["final_obs"] is not None else empty_batch(self.senses, len(p["rewards"]))
                    for p in parts]
            out["final_obs"] = {key: np.concatenate([f[key] for f in fill]) for key in fill[0]}
        else:
            out["final_obs"] = None
        return out

    def render(self) -> list[np.ndarray | None]:
        return [frame for part in self._broadcast("render") for frame in part]

    def call(self, method: str, *args: Any) -> list[Any]:
        return [r for part in self._broadcast("call", [(method, *args)] * len(self.groups)) for r in part]

    def training_states(self) -> list[Any]:
        """Every env's training state (None for envs without one), in env order."""
        return [state for part in self._broadcast("training_states") for state in part]

    def set_training_states(self, states: Sequence[Any]) -> None:
        """Restore training states [n_envs], in env order."""
        b = self._bounds
        self._broadcast("set_training_states", [(list(states[b[i]:b[i + 1]]),) for i in range(len(self.groups))])

    def close(self) -> None:
        for group in self.groups:
            group.close()
        self.groups = []
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def __enter__(self) -> "EnvPool":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _main() -> None:
    parser = argparse.ArgumentParser(description="dexterity environment worker (started by EnvPool)")
    parser.add_argument("--address", required=True)
    parser.add_argument("--authkey", required=True)
    args = parser.parse_args()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it closes us
    conn = Client(args.address, family="AF_UNIX", authkey=bytes.fromhex(args.authkey))
    _serve(conn)


if __name__ == "__main__":
    _main()
