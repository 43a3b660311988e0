"""The MuJoCo benchmark table of docs/benchmarks.md, from the committed result files of benchmark.py.

    python benchmarks/results_table.py                      # print the table
    python benchmarks/results_table.py --write docs/benchmarks.md   # replace the table in that file

Reads benchmarks/results/mujoco/<env>.json (written by `benchmark.py ... --results
benchmarks/results/mujoco`) and benchmarks/published_mujoco.json (published figures with their
source and env version). Per env: our final training return (mean of each run's last 10
episodes) and deterministic evaluation (`evaluate.py ID -n 10 --deterministic --save last`),
mean ± std over seeds, the wall time per run, next to the published figures. An env without a
result file says "not run yet"; a result file that is incomplete is an error (exit 2).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dexterity.results import check_result  # noqa: E402  (after the path set-up)

ENVS = ("HalfCheetah", "Hopper", "Walker2d", "Ant", "Humanoid")
VERSION = "v5"
SOURCES = ("cleanrl", "sb3_zoo", "tianshou")
START, END = "<!-- results-table:start -->", "<!-- results-table:end -->"


class TableError(Exception):
    """A result or published-numbers file that cannot make the table."""


def load(path: Path) -> Any:
    """A JSON file; TableError naming the file when it is unreadable."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TableError(f"{path}: unreadable ({exc})") from None


def read_results(folder: Path) -> dict[str, dict[str, Any]]:
    """{env id: result document} of every ``<env id>.json`` in ``folder``; checked with check_result."""
    out = {}
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        doc = load(path)
        problems = check_result(doc)
        if problems:
            raise TableError(f"{path}: {'; '.join(problems[:3])}")
        out[doc["env_id"]] = doc
    return out


def pm(mean: Any, std: Any, digits: int = 0) -> str:
    """``mean ± std`` with ``digits`` decimals."""
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def ours(doc: dict[str, Any] | None) -> list[str]:
    """Our cells for one env: final training return, evaluation, wall time per run."""
    if doc is None:
        return ["not run yet", "not run yet", "–"]
    entry = next(iter(doc["configs"].values()))
    seeds = f" (n={len(entry['runs'])})"
    final = pm(entry["final_mean"], entry["final_std"]) + seeds
    if entry.get("eval_mean") is None:
        evaluation = "not evaluated"
    else:
        kind = "" if entry.get("eval_deterministic") else " (sampled)"
        evaluation = pm(entry["eval_mean"], entry["eval_std"]) + seeds + kind
    return [final, evaluation, f"{entry['wall_s_mean'] / 60:.0f} min"]


def theirs(numbers: dict[str, Any]) -> list[str]:
    """Published cells of one env, each with its env version."""
    cells = []
    for source in SOURCES:
        item = numbers.get(source) or {"missing": "not found"}
        if "missing" in item:
            cells.append(f"– ({item['missing']})")
        else:
            cells.append(f"{pm(item['mean'], item['std'])} ({item['env'].split('-')[-1]})")
    return cells


def table(results: dict[str, dict[str, Any]], published: dict[str, Any]) -> str:
    """The markdown table and a line on the machines that produced our figures."""
    names = [published["sources"][s]["name"] for s in SOURCES]
    head = ["env (v5)", "dexterity: final training return", "dexterity: deterministic evaluation",
            "wall time per run", *names]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for env in ENVS:
        doc = results.get(f"{env}-{VERSION}")
        lines.append("| " + " | ".join([env, *ours(doc), *theirs(published["numbers"].get(env, {}))]) + " |")
    machines = sorted({_machine(doc) for doc in results.values()})
    note = ("Our figures: mean ± std over seeds at " + ", ".join(sorted({_budget(d) for d in results.values()}))
            + "; measured on " + "; ".join(machines) + "." if results else
            "No result file exists yet: the dexterity columns fill in when the commands below have run.")
    return "\n".join(lines) + "\n\n" + note


def _machine(doc: dict[str, Any]) -> str:
    """"2 cores (AMD EPYC)" of a result document."""
    m = doc["machine"]
    ranks = f", {m['ranks']} MPI ranks" if m.get("ranks", 1) > 1 else ""
    return f"{m['nproc']} cores ({m['cpu'] or 'unknown CPU'}{ranks})"


def _budget(doc: dict[str, Any]) -> str:
    """"1M env steps" of a result document."""
    steps = doc.get("steps") or 0
    return f"{steps / 1e6:g}M env steps" if steps >= 1e5 else f"{steps} env steps"


def write_into(path: Path, text: str) -> None:
    """Replace what stands between the START and END markers of ``path`` with ``text``."""
    try:
        content = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TableError(f"{path}: unreadable ({exc.strerror})") from None
    if START not in content or END not in content:
        raise TableError(f"{path}: no {START} ... {END} markers to write between")
    before, rest = content.split(START, 1)
    after = rest.split(END, 1)[1]
    path.write_text(f"{before}{START}\n{text}\n{END}{after}", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The MuJoCo benchmark table from the committed result files.")
    parser.add_argument("--results", default=str(ROOT / "benchmarks" / "results" / "mujoco"),
                        help="folder of <env>.json result files (default benchmarks/results/mujoco)")
    parser.add_argument("--published", default=str(ROOT / "benchmarks" / "published_mujoco.json"),
                        help="published figures with their sources")
    parser.add_argument("--write", default=None, metavar="MARKDOWN",
                        help=f"replace the table between {START} and {END} in this file")
    args = parser.parse_args(argv)
    try:
        text = table(read_results(Path(args.results)), load(Path(args.published)))
        if args.write:
            write_into(Path(args.write), text)
            print(f"wrote the table into {args.write}")
        else:
            print(text)
    except TableError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
