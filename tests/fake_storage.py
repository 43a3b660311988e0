"""Generate fake experiments and benchmark results in the storage format (docs/storage.md).

Used by the monitor tests and by ``benchmarks/monitor_load.py``. Everything is deterministic
for a given seed; nothing here needs TensorFlow or an environment. The schema is the trainer's:
configs come from ``make_config`` (the trainer's config, unknown keys refused), files are written
by the trainer's writer (``dexterity.storage.ExperimentLog``), and ``tests/test_monitor_real.py``
checks the meta and record keys written here against those of a real training run.
"""
from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

from dexterity.configs.hp_config import make_config
from dexterity.storage import ExperimentLog, write_json

# what train.py writes for `--pcon mujoco`-like runs (2048 transitions per cycle)
DEFAULT_CONFIG: dict[str, Any] = make_config(seed=0, lr_schedule="linear", workers=8, horizon=256,
                                             distribution="gaussian")

# 1x1 pixel GIF (header, logical screen, 2-colour table, image descriptor, LZW data, trailer).
TINY_GIF = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff"
            b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")


def agent_id_for(index: int, seed: int = 0) -> str:
    """A deterministic agent id in the storage format ``YYYYmmdd-HHMMSS-xxxx``."""
    day = 1 + index // 86400 % 28
    secs = index % 86400
    return (f"202611{day:02d}-{secs // 3600:02d}{secs // 60 % 60:02d}{secs % 60:02d}"
            f"-{(index * 7919 + seed * 104729) % 65536:04x}")


def _record(i: int, rng: random.Random, threshold: float, horizon: int,
            success: bool, eval_every: int, tau: float = 60.0) -> dict[str, Any]:
    """One progress record of cycle ``i`` for a run learning towards ``threshold`` (time scale tau)."""
    progress = 1.0 - math.exp(-i / tau)
    ret = threshold * progress * (0.9 + 0.2 * rng.random()) + 5 * rng.random()
    gather, optimise = 1.2 + 0.2 * rng.random(), 0.6 + 0.1 * rng.random()
    rec: dict[str, Any] = {
        "iteration": i, "frames": (i + 1) * horizon, "time/wall": round((i + 1) * 2.1, 3),
        "rollout/return_mean": ret, "rollout/return_std": 0.1 * ret + 2 * rng.random(),
        "rollout/return_min": 0.5 * ret, "rollout/return_max": 1.3 * ret + 1,
        "rollout/length_mean": 20 + 400 * progress, "rollout/episodes": 4 + rng.randrange(20),
        "train/policy_loss": -0.01 * rng.random(), "train/value_loss": 50 * (1.05 - progress),
        "train/entropy": 1.4 - 0.8 * progress, "train/approx_kl": 0.01 * rng.random(),
        "train/clip_fraction": 0.1 + 0.1 * rng.random(), "train/grad_norm": 0.5 * rng.random(),
        "train/explained_variance": progress * 0.9, "train/lr": 3e-4 * (1 - i / 5000),
        "train/epochs_done": 10, "train/steps": 320, "norm/state_mean": 0.1 * progress,
        "norm/state_std": 1 + progress, "norm/reward_std": 3 - progress,
        "time/steps_per_s": horizon / (gather + optimise), "time/gather_s": gather,
        "time/optimise_s": optimise, "time/comm_s": 0.01, "time/cycle_s": gather + optimise,
        "memory/rss_mb": 800 + i * 0.05, "dist/ranks": 1, "dist/workers": 8, "dist/optimisers": 1,
    }
    if success:
        rec["rollout/success_rate"] = progress * rng.random()
        rec["rollout/consecutive_goals"] = 10 * progress
    if eval_every and i % eval_every == 0:
        rec["eval/return_mean"] = ret * 1.05
        rec["eval/return_std"] = 0.05 * ret
    return rec


