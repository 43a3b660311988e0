"""benchmark.py: train REPETITIONS agents per config and compare their learning curves.

    benchmark.py CartPole-v1 cartpole-presets -r 3 -i 50 -c discrete default
    benchmark.py CartPole-v1 cartpole-lr -r 3 -i 50 -c discrete discrete:lr_pi=1e-3 -e
    mpirun -n 2 benchmark.py ...      # every agent trains on all ranks (same code as train.py)

A CONFIG is a preset name (hp_config presets) optionally followed by `:key=value,key=value`
changes. Hyperparameter flags (`--workers 4 ...`) apply to every config. Repetition k uses seed
k. Results go to storage/benchmarks/<NAME>.json (docs/storage.md) and <NAME>.png; the runs of
config SPEC form experiment group <NAME>/<SPEC> (or <GROUP>/<SPEC> with --experiment-group).
"""
from __future__ import annotations

import argparse
import json
import socket
import sys
from typing import Any

import numpy as np

from dexterity.cli.common import add_config_flags, config_changes, run_main, set_storage
from dexterity.configs.hp_config import PARAMETERS, derive_config, get_preset
from dexterity.errors import ConfigError, DexterityError
from dexterity.groups import benchmark_group


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="benchmark.py", description="Train several agents per config and "
                                     "compare mean learning curves with 95% confidence bands.")
    parser.add_argument("env", help="Gymnasium env id")
    parser.add_argument("name", help="benchmark name: storage/benchmarks/NAME.json and NAME.png")
    parser.add_argument("-r", "--repetitions", type=int, default=3, help="agents per config, seeds 0..R-1")
    parser.add_argument("-i", "--cycles", type=int, default=100, help="training cycles per agent")
    parser.add_argument("-c", "--configs", nargs="+", required=True, metavar="CONFIG",
                        help="presets to compare, each optionally with changes: discrete:lr_pi=1e-3,epochs=8")
    parser.add_argument("-e", "--evaluate", action="store_true",
                        help="also evaluate every trained agent (last weights, frozen normalisers, sampled actions) "
                             "for --eval-episodes episodes; adds eval_returns/eval_mean/eval_std per config")
    parser.add_argument("--eval-episodes", type=int, default=10, help="episodes per evaluation (default 10)")
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
        changes[key] = _value(text.strip())
    return preset, derive_config(get_preset(preset), changes)


def confidence_band(curves: np.ndarray) -> dict[str, list[float]]:
    """Per cycle over repetitions (curves [R, T], NaN = no episode ended): mean, std, 95% CI of the mean."""
    from scipy import stats
    count = np.sum(np.isfinite(curves), axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nanmean(curves, axis=0) if curves.size else np.zeros(0)
        std = np.nanstd(curves, axis=0, ddof=1) if curves.shape[0] > 1 else np.zeros(curves.shape[1])
        half = stats.t.ppf(0.975, np.maximum(count - 1, 1)) * std / np.sqrt(np.maximum(count, 1))
    half = np.where(count > 1, half, 0.0)
    return {"mean": mean.tolist(), "std": np.nan_to_num(std).tolist(), "ci_low": (mean - half).tolist(),
            "ci_high": (mean + half).tolist()}


def train_one(env_id: str, preset: str, config: dict[str, Any], seed: int, cycles: int, comm: Any,
              plugins: list[str], eval_episodes: int, group: str | None = None) -> dict[str, Any]:
    """Train one agent through PPOAgent (all ranks) in experiment `group`; returns its id, curves and
    optional evaluation."""
    from dexterity.agent.ppo import PPOAgent
    config = derive_config(config, {"seed": seed, "iterations": cycles})
    with PPOAgent(env_id, config, comm=comm, plugins=plugins, preset=preset, verbose=False,
                  experiment_group=group) as agent:
        records = agent.drill()
        out = {"agent_id": agent.agent_id, "threshold": agent.info.get("reward_threshold"),
               "returns": [r.get("rollout/return_mean", float("nan")) for r in records],
               "frames": [int(r["frames"]) for r in records]}
        if eval_episodes:
            episodes = agent.evaluate_episodes(eval_episodes)
            out["eval_return"] = float(np.mean([e["return"] for e in episodes]))
    return out


def run(args: argparse.Namespace, comm: Any) -> dict[str, Any]:
    """Train every config x repetition; returns the results document (docs/storage.md)."""
    from dexterity.storage import utc_now
    common = config_changes(args)
    specs = [(spec, *parse_config(spec, common)) for spec in args.configs]   # validate all before training
    doc: dict[str, Any] = {"name": args.name, "env_id": args.env, "cycles": args.cycles,
                           "repetitions": args.repetitions, "created": utc_now(), "host": socket.gethostname(),
                           "reward_threshold": None, "configs": {}}
    for spec, preset, config in specs:
        runs, group = [], benchmark_group(args.experiment_group or args.name, spec)
        for seed in range(args.repetitions):
            result = train_one(args.env, preset, config, seed, args.cycles, comm, args.plugin,
                               args.eval_episodes if args.evaluate else 0, group)
            doc["reward_threshold"] = result["threshold"]
            runs.append(result)
            if comm.is_root:
                finals = [r for r in result["returns"] if np.isfinite(r)]
                extra = f", evaluation {result['eval_return']:.2f}" if "eval_return" in result else ""
                print(f"{spec} seed {seed}: agent {result['agent_id']}, final mean return "
                      f"{finals[-1] if finals else float('nan'):.2f}{extra}", flush=True)
        doc["configs"][spec] = {"experiment_group": group, **_summarise(runs, args.evaluate)}
    return doc


def _summarise(runs: list[dict[str, Any]], evaluated: bool) -> dict[str, Any]:
    curves = np.array([r["returns"] for r in runs], np.float64)
    entry = {"agent_ids": [r["agent_id"] for r in runs], "seeds": list(range(len(runs))),
             "returns": curves.tolist(), "frames": [r["frames"] for r in runs], **confidence_band(curves)}
    if evaluated:
        values = np.array([r["eval_return"] for r in runs])
        entry.update({"eval_returns": values.tolist(), "eval_mean": float(values.mean()),
                      "eval_std": float(values.std(ddof=1)) if len(values) > 1 else 0.0})
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


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    set_storage(args.storage)
    if args.repetitions < 1 or args.cycles < 1:
        raise DexterityError("-r and -i must be at least 1")
    from dexterity.storage import check_agent_id, storage_root, write_json
    check_agent_id(args.name)  # a safe file name
    for spec in args.configs:
        parse_config(spec, config_changes(args))
        benchmark_group(args.experiment_group or args.name, spec)
    from dexterity import tf_setup
    from dexterity.distributed import make_comm
    from dexterity.envpool import import_plugins
    comm = make_comm()
    tf_setup.tensorflow(cpu=bool(config_changes(args).get("cpu")))
    import_plugins(args.plugin)
    doc = run(args, comm)
    if comm.is_root:
        folder = storage_root() / "benchmarks"
        write_json(folder / f"{args.name}.json", doc)
        plot(doc, folder / f"{args.name}.png")
        for name, entry in doc["configs"].items():
            print(f"{name}: final mean return {entry['mean'][-1]:.2f} "
                  f"[{entry['ci_low'][-1]:.2f}, {entry['ci_high'][-1]:.2f}] over {args.repetitions} seeds")
        print(f"wrote {folder / (args.name + '.json')} and {args.name}.png")
    return 0


def cli() -> None:
    run_main(lambda: main(sys.argv[1:]))


if __name__ == "__main__":
    cli()
