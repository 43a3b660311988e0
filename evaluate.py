#!/usr/bin/env python
"""Evaluate a saved agent: `python evaluate.py [ID] [-n N] [--deterministic]`."""
from dexterity.cli.evaluate import cli

if __name__ == "__main__":
    cli()
