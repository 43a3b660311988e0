"""Which rank optimises, and on which device; decided before TensorFlow is imported.

Where GPUs exist, each node gets one optimising rank per GPU (the node's lowest local ranks);
the node's other ranks only gather, hide every GPU from TensorFlow and send their rollouts to an
optimising rank of their node (round robin). Optimisers may then hold unequal data (3 ranks, 2
optimisers: 2 shares and 1): `dexterity.configs.layout.minibatch_plan` gives each a part of the
global minibatch in proportion, so all run the same number of steps. Where there are no GPUs, or with `--cpu`, every rank
gathers and optimises. The variable `DEXTERITY_OPTIMISERS_PER_NODE` forces the number of
optimising ranks per node (on CPUs too), e.g. to test the gather-only path.
"""
from __future__ import annotations

import dataclasses
import os
import shutil
import socket
import subprocess

from dexterity.distributed import Comm


@dataclasses.dataclass(frozen=True)
class Role:
    """What this rank does: optimise (on `gpu`, if any) or only gather for `optimiser_rank`."""

    optimiser: bool
    optimiser_rank: int             # rank that trains on this rank's data (itself if optimiser)
    gatherers: tuple[int, ...]      # ranks whose rollouts this optimiser receives
    optimiser_ranks: tuple[int, ...]
    gpu: str | None
    local_ranks: int = 1            # ranks on this rank's node
    shares: tuple[int, ...] = ()    # per optimiser (in optimiser_ranks order): ranks whose data it trains on

    def share_index(self) -> int:
        """This optimiser's position in `optimiser_ranks` (and `shares`)."""
        return self.optimiser_ranks.index(self.optimiser_rank)


def gpu_ids() -> list[str]:
    """Ids of the GPUs visible to this process, asked of nvidia-smi (TensorFlow is not imported here)."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    found = [str(i) for i, line in enumerate(out.splitlines()) if line.startswith("GPU ")]
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        wanted = [v.strip() for v in visible.split(",") if v.strip() and v.strip() != "-1"]
        return [v for v in wanted if v in found or not v.isdigit()]
    return found


def plan_roles(comm: Comm, force_cpu: bool = False) -> Role:
    """Decide every rank's role from (host, local GPU count) of all ranks; identical on every rank."""
    forced = os.environ.get("DEXTERITY_OPTIMISERS_PER_NODE")
    ids = [] if force_cpu else gpu_ids()
    table = comm.allgather((socket.gethostname(), len(ids)))
    by_host: dict[str, list[int]] = {}
    for rank, (host, _) in enumerate(table):
        by_host.setdefault(host, []).append(rank)
    optimiser_of: dict[int, int] = {}
    gpu_of: dict[int, str] = {}
    for host, ranks in by_host.items():
        per_node = int(forced) if forced else table[ranks[0]][1]
        per_node = len(ranks) if per_node <= 0 else min(per_node, len(ranks))
        optimisers = ranks[:per_node]
        for i, rank in enumerate(ranks):
            optimiser_of[rank] = optimisers[i % per_node] if i >= per_node else rank
        if not forced and table[ranks[0]][1] > 0:
            gpu_of.update({rank: ids[i] for i, rank in enumerate(optimisers) if rank == comm.rank})
    me = comm.rank
    optimiser_ranks = tuple(sorted(set(optimiser_of.values())))
    shares = tuple(sum(1 for o in optimiser_of.values() if o == opt) for opt in optimiser_ranks)
    return Role(optimiser=optimiser_of[me] == me, optimiser_rank=optimiser_of[me],
                gatherers=tuple(r for r, o in sorted(optimiser_of.items()) if o == me and r != me),
                optimiser_ranks=optimiser_ranks, gpu=gpu_of.get(me),
                local_ranks=len(by_host[table[me][0]]), shares=shares)


def apply_role(role: Role, gpus_present: bool) -> None:
    """Restrict the GPUs TensorFlow will see (call before importing TensorFlow)."""
    if not gpus_present:
        return
    os.environ["CUDA_VISIBLE_DEVICES"] = role.gpu if role.gpu is not None else "-1"


def cpu_threads(local_ranks: int) -> int | None:
    """TensorFlow threads for one of `local_ranks` ranks on this node (None: TensorFlow's default).

    Ranks of one node share its cores: each gets its share (at least 1), or the cores the
    launcher bound it to. Oversubscribed thread pools spin against each other: with 2 ranks on 2
    cores, one thread each gives 1.59x one rank against 1.48x with TensorFlow's defaults (Ant-v5).
    `TF_NUM_INTRAOP_THREADS`/`TF_NUM_INTEROP_THREADS` set by the user take precedence.
    """
    if "TF_NUM_INTRAOP_THREADS" in os.environ or "TF_NUM_INTEROP_THREADS" in os.environ:
        return None
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count() or 1
    if usable < (os.cpu_count() or usable):  # bound by the launcher: the cores are this rank's own
        return usable
    return None if local_ranks <= 1 else max(1, usable // local_ranks)
