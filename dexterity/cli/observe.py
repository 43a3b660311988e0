"""observe.py: show a saved agent acting, in a window where a display exists, else as an mp4 or gif.

Environments (and so every MuJoCo rendering) live in a TF-free worker process (EnvPool); this
process only runs the policy. With a display the env renders itself (render_mode 'human') at
about real time; without one, or with --output, frames come back as arrays and are written.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from dexterity.agent.acting import ActLoop
from dexterity.cli.common import check_count, check_save, check_seed, parse_env_kwargs, run_main, set_storage
from dexterity.errors import DexterityError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="observe.py", description="Show a saved agent acting.")
    parser.add_argument("id", nargs="?", default=None, help="agent id (default: the most recently saved agent)")
    parser.add_argument("--save", default=None,
                        help="which checkpoint: best, last or an iteration (default: best if saved, else last)")
    parser.add_argument("--stochastic", action="store_true", help="sample actions (default: deterministic mode)")
    parser.add_argument("--env", default=None, help="another env id with the same action space")
    parser.add_argument("--env-kwargs", default=None, metavar="JSON",
                        help="update the agent's env kwargs, as JSON (e.g. the full task of a curriculum agent: "
                             "'{\"curriculum\": false, \"goal_angle\": null}')")
    parser.add_argument("-n", "--episodes", type=int, default=1, help="episodes to show (default 1)")
    parser.add_argument("--output", default=None, metavar="PATH",
                        help="write a video (.mp4 or .gif) instead of opening a window (default without a display: "
                             "experiments/<id>/gifs/observe-<save>-<cycle>.gif)")
    parser.add_argument("--max-steps", type=int, default=2000, help="steps per episode at most (default 2000)")
    parser.add_argument("--fps", type=int, default=25, help="frames per second of the window/video (default 25)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the environment and of sampling")
    parser.add_argument("--cpu", action="store_true", help="force the CPU")
    parser.add_argument("--storage", default=None, help="storage root (default: $DEXTERITY_STORAGE or ./storage)")
    return parser


def has_display() -> bool:
    """True where a window can open (X11 or Wayland)."""
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def play(pool: Any, brain: Any, episodes: int, deterministic: bool, max_steps: int, frames: list | None,
         fps: float, env_id: str | None = None) -> list[dict[str, Any]]:
    """Run episodes in a 1-env pool; append rgb frames [H, W, 3] to `frames` (None: a window, paced to fps).

    Returns one record per episode: return, length and, where the env reports them, success and goals
    (an episode cut at `max_steps` of a block task `env_id`: the goals reached so far).
    """
    records: list[dict[str, Any]] = []
    loop = ActLoop(pool, brain.policy, brain.state_norm.transform, deterministic)
    loop.start()
    for _ in range(episodes):
        total, length, record = 0.0, 0, None
        while record is None:
            tick = time.perf_counter()
            if frames is not None:
                frames.append(np.asarray(pool.render()[0], np.uint8))
            step = loop.step()
            total, length = total + float(step.result["rewards"][0]), length + 1
            if step.done[0]:
                record = step.result["episodes"][0]
            elif length >= max_steps:
                record = {"return": total, "length": length, "cut": True, **_goals_so_far(pool, env_id)}
            if frames is None:
                time.sleep(max(0.0, 1.0 / fps - (time.perf_counter() - tick)))
        records.append(record)
        if record.get("cut"):
            loop.start()
    return records


def _goals_so_far(pool: Any, env_id: str | None) -> dict[str, int]:
    """The goals a cut episode has reached so far, for the block tasks (their state_info counts them)."""
    from dexterity.environments import TASKS
    if env_id not in TASKS:
        return {}
    state = pool.call("state_info")[0]
    return {"consecutive_goals": int(state["consecutive_goals"])} if "consecutive_goals" in state else {}


def default_output(info: dict[str, Any], which: str) -> Path:
    from dexterity.storage import experiment_dir
    return experiment_dir(info["agent_id"]) / "gifs" / f"observe-{which}-{info['iteration']}.gif"


def observe(args: argparse.Namespace) -> tuple[list[dict[str, Any]], Path | None, dict[str, Any]]:
    """Load the agent, run the episodes (window or frames); returns (records, video path or None, info)."""
    from dexterity.agent.checkpoint import check_compatible, load_saved, run_env_kwargs
    from dexterity.agent.media import write_video
    from dexterity.envpool import EnvPool
    info, brain, which = load_saved(args.id, args.save)
    brain.policy.reseed(args.seed)
    env_id = args.env or info["env_id"]
    window = args.output is None and has_display()
    # the saved kwargs (physics profile, action interface ...) are part of what the agent learned, so a
    # forced env gets them too, as in evaluate.py: the video shows what the evaluation measures
    kwargs = run_env_kwargs(info, {"render_mode": "human" if window else "rgb_array", **args.env_kwargs_dict})
    frames: list[np.ndarray] | None = None if window else []
    with EnvPool(env_id, 1, args.seed, processes=1, env_kwargs=kwargs, plugins=info.get("plugins", ())) as pool:
        check_compatible(pool, brain, env_id)
        if not args.env and info.get("env_states"):
            pool.set_training_states(info["env_states"][:1])  # e.g. the goal curriculum where training left it
        records = play(pool, brain, args.episodes, not args.stochastic, args.max_steps, frames, args.fps,
                       env_id=env_id)
    path = None
    if frames is not None:
        if not frames or frames[0].ndim != 3:
            raise DexterityError(f"{env_id} renders no rgb frames")
        target = args.output or default_output(info, which)
        try:
            path = write_video(frames, target, fps=args.fps)
        except OSError as exc:  # e.g. the disk filled up during the episodes
            raise DexterityError(f"cannot write the video {target} ({exc.strerror or exc})") from None
    return records, path, {**info, "save": which, "observed_env": env_id}


def check_output(path: Path) -> None:
    """--output must be a .gif or .mp4 file whose folder exists or can be made: the nearest existing
    folder on its path takes files (a probe file, removed at once; nothing else is made before the run)."""
    import tempfile
    if path.suffix.lower() not in (".gif", ".mp4"):
        raise DexterityError(f"--output must end in .gif or .mp4, got {path}")
    folder = path.parent
    try:
        if path.is_dir():
            raise DexterityError(f"--output {path} is a folder; give a file name ending in .gif or .mp4")
        folder = next(f for f in (path.parent, *path.parent.parents) if f.exists())  # the root always exists
        if not folder.is_dir():
            raise DexterityError(f"--output {path}: {folder} is not a folder")
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise DexterityError(f"--output {path}: cannot write in {folder} ({exc.strerror or exc})") from None


def check_args(args: argparse.Namespace) -> None:
    """Errors found without TensorFlow: bad numbers, bad --output, unknown agent id."""
    from dexterity.storage import resolve_agent_id
    for flag, value in (("--episodes", args.episodes), ("--max-steps", args.max_steps), ("--fps", args.fps)):
        check_count(flag, value)
    check_seed("--seed", args.seed)
    check_save(args.save)
    if args.output:
        check_output(Path(args.output))
    args.env_kwargs_dict = parse_env_kwargs(args.env_kwargs)
    if "render_mode" in args.env_kwargs_dict:
        raise DexterityError("observe.py sets render_mode itself (a window, or frames with --output); "
                             "leave it out of --env-kwargs")
    args.id = resolve_agent_id(args.id)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    set_storage(args.storage)
    check_args(args)
    from dexterity import tf_setup
    tf_setup.tensorflow(cpu=args.cpu)
    records, path, info = observe(args)
    for i, r in enumerate(records):
        extra = "".join(f", {k} {r[k]:g}" for k in ("success", "consecutive_goals") if k in r)
        print(f"episode {i + 1}: return {r['return']:.2f}, length {r['length']}{extra}"
              + (" (cut at --max-steps)" if r.get("cut") else ""))
    mode = "stochastic" if args.stochastic else "deterministic"
    where = f"wrote {path}" if path else "shown in a window"
    print(f"agent {info['agent_id']} ({info['save']}, cycle {info['iteration']}) on {info['observed_env']}, "
          f"{mode}: {where}")
    return 0


def cli() -> None:
    run_main(lambda: main(sys.argv[1:]))


if __name__ == "__main__":
    cli()