def write_progress(path: Path, cycles: int, seed: int = 0, threshold: float = 475.0,
                   horizon: int = 2048, success: bool = False, eval_every: int = 0,
                   start: int = 0, tau: float = 60.0) -> float:
    """Append ``cycles`` records to ``path`` (an experiment's progress.jsonl) with the trainer's writer;
    return the best mean return written."""
    rng = random.Random(seed * 1000003 + start)
    log = ExperimentLog(Path(path).parent.name, folder=Path(path).parent)
    assert log.progress_path == Path(path), "write_progress writes an experiment's progress.jsonl"
    best = -math.inf
    for i in range(start, start + cycles):
        rec = _record(i, rng, threshold, horizon, success, eval_every, tau)
        best = max(best, rec["rollout/return_mean"])
        log.append_progress(rec)
    return best


def make_experiment(root: Path | str, agent_id: str | None = None, *, index: int = 0,
                    env_id: str = "CartPole-v1", cycles: int = 100, seed: int = 0,
                    config: dict[str, Any] | None = None, status: str = "finished",
                    threshold: float | None = 475.0, preset: str = "default",
                    reward_config: dict[str, Any] | None = None, resumed_at: tuple = (0,),
                    gifs: int = 0, evaluations: int = 0, success: bool = False,
                    checkpoint: bool = True, eval_every: int = 0) -> str:
    """Create ``experiments/<id>`` (and ``saved_models/<id>/best``) under ``root``; return the id."""
    root = Path(root)
    agent_id = agent_id or agent_id_for(index, seed)
    cfg = make_config(**{**DEFAULT_CONFIG, **(config or {}), "seed": seed})  # the trainer's keys only
    exp = root / "experiments" / agent_id
    log = ExperimentLog(agent_id, folder=exp)
    meta = {
        "agent_id": agent_id, "env_id": env_id, "reward_threshold": threshold, "config": cfg,
        "preset": preset, "reward_config": reward_config,
        "architecture": cfg["architecture"], "model": cfg["model"],
        "distribution": cfg["distribution"], "shared": False, "host": f"node{index % 50:03d}",
        "created": f"{agent_id[:4]}-{agent_id[4:6]}-{agent_id[6:8]}T{agent_id[9:11]}:"
                   f"{agent_id[11:13]}:{agent_id[13:15]}Z",
        "updated": "2026-11-24T12:00:00Z", "command": f"train.py {env_id} --workers 8",
        "versions": {"dexterity": "0.1.0", "python": "3.11"}, "ranks": 1, "workers": 8,
        "status": status, "resumed_at": list(resumed_at), "iterations": cycles, "pid": 1,
        "env_kwargs": {},
    }
    log.write_meta(meta)
    tau = 60.0 / max(0.3, 1.0 + math.log10(cfg["lr_pi"] / 3e-4))  # larger lr learns faster here
    best = write_progress(exp / "progress.jsonl", cycles, seed, threshold or 100.0,
                          success=success, eval_every=eval_every, tau=tau)
    if checkpoint and cycles:
        write_json(root / "saved_models" / agent_id / "best" / "agent.json", {
            "agent_id": agent_id, "iteration": cycles - 1, "env_id": env_id, "config": cfg,
            "best_return": best, "format": 1})
    if gifs:
        _write_gifs(exp / "gifs", gifs, max(cycles, 1))
    if evaluations:
        with open(exp / "evaluations.jsonl", "w", encoding="utf-8") as f:
            for k in range(evaluations):
                f.write(json.dumps(_evaluation(k, env_id)) + "\n")
    return agent_id


