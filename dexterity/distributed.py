"""Communication between training processes: one interface, a serial and an MPI implementation.

The training code calls the same `Comm` methods whether it runs alone or under `mpirun`/`srun`;
only this module imports mpi4py, and only when the process was started by an MPI launcher.
"""
from __future__ import annotations

import os
import sys
import time
from typing import Any

import numpy as np

_MPI_ENV_VARS = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS", "HYDRA_CONTROL_FD")


class Comm:
    """Single-process communicator: every collective is the identity."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    local_size: int = 1

    def __init__(self) -> None:
        self.comm_time = 0.0  # seconds spent in collectives since the last reset_timer()

    @property
    def is_root(self) -> bool:
        return self.rank == 0

    def reset_timer(self) -> float:
        spent, self.comm_time = self.comm_time, 0.0
        return spent

    def allreduce_mean(self, array: np.ndarray) -> np.ndarray:
        """Element-wise mean over ranks of a float array (same shape on every rank)."""
        return array

    def allreduce_sum(self, array: np.ndarray) -> np.ndarray:
        return array

    def allgather(self, obj: Any) -> list[Any]:
        """Every rank's object, in rank order."""
        return [obj]

    def bcast(self, obj: Any, root: int = 0) -> Any:
        return obj

    def any(self, flag: bool) -> bool:
        """True on every rank if it is true on any rank (for control-flow decisions)."""
        return bool(flag)

    def barrier(self) -> None:
        pass

    def send(self, obj: Any, dest: int) -> None:
        raise RuntimeError("a single-process run has no other rank to send to")

    def recv(self, source: int) -> Any:
        raise RuntimeError("a single-process run has no other rank to receive from")

    def split(self, ranks: tuple[int, ...]) -> "Comm":
        """A communicator of the given ranks (this rank must be one of them)."""
        return self

    def abort(self, code: int = 1) -> None:
        sys.exit(code)


class MPIComm(Comm):
    """mpi4py's COMM_WORLD behind the Comm interface; timed for the cycle report."""

    def __init__(self, comm: Any = None, parent: "MPIComm | None" = None) -> None:
        super().__init__()
        self.parent = parent
        from mpi4py import MPI
        self._mpi = MPI
        self.comm = comm if comm is not None else MPI.COMM_WORLD
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()
        node = self.comm.Split_type(MPI.COMM_TYPE_SHARED)
        self.local_rank, self.local_size = node.Get_rank(), node.Get_size()
        node.Free()
        if comm is None:
            sys.excepthook = self._abort_on_exception

    def _abort_on_exception(self, kind: type, value: BaseException, tb: Any) -> None:
        """An uncaught exception on any rank ends the whole job now, instead of leaving the others hanging."""
        sys.__excepthook__(kind, value, tb)
        sys.stderr.flush()
        self.comm.Abort(1)

    def _timed(self, fn: Any, *args: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args)
        finally:
            spent = time.perf_counter() - start
            self.comm_time += spent
            if self.parent is not None:
                self.parent.comm_time += spent

    def allreduce_sum(self, array: np.ndarray) -> np.ndarray:
        array = np.ascontiguousarray(array)
        out = np.empty_like(array)
        self._timed(self.comm.Allreduce, array, out, self._mpi.SUM)
        return out

    def allreduce_mean(self, array: np.ndarray) -> np.ndarray:
        out = self.allreduce_sum(array)
        out /= self.size
        return out

    def allgather(self, obj: Any) -> list[Any]:
        return self._timed(self.comm.allgather, obj)

    def bcast(self, obj: Any, root: int = 0) -> Any:
        return self._timed(self.comm.bcast, obj, root)

    def any(self, flag: bool) -> bool:
        return bool(self._timed(self.comm.allreduce, bool(flag), self._mpi.LOR))

    def barrier(self) -> None:
        self._timed(self.comm.Barrier)

    def send(self, obj: Any, dest: int) -> None:
        self._timed(self.comm.send, obj, dest)

    def recv(self, source: int) -> Any:
        return self._timed(self.comm.recv, None, source)

    def split(self, ranks: tuple[int, ...]) -> Comm:
        """A communicator of `ranks` (collective over all ranks; this rank must be a member)."""
        if len(ranks) == self.size:
            return self
        sub = self.comm.Split(0 if self.rank in ranks else 1, self.rank)
        return MPIComm(sub, parent=self) if sub.Get_size() > 1 else Comm()

    def abort(self, code: int = 1) -> None:
        self.comm.Abort(code)


def launched_by_mpi() -> bool:
    """Whether this process was started by mpirun/mpiexec/srun with more than one rank."""
    if any(var in os.environ for var in _MPI_ENV_VARS[1:]):
        return True
    if int(os.environ.get("OMPI_COMM_WORLD_SIZE", "1")) > 1:
        return True
    return int(os.environ.get("SLURM_NTASKS", "1")) > 1 and "SLURM_PROCID" in os.environ \
        and "SLURM_STEP_ID" in os.environ


_active: Comm | None = None


def make_comm() -> Comm:
    """The MPI communicator when launched by an MPI launcher, else the serial one."""
    global _active
    if _active is None:
        comm = MPIComm() if launched_by_mpi() else Comm()
        _active = comm if comm.size > 1 else Comm()
    return _active


def active_comm() -> Comm | None:
    """The communicator made by make_comm, if any (used to end a failing MPI job cleanly)."""
    return _active
