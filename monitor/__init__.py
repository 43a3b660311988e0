"""dexterity monitor: a small Flask app to follow and compare experiments in a storage folder.

It reads the files described in ``docs/storage.md`` and nothing else; it never imports
TensorFlow (nor dexterity, which does). Plots are drawn by plotly.js, served from the
installed ``plotly`` Python package so that the pages work without internet.
"""
from .app import create_app

__all__ = ["create_app"]
