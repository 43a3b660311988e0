"""Shared by the examples: train through train.py's own code path with the example as plugin, then evaluate.

An example run as a script (`python examples/brain_model.py [train.py flags]`) is `__main__`;
it is aliased under its package name so that `--plugin examples.NAME` does not import (and
register) it a second time in this process. Env worker processes import it normally.
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def plugin_name(file: str) -> str:
    """`examples/brain_model.py` -> `examples.brain_model`."""
    return f"examples.{Path(file).stem}"


def alias_main(module_name: str) -> None:
    """Make `import module_name` return the running `__main__` module; put the repo root on sys.path."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    sys.modules.setdefault(module_name, sys.modules["__main__"])


def train_and_evaluate(file: str, train_args: list[str], episodes: int = 5) -> None:
    """`train.py --plugin <this example> *train_args *sys.argv[1:]`, then `evaluate.py -n episodes`.

    Errors are reported like the scripts do: one `error: ...` line and exit code 2.
    """
    module_name = plugin_name(file)
    alias_main(module_name)
    from dexterity.cli.common import run_main
    from dexterity.cli.evaluate import main as evaluate_main
    from dexterity.cli.train import main as train_main

    def both() -> int:
        train_main([*train_args, "--plugin", module_name, *sys.argv[1:]])
        return evaluate_main(["-n", str(episodes)])  # the newest agent: the one just trained

    run_main(both)
