"""Training throughput against raw environment throughput, measured in one run.

    python benchmarks/throughput.py HalfCheetah-v5 --pcon mujoco --cycles 5
    python benchmarks/throughput.py HalfCheetah-v5 --pcon mujoco --compare-tf   # also the TF inference path
    python benchmarks/throughput.py ManipulateBlock-v0 --pcon manipulate --set epochs=4   # a config variant

Prints, for the same envs stepped with random actions, the raw steps/s in one process (a
fresh, TensorFlow-free one, as rendering envs need) and in worker processes, and the layout
training chose (with `sequential` none, the default: from a measured env step cost,
`dexterity.envlayout`) and why; then, for training, the time to the first cycle (agent built and
one cycle done: tracing and compiling included), the gather and optimise time per cycle, the
whole-cycle steps/s (first cycle excluded) and its ratio to both raw rates, and the gather
phase's own steps/s against the raw rate of the layout training chose. The training figure counts every
env step of a cycle (all ranks when under mpirun).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from _child import run_in_fresh_process  # noqa: E402  (benchmarks/ is on sys.path: run as a script)
from hand_learning import parse_sets  # noqa: E402
from dexterity.results import cpu_model  # noqa: E402
START = time.perf_counter()


def raw_steps_per_s(env_id: str, n_envs: int, processes: int, sequential: bool | None, steps_per_env: int,
                    env_kwargs: dict) -> float:
    """Random-action steps/s of n_envs envs in the given layout (actions drawn before timing)."""
    from dexterity.envpool import EnvPool
    with EnvPool(env_id, n_envs, seed=0, processes=processes, sequential=sequential, env_kwargs=env_kwargs) as pool:
        space = pool.action_space
        space.seed(0)
        actions = [np.stack([space.sample() for _ in range(pool.n_envs)]) for _ in range(16)]
        pool.reset()
        start = time.perf_counter()
        for t in range(steps_per_env):
            pool.step(actions[t % 16])
        return steps_per_env * pool.n_envs / (time.perf_counter() - start)


def raw_in_fresh_process(env_id: str, n_envs: int, steps_per_env: int, env_kwargs: dict) -> float:
    """`raw_steps_per_s` of the envs in one process, run in a fresh TensorFlow-free one: this
    process has imported TensorFlow, and MuJoCo rendering must never share a process with it. The
    child's errors come back as DexterityError, a crash of the child too (never a hang)."""
    from dexterity.errors import DexterityError
    try:
        return run_in_fresh_process(raw_steps_per_s, env_id, n_envs, 1, True, steps_per_env, env_kwargs)
    except Exception as error:  # the child's own exception, or BrokenProcessPool when it died
        raise DexterityError(f"stepping {env_id} in one process failed: {type(error).__name__}: {error}") from None


def train(env_id: str, config: dict, cycles: int, env_kwargs: dict) -> dict:
    """Time to first cycle, then whole-cycle steps/s and mean phase times over `cycles` cycles."""
    from dexterity.agent.ppo import PPOAgent
    from dexterity.distributed import make_comm
    start = time.perf_counter()
    with PPOAgent(env_id, config, comm=make_comm(), env_kwargs=env_kwargs, write_experiment=False,
                  verbose=False) as agent:
        built = time.perf_counter() - start
        agent.cycle()
        first = time.perf_counter() - start
        records = [agent.cycle() for _ in range(cycles)]
        steps = records[-1]["frames"] - records[0]["frames"] + agent.config["workers"] * agent.config["horizon"]
        result = {"steps_per_s": steps / sum(r["time/cycle_s"] for r in records), "built_s": built,
                  "layout": agent.pool.layout,
                  "first_cycle_s": first, "numpy_inference": agent.policy.fast is not None,
                  "xla_epochs": agent.learner.jit}
        result.update({k: float(np.mean([r[k] for r in records])) for k in ("time/gather_s", "time/optimise_s")})
        result["gather_steps_per_s"] = agent.n_envs * agent.config["horizon"] / result["time/gather_s"]
        return result


