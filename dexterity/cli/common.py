"""Shared pieces of the command-line fronts: error handling and hp-config flags."""
from __future__ import annotations

import argparse
import math
import os
import sys
from typing import Any, Callable

from dexterity.configs.hp_config import PARAMETERS, SEED_RULE, check_value, is_seed
from dexterity.errors import DexterityError

# hp parameters whose flag is only the negative form, as in the original usage line
NEGATIVE_ONLY = {"state_norming": "--no-state-norming", "reward_norming": "--no-reward-norming"}


def flag_name(param: str) -> str:
    return "--" + param.replace("_", "-")


def _parser(kind: type, nullable: bool, choices: tuple | None) -> Callable[[str], Any]:
    """argparse type: converts to `kind`, 'none' to None where allowed, and checks the choices."""
    allowed = [c for c in dict.fromkeys(choices or ()) if c is not None]
    shown = ", ".join((["none"] if nullable else []) + [str(c) for c in allowed if c != "none"])

    def parse(text: str) -> Any:
        if nullable and text.lower() in ("none", "null"):
            return None
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {kind.__name__}, got {text!r}") from None
        if allowed and value not in allowed:
            raise argparse.ArgumentTypeError(f"{text!r} is not one of {shown}")
        return value
    parse.__name__ = kind.__name__
    return parse


def _metavar(kind: type, nullable: bool, choices: tuple | None) -> str:
    if not choices:
        return kind.__name__.upper()
    names = dict.fromkeys("none" if c is None else str(c) for c in choices)
    return "{" + ",".join(names) + "}"


def add_config_flags(parser: argparse.ArgumentParser, skip: tuple[str, ...] = ()) -> None:
    """One flag per hp parameter; defaults are suppressed so only explicit flags become changes."""
    group = parser.add_argument_group("hyperparameters (defaults: the preset, see --pcon)")
    for name, param in PARAMETERS.items():
        if name in skip:
            continue
        help_text = f"{param.help} (default {param.default})"
        if name in NEGATIVE_ONLY:
            group.add_argument(NEGATIVE_ONLY[name], dest=name, action="store_false", default=argparse.SUPPRESS,
                               help=f"turn off: {param.help}")
        elif param.kind is bool:
            group.add_argument(flag_name(name), dest=name, action=argparse.BooleanOptionalAction,
                               default=argparse.SUPPRESS, help=help_text)
        else:
            kind = param.kind if isinstance(param.kind, type) else param.kind[0]
            group.add_argument(flag_name(name), dest=name, type=_parser(kind, param.nullable, param.choices),
                               default=argparse.SUPPRESS, help=help_text,
                               metavar=_metavar(kind, param.nullable, param.choices))


def config_changes(args: argparse.Namespace) -> dict[str, Any]:
    """The hp parameters given explicitly on the command line, each checked against its declaration
    (finite, its range) so that a bad value is one line naming its flag before anything is built."""
    return {name: check_value(name, getattr(args, name), flag_name(name)) for name in PARAMETERS
            if hasattr(args, name)}


def check_count(flag: str, value: int | None, minimum: int = 1) -> None:
    """DexterityError naming `flag` when an integer flag (None: not given) is below `minimum`."""
    if value is not None and value < minimum:
        rule = "non-negative" if minimum == 0 else f"at least {minimum}"
        raise DexterityError(f"{flag} must be {rule}, got {value}")


def check_positive(flag: str, value: float | None) -> None:
    """DexterityError naming `flag` unless a float flag (None: not given) is finite and above 0."""
    if value is not None and not (math.isfinite(value) and value > 0):
        raise DexterityError(f"{flag} must be a positive finite number, got {value}")


def check_seed(flag: str, value: int | None) -> None:
    """DexterityError naming `flag` unless a seed flag (None: not given) is in 0 .. 2^32 - 1."""
    if value is not None and not is_seed(value):
        raise DexterityError(f"{flag} must be {SEED_RULE}, got {value}")


def _exit(code: int) -> None:
    """Exit; under MPI with several ranks, abort the whole job so that no rank waits forever."""
    from dexterity.distributed import active_comm
    comm = active_comm()
    sys.stdout.flush()
    sys.stderr.flush()
    if comm is not None and comm.size > 1:
        if not comm.is_root:
            import time
            time.sleep(1.0)  # let rank 0 print the error line before the job is torn down
        comm.abort(code)
    sys.exit(code)


class Terminated(KeyboardInterrupt):
    """SIGTERM (e.g. `kill`, or SLURM at the end of a job's time), raised where the main thread is,
    so that training stops like on Ctrl-C: its last checkpoint kept, its status `interrupted`."""


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated()


def run_main(main: Callable[[], int | None]) -> None:
    """Run a CLI main: user errors -> one line on stderr and exit 2; Ctrl-C -> exit 130; SIGTERM -> 143."""
    import signal
    signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        code = main()
    except DexterityError as exc:
        from dexterity.distributed import active_comm
        comm = active_comm()
        if comm is None or comm.is_root:
            print(f"error: {exc}", file=sys.stderr)
        _exit(2)
    except Terminated:
        print("\nterminated (SIGTERM)", file=sys.stderr)
        _exit(143)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        _exit(130)
    sys.exit(code or 0)


def parse_env_kwargs(text: str | None) -> dict[str, Any]:
    """The JSON object of an --env-kwargs flag ({} when absent); anything else is a DexterityError."""
    if not text:
        return {}
    import json
    try:
        kwargs = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DexterityError(f"--env-kwargs is not valid JSON: {exc}") from None
    if not isinstance(kwargs, dict):
        raise DexterityError("--env-kwargs must be a JSON object")
    return kwargs


def set_storage(path: str | None) -> None:
    if path:
        os.environ["DEXTERITY_STORAGE"] = path


def check_save(save: str | None) -> None:
    """A --save flag: absent, or 'last', 'best' or a cycle number (AgentNotFoundError otherwise)."""
    if save is not None:
        from dexterity.storage import check_save_name
        check_save_name(save)
