#!/usr/bin/env python
"""Show a saved agent acting: `python observe.py [ID] [--save best|last|N] [--output PATH]`."""
from dexterity.cli.observe import cli

if __name__ == "__main__":
    cli()
