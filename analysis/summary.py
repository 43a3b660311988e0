"""One markdown table from the analysis folders of one or more agents (say, early and trained):

    python -m analysis.summary DIR [DIR ...] [--variables joint_angles,goal_distance] [--layers mcx_gru]

Per layer and agent: PCA dimension, intrinsic timescale (steps), predictability, and the decoding R^2
of each recorded variable pooled over its columns (decode.json's `by_variable`). Reads the files
`python -m analysis all` writes (recording.json, decode.json, pca.json, dynamics.json); TF-free.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from dexterity.errors import DexterityError

FILES = {"recording.json": (), "decode.json": ("rows", "by_variable"), "pca.json": (),
         "dynamics.json": ("timescales", "predictability")}  # each file and the keys a summary reads


def load_folder(folder: Path) -> dict[str, Any]:
    """{file stem: parsed JSON} of one analysis folder; a missing, unreadable or foreign file is a
    DexterityError naming it."""
    out = {}
    for name, keys in FILES.items():
        path = folder / name
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise DexterityError(f"{path} is missing: run `python -m analysis all --id ID --out {folder}`") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DexterityError(f"{path} cannot be read: {exc}") from None
        if not isinstance(data, dict) or any(not isinstance(data.get(k), (dict, list)) for k in keys):
            needs = ", ".join(keys) or "an object"
            raise DexterityError(f"{path} is not an analysis file of this version (needs {needs}):"
                                 f" run `python -m analysis all --id ID --out {folder}` again")
        out[name.split(".")[0]] = data
    return out


def label(recording: dict[str, Any]) -> str:
    """'<agent id> @ <checkpoint>, cycle N' of a recording's meta."""
    cycle = recording.get("iteration")
    return f"{recording.get('agent_id', '?')} @ {recording.get('save', '?')}" + (
        f", cycle {cycle}" if cycle is not None else "")


def _number(value: Any, digits: int = 2) -> str:
    return f"{value:.{digits}f}" if isinstance(value, (int, float)) else "–"


def _get(table: Any, layer: str, key: str) -> Any:
    """table[layer][key], None when either is absent (a layer without dynamics, say)."""
    entry = table.get(layer) if isinstance(table, dict) else None
    return entry.get(key) if isinstance(entry, dict) else None


def _at(values: Any, i: int) -> Any:
    return values[i] if isinstance(values, list) and i < len(values) else None


def rows_of(folder: dict[str, Any], layers: list[str], variables: list[str]) -> list[list[str]]:
    """Table rows [layer, agent, dimension, timescale, predictability, R^2 per variable] of one folder."""
    decode, pca, dynamics = folder["decode"], folder["pca"], folder["dynamics"]
    name = label(folder["recording"])
    out = []
    for layer in layers:
        if layer not in decode["rows"]:
            continue
        i = decode["rows"].index(layer)
        tau = _get(dynamics["timescales"], layer, "module_tau")
        pred = _get(dynamics["predictability"], layer, "from_state")
        dim = _get(pca, layer, "dimension")
        r2 = [_at(decode["by_variable"].get(v), i) for v in variables]
        out.append([layer, name, _number(dim, 1), _number(tau), _number(pred)] + [_number(v) for v in r2])
    return out


def summary_table(folders: list[dict[str, Any]], layers: list[str] | None = None,
                  variables: list[str] | None = None) -> str:
    """The markdown table of several analysis folders (load_folder), layer by layer, agents side by side."""
    first = folders[0]["decode"]
    layers = layers or list(first["rows"])
    variables = variables or list(first["by_variable"])
    unknown = [v for v in variables if not any(v in f["decode"]["by_variable"] for f in folders)]
    if unknown:
        known = ", ".join(first["by_variable"])
        raise DexterityError(f"--variables: {', '.join(unknown)} not recorded; known: {known}")
    missing = [layer for layer in layers if not any(layer in f["decode"]["rows"] for f in folders)]
    if missing:
        raise DexterityError(f"--layers: no layer {', '.join(missing)}; known: {', '.join(first['rows'])}")
    header = ["layer", "agent", "PCA dim", "timescale (steps)", "predictability"] + [f"R^2 {v}" for v in variables]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for layer in layers:
        for folder in folders:
            lines += ["| " + " | ".join(row) + " |" for row in rows_of(folder, [layer], variables)]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m analysis.summary", description=__doc__.split("\n")[0])
    parser.add_argument("folders", nargs="+", help="analysis folders (storage/experiments/<id>/analysis or --out)")
    parser.add_argument("--variables", default=None, help="comma-separated recorded variables (default: all)")
    parser.add_argument("--layers", default=None, help="comma-separated layers, 'input' included (default: all)")
    args = parser.parse_args(argv)
    split = lambda text: [t.strip() for t in text.split(",") if t.strip()] if text else None  # noqa: E731
    folders = [load_folder(Path(f)) for f in args.folders]
    print(summary_table(folders, split(args.layers), split(args.variables)))
    return 0


if __name__ == "__main__":
    from dexterity.cli.common import run_main
    run_main(lambda: main(sys.argv[1:]))