def _line(label: str, result: dict, raw_in_process: float, raw_layout: float) -> str:
    return (f"  {label:<34}{result['steps_per_s']:10.0f}   gather {result['time/gather_s']:.3f} s, optimise "
            f"{result['time/optimise_s']:.3f} s per cycle; / raw in layout {result['steps_per_s'] / raw_layout:.3f}, "
            f"/ raw in-process {result['steps_per_s'] / raw_in_process:.3f}\n"
            f"  {'  gather alone (this rank):':<34}{result['gather_steps_per_s']:10.0f}   / raw in layout "
            f"{result['gather_steps_per_s'] / raw_layout:.3f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("env")
    parser.add_argument("--pcon", default="default")
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--workers", type=int)
    parser.add_argument("--horizon", type=int)
    parser.add_argument("--processes", type=int)
    parser.add_argument("--sequential", action=argparse.BooleanOptionalAction, default=None,
                        help="envs in-process (--no-sequential: in workers; default: chosen automatically)")
    parser.add_argument("--model")
    parser.add_argument("--compare-tf", action="store_true", help="also train with TensorFlow inference")
    parser.add_argument("--env-kwargs", default=None, metavar="JSON",
                        help="env kwargs over the preset's (as train.py's --env-kwargs)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a config change over the preset's (value as JSON), e.g. epochs=4; repeatable")
    args = parser.parse_args()
    try:
        extra = json.loads(args.env_kwargs) if args.env_kwargs else {}
        if not isinstance(extra, dict) or args.cycles < 1:
            raise ValueError
    except ValueError:
        print("throughput.py: --env-kwargs must be a JSON object and --cycles >= 1", file=sys.stderr)
        return 2
    from dexterity.configs.hp_config import derive_config, get_preset, preset_env_kwargs
    from dexterity.errors import DexterityError
    changes = {k: getattr(args, k) for k in ("workers", "horizon", "processes", "model") if getattr(args, k)}
    if args.sequential is not None:
        changes["sequential"] = args.sequential
    changes.update(parse_sets(args.set))
    try:  # the config is checked before the slow import, so a typo costs no wait
        config = derive_config(get_preset(args.pcon), {**changes, "seed": 0})
    except DexterityError as error:
        print(f"throughput.py: {error}", file=sys.stderr)
        return 2
    env_kwargs = {**preset_env_kwargs(args.pcon), **extra}  # as train.py with this preset
    from dexterity import tf_setup
    tf_setup.tensorflow()
    imported = time.perf_counter() - START
    try:
        results = measure(args.env, config, args.cycles, env_kwargs, args.compare_tf)
    except DexterityError as error:
        print(f"throughput.py: {error}", file=sys.stderr)
        return 2
    report(args, config, env_kwargs, results, imported)
    return 0


def measure(env_id: str, config: dict, cycles: int, env_kwargs: dict, compare_tf: bool) -> dict:
    """Raw env rates in-process and in workers, then training (numpy inference; also TF if asked)."""
    n, steps = config["workers"], max(config["horizon"], 200)
    results = {"raw_in_process": raw_in_fresh_process(env_id, n, steps, env_kwargs),
               "raw_workers": raw_steps_per_s(env_id, n, config["processes"], False, steps, env_kwargs),
               "numpy": train(env_id, config, cycles, env_kwargs)}
    if compare_tf:
        os.environ["DEXTERITY_INFERENCE"] = "tf"
        results["tf"] = train(env_id, config, cycles, env_kwargs)
    return results


def report(args: argparse.Namespace, config: dict, env_kwargs: dict, results: dict, imported: float) -> None:
    """Print the measurements of `measure`."""
    main_result, raw_in_process, raw_workers = results["numpy"], results["raw_in_process"], results["raw_workers"]
    chosen = main_result["layout"]
    raw_layout = raw_in_process if chosen.local else raw_workers
    n = config["workers"]
    workers = min(config["processes"] or os.cpu_count() or 1, n)
    print(f"{args.env} ({args.pcon}: {config['architecture']} {config['model']}, {n} envs x {config['horizon']} steps, "
          f"{config['epochs']} epochs, minibatch {config['batch_size']}; "
          f"numpy inference {'on' if main_result['numpy_inference'] else 'off'}, "
          f"XLA epochs {'on' if main_result['xla_epochs'] else 'off'})"
          + (f"; env kwargs {json.dumps(env_kwargs)}" if env_kwargs else ""))
    print(f"  machine: {os.cpu_count()} cpus, {cpu_model() or 'unknown cpu'}, load average at the end {os.getloadavg()[0]:.1f}")
    print(f"  raw env steps/s in-process:       {raw_in_process:10.0f}")
    print(f"  raw env steps/s in {workers} workers:     {raw_workers:10.0f}   (workers / in-process "
          f"{raw_workers / raw_in_process:.2f})")
    faster = "in-process" if raw_in_process >= raw_workers else "workers"
    print(f"  envs of training: {chosen.describe()}; the faster raw layout in this run: {faster}")
    print(f"  start-up: imports {imported:.1f} s, agent built {main_result['built_s']:.1f} s, "
          f"first cycle done {main_result['first_cycle_s']:.1f} s after the agent started")
    print(_line("training steps/s (whole cycle):", main_result, raw_in_process, raw_layout))
    if "tf" in results:
        print(_line("  ... with TensorFlow inference:", results["tf"], raw_in_process, raw_layout))
        print(f"  numpy / TensorFlow inference, whole cycle: "
              f"{main_result['steps_per_s'] / results['tf']['steps_per_s']:.2f}, gather time: "
              f"{results['tf']['time/gather_s'] / main_result['time/gather_s']:.2f}")


if __name__ == "__main__":
    sys.exit(main())
