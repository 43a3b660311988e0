"""python -m analysis {record,pca,decode,rsa,weights,dynamics,all} --id ID [-n EPISODES] [--out DIR]

Writes into storage/experiments/<id>/analysis/ (or --out): recording.npz/json, pca.png/json,
decode.png/json, rsa.png/json, weights.png/json, dynamics.png/json. pca, decode, rsa and
dynamics record first when there is no recording yet.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from dexterity.cli.common import check_save, check_seed, parse_env_kwargs, run_main, set_storage
from dexterity.errors import DexterityError

COMMANDS = ("record", "pca", "decode", "rsa", "weights", "dynamics", "all")
RECORDED = ("pca", "decode", "rsa", "dynamics", "all")  # the commands that read a recording


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m analysis",
                                     description="Record and analyse the activity of a saved agent's network.")
    parser.add_argument("command", choices=COMMANDS, help="record activations, an analysis, or all of them")
    parser.add_argument("--id", default=None, help="agent id (default: the most recently saved agent)")
    parser.add_argument("-n", "--episodes", type=int, default=10, help="episodes to record (default 10)")
    parser.add_argument("--out", default=None, help="output folder (default storage/experiments/<id>/analysis)")
    parser.add_argument("--save", default=None, help="checkpoint: best, last or an iteration (default best)")
    parser.add_argument("--stochastic", action="store_true", help="sample actions (default: the mode)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the recorded episodes")
    parser.add_argument("--env-kwargs", default=None,
                        help="JSON env kwargs over the agent's saved ones, as in evaluate.py (e.g. the full task of "
                             "a curriculum-trained hand: '{\"curriculum\": false, \"goal_angle\": null}')")
    parser.add_argument("--envs", type=int, default=4, help="parallel envs while recording (default 4)")
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds of the decoder (default 5)")
    parser.add_argument("--max-lag", type=int, default=50, help="dynamics: longest autocorrelation lag (default 50)")
    parser.add_argument("--points", type=int, default=64,
                        help="dynamics: recorded states the fixed-point search starts from (default 64)")
    parser.add_argument("--cpu", action="store_true", help="force the CPU")
    parser.add_argument("--storage", default=None, help="storage root (default: $DEXTERITY_STORAGE or ./storage)")
    return parser


def _write(path: Path, obj: Any) -> None:
    from dexterity.storage import write_json
    write_json(path, obj)


def run_record(args: argparse.Namespace, investigator: Any, out: Path) -> Any:
    rec = investigator.record(args.episodes, args.seed, not args.stochastic, args.envs,
                              env_kwargs=args.env_kwargs_dict)
    rec.save(out)
    print(f"recorded {rec.steps} steps of {args.episodes} episodes, {len(rec.activations)} layers, "
          f"{len(rec.variables)} variables -> {out / 'recording.npz'}")
    return rec


def run_pca(rec: Any, out: Path) -> None:
    from analysis.analyses import pca
    from analysis.plots import plot_pca
    result = pca(rec)
    plot_pca(result, rec.episode, rec.step, out / "pca.png")
    _write(out / "pca.json", {k: {"explained_variance_ratio": v["explained_variance_ratio"],
                                  "dimension": v["dimension"]} for k, v in result.items()})
    for name, v in result.items():
        top = v["explained_variance_ratio"][:3]
        print(f"pca {name}: dimension {v['dimension']:.1f}, top components {', '.join(f'{r:.2f}' for r in top)}")


def run_decode(rec: Any, out: Path, folds: int) -> None:
    from analysis.analyses import decode
    from analysis.plots import plot_matrix
    result = decode(rec, folds)
    plot_matrix(result["r2"], result["rows"], result["variables"], "cross-validated linear decoding R^2",
                out / "decode.png")
    _write(out / "decode.json", {**result, "r2": result["r2"].tolist()})
    width = max(len(r) for r in result["rows"])
    print("decoding R^2".ljust(width) + "  " + "  ".join(v[-14:].rjust(14) for v in result["variables"]))
    for row, values in zip(result["rows"], result["r2"]):
        print(row.ljust(width) + "  " + "  ".join(f"{v:14.3f}" for v in values))


def run_rsa(rec: Any, out: Path) -> None:
    from analysis.analyses import rsa
    from analysis.plots import plot_matrix
    result = rsa(rec)
    plot_matrix(result["cka"], result["names"], result["names"], "representational similarity (linear CKA)",
                out / "rsa.png")
    _write(out / "rsa.json", {"names": result["names"], "cka": result["cka"].tolist(), "measure": "linear CKA"})
    if "input" in result["names"]:
        row = result["cka"][result["names"].index("input")]
        print("CKA with the input: " + ", ".join(f"{n} {v:.2f}" for n, v in zip(result["names"], row)
                                                 if n != "input"))


def run_weights(investigator: Any, out: Path) -> None:
    from analysis.analyses import weight_statistics
    from analysis.plots import plot_weights
    arrays = [(v.path, np.asarray(v.numpy())) for v in investigator.model.variables]
    stats = weight_statistics(arrays)
    plot_weights(arrays, out / "weights.png")
    _write(out / "weights.json", stats)
    for s in stats:
        extra = f", spectral {s['spectral_norm']:.2f}" if "spectral_norm" in s else ""
        print(f"weights {s['name']} {tuple(s['shape'])}: mean {s['mean']:+.3f}, std {s['std']:.3f}{extra}")


def run_dynamics(rec: Any, investigator: Any, out: Path, args: argparse.Namespace) -> None:
    from analysis.dynamics import activity_dynamics, core_fixed_points
    from analysis.dynamics_plots import plot_dynamics
    result = activity_dynamics(rec, args.max_lag, args.folds)
    result["fixed_points"] = core_fixed_points(investigator.model, rec, args.points, args.seed)
    plot_dynamics(result, out / "dynamics.png")
    _write(out / "dynamics.json", result)
    for name, t in result["timescales"].items():
        tau = "fit failed" if t["module_tau"] is None else f"{t['module_tau']:.2f} steps"
        p = result["predictability"][name]["from_state"]
        print(f"dynamics {name}: timescale {tau}, {t['failed']}/{t['units']} unit fits failed, predictability "
              + ("n/a" if p is None else f"{p:.3f}"))
    for name, c in result["fixed_points"].items():
        if "error" in c:
            print(f"fixed points {name}: {c['error']}")
            continue
        print(f"fixed points {name}: {c['fixed']} fixed ({c['distinct_fixed']} distinct), {c['slow']} slow of "
              f"{c['count']} starts; speeds " + ", ".join(f"{p['speed']:.2e}" for p in c["points"][:8])
              + (" ..." if c["count"] > 8 else ""))
    if not result["fixed_points"]:
        print("fixed points: the model has no recurrent core")


def reuse_note(meta: dict[str, Any], out: Path) -> str:
    """The line saying which existing recording an analysis reads (its own -n, --seed, ... apply)."""
    how = "deterministic" if meta.get("deterministic", True) else "stochastic"
    kwargs = f", env kwargs {json.dumps(meta['env_kwargs'])}" if meta.get("env_kwargs") else ""
    return (f"using the recording in {out}: {meta.get('episodes')} episodes of {meta.get('agent_id')} @ "
            f"{meta.get('save')}, seed {meta.get('seed')}, {how}{kwargs} (`record` makes a new one)")


def check_args(args: argparse.Namespace) -> None:
    """Bad numbers, seed or env kwargs: one clear line (exit code 2) before anything loads."""
    check_seed("--seed", args.seed)
    check_save(args.save)
    args.env_kwargs_dict = parse_env_kwargs(args.env_kwargs)
    for flag, value, least in (("-n", args.episodes, 1), ("--envs", args.envs, 1), ("--folds", args.folds, 2),
                               ("--max-lag", args.max_lag, 1), ("--points", args.points, 1)):
        if value < least:
            raise DexterityError(f"{flag} must be at least {least}, got {value}")
    if args.out and Path(args.out).exists() and not Path(args.out).is_dir():
        raise DexterityError(f"--out {args.out} is a file; give a folder")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    check_args(args)
    set_storage(args.storage)
    from dexterity import tf_setup
    tf_setup.tensorflow(cpu=args.cpu)
    from analysis.investigator import Investigator
    from analysis.recording import Recording
    from dexterity.storage import experiment_dir
    investigator = Investigator(args.id, args.save)
    out = Path(args.out) if args.out else experiment_dir(investigator.agent_id) / "analysis"
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DexterityError(f"--out {out}: cannot make that folder ({exc.strerror or exc})") from None
    rec = None
    if args.command in ("record", "all") or (args.command in RECORDED and not (out / "recording.npz").is_file()):
        rec = run_record(args, investigator, out)
    if args.command in RECORDED:
        if rec is None:
            rec = Recording.load(out)
            print(reuse_note(rec.meta, out))
        if args.command in ("pca", "all"):
            run_pca(rec, out)
        if args.command in ("decode", "all"):
            run_decode(rec, out, args.folds)
        if args.command in ("rsa", "all"):
            run_rsa(rec, out)
        if args.command in ("dynamics", "all"):
            run_dynamics(rec, investigator, out, args)
    if args.command in ("weights", "all"):
        run_weights(investigator, out)
    print(f"files in {out}")
    return 0


if __name__ == "__main__":
    run_main(lambda: main(sys.argv[1:]))
