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


def test_local_ranks_counts_the_ranks_of_each_node(monkeypatch):
    out = roles([("a", 0)] * 3 + [("b", 0)] * 2, monkeypatch)
    assert [r.local_ranks for r in out] == [3, 3, 3, 2, 2]


@pytest.mark.parametrize("affinity, local, expected", [
    (8, 1, None),   # one rank: TensorFlow's defaults
    (8, 2, 4),      # ranks share the node's cores
    (8, 16, 1),     # oversubscribed: one thread each
    (2, 4, 2),      # bound by the launcher to 2 of the 8 cores: those are this rank's
])
def test_cpu_threads_share_the_cores(monkeypatch, affinity, local, expected):
    monkeypatch.delenv("TF_NUM_INTRAOP_THREADS", raising=False)
    monkeypatch.delenv("TF_NUM_INTEROP_THREADS", raising=False)
    monkeypatch.setattr(devices.os, "cpu_count", lambda: 8)
    monkeypatch.setattr(devices.os, "sched_getaffinity", lambda pid: set(range(affinity)), raising=False)
    assert devices.cpu_threads(local) == expected


def test_cpu_threads_leave_the_users_setting(monkeypatch):
    monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "3")
    assert devices.cpu_threads(4) is None
