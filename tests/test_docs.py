"""The documentation cannot drift: examples run, train.py flags in the docs exist, generated pages are current."""
from __future__ import annotations

import re
import resource
from pathlib import Path

import pytest

from conftest import ROOT, run_script
from dexterity.configs.docs import parameter_table

DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [ROOT / "README.md", *DOCS]
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
TRAIN = ["--iterations", "2", "--workers", "2", "--horizon", "16", "--batch-size", "16", "--epochs", "1",
         "--seed", "2"]
# every example with the flags that make it a short smoke run (< 60 s on 2 cores)
EXAMPLE_ARGS = {
    "brain_model.py": [*TRAIN, "--sequential"],
    "custom_distribution.py": [*TRAIN, "--sequential"],
    "custom_env.py": TRAIN,
    "custom_reward.py": [*TRAIN, "--horizon", "50", "--batch-size", "50"],
    "custom_config.py": [*TRAIN, "--sequential"],
    "custom_transformer.py": [],
    "quickstart.py": ["--iterations", "2", "--workers", "2", "--horizon", "16"],
}
EXAMPLES = sorted(p.name for p in (ROOT / "examples").glob("*.py") if not p.name.startswith("_"))


def test_every_example_has_test_flags():
    assert EXAMPLES == sorted(EXAMPLE_ARGS), "add new examples to EXAMPLE_ARGS with short-run flags"


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_runs(storage, name):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = run_script(f"examples/{name}", *EXAMPLE_ARGS.get(name, []), timeout=300)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert "Traceback" not in proc.stderr and "error:" not in proc.stderr
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert cpu < 60, f"{name} used {cpu:.0f} s of CPU with its test flags"
    if name != "custom_transformer.py":
        assert "episodes, return" in proc.stdout or "deterministic return" in proc.stdout


def _train_flags_in(text: str, whole: bool = False) -> set[str]:
    """Flags in train.py command lines (continuations joined) and in the tables of sections about train.py.

    A section is about train.py when its heading starts with "train" (README's "### Train"), or
    everywhere with `whole` (docs/train.md).
    """
    text = re.sub(r"\\\n\s*", " ", text)
    flags: set[str] = set()
    for line in text.splitlines():
        for match in re.finditer(r"(?<![\w-])train\.py", line):
            command = re.split(r"`|#|&&|;|\|", line[match.end():])[0]
            flags |= set(FLAG.findall(command))
    about_train, fenced = whole, False
    for line in text.splitlines():
        fenced ^= line.startswith("```")
        if line.startswith("#") and not whole and not fenced:
            about_train = bool(re.match(r"#+\s+`?train\b", line, re.IGNORECASE))
        elif line.startswith("|") and about_train:
            flags |= set(FLAG.findall(line))
    return flags


@pytest.fixture(scope="module")
def train_help() -> set[str]:
    return set(FLAG.findall(run_script("train.py", "--help").stdout))


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_train_flags_in_docs_exist(page, train_help):
    unknown = sorted(_train_flags_in(page.read_text(), whole=page.name == "train.md") - train_help)
    assert not unknown, f"{page.name} mentions train.py flags that `train.py --help` does not list: {unknown}"


def test_flag_scanner_sees_commands_tables_and_continuations():
    text = ("## Train\n```bash\n# a comment, not a heading\n```\n| `--workers N` | x |\n"
            "```bash\npython train.py X --pcon a \\\n  --rcon b  # --not-this\n```\n"
            "run `python train.py --plugin m` or `evaluate.py --deterministic` or `pretrain.py --size 4`\n"
            "## Evaluate\n| `--save` | y |\n## Loading: `train.py --preload NAME`\n| `--load` | z |\n")
    assert _train_flags_in(text) == {"--workers", "--pcon", "--rcon", "--plugin", "--preload"}
    assert "--save" in _train_flags_in(text, whole=True)


def test_parameter_table_is_current():
    committed = (ROOT / "docs" / "parameters.md").read_text()
    assert committed == parameter_table(), "run: python -m dexterity.configs.docs > docs/parameters.md"


def test_index_links_every_page():
    index = (ROOT / "docs" / "index.md").read_text()
    linked = set(re.findall(r"\]\(([\w.-]+\.md)\)", index))
    missing = sorted(p.name for p in DOCS if p.name != "index.md" and p.name not in linked)
    assert not missing, f"docs/index.md does not link: {missing}"


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_relative_links_resolve(page):
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
        if "://" not in target:
            assert (page.parent / target).resolve().exists(), f"{page.name} links to missing {target}"


def _cells(row: str) -> int:
    """Cells in a markdown table row; an escaped pipe (\\|) stays inside its cell, as GitHub renders it."""
    return len(re.split(r"(?<!\\)\|", row.strip().strip("|")))


def test_cell_counter_follows_github():
    assert _cells("| a | b |") == 2
    assert _cells("| `--save best\\|last` | c |") == 2
    assert _cells("| `--save best|last` | c |") == 3


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_tables_have_as_many_cells_as_their_header(page):
    lines = page.read_text().splitlines()
    for i, line in enumerate(lines[1:], start=1):
        if not re.fullmatch(r"\|(\s*:?-+:?\s*\|)+", line.strip()) or not lines[i - 1].startswith("|"):
            continue
        width = _cells(lines[i - 1])
        j = i
        while j < len(lines) and lines[j].startswith("|"):
            assert _cells(lines[j]) == width, f"{page.name}:{j + 1} has {_cells(lines[j])} cells, its header {width}"
            j += 1
