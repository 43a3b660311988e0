"""configs/slurm/train.sbatch and the sbatch examples of the docs build a config that works on the
template's ranks: train.py's flags and preset (as train.py builds the config), --workers spread over
the tasks and the global minibatch split over the optimising ranks (all ranks, one per GPU, one per node)."""
import re
import shlex

import pytest

from conftest import ROOT
from dexterity import devices
from dexterity.cli.common import config_changes
from dexterity.cli.train import build_parser
from dexterity.configs.hp_config import derive_config, get_preset
from dexterity.configs.layout import envs_per_rank, minibatch_plan
from dexterity.distributed import Comm

TEMPLATE = ROOT / "configs" / "slurm" / "train.sbatch"
SBATCH_EXAMPLE = re.compile(r"(?:ENV_ID=(\S+) )?TRAIN_ARGS=\"([^\"]*)\" sbatch configs/slurm/train\.sbatch")


def _sbatch_option(text: str, name: str, commented: bool = False) -> str | None:
    match = re.search(rf"^{'##' if commented else '#'}SBATCH --{name}=(\S+)", text, re.MULTILINE)
    return match.group(1) if match else None


def template_layout() -> tuple[int, int, int]:
    """(nodes, tasks per node, GPUs per node of the commented --gres line) of the template."""
    text = TEMPLATE.read_text()
    gres = _sbatch_option(text, "gres", commented=True) or "gpu:0"
    return int(_sbatch_option(text, "nodes")), int(_sbatch_option(text, "ntasks-per-node")), int(gres.split(":")[-1])


def template_defaults() -> tuple[str, str]:
    """The template's default ENV_ID and TRAIN_ARGS, with $SLURM_NTASKS and $((...)) worked out."""
    text = TEMPLATE.read_text()
    env_id = re.search(r"^ENV_ID=\$\{ENV_ID:-(\S+)\}$", text, re.MULTILINE).group(1)
    args = re.search(r'^TRAIN_ARGS=\$\{TRAIN_ARGS:-"(.*)"\}$', text, re.MULTILINE).group(1)
    nodes, per_node, _ = template_layout()
    args = re.sub(r"\$?\{?\bSLURM_NTASKS\b\}?", str(nodes * per_node), args)  # bare inside $((...))
    arithmetic = re.compile(r"\$\(\(([\d\s*+/-]+)\)\)")
    assert "$" not in arithmetic.sub("", args), f"unexpected shell in TRAIN_ARGS: {args}"
    return env_id, arithmetic.sub(lambda m: str(eval(m.group(1).replace("/", "//"))), args)


def doc_examples() -> list[tuple[str, str]]:
    """(ENV_ID, TRAIN_ARGS) of the docs' sbatch command lines that start a new agent (--pcon)."""
    found = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for env_id, args in SBATCH_EXAMPLE.findall(page.read_text()):
            if "--pcon" in args:
                found.append((env_id or template_defaults()[0], args))
    return found


class FakeComm(Comm):
    def __init__(self, table):
        super().__init__()
        self.rank, self.size, self.table = 0, len(table), table

    def allgather(self, obj):
        return list(self.table)


def shares_for(nodes: int, per_node: int, optimisers: int, monkeypatch) -> tuple[int, ...]:
    """Ranks per optimiser when `optimisers` ranks of each node optimise (devices.plan_roles)."""
    monkeypatch.setenv("DEXTERITY_OPTIMISERS_PER_NODE", str(optimisers))
    table = [(f"node{rank // per_node}", 0) for rank in range(nodes * per_node)]
    return devices.plan_roles(FakeComm(table), force_cpu=True).shares


def check_works(env_id: str, train_args: str, monkeypatch) -> None:
    args = build_parser().parse_args([env_id, *shlex.split(train_args)])
    assert args.pcon, "give the preset: the automatic one needs the env"
    config = derive_config(get_preset(args.pcon), config_changes(args))  # as train.make_agent
    nodes, per_node, gpus = template_layout()
    ranks = nodes * per_node
    envs_per_rank(config, ranks)
    recurrent = config["model"] != "ffn"
    for optimisers in sorted({per_node, gpus or 1, 1}):  # no GPUs: every rank optimises
        shares = shares_for(nodes, per_node, optimisers, monkeypatch)
        assert sum(shares) == ranks
        for mine in range(len(shares)):
            minibatch_plan(config, recurrent, shares, mine)


def test_the_template_defaults_work_on_its_ranks(monkeypatch):
    env_id, train_args = template_defaults()
    check_works(env_id, train_args, monkeypatch)


def test_the_docs_sbatch_examples_work_on_the_template_ranks(monkeypatch):
    examples = doc_examples()
    assert examples, "docs/distributed.md shows sbatch examples with TRAIN_ARGS"
    for env_id, train_args in examples:
        check_works(env_id, train_args, monkeypatch)


def test_the_resume_hint_names_the_env():
    """train.py refuses an env id that is not the saved agent's, and the template always passes ENV_ID."""
    text = TEMPLATE.read_text()
    assert 'train.py "$ENV_ID"' in text
    hint = next(line for line in text.splitlines() if "--load-from <agent id>" in line)
    assert "ENV_ID=" in hint


@pytest.mark.parametrize("train_args, message", [
    ("--pcon manipulate --workers 128", "larger than the data of one cycle"),
    ("--pcon manipulate --workers 1040 --batch-size 1040", "cannot be spread evenly"),
])
def test_layouts_the_template_cannot_run_are_refused(monkeypatch, train_args, message):
    from dexterity.errors import ConfigError
    with pytest.raises(ConfigError, match=message):
        check_works("ManipulateBlock-v0", train_args, monkeypatch)
