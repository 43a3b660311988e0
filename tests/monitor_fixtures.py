"""Fixtures and helpers shared by the monitor tests: a fake storage root and a test client."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from fake_storage import make_benchmark, make_experiment
from monitor import create_app


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A storage root with two configs (one of them with two seeds) and a benchmark."""
    r = tmp_path / "store"
    reward = {"name": "manipulate.default", "values": {"success": 5.0}}
    make_experiment(r, "exp-a", cycles=40, seed=0, gifs=2, evaluations=2, eval_every=10,
                    resumed_at=(0, 20), reward_config=reward)
    make_experiment(r, "exp-b", index=1, cycles=30, seed=1, reward_config=reward)
    make_experiment(r, "exp-c", index=2, cycles=35, seed=0, config={"lr_pi": 1e-3})
    make_benchmark(r, cycles=10)
    return r


@pytest.fixture
def client(root: Path):
    """A test client of the monitor on ``root``."""
    return create_app(root).test_client()


def strict_json(data: bytes):
    """Parse JSON the way browsers do (NaN/Infinity are errors)."""
    def refuse(name: str):
        raise ValueError(f"non-standard JSON constant {name}")
    return json.loads(data, parse_constant=refuse)


def page_data(html: bytes) -> dict:
    """The JSON embedded in a page's ``<script id="data">``."""
    text = html.decode()
    start = text.index('<script id="data" type="application/json">') + len('<script id="data" type="application/json">')
    return strict_json(text[start:text.index("</script>", start)].encode())
