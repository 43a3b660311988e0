"""Vectorised environments in TensorFlow-free worker processes.

`EnvPool` steps N environments split into groups; each group (`dexterity.envgroup.EnvGroup`) lives in its own
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
import traceback
from multiprocessing.connection import Client, Connection, Listener
from typing import Any, Sequence

import numpy as np

from dexterity import envlayout
from dexterity.envgroup import EnvGroup
from dexterity.errors import DexterityError
from dexterity.plugins import import_plugins  # noqa: F401  (callers import it from here too)
from dexterity.spaces import Sense, empty_batch


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
