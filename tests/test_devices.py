"""Rank roles: one optimising rank per GPU per node, the rest gather; all optimise without GPUs."""
import pytest

from dexterity import devices
from dexterity.distributed import Comm


class FakeComm(Comm):
    def __init__(self, rank, table):
        super().__init__()
        self.rank, self.size, self.table = rank, len(table), table

    def allgather(self, obj):
        return list(self.table)


def roles(table, monkeypatch, gpus_here=0):
    monkeypatch.setattr(devices, "gpu_ids", lambda: [str(i) for i in range(gpus_here)])
    return [devices.plan_roles(FakeComm(r, table)) for r in range(len(table))]


def test_without_gpus_every_rank_optimises(monkeypatch):
    out = roles([("a", 0)] * 3, monkeypatch)
    assert all(r.optimiser and r.gpu is None and r.gatherers == () for r in out)
    assert out[0].optimiser_ranks == (0, 1, 2)


def test_one_optimiser_per_gpu_per_node(monkeypatch):
    table = [("a", 2)] * 3 + [("b", 1)] * 3
    out = roles(table, monkeypatch, gpus_here=2)
    assert [r.optimiser for r in out] == [True, True, False, True, False, False]
    assert out[0].optimiser_ranks == (0, 1, 3)
    assert [r.optimiser_rank for r in out] == [0, 1, 0, 3, 3, 3]
    assert out[0].gatherers == (2,) and out[3].gatherers == (4, 5)
    assert out[0].gpu == "0" and out[1].gpu == "1" and out[2].gpu is None


def test_forced_optimisers_per_node(monkeypatch):
    monkeypatch.setenv("DEXTERITY_OPTIMISERS_PER_NODE", "1")
    out = roles([("a", 0)] * 2, monkeypatch)
    assert [r.optimiser for r in out] == [True, False] and out[1].optimiser_rank == 0


@pytest.mark.parametrize("visible, expected", [("-1", []), ("1", ["1"]), (None, ["0", "1"])])
def test_gpu_ids_respect_cuda_visible_devices(monkeypatch, visible, expected):
    monkeypatch.setattr(devices.shutil, "which", lambda name: "/usr/bin/nvidia-smi")

    class Done:
        stdout = "GPU 0: A100 (UUID: x)\nGPU 1: A100 (UUID: y)\n"
    monkeypatch.setattr(devices.subprocess, "run", lambda *a, **k: Done())
    if visible is None:
        monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    else:
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    assert devices.gpu_ids() == expected
