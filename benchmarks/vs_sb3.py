"""Whole-process training throughput against Stable-Baselines3, measured in one run.

    nice -n 10 python benchmarks/vs_sb3.py                      # HalfCheetah-v5, 8x256 and 1x2048, 30 cycles, 2 repeats
    python benchmarks/vs_sb3.py --repeats 3 --json vs_sb3.json
    python benchmarks/vs_sb3.py --sb3-python /path/to/python    # a Python with torch and stable-baselines3

Each run is a subprocess timed from spawn to exit ("whole process": interpreter start, imports,
envs and model built, training, exit) and, inside it, from the first env step to the end of the
last cycle ("post start-up"; ours includes the first cycle's tracing and XLA compiling, SB3 has
none). Runs alternate between the frameworks (ours, SB3, then SB3, ours in the next repetition),
so that the load of a shared machine hits both alike; the table gives the median per framework
and config, and the ratio ours/SB3 of steps/s.

Ours: a `PPOAgent` with the `mujoco` preset (what `train.py ENV --pcon mujoco --iterations 30`
trains, without writing an experiment or checkpoints), envs where the automatic layout puts them
(`dexterity.envlayout`), TensorFlow's default threads as `train.py` uses for one rank.
SB3 (`benchmarks/sb3_ppo.py`, run with `--sb3-python`; torch and SB3 are never dependencies of
dexterity): PPO "MlpPolicy" in a DummyVecEnv (all envs in one process, SB3's fastest layout for
a cheap env) under VecNormalize (obs and reward, clip 10, gamma 0.99), torch.set_num_threads(1).
Same hyperparameters: separate policy and value nets of 64-64 tanh (net_arch pi=[64, 64],
vf=[64, 64], orthogonal init), n_steps 256 x 8 envs or 2048 x 1, 10 epochs, minibatch 64, Adam
lr 3e-4 with eps 1e-5, linear schedule (SB3's schedule shifted by one cycle so that cycle i uses
3e-4 (1 - i/30) as ours), gamma 0.99, GAE lambda 0.95, clip 0.2, no value clipping, entropy 0,
value coefficient 0.5, grad norm 0.5, log_std_init -0.5, advantages normalised per minibatch,
seed 0. Differences that remain: SB3 adds gamma V(final obs) to the reward at time-limit
truncations while ours bootstraps in GAE; SB3's action head is initialised with gain 0.01; SB3
clips actions to the bounds before stepping; SB3 collects per-episode statistics with a Monitor
wrapper, ours in the gatherer.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
START = time.perf_counter()
FRAMEWORKS = ("dexterity", "sb3")


def parse_layout(text: str) -> tuple[int, int]:
    """'8x256' -> (8 envs, 256 steps per env per cycle)."""
    envs, steps = text.lower().split("x")
    return int(envs), int(steps)


def plan(layouts: list[str], repeats: int) -> list[tuple[str, str]]:
    """(framework, layout) runs in order: each layout's pair alternates which framework goes first."""
    runs = []
    for r in range(repeats):
        order = FRAMEWORKS if r % 2 == 0 else FRAMEWORKS[::-1]
        runs += [(framework, layout) for layout in layouts for framework in order]
    return runs


def summarise(runs: list[dict]) -> list[dict]:
    """Median figures per (framework, layout) and the ratio ours/SB3 of steps/s, whole process and post start-up.

    `runs`: dicts with framework, layout, whole_s, post_startup_s, steps.
    """
    rows = []
    for layout in dict.fromkeys(r["layout"] for r in runs):
        by = {}
        for framework in FRAMEWORKS:
            mine = [r for r in runs if r["layout"] == layout and r["framework"] == framework]
            if not mine:
                continue
            whole = statistics.median(r["whole_s"] for r in mine)
            post = statistics.median(r["post_startup_s"] for r in mine)
            steps = mine[0]["steps"]
            by[framework] = {"framework": framework, "layout": layout, "runs": len(mine), "whole_s": whole,
                             "startup_s": whole - post, "post_startup_s": post, "steps": steps,
                             "steps_per_s": steps / whole, "post_steps_per_s": steps / post}
        for row in by.values():
            other = by.get("sb3")
            row["ratio"] = row["steps_per_s"] / other["steps_per_s"] if other else None
            row["post_ratio"] = row["post_steps_per_s"] / other["post_steps_per_s"] if other else None
            rows.append(row)
    return rows


def format_table(rows: list[dict]) -> str:
    """The summary as a markdown table."""
    head = ("| framework | envs x steps | runs | whole process s | start-up s | post start-up s | steps/s (whole) "
            "| steps/s (post start-up) | ours/SB3 (whole) | ours/SB3 (post start-up) |")
    lines = [head, "|" + " --- |" * 10]
    for r in rows:
        ratios = [f"{x:.2f}" if x is not None else "-" for x in (r["ratio"], r["post_ratio"])]
        lines.append(f"| {r['framework']} | {r['layout']} | {r['runs']} | {r['whole_s']:.1f} | {r['startup_s']:.1f} "
                     f"| {r['post_startup_s']:.1f} | {r['steps_per_s']:.0f} | {r['post_steps_per_s']:.0f} "
                     f"| {ratios[0]} | {ratios[1]} |")
    return "\n".join(lines)


