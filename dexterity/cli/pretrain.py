"""pretrain.py: pretrain the agents' visual encoder on rendered Shadow Hand scenes and save it for --preload."""
from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from dexterity.cli.common import check_count, check_positive, check_seed, run_main, set_storage
from dexterity.errors import DexterityError

CHOICES = ("classify", "reconstruct", "hands", "c", "r", "h")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pretrain.py", description="Pretrain the visual encoder (VisualEncoder) on rendered Shadow Hand "
                                        "scenes and save it to storage/pretrained/NAME for train.py --preload NAME.",
        epilog="Scenes are rendered in TF-free worker processes and cached in storage/pretrained/data/.")
    parser.add_argument("task", choices=CHOICES,
                        help="hands (h): regress joint angles and block pose; reconstruct (r): autoencoder; "
                             "classify (c): which finger is flexed")
    parser.add_argument("--name", default=None, help="save under storage/pretrained/NAME (default: the task, size)")
    parser.add_argument("--load", default=None, metavar="PATH",
                        help="start from a saved pretrained encoder (a name or a folder)")
    parser.add_argument("--epochs", type=int, default=20, help="training epochs (default 20)")
    parser.add_argument("--samples", type=int, default=3000, help="rendered scenes, 20%% held out (default 3000)")
    parser.add_argument("--size", type=int, default=64, help="image side in pixels, as the agent's vision_size "
                                                             "(default 64)")
    parser.add_argument("--batch-size", type=int, default=32, help="minibatch size (default 32)")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default 1e-3)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the scenes, the split and the weights")
    parser.add_argument("--processes", type=int, default=0, help="rendering processes (default: one per core)")
    parser.add_argument("--cpu", action="store_true", help="force the CPU")
    parser.add_argument("--storage", default=None, help="storage root (default: $DEXTERITY_STORAGE or ./storage)")
    return parser


def _check(args: argparse.Namespace, task: str) -> None:
    """One-line errors for bad flags before any scene is rendered."""
    from dexterity.pretraining.data import check_scene_args
    check_scene_args(args.size, args.samples)
    if task == "reconstruct" and args.size % 4:
        raise DexterityError(f"--size {args.size}: the reconstruct task needs an image size divisible by 4")
    for flag, value in (("--epochs", args.epochs), ("--batch-size", args.batch_size)):
        check_count(flag, value)
    check_count("--processes", args.processes, 0)
    check_positive("--lr", args.lr)
    check_seed("--seed", args.seed)
    from dexterity.pretrained import check_pretrained, pretrained_dir
    pretrained_dir(args.name or "x")  # a valid name, before minutes of work
    if args.load:
        check_pretrained(args.load)


def _meta(args: argparse.Namespace, task: str, result: Any, n: int, seconds: float) -> dict[str, Any]:
    return {"task": task, "image_size": args.size, "channels": 3, "features": 256, "samples": n,
            "held_out": 0.2, "epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
            "seed": args.seed, "loaded_from": args.load, "metric": result.metric,
            "scores": result.metrics, "baseline": result.baseline, "history": result.history,
            "target_standardisation": result.standardisation, "seconds": seconds,
            "command": " ".join(["pretrain.py", *sys.argv[1:]])}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    set_storage(args.storage)
    from dexterity.pretraining import task_name
    task = task_name(args.task)
    name = args.name or f"{task}-{args.size}"
    _check(args, task)
    from dexterity.pretraining.data import load_or_generate
    data = load_or_generate(args.size, args.samples, args.seed, args.processes)  # before TF: never mixed
    from dexterity import tf_setup
    tf_setup.tensorflow(cpu=args.cpu)
    from dexterity.pretrained import save_encoder
    from dexterity.pretraining.training import pretrain, trained_layers
    print(f"pretraining '{task}' on {len(data)} scenes of {args.size}x{args.size} px, {args.epochs} epochs", flush=True)
    start = time.perf_counter()
    result = pretrain(task, data, args.size, args.epochs, args.batch_size, args.lr, seed=args.seed, load=args.load)
    folder = save_encoder(trained_layers(result.encoder), name,
                          _meta(args, task, result, len(data), time.perf_counter() - start))
    key = result.metric
    print(f"saved the encoder to {folder} ({key} {result.metrics[key]:.4f} vs baseline {result.baseline[key]:.4f}); "
          f"use it with: train.py ... --preload {name}")
    return 0


def cli() -> None:
    run_main(lambda: main(sys.argv[1:]))


if __name__ == "__main__":
    cli()
