"""benchmark.py: train REPETITIONS agents per config and compare their learning curves.

    benchmark.py CartPole-v1 cartpole-presets -r 3 -i 50 -c discrete default
    benchmark.py CartPole-v1 cartpole-lr -r 3 -i 50 -c discrete discrete:lr_pi=1e-3 -e
    benchmark.py HalfCheetah-v5 HalfCheetah-v5 -r 3 --steps 1000000 --pcon mujoco -e --deterministic \
        --results benchmarks/results/mujoco      # a committed result (docs/benchmarks.md)
    mpirun -n 2 benchmark.py ...      # every agent trains on all ranks (same code as train.py)

A CONFIG is a preset name (hp_config presets) optionally followed by `:key=value,key=value`
changes. Hyperparameter flags (`--workers 4 ...`) apply to every config. Repetition k uses seed
k. Results go to storage/benchmarks/<NAME>.json (docs/storage.md; --results DIR: DIR/<NAME>.json) and
<NAME>.png; with -e every agent is evaluated as `evaluate.py ID -n N --save last` would; the runs of
config SPEC form experiment group <NAME>/<SPEC> (or <GROUP>/<SPEC> with --experiment-group).
"""
from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from dexterity.cli.common import add_config_flags, check_count, config_changes, run_main, set_storage
from dexterity.configs.hp_config import PARAMETERS, derive_config, get_preset
from dexterity.errors import ConfigError, DexterityError
from dexterity.groups import benchmark_group
from dexterity.results import final_return, machine, mean_std


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="benchmark.py", description="Train several agents per config and "
                                     "compare mean learning curves with 95% confidence bands.")
    parser.add_argument("env", help="Gymnasium env id")
    parser.add_argument("name", help="benchmark name: storage/benchmarks/NAME.json and NAME.png")
    parser.add_argument("-r", "--repetitions", type=int, default=3, help="agents per config, seeds 0..R-1")
    parser.add_argument("-i", "--cycles", type=int, default=None, help="training cycles per agent (default 100)")
    parser.add_argument("--steps", type=int, default=None,
                        help="env steps per agent instead of -i: cycles = ceil(STEPS / (workers x horizon))")
    parser.add_argument("-c", "--configs", "--pcon", nargs="+", required=True, metavar="CONFIG",
                        help="presets to compare, each optionally with changes: discrete:lr_pi=1e-3,epochs=8")
    parser.add_argument("-e", "--evaluate", action="store_true",
                        help="also evaluate every trained agent as `evaluate.py ID -n N --save last` does (fresh "
                             "episodes, frozen normalisers; recorded in its evaluations.jsonl); adds "
                             "eval_returns/eval_mean/eval_std per config")
    parser.add_argument("--eval-episodes", type=int, default=10, help="episodes per evaluation (default 10)")
    parser.add_argument("--deterministic", action="store_true",
                        help="with -e: take the distribution's mode instead of sampling")
    parser.add_argument("--results", default=None, metavar="DIR",
                        help="write the result file to DIR/NAME.json instead of storage/benchmarks "
                             "(e.g. benchmarks/results/mujoco, shown on the monitor's Benchmarks page)")
    parser.add_argument("--experiment-group", default=None, metavar="GROUP",
                        help="experiment group of the runs: config SPEC's runs go into GROUP/SPEC "
                             "(default: the benchmark NAME)")
    parser.add_argument("--plugin", action="append", default=[], metavar="MODULE", help="import MODULE first")
    parser.add_argument("--storage", default=None, help="storage root (default: $DEXTERITY_STORAGE or ./storage)")
    add_config_flags(parser, skip=("seed", "iterations"))
    return parser


