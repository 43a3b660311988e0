"""A plugin that fails at import: it needs a module that is not installed."""
import dexterity_no_such_dependency  # noqa: F401
