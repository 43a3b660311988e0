"""Runnable examples of dexterity's extension points; each module is also a `--plugin`."""