def machine() -> dict:
    """nproc, CPU model and the 1-minute load average now."""
    from dexterity.results import cpu_model  # here, not at the top: the timed child imports this file
    return {"nproc": os.cpu_count(), "cpu": cpu_model() or "unknown cpu", "load": os.getloadavg()[0]}


def ours(env_id: str, envs: int, steps: int, cycles: int, seed: int) -> dict:
    """Our side, run as a child: the mujoco preset for `cycles` cycles; timings as `sb3_ppo.train` gives them."""
    from dexterity import tf_setup
    tf_setup.tensorflow()
    from dexterity.agent.ppo import PPOAgent
    from dexterity.configs.hp_config import derive_config, get_preset
    from dexterity.distributed import make_comm
    config = derive_config(get_preset("mujoco"), {"workers": envs, "horizon": steps, "iterations": cycles,
                                                  "seed": seed, "tensorboard": False})
    with PPOAgent(env_id, config, comm=make_comm(), write_experiment=False, verbose=False, progress=False) as agent:
        ready = time.perf_counter()
        first = agent.cycle()["time/cycle_s"]
        for _ in range(cycles - 1):
            agent.cycle()
        end = time.perf_counter()
        layout = agent.pool.layout.describe()
        return {"startup_s": ready - START, "post_startup_s": end - ready, "steps": agent.frames,
                "first_cycle_s": first, "envs_layout": layout.split(" (")[0], "envs_layout_detail": layout}


def run_child(command: list[str]) -> dict:
    """Spawn `command`, time it to its exit; its last stdout line (JSON) plus whole_s."""
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    whole = time.perf_counter() - start
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        raise SystemExit(f"run failed ({done.returncode}): {' '.join(command)}\n{tail}")
    return {**json.loads(lines[-1]), "whole_s": whole}


def command(framework: str, args: argparse.Namespace, layout: str) -> list[str]:
    """The child's command line: benchmarks/sb3_ppo.py with the SB3 python, or this file with --child."""
    envs, steps = parse_layout(layout)
    common = [args.env, "--envs", str(envs), "--steps", str(steps), "--cycles", str(args.cycles),
              "--seed", str(args.seed)]
    if framework == "sb3":
        return [args.sb3_python, os.path.join(HERE, "sb3_ppo.py"), *common]
    return [sys.executable, os.path.abspath(__file__), *common, "--child"]


def report(runs: list[dict], before: dict, after: dict, args: argparse.Namespace) -> str:
    """The machine, load and table as printed (and documented)."""
    versions = next((r["versions"] for r in runs if "versions" in r), {})
    layouts = sorted({f"{r['layout']}: {r['envs_layout']}" for r in runs if "envs_layout" in r})
    firsts = [r["first_cycle_s"] for r in runs if "first_cycle_s" in r]
    text = [f"{args.env}, mujoco preset, {args.cycles} cycles per run, {args.repeats} repetitions interleaved",
            f"machine: {before['nproc']} cpus, {before['cpu']}; load average (1 min) {before['load']:.1f} at start, "
            f"{after['load']:.1f} at the end",
            "SB3 side: " + ", ".join(f"{k} {v}" for k, v in versions.items()),
            *[f"our envs {line}" for line in layouts],
            f"our first cycle (tracing and XLA compiling included): median {statistics.median(firsts):.1f} s"
            if firsts else "", "", format_table(summarise(runs))]
    return "\n".join(text)


def compare(args: argparse.Namespace) -> None:
    """Run the plan, print each run as it ends, then the report; exit 2 without an SB3 python."""
    if not os.path.exists(args.sb3_python):
        print(f"no SB3 python at {args.sb3_python}: create it with `python3.11 -m venv /work/sb3venv && "
              f"/work/sb3venv/bin/pip install torch==2.13.0 stable-baselines3 'gymnasium[mujoco]'` "
              f"or pass --sb3-python", file=sys.stderr)
        raise SystemExit(2)
    before, runs = machine(), []
    for framework, layout in plan(args.layouts, args.repeats):
        result = run_child(command(framework, args, layout))
        result.update(framework=framework, layout=layout, load=os.getloadavg()[0])
        runs.append(result)
        print(f"  {framework:<10} {layout:<7} whole {result['whole_s']:6.1f} s, post start-up "
              f"{result['post_startup_s']:6.1f} s, load {result['load']:.1f}", flush=True)
    text = report(runs, before, machine(), args)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine_start": before, "machine_end": machine(), "runs": runs,
                       "summary": summarise(runs), "report": text}, f, indent=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("env", nargs="?", default="HalfCheetah-v5")
    parser.add_argument("--layouts", nargs="+", default=["8x256", "1x2048"], help="envs x steps per env per cycle")
    parser.add_argument("--cycles", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=2, help="runs per framework and layout")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sb3-python", default="/work/sb3venv/bin/python")
    parser.add_argument("--json", metavar="PATH", help="also write the runs and the summary as JSON")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--envs", type=int, default=8, help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, default=256, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(ours(args.env, args.envs, args.steps, args.cycles, args.seed)), flush=True)
    else:
        compare(args)


if __name__ == "__main__":
    main()
