"""TensorBoard event files of training runs, read back with TensorBoard's own reader and held
against progress.jsonl and the saved weights."""
import json

import numpy as np
import pytest

from conftest import run_script

event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
from tensorboard.util import tensor_util  # noqa: E402

SMALL = ["--iterations", "2", "--workers", "2", "--horizon", "32", "--batch-size", "32", "--epochs", "2",
         "--seed", "1"]


@pytest.fixture(autouse=True)
def graph_mode_epochs(monkeypatch):
    monkeypatch.setenv("DEXTERITY_XLA_EPOCH", "0")  # quicker to trace; the files written are the same


def _only_agent(storage):
    ids = [p.name for p in (storage / "experiments").iterdir()]
    assert len(ids) == 1
    return ids[0]


def _read(folder):
    """{tag: {step: value}} of the scalars and {tag: {step: histogram [k, 3]}} of the histograms."""
    acc = event_accumulator.EventAccumulator(str(folder), size_guidance={event_accumulator.TENSORS: 0})
    acc.Reload()
    scalars, histograms = {}, {}
    for tag in acc.Tags()["tensors"]:
        plugin = acc.SummaryMetadata(tag).plugin_data.plugin_name
        values = {e.step: tensor_util.make_ndarray(e.tensor_proto) for e in acc.Tensors(tag)}
        {"scalars": scalars, "histograms": histograms}[plugin][tag] = values
    return scalars, histograms


def _numeric(record):
    return {k: v for k, v in record.items() if type(v) in (int, float)}


def _check_scalars(scalars, records):
    """Every numeric field of every record is a scalar at the record's frame count, with its value."""
    assert set(scalars) == {k for r in records for k in _numeric(r)}
    for tag, points in scalars.items():
        assert sorted(points) == sorted(r["frames"] for r in records if tag in _numeric(r)), tag
    for record in records:
        for key, value in _numeric(record).items():
            assert float(scalars[key][record["frames"]]) == pytest.approx(value, rel=1e-6, abs=1e-9), key


def _progress(folder):
    return [json.loads(line) for line in (folder / "progress.jsonl").read_text().splitlines()]


def test_events_hold_the_progress_records_and_weight_histograms_when_due_also_after_resume(storage):
    run_script("train.py", "CartPole-v1", *SMALL, "--histogram-every", "2")
    agent_id = _only_agent(storage)
    folder = storage / "experiments" / agent_id
    scalars, histograms = _read(folder)
    records = _progress(folder)
    assert [r["frames"] for r in records] == [64, 128]
    _check_scalars(scalars, records)
    assert {"rollout/return_mean", "train/policy_loss", "time/steps_per_s", "frames"} <= set(scalars)
    assert histograms and all(tag.startswith("weights/") for tag in histograms)
    assert {sorted(points) == [128] for points in histograms.values()} == {True}  # cycle 2 only: every 2 cycles

    run_script("train.py", "--load-from", agent_id, "--iterations", "4")
    scalars, histograms = _read(folder)
    records = _progress(folder)
    assert [r["frames"] for r in records] == [64, 128, 192, 256]  # the steps go on from the saved frames
    _check_scalars(scalars, records)
    assert len(list(folder.glob("events.out.tfevents.*"))) == 2
    assert {tuple(sorted(points)) for points in histograms.values()} == {(128, 256)}
    weights = np.load(storage / "saved_models" / agent_id / "last" / "weights.npz")
    saved = {key.split(":", 1)[1]: weights[key] for key in weights.files}
    assert set(histograms) == {f"weights/{name}" for name in saved}
    for name, array in saved.items():  # the last histogram: the weights of the cycle-4 checkpoint
        buckets = histograms[f"weights/{name}"][256]
        assert buckets[:, 2].sum() == array.size
        assert buckets[0, 0] == pytest.approx(array.min(), abs=1e-6)
        assert buckets[-1, 1] == pytest.approx(array.max(), abs=1e-6)


def test_no_event_files_when_turned_off(storage):
    run_script("train.py", "CartPole-v1", *SMALL, "--no-tensorboard", "--histogram-every", "1")
    folder = storage / "experiments" / _only_agent(storage)
    assert (folder / "progress.jsonl").exists()
    assert not list(folder.rglob("*tfevents*"))


def test_a_negative_histogram_interval_is_one_clear_error(storage):
    proc = run_script("train.py", "CartPole-v1", *SMALL, "--histogram-every", "-1", check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == ["error: --histogram-every must be non-negative, got -1"]