def _evaluation(k: int, env_id: str) -> dict[str, Any]:
    """The k-th evaluations.jsonl record, made by `evaluate.py`'s own record function; odd ones on a
    changed task with goals counted ((k + 1) / 4 on average, at most k + 1)."""
    from dexterity.cli.evaluate import evaluation_record
    goals = [0] * 3 + [k + 1] if k % 2 else None
    records = [{"return": 100.0 + k + d, "length": 200, **({"success": 0.0, "consecutive_goals": goals[i]}
                                                          if goals else {})}
               for i, d in enumerate((-3.5, 3.5, -3.5, 3.5))]
    result = {"iteration": k * 10, "save": "best" if k else "last", "env_id": env_id, "records": records}
    overrides = {"goal_angle": None, "curriculum": False} if k % 2 else None
    return {**evaluation_record(result, k % 2 == 0, 12345, overrides), "time": f"2026-11-24T12:{k:02d}:00Z"}


def _write_gifs(folder: Path, count: int, cycles: int) -> None:
    """Write ``count`` small gifs named by iteration (animated when Pillow is available)."""
    folder.mkdir(parents=True, exist_ok=True)
    try:
        from PIL import Image, ImageDraw
    except ImportError:  # pragma: no cover - Pillow is a dexterity dependency
        Image = None
    for k in range(count):
        path = folder / f"{(k + 1) * cycles // (count + 1)}.gif"
        if Image is None:
            path.write_bytes(TINY_GIF)
            continue
        frames = []
        for t in range(8):
            img = Image.new("RGB", (96, 96), (240, 244, 248))
            draw = ImageDraw.Draw(img)
            x = 48 + 30 * math.sin(t / 8 * 2 * math.pi + k)
            draw.rectangle([44, 70, 52, 90], fill=(60, 60, 60))
            draw.line([48, 72, x, 20], fill=(37, 99, 235), width=5)
            frames.append(img)
        frames[0].save(path, save_all=True, append_images=frames[1:], duration=80, loop=0)


def make_benchmark(root: Path | str, name: str = "cartpole-lr", cycles: int = 50,
                   repetitions: int = 3, configs: tuple[str, ...] = ("lr3e-4", "lr1e-3"),
                   env_id: str = "CartPole-v1", threshold: float | None = 475.0) -> Path:
    """Write ``benchmarks/<name>.json`` with learning curves per config; return its path."""
    root = Path(root)
    out: dict[str, Any] = {}
    for c, cname in enumerate(configs):
        returns, frames = [], []
        for r in range(repetitions):
            rng = random.Random(c * 100 + r)
            speed = 20.0 + 25.0 * c
            returns.append([(threshold or 100) * (1 - math.exp(-i / speed)) * (0.85 + 0.3 * rng.random())
                            for i in range(cycles)])
            frames.append([(i + 1) * 2048 for i in range(cycles)])
        cols = list(zip(*returns))
        mean = [sum(col) / len(col) for col in cols]
        std = [math.sqrt(sum((v - m) ** 2 for v in col) / len(col)) for col, m in zip(cols, mean)]
        half = [1.96 * s / math.sqrt(repetitions) for s in std]
        out[cname] = {"agent_ids": [agent_id_for(c * 100 + r, 9) for r in range(repetitions)],
                      "seeds": list(range(repetitions)), "returns": returns, "frames": frames,
                      "mean": mean, "std": std, "ci_low": [m - h for m, h in zip(mean, half)],
                      "ci_high": [m + h for m, h in zip(mean, half)]}
    path = root / "benchmarks" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "name": name, "env_id": env_id, "cycles": cycles, "repetitions": repetitions,
        "created": "2026-11-24T12:34:56Z", "host": "node042", "reward_threshold": threshold,
        "configs": out}), encoding="utf-8")
    return path


def make_storage(root: Path | str, experiments: int = 500, cycles: int = 1000) -> list[str]:
    """A storage folder with many experiments (several seeds per config) and one benchmark."""
    ids = []
    for k in range(experiments):
        lr = (3e-4, 1e-3, 3e-3)[k // 3 % 3]
        ids.append(make_experiment(
            root, index=k, seed=k % 3, cycles=cycles, config={"lr_pi": lr},
            env_id=("CartPole-v1", "HalfCheetah-v5")[k // 9 % 2],
            status="running" if k % 17 == 0 else "finished"))
    make_benchmark(root)
    return ids
