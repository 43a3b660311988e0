"""The investigator: runs a saved agent for N episodes and records every layer's activations.

Activations are captured by wrapping `call` of every keras layer of the model (`model.layers`)
while `model.step` runs (traced once with tf.function, the layer outputs returned from it), so any
BaseModel is recorded layer by layer without knowing its graph; recurrent cells give their output
and every state tensor, and the input each cell read (for the fixed points of
analysis.dynamics). The envs run in TF-free worker
processes (EnvPool); hand tasks also report `state_info()` each step.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from analysis.recording import Recording, flat
from dexterity.errors import DexterityError


class ActivationTap:
    """Keeps the outputs of keras layers during a call of the model: `{name: output structure}`.

    Works eagerly and inside `tf.function` (the outputs are then returned from the traced function).
    """

    def __init__(self, layers: list[Any]):
        self.outputs: dict[str, Any] = {}
        self.inputs: dict[str, Any] = {}  # recurrent cells only: the input x of cell(x, states)
        self._restore: list[tuple[Any, Callable]] = []
        for layer in layers:
            original = layer.call
            keep_input = getattr(layer, "state_size", None) is not None
            layer.call = self._wrap(layer.name, original, keep_input)
            self._restore.append((layer, original))

    def _wrap(self, name: str, original: Callable, keep_input: bool) -> Callable:
        def call(*args: Any, **kwargs: Any) -> Any:
            out = original(*args, **kwargs)
            key, k = name, 2
            while key in self.outputs:  # a layer called twice in one step (e.g. two images)
                key, k = f"{name}#{k}", k + 1
            self.outputs[key] = out
            if keep_input and args:
                self.inputs[key] = args[0]
            return out
        return call

    def clear(self) -> None:
        self.outputs, self.inputs = {}, {}

    def remove(self) -> None:
        for layer, original in self._restore:
            layer.call = original
        self._restore = []


def layer_arrays(outputs: dict[str, Any]) -> dict[str, np.ndarray]:
    """Tap outputs -> {name: [B, units]}; a recurrent cell's (output, states) gives `name` and the
    states that differ from the output as `name/state<k>`."""
    import tensorflow as tf
    out = {}
    for key, value in outputs.items():
        if isinstance(value, (tuple, list)):
            out[key] = flat(np.asarray(value[0]))
            for i, s in enumerate(tf.nest.flatten(value[1:])):
                s = flat(np.asarray(s))
                if not np.array_equal(s, out[key]):
                    out[f"{key}/state{i}"] = s
        else:
            out[key] = flat(np.asarray(value))
    return out


def _state_variables(pool: Any) -> Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]:
    """A function raw obs -> {variable: [N, d]}: state_info() of hand tasks, else the raw observation."""
    if "state_info" not in pool.call("__dir__")[0]:  # a probe that cannot fail in the workers
        return lambda raw: {f"obs/{k}": flat(v) for k, v in raw.items() if v.dtype != np.uint8}

    def variables(raw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        infos = pool.call("state_info")
        return {k: np.stack([flat(np.asarray(i[k])[None])[0] for i in infos]) for k in infos[0]}
    return variables


class Investigator:
    """Loads a saved agent (any env, any model) and records its activations over whole episodes."""

    def __init__(self, agent_id: str | None, which: str | None = None):
        from dexterity.agent.checkpoint import load_saved
        self.info, self.brain, self.which = load_saved(agent_id, which)
        self.agent_id = self.info["agent_id"]
        self.model = self.brain.policy.model

    def record(self, episodes: int = 10, seed: int = 0, deterministic: bool = True, envs: int = 4,
               max_steps: int = 5000, env_kwargs: dict[str, Any] | None = None) -> Recording:
        """Run `episodes` whole episodes (at most `max_steps` steps each) and record everything;
        `env_kwargs` update the kwargs the agent was trained with (as evaluate.py's), kept in the meta."""
        from dexterity.agent.checkpoint import run_env_kwargs
        from dexterity.envpool import EnvPool
        if episodes < 1:
            raise DexterityError("-n must be at least 1")
        n = max(1, min(envs, episodes))
        kwargs = run_env_kwargs(self.info, env_kwargs)
        with EnvPool(self.info["env_id"], n, seed, processes=n, env_kwargs=kwargs,
                     plugins=self.info.get("plugins", ())) as pool:
            rows = self._run(pool, episodes, seed, deterministic, max_steps)
        meta = {"agent_id": self.agent_id, "save": self.which, "iteration": self.info.get("iteration"),
                "env_id": self.info["env_id"], "episodes": episodes, "deterministic": deterministic,
                "seed": seed, "architecture": self.info["config"]["architecture"],
                "model": self.info["config"]["model"], **({"env_kwargs": env_kwargs} if env_kwargs else {})}
        return _assemble(rows, meta)

    def _run(self, pool: Any, episodes: int, seed: int, deterministic: bool, max_steps: int) -> list[dict]:
        from dexterity.agent.acting import ActLoop
        n = pool.n_envs
        self.brain.policy.generator.reset_from_seed(seed)
        quota = np.array([episodes // n + (i < episodes % n) for i in range(n)])
        done_count, ep_index, step_count = np.zeros(n, int), np.full(n, -1), np.zeros(n, int)
        next_episode, rows = 0, []
        variables = _state_variables(pool)
        tapped = _TappedPolicy(self.brain.policy)
        loop = ActLoop(pool, tapped, self.brain.state_norm.transform, deterministic)
        loop.start()
        try:
            for _ in range(max_steps * int(quota.max())):
                for i in np.flatnonzero(loop.reset > 0):
                    ep_index[i], next_episode, step_count[i] = next_episode, next_episode + 1, 0
                active = done_count < quota
                raw, state_vars = loop.raw, variables(loop.raw)
                step = loop.step()
                outputs, cell_inputs = tapped.activations
                rows.append({"act": layer_arrays(outputs), "input": _inputs(step.obs, raw),
                             "cell_input": {k: flat(np.asarray(v)) for k, v in cell_inputs.items()},
                             "var": state_vars, "episode": ep_index.copy(), "step": step_count.copy(),
                             "mask": active, "reward": step.result["rewards"].astype(np.float32)})
                done_count += step.done & active
                step_count += 1
                if (done_count >= quota).all():
                    break
        finally:
            tapped.close()
        return rows


class _TappedPolicy:
    """The policy as the act loop sees it, acting through TensorFlow with every layer tapped:
    `activations` holds (layer outputs, cell inputs) of the last `act`."""

    def __init__(self, policy: Any):
        import tensorflow as tf
        self.policy, self.distribution = policy, policy.distribution
        self.tap = ActivationTap(policy.model.layers)
        self.activations: tuple[dict, dict] = ({}, {})
        model, tap = policy.model, self.tap

        @tf.function
        def traced_step(obs: dict, state: list) -> tuple:
            tap.clear()
            params, _, new_state = model.step(obs, state)
            return params, new_state, dict(tap.outputs), dict(tap.inputs)
        self._step = traced_step

    def initial_state(self, batch: int) -> list[np.ndarray]:
        return self.policy.initial_state(batch)

    def act(self, obs: dict[str, np.ndarray], state: list[np.ndarray], reset: np.ndarray,
            deterministic: bool = False) -> tuple[np.ndarray, None, None, list[np.ndarray]]:
        """obs [N, ...], state [N, units] (the act loop zeroed ended episodes) -> actions [N, ...], new state."""
        params, new_state, outputs, cell_inputs = self._step(obs, state)
        dist = self.distribution
        action = dist.mode(params) if deterministic else dist.sample(params, self.policy.generator)
        self.activations = (outputs, cell_inputs)
        return np.asarray(action), None, None, [np.asarray(s) for s in new_state]

    def close(self) -> None:
        self.tap.remove()


def _inputs(obs: dict[str, np.ndarray], raw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """What the model read, [N, d] per sense: normalised vectors; images as raw uint8 (4x smaller)."""
    return {k: raw[k].reshape(len(raw[k]), -1) if raw[k].dtype == np.uint8 else flat(v) for k, v in obs.items()}


def _assemble(rows: list[dict], meta: dict[str, Any]) -> Recording:
    """Stack the per-step rows [N, ...] of active envs into [S, ...] arrays, ordered by episode then step."""
    masks = [r["mask"] for r in rows]

    def stack(get: Callable[[dict], np.ndarray]) -> np.ndarray:
        return np.concatenate([get(r)[m] for r, m in zip(rows, masks)])

    episode, step = stack(lambda r: r["episode"]), stack(lambda r: r["step"])
    order = np.lexsort((step, episode))
    ids = {e: i for i, e in enumerate(np.unique(episode))}
    episode = np.array([ids[e] for e in episode[order]], np.int64)
    acts = {k: stack(lambda r, k=k: r["act"][k])[order] for k in rows[0]["act"]}
    inputs = {k: stack(lambda r, k=k: r["input"][k])[order] for k in rows[0]["input"]}
    variables = {k: stack(lambda r, k=k: r["var"][k])[order] for k in rows[0]["var"]}
    cell_inputs = {k: stack(lambda r, k=k: r["cell_input"][k])[order] for k in rows[0]["cell_input"]}
    return Recording(acts, inputs, variables, episode, step[order], stack(lambda r: r["reward"])[order], meta,
                     cell_inputs)
