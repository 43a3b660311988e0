"""User-facing errors: the command-line fronts print these as one line and exit with code 2."""


class DexterityError(Exception):
    """Bad input from the user (flags, config, env id, agent files); message is one clear line."""


class ConfigError(DexterityError):
    """An invalid hyperparameter or reward configuration."""


class AgentNotFoundError(DexterityError):
    """No saved agent under the requested id, or its files are missing or corrupt."""


class StorageError(DexterityError):
    """The storage folder cannot be created or written (a path under a file, read-only, disk full)."""


class EnvironmentError_(DexterityError):
    """An environment id that cannot be made, or an env incompatible with the chosen options."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message ("" when it has none)."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else ""


def failure_line(exc: BaseException, limit: int = 300) -> str:
    """What stopped a run, as one line for meta.json: a DexterityError's own message, otherwise the
    exception's type and the first line of its message, cut to `limit` characters."""
    text = first_line(exc)
    if not isinstance(exc, DexterityError):
        text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text if len(text) <= limit else text[:limit - 3] + "..."
