#!/usr/bin/env python
"""Compare configs over seeds: `python benchmark.py ENV NAME -r R -i CYCLES -c CONFIG ...`; --help for the flags."""
from dexterity.cli.benchmark import cli

if __name__ == "__main__":
    cli()
