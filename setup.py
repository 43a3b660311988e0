"""Compatibility shim: the package is configured in pyproject.toml."""
from setuptools import setup

setup()