def _value(text: str) -> Any:
    """A change's value: JSON where it parses (numbers, true/false, null), else the string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None if text.lower() == "none" else text


def parse_config(spec: str, common: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """'preset:key=value,...' -> (preset, full validated config without seed/iterations applied)."""
    preset, _, rest = spec.partition(":")
    changes = dict(common)
    for item in filter(None, rest.split(",")):
        key, sep, text = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in PARAMETERS:
            raise ConfigError(f"config '{spec}': '{item}' is not key=value with a known hp parameter")
        if key in ("seed", "iterations"):
            raise ConfigError(f"config '{spec}': the benchmark sets {key} (seeds 0..R-1 with -r, cycles with -i or --steps)")
        changes[key] = _value(text.strip())
    return preset, derive_config(get_preset(preset), changes)


def confidence_band(curves: np.ndarray) -> dict[str, list[float]]:
    """Per cycle over repetitions (curves [R, T], NaN = no episode ended): mean, std, 95% CI of the mean."""
    from scipy import stats
    count = np.sum(np.isfinite(curves), axis=0)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN cycles (no episode ended) stay NaN
        mean = np.nanmean(curves, axis=0) if curves.size else np.zeros(0)
        std = np.nanstd(curves, axis=0, ddof=1) if curves.shape[0] > 1 else np.zeros(curves.shape[1])
        half = stats.t.ppf(0.975, np.maximum(count - 1, 1)) * std / np.sqrt(np.maximum(count, 1))
    half = np.where(count > 1, half, 0.0)
    return {"mean": mean.tolist(), "std": np.nan_to_num(std).tolist(), "ci_low": (mean - half).tolist(),
            "ci_high": (mean + half).tolist()}


def cycles_for(args: argparse.Namespace, config: dict[str, Any]) -> int:
    """Training cycles of a config: -i, or the cycles that reach --steps env steps (100 by default)."""
    if args.steps is None:
        return 100 if args.cycles is None else args.cycles
    return math.ceil(args.steps / (config["workers"] * config["horizon"]))


def train_one(env_id: str, preset: str, config: dict[str, Any], seed: int, cycles: int, comm: Any,
              plugins: list[str], group: str | None = None) -> dict[str, Any]:
    """Train one agent through PPOAgent (all ranks) in experiment `group`; returns its id, curves,
    frames, wall time (start-up included) and final training return (last 10 episodes)."""
    from dexterity.agent.ppo import PPOAgent
    config = derive_config(config, {"seed": seed, "iterations": cycles})
    start = time.perf_counter()
    with PPOAgent(env_id, config, comm=comm, plugins=plugins, preset=preset, verbose=False,
                  experiment_group=group) as agent:
        records = agent.drill()
        agent_id, threshold = agent.agent_id, agent.info.get("reward_threshold")
    final, taken = final_return(records)
    return {"seed": seed, "agent_id": agent_id, "threshold": threshold,
            "frames": int(records[-1]["frames"]) if records else 0,
            "wall_s": round(time.perf_counter() - start, 2), "final_return": final, "final_episodes": taken,
            "returns": [r.get("rollout/return_mean", float("nan")) for r in records],
            "frames_curve": [int(r["frames"]) for r in records]}


def evaluate_saved(agent_id: str, episodes: int, deterministic: bool, sequential: bool | None, comm: Any) -> dict[str, Any]:
    """Evaluate the agent's `last` checkpoint on rank 0 exactly as `evaluate.py ID -n N --save last` does,
    append the record to its evaluations.jsonl, and share the record with every rank."""
    record = None
    if comm.is_root:
        from dexterity.cli.evaluate import EVAL_SEED, evaluate, evaluation_record
        from dexterity.storage import ExperimentLog
        result = evaluate(agent_id, episodes, "last", deterministic, sequential=sequential)
        record = evaluation_record(result, deterministic, EVAL_SEED)
        log = ExperimentLog(agent_id)
        if log.dir.is_dir():
            log.append_evaluation(record)
    return comm.bcast(record)


def run(args: argparse.Namespace, comm: Any) -> dict[str, Any]:
    """Train every config x repetition; returns the results document (docs/storage.md)."""
    from dexterity.storage import utc_now
    common = config_changes(args)
    specs = [(spec, *parse_config(spec, common)) for spec in args.configs]   # validate all before training
    doc: dict[str, Any] = {"name": args.name, "env_id": args.env, "cycles": cycles_for(args, specs[0][2]),
                           "steps": args.steps, "repetitions": args.repetitions, "created": utc_now(),
                           "host": machine()["host"], "machine": machine(comm.size),
                           "command": shlex.join(["benchmark.py", *sys.argv[1:]]), "versions": {},
                           "reward_threshold": None, "configs": {}}
    for spec, preset, config in specs:
        runs, group = [], benchmark_group(args.experiment_group or args.name, spec)
        for seed in range(args.repetitions):
            result = train_one(args.env, preset, config, seed, cycles_for(args, config), comm, args.plugin, group)
            if args.evaluate:
                result["eval"] = evaluate_saved(result["agent_id"], args.eval_episodes, args.deterministic,
                                                config["sequential"], comm)
            doc["reward_threshold"] = result["threshold"]
            doc["versions"] = doc["versions"] or _versions(result["agent_id"])
            runs.append(result)
            if comm.is_root:
                _report(spec, result)
        doc["configs"][spec] = {"experiment_group": group, "preset": preset,
                                **_summarise(runs, args.evaluate, args.deterministic)}
    return doc


def _versions(agent_id: str) -> dict[str, Any]:
    """The library versions an agent was trained with (its meta.json), {} when unknown."""
    from dexterity.storage import ExperimentLog
    versions = ExperimentLog(agent_id).read_meta().get("versions")
    return versions if isinstance(versions, dict) else {}


def _report(spec: str, result: dict[str, Any]) -> None:
    """One line per trained agent."""
    final = result["final_return"]
    extra = f", evaluation {result['eval']['return_mean']:.2f}" if "eval" in result else ""
    print(f"{spec} seed {result['seed']}: agent {result['agent_id']}, final return (last "
          f"{result['final_episodes']} episodes) {final if final is not None else float('nan'):.2f}{extra}, "
          f"{result['frames']} steps in {result['wall_s']:.0f} s", flush=True)


def _rounded(values: Any) -> Any:
    """Numbers (in nested lists) to 6 significant digits, so that result files stay small; NaN kept."""
    if isinstance(values, list):
        return [_rounded(v) for v in values]
    return float(f"{values:.6g}") if isinstance(values, float) and math.isfinite(values) else values


def _summarise(runs: list[dict[str, Any]], evaluated: bool, deterministic: bool) -> dict[str, Any]:
    """A config's entry: per-run figures, curves, the band per cycle, and the figures over seeds."""
    curves = np.array([r["returns"] for r in runs], np.float64)
    keys = ("seed", "agent_id", "frames", "wall_s", "final_return", "final_episodes")
    entry: dict[str, Any] = {
        "agent_ids": [r["agent_id"] for r in runs], "seeds": [r["seed"] for r in runs],
        "runs": [{**{k: r[k] for k in keys}, **({"eval": r["eval"]} if "eval" in r else {})} for r in runs],
        "returns": _rounded(curves.tolist()), "frames": [r["frames_curve"] for r in runs],
        **{k: _rounded(v) for k, v in confidence_band(curves).items()}}
    entry["final_mean"], entry["final_std"] = mean_std([r["final_return"] for r in runs])
    entry["wall_s_mean"] = mean_std([r["wall_s"] for r in runs])[0]
    if evaluated:
        values = [r["eval"]["return_mean"] for r in runs]
        mean, std = mean_std(values)
        entry.update({"eval_returns": values, "eval_mean": mean, "eval_std": std,
                      "eval_deterministic": deterministic, "eval_episodes": runs[0]["eval"]["episodes"]})
    return entry


