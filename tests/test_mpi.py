"""Distributed training with 2 MPI ranks: gradient averaging, normaliser merge, identical weights,
train.py under mpirun, resuming with another rank count, and a killed rank ending the job."""
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, progress_records, run_script

MPIRUN = shutil.which("mpirun", path=os.path.dirname(sys.executable)) or shutil.which("mpirun")
pytestmark = [pytest.mark.mpi, pytest.mark.skipif(MPIRUN is None, reason="mpirun not installed")]
SMALL = ["--workers", "4", "--horizon", "32", "--batch-size", "32", "--epochs", "2", "--seed", "2"]


def mpirun(*args, ranks=2, timeout=300, check=True, env_vars=None):
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", **(env_vars or {}))
    exports = [item for name in (env_vars or {}) for item in ("-x", name)]
    proc = subprocess.run([MPIRUN, "-np", str(ranks), "--oversubscribe", *exports, sys.executable, *args],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"mpirun exited {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def test_allreduced_gradients_and_merged_statistics_equal_pooled_ones():
    proc = mpirun("tests/mpi/grad_and_stats_check.py")
    assert "CHECKS PASSED" in proc.stdout


@pytest.mark.parametrize("model, optimisers", [("ffn", None), ("gru", None), ("gru", "1")],
                         ids=["ffn", "gru", "gru-one-optimiser"])
def test_two_ranks_end_with_identical_weights(model, optimisers):
    """With one optimising rank (as with one GPU per node) the other only gathers; weights still agree."""
    env_vars = {"DEXTERITY_OPTIMISERS_PER_NODE": optimisers} if optimisers else None
    proc = mpirun("tests/mpi/identical_weights_check.py", model, env_vars=env_vars)
    assert "WEIGHTS IDENTICAL" in proc.stdout


def test_three_ranks_two_optimisers_with_unequal_data_take_the_same_steps():
    """Rank 2 only gathers, for rank 0: rank 0 trains on twice rank 1's data. Both take a share of the
    global minibatch in proportion (32 + 16 of 48), so both run 4 steps per epoch; before, rank 0 ran
    twice as many allreduces as rank 1 (a hang or MPI_ERR_TRUNCATE)."""
    proc = mpirun("tests/mpi/identical_weights_check.py", "ffn", "6", "48", ranks=3, timeout=240,
                  env_vars={"DEXTERITY_OPTIMISERS_PER_NODE": "2"})
    assert "WEIGHTS IDENTICAL" in proc.stdout
    assert "OPTIMISER STEPS 16 16" in proc.stdout  # 2 cycles x 2 epochs x 4 steps (192 / 48)


def test_batch_size_is_global_one_and_two_ranks_take_the_same_steps():
    """--batch-size is the global minibatch: 4 envs x 32 steps / 32 = 4 steps per epoch on 1 rank and on 2."""
    one = subprocess.run([sys.executable, "tests/mpi/identical_weights_check.py", "gru", "4", "32"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert "OPTIMISER STEPS 16" in one.stdout, one.stderr[-2000:]
    two = mpirun("tests/mpi/identical_weights_check.py", "gru", "4", "32")
    assert "OPTIMISER STEPS 16 16" in two.stdout


@pytest.mark.parametrize("extra", [[], ["--model", "gru", "--tbptt", "8"]], ids=["ffn", "gru"])
def test_train_py_under_mpirun(storage, extra):
    every_update = {"DEXTERITY_PROGRESS": "lines", "DEXTERITY_PROGRESS_DELAY": "0", "DEXTERITY_PROGRESS_INTERVAL": "0"}
    proc = mpirun("train.py", "Pendulum-v1", "--iterations", "2", *SMALL, *extra, env_vars=every_update)
    lines = proc.stdout.splitlines()
    assert sum(line.startswith("cycle 2/2 |") for line in lines) == 1  # only rank 0 prints
    assert "2 ranks x 2 envs" in proc.stdout and "comm" in proc.stdout
    gathered = [line.split()[4] for line in lines if line.startswith("  ... cycle 1/2 gather")]
    assert gathered == [f"{4 * t}/128" for t in range(33)]  # rank 0 alone: its 2 envs' steps x 2 ranks
    agent_ids = os.listdir(storage / "saved_models")
    assert len(agent_ids) == 1  # one agent id, from rank 0
    folder = storage / "experiments" / agent_ids[0]
    records = progress_records(storage, agent_ids[0])
    assert [r["iteration"] for r in records] == [0, 1]
    assert records[-1]["frames"] == 2 * 4 * 32 and records[-1]["dist/ranks"] == 2
    assert len(list(folder.glob("events.out.tfevents.*"))) == 1  # TensorBoard: rank 0 only


def test_resume_with_a_different_number_of_ranks(storage):
    mpirun("train.py", "CartPole-v1", "--iterations", "2", *SMALL)
    agent_id = os.listdir(storage / "saved_models")[0]
    proc = run_script("train.py", "--load-from", agent_id, "--iterations", "3")
    assert "cycle 3/3" in proc.stdout
    proc = mpirun("train.py", "--load-from", agent_id, "--iterations", "4")
    assert "cycle 4/4" in proc.stdout
    records = progress_records(storage, agent_id)
    assert [r["iteration"] for r in records] == [0, 1, 2, 3]
    assert [r["dist/ranks"] for r in records] == [2, 2, 1, 2]


def _rank_processes(root_pid):
    import psutil
    ranks = {}
    for child in psutil.Process(root_pid).children(recursive=True):
        try:
            env = child.environ()
            if "train.py" in " ".join(child.cmdline()) and "OMPI_COMM_WORLD_RANK" in env:
                ranks[int(env["OMPI_COMM_WORLD_RANK"])] = child
        except psutil.Error:
            continue
    return ranks


def test_killed_rank_ends_the_job_and_the_last_checkpoint_loads(storage):
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    proc = subprocess.Popen([MPIRUN, "-np", "2", "--oversubscribe", sys.executable, "train.py", "CartPole-v1",
                             "--iterations", "100000", "--workers", "4", "--horizon", "256", "--batch-size", "64",
                             "--seed", "3"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        deadline = time.time() + 120
        last = None
        while time.time() < deadline and last is None:
            found = list(Path(storage, "saved_models").glob("*/last/agent.json"))
            last = found[0].parent if found else None
            time.sleep(0.5)
        assert last is not None, "no checkpoint was written"
        time.sleep(1.0)  # now mid-cycle
        ranks = _rank_processes(proc.pid)
        assert set(ranks) == {0, 1}
        killed_at = time.time()
        ranks[1].send_signal(signal.SIGKILL)
        code = proc.wait(timeout=60)
        assert code != 0
        assert time.time() - killed_at < 30
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    from dexterity.agent.checkpoint import load_brain, read_info
    info = read_info(last)
    brain = load_brain(last, info)
    assert info["iteration"] >= 1 and brain.policy.model.variables
