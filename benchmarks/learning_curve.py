"""A training run's learning curve as a table: progress keys averaged over windows of env steps.

    python benchmarks/learning_curve.py ID                          # ManipulateBlock-style columns
    python benchmarks/learning_curve.py ID --window 2.5e5 --keys rollout/success_rate rollout/return_mean
    python benchmarks/learning_curve.py ID --storage /tmp/store --markdown

Reads storage/experiments/ID/progress.jsonl. Rollout keys are weighted by the episodes that ended in
each cycle (cycles without episodes do not count); other keys (train/..., time/...) are the value
of the window's last cycle. Each row gives the window's first and last step counts and its episodes.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

DEFAULT_KEYS = ["rollout/consecutive_goals", "rollout/goal_angle", "rollout/return_mean", "train/entropy"]


def windows(records: list[dict[str, Any]], size: float, keys: list[str]) -> list[dict[str, Any]]:
    """Group progress records by floor(frames / size) -> rows {start, end, episodes, key: value or None}."""
    rows: dict[int, dict[str, Any]] = {}
    for record in records:
        index = int(record["frames"] // size)
        row = rows.setdefault(index, {"start": record["frames"], "episodes": 0, "sums": {}, "last": {}})
        row["end"] = record["frames"]
        episodes = record.get("rollout/episodes", 0) or 0
        row["episodes"] += episodes
        for key in keys:
            if key.startswith("rollout/") and episodes and record.get(key) is not None:
                total, weight = row["sums"].get(key, (0.0, 0))
                row["sums"][key] = (total + episodes * record[key], weight + episodes)
            elif not key.startswith("rollout/") and record.get(key) is not None:
                row["last"][key] = record[key]
    out = []
    for index in sorted(rows):
        row = rows[index]
        values = {key: (row["sums"][key][0] / row["sums"][key][1] if key in row["sums"] else row["last"].get(key))
                  for key in keys}
        out.append({"start": row["start"], "end": row["end"], "episodes": row["episodes"], **values})
    return out


def format_table(rows: list[dict[str, Any]], keys: list[str], markdown: bool) -> str:
    """Rows as aligned text or a markdown table; steps in millions."""
    header = ["steps (M)", "episodes"] + keys
    lines = [[f"{r['start'] / 1e6:.2f}-{r['end'] / 1e6:.2f}", str(r["episodes"])]
             + ["-" if r[k] is None else f"{r[k]:.3g}" for k in keys] for r in rows]
    if markdown:
        out = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
        return "\n".join(out + ["| " + " | ".join(line) + " |" for line in lines])
    widths = [max(len(h), *(len(line[i]) for line in lines)) if lines else len(h) for i, h in enumerate(header)]
    return "\n".join("  ".join(cell.rjust(w) for cell, w in zip(line, widths)) for line in [header] + lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("id", help="agent id")
    parser.add_argument("--window", type=float, default=5e5, help="window size in env steps (default 5e5)")
    parser.add_argument("--keys", nargs="+", default=DEFAULT_KEYS, help="progress keys (default: %(default)s)")
    parser.add_argument("--storage", default=None, help="storage root (default: $DEXTERITY_STORAGE or ./storage)")
    parser.add_argument("--markdown", action="store_true", help="print a markdown table")
    args = parser.parse_args(argv)
    from dexterity.cli.common import set_storage
    from dexterity.storage import experiment_dir
    set_storage(args.storage)
    path = experiment_dir(args.id) / "progress.jsonl"
    if args.window <= 0:
        print("error: --window must be positive", file=sys.stderr)
        return 2
    if not path.is_file():
        print(f"error: no progress file {path}", file=sys.stderr)
        return 2
    records = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            print(f"warning: skipped unreadable line {number} of {path}", file=sys.stderr)
    print(format_table(windows(records, args.window, args.keys), args.keys, args.markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
