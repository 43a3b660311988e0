"""Where a pool's environments run: in this process or in worker processes (`sequential=None`).

The choice is made from measurements, once per EnvPool, by `settle_layout`:

- c: seconds per env step (random actions; the median step with its observation encoding, plus
  the resets at episode ends spread over the steps), timed in the first worker process on a
  separate env instance, so the seeded envs of the pool never see the probe (`measure_step_cost`);
- o: seconds a pool step in workers costs beyond its stepping: step-shaped round trips to all
  the workers (actions out, zero observations of the real shapes back, merged as a step is), each
  worker spinning k c seconds for its k envs (at most SPIN_CAP_S) instead of stepping them; o is
  their mean time (the slowest tenth left out: rare stalls of a loaded machine) minus that
  spinning's stepping term (`workers_overhead_s`). Spinning, not a bare echo: on a loaded 2-core
  machine a bare echo took 0.28 ms, yet the worker layout of HalfCheetah-v5 and Ant-v5 cost
  0.8-1.8 ms per pool step more than its stepping (waking busy workers, waiting for the slower
  one). Capped: longer spins only add the machine's load, which slows in-process stepping as much;
- P: worker processes (`--processes`, default one per core, at most one per env) and
  `cores`: the cores this process may use, shared among the ranks of its node.

Cost of one pool step (every one of the n envs stepped once), closed form:

    in-process:  T_local   = n * c
    workers:     T_workers = max(ceil(n / P), n / min(P, cores)) * c + o

(the largest group, or the cores' share when there are more workers than cores, plus o).
Workers are chosen only when clearly cheaper: T_workers * MARGIN <= T_local with MARGIN = 1.25,
as the probe is short and noisy on a shared machine, and worker processes also cost memory and
start-up. Before timing anything:

- an env that renders (an image observation: a uint8 Box of >= 2 dimensions; or a render_mode,
  in env_kwargs or set by the env) always stays in workers: MuJoCo rendering and TensorFlow in
  one process segfault, and the main process has TensorFlow;
- with one worker process or one core for this process (P_eff = min(P, cores) = 1), workers
  cannot step envs in parallel and only add messaging: in-process, without a probe.

On 2 cores (measured, docs/train.md): HalfCheetah-v5 (8 envs, c ~0.05 ms) runs faster in-process,
the Shadow Hand tasks (128 envs, c ~0.15-0.4 ms) in workers. TensorFlow-free: imported by env workers.
"""
from __future__ import annotations

import dataclasses
import math
import os
import time
from typing import Any, Callable

import gymnasium as gym
import numpy as np

MARGIN = 1.25        # workers must be this many times cheaper than in-process
PROBE_STEPS = 40     # env steps timed by the probe (after PROBE_WARMUP untimed ones) ...
PROBE_WARMUP = 3
PROBE_BUDGET_S = 0.3  # ... or fewer, once this much time is spent
ROUND_TRIPS = 20     # pool round trips timed (fewer once OVERHEAD_BUDGET_S is spent)
OVERHEAD_BUDGET_S = 0.5
SPIN_CAP_S = 1e-3    # longest spin of a worker in one of those round trips


@dataclasses.dataclass(frozen=True)
class LayoutChoice:
    """The layout of a pool and why: local (in-process) or `processes` worker processes."""

    local: bool
    processes: int
    reason: str
    step_s: float | None = None          # c, measured (None: not measured)
    overhead_s: float | None = None      # o, measured
    local_cost_s: float | None = None    # T_local per pool step
    workers_cost_s: float | None = None  # T_workers per pool step

    def describe(self) -> str:
        """One line, e.g. 'in-process (automatic: env step 0.105 ms; ...)'."""
        where = "in-process" if self.local else f"{self.processes} worker process{'es' if self.processes > 1 else ''}"
        return f"{where} ({self.reason})"


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3g} ms"


def choose_layout(n_envs: int, processes: int, cores: int, renders: bool, step_s: float | None = None,
                  overhead_s: float | None = None, margin: float = MARGIN) -> LayoutChoice:
    """The automatic layout from the cost model of the module docstring (pure; times in seconds).

    step_s and overhead_s may be None only when the answer needs no timing (rendering, or one
    usable core or worker process).
    """
    parallel = min(processes, cores)
    if renders:
        return LayoutChoice(False, processes, "automatic: the env renders, and rendering never shares a "
                                              "process with TensorFlow")
    if parallel <= 1:
        why = "one worker process" if processes <= 1 else f"{cores} core for this process"
        return LayoutChoice(True, processes, f"automatic: {why}, so workers could only add messaging")
    if step_s is None or overhead_s is None:
        raise ValueError("choose_layout needs step_s and overhead_s when the env does not render and "
                         "more than one core and worker process are available")
    local_cost = n_envs * step_s
    workers_cost = stepping_s(n_envs, processes, cores, step_s) + overhead_s
    local = workers_cost * margin > local_cost
    reason = (f"automatic: env step {_ms(step_s)}, pool step in-process {_ms(local_cost)}, in {processes} workers "
              f"{_ms(workers_cost)} incl. {_ms(overhead_s)} overhead; workers when {margin:g}x cheaper")
    return LayoutChoice(local, processes, reason, step_s, overhead_s, local_cost, workers_cost)


