#!/usr/bin/env python
"""Train an agent with PPO: `python train.py ENV [flags]`, `python train.py --help` for the flags."""
from dexterity.cli.train import cli

if __name__ == "__main__":
    cli()
