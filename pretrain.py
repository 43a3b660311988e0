#!/usr/bin/env python
"""Pretrain the visual encoder: `python pretrain.py {hands,reconstruct,classify} [flags]`; --help for the flags."""
from dexterity.cli.pretrain import cli

if __name__ == "__main__":
    cli()