def stepping_s(n_envs: int, processes: int, cores: int, step_s: float) -> float:
    """The stepping part of T_workers: the largest group, or the cores' share if workers outnumber cores."""
    return max(math.ceil(n_envs / processes), n_envs / max(1, min(processes, cores))) * step_s


def forced_layout(sequential: bool, processes: int) -> LayoutChoice:
    """The layout asked for explicitly (sequential True or False)."""
    return LayoutChoice(sequential, 1 if sequential else processes,
                        "--sequential" if sequential else "--no-sequential")


def has_image(space: gym.Space) -> bool:
    """Whether an observation space holds an image: a uint8 Box of >= 2 dimensions (in any Dict/Tuple)."""
    if isinstance(space, gym.spaces.Dict):
        return any(has_image(sub) for sub in space.spaces.values())
    if isinstance(space, gym.spaces.Tuple):
        return any(has_image(sub) for sub in space.spaces)
    return isinstance(space, gym.spaces.Box) and space.dtype == np.uint8 and len(space.shape) >= 2


def renders(info: dict[str, Any], env_kwargs: dict[str, Any] | None) -> bool:
    """Whether the pool's env renders: an image observation or a render mode (info: EnvGroup.describe())."""
    return (has_image(info["observation_space"]) or info.get("render_mode") is not None
            or (env_kwargs or {}).get("render_mode") is not None)


def available_cores(ranks_on_node: int = 1) -> int:
    """Cores this process may use: its CPU affinity (or the machine's cores) shared among the node's ranks."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, cores // max(1, ranks_on_node))


def measure_step_cost(env: gym.Env, encode: Callable[[Any], Any], steps: int = PROBE_STEPS,
                      budget_s: float = PROBE_BUDGET_S, seed: int = 0) -> float:
    """Seconds per env step with random actions: the median of `env.step` + encode, plus the resets at
    episode ends spread over the steps. Runs in a worker. The median, as another process taking the
    core for a few ms during 40 steps of 0.05 ms (measured on a loaded 2-core machine) triples the mean."""
    env.action_space.seed(seed)
    env.reset(seed=seed)
    times, resets, elapsed = [], 0.0, 0.0
    for i in range(PROBE_WARMUP + steps):
        action = env.action_space.sample()
        start = time.perf_counter()
        obs, _, terminated, truncated, _ = env.step(action)
        encode(obs)
        stepped = time.perf_counter()
        if terminated or truncated:
            env.reset()
        if i >= PROBE_WARMUP:
            times.append(stepped - start)
            resets += time.perf_counter() - stepped
            elapsed += time.perf_counter() - start
            if elapsed >= budget_s:
                break
    return float(np.median(times)) + resets / len(times)


def workers_overhead_s(pool: Any, step_s: float, cores: int) -> float:
    """o: mean seconds of a pool round trip with each worker spinning k x step_s (at most SPIN_CAP_S),
    the slowest tenth left out, minus that spinning's stepping term."""
    space = pool.action_space
    actions = np.zeros((pool.n_envs, *(space.shape or ())), space.dtype)  # no RNG touched
    processes = len(pool.groups)
    spin = min(step_s, SPIN_CAP_S / math.ceil(pool.n_envs / processes))  # per env
    pool.echo(actions, spin)  # warm-up
    times: list[float] = []
    while len(times) < ROUND_TRIPS and (len(times) < 5 or sum(times) < OVERHEAD_BUDGET_S):
        start = time.perf_counter()
        pool.echo(actions, spin)
        times.append(time.perf_counter() - start)
    kept = sorted(times)[:max(1, len(times) - len(times) // 10)]  # the slowest tenth: stalls, not layout
    return max(0.0, float(np.mean(kept)) - stepping_s(pool.n_envs, processes, cores, spin))


def settle_layout(pool: Any, env_kwargs: dict[str, Any] | None, ranks_on_node: int = 1) -> LayoutChoice:
    """Measure what the rule needs on a pool started in worker processes; returns the choice.

    The caller (EnvPool) moves the envs into its own process when the choice is local.
    """
    processes = len(pool.groups)
    cores = available_cores(ranks_on_node)
    rendering = renders(pool.info, env_kwargs)
    if rendering or min(processes, cores) <= 1:
        return choose_layout(pool.n_envs, processes, cores, rendering)
    pool.groups[0].send("probe")
    step_s = float(pool.groups[0].receive())
    return choose_layout(pool.n_envs, processes, cores, False, step_s, workers_overhead_s(pool, step_s, cores))
