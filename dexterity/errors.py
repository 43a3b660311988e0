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