def plot(doc: dict[str, Any], path: Any) -> None:
    """Mean return per cycle (x: frames of the first repetition) with its 95% confidence band per config."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for k, (name, entry) in enumerate(doc["configs"].items()):
        x = np.array(entry["frames"][0], float)
        mean, low, high = (np.array(entry[key], float) for key in ("mean", "ci_low", "ci_high"))
        ax.plot(x, mean, color=f"C{k}", label=f"{name} (n={len(entry['returns'])})")
        ax.fill_between(x, low, high, color=f"C{k}", alpha=0.25, lw=0)
    if doc.get("reward_threshold") is not None:
        ax.axhline(doc["reward_threshold"], color="gray", ls="--", lw=1, label="reward threshold")
    ax.set_xlabel("frames")
    ax.set_ylabel("mean episode return")
    ax.set_title(f"{doc['name']}: {doc['env_id']}, mean and 95% CI over seeds")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _check_args(args: argparse.Namespace) -> Path | None:
    """One-line errors for bad numbers and an unusable --results folder (made when missing) before any training."""
    if args.cycles is not None and args.steps is not None:
        raise DexterityError("give -i (cycles) or --steps, not both")
    for flag, value in (("-r/--repetitions", args.repetitions), ("-i/--cycles", args.cycles),
                        ("--steps", args.steps), ("--eval-episodes", args.eval_episodes)):
        check_count(flag, value)  # None: not given
    if args.deterministic and not args.evaluate:
        raise DexterityError("--deterministic applies to the evaluation: add -e")
    if args.results is None:
        return None
    folder = Path(args.results)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DexterityError(f"--results {args.results}: cannot make that folder ({exc.strerror})") from None
    return folder


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    set_storage(args.storage)
    from dexterity.storage import MAX_ID_LENGTH, is_safe_name, storage_root, write_json
    if not is_safe_name(args.name):
        raise DexterityError(f"benchmark name '{args.name[:80]}' must be a file name of letters, digits, "
                             f"'_', '.' and '-' (at most {MAX_ID_LENGTH})")
    for spec in args.configs:
        parse_config(spec, config_changes(args))
        benchmark_group(args.experiment_group or args.name, spec)
    results = _check_args(args)  # makes the --results folder, so after the other checks
    from dexterity import tf_setup
    from dexterity.distributed import make_comm
    from dexterity.envpool import import_plugins
    comm = make_comm()
    tf_setup.tensorflow(cpu=bool(config_changes(args).get("cpu")))
    import_plugins(args.plugin)
    doc = run(args, comm)
    if comm.is_root:
        folder = storage_root() / "benchmarks"
        target = (results or folder) / f"{args.name}.json"
        write_json(target, doc)
        folder.mkdir(parents=True, exist_ok=True)
        plot(doc, folder / f"{args.name}.png")
        for name, entry in doc["configs"].items():
            evaluation = (f", evaluation {entry['eval_mean']:.2f} ± {entry['eval_std']:.2f}"
                          if "eval_mean" in entry else "")
            final = entry["final_mean"] if entry["final_mean"] is not None else float("nan")
            print(f"{name}: final return {final:.2f} ± {entry['final_std'] or 0.0:.2f} over "
                  f"{args.repetitions} seeds{evaluation}; last cycle's mean return {entry['mean'][-1]:.2f} "
                  f"[{entry['ci_low'][-1]:.2f}, {entry['ci_high'][-1]:.2f}]")
        print(f"wrote {target} and {folder / (args.name + '.png')}")
    return 0


def cli() -> None:
    run_main(lambda: main(sys.argv[1:]))


if __name__ == "__main__":
    cli()
