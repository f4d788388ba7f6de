"""Every command the generated README and the docs show has a decision: run by a test
exactly as written, or named as impossible here with the reason (tests/commands.py).

tests/test_matrix.py runs the README's commands in installed projects; this module checks
that every variant's README and every docs page only show commands with a decision, that
a docs command for a generated project is one the README documents (so the matrix runs
it), and runs the commands the copy task and the final message print.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import copier
import pytest
from commands import RUN, documented_commands, readme_commands, where
from conftest import BASE_ANSWERS, TEMPLATE, render, run

# The READMEs of the variants that between them show every command the template writes.
VARIANTS: dict[str, dict[str, Any]] = {
    "torch-cpu": {},
    "torch-everything": {
        "accelerator": "cu130", "cpu_extra": True, "include_slurm": True, "container": "both",
        "torch_index_url": "https://mirror.example.org/whl", "ci_provider": "gitlab",
    },
    "numpy": {"framework": "none", "ci_provider": "none", "license": "Proprietary"},
    "pixi": {"env_manager": "pixi", "include_slurm": True},
}  # fmt: skip

# Commands of the docs about the template itself, not a generated project.
DOCS_RULES: list[tuple[str, str]] = [
    ("uvx --with copier-template-extensions copier copy", "placeholder template path or URL: "
     "tests render this repository with copier's API (tests/conftest.py)"),
    ("cd protein-folding", "shell"),
    ("git ", "git"),
    ("uv run fleet.py", "tests/test_fleet.py"),
    ("uv run python -m benchmarks.run", "the benchmark; tests/test_benchmark_helpers.py"),
    ("export UV_CACHE_DIR=", "a shell setting"),
    ("uv run torchrun --standalone --nproc-per-node 2 scripts/train.py --steps 100",
     "tests/test_torchrun.py (a resumed run)"),
    ("CONDA_OVERRIDE_CUDA=", "not here: pixi cannot be installed on this machine"),
    # The research workflow (docs/runs.md, docs/upkeep.md) and its tests.
    ("uv run scripts/sweep.py", "tests/test_research.py, tests/test_runs_provenance.py"),
    ("uv run scripts/train_example.py --", "tests/test_runs_provenance.py (run settings)"),
    ("sudo apt-get install slurm-wlm munge", ".ci/run installs them (as root)"),
    ("sudo env \"PATH=$PATH\" uv run pytest", "the template's own suite, as root"),
    ("uv run scripts/setup_env.py upgrade", "issue #13: the set-up's upgrade command, with its "
     "tests (not in scripts/setup_env.py yet)"),
    # A bundle of a run (docs/runs.md): made, verified, and rebuilt with the commands of its
    # REPRODUCE.md, which these are, in an empty folder (tests/test_bundle.py).
    ("uv run scripts/bundle.py", "tests/test_bundle.py (a run bundled, an archive verified)"),
    ("cd source", "shell"),
    ("uv run --locked --no-dev scripts/train_example.py --config ../run/config.json",
     "tests/test_bundle.py (REPRODUCE.md's uv route)"),
    ("python3.12 -m venv .venv", "tests/test_bundle.py (REPRODUCE.md's pip route)"),
    ("python -m pip install", "tests/test_bundle.py (REPRODUCE.md's pip route)"),
    ("python scripts/train_example.py --config ../run/config.json",
     "tests/test_bundle.py (REPRODUCE.md's pip route)"),
]  # fmt: skip
TEMPLATE_TEST_COMMAND = "uv run pytest"  # the template's own suite (.ci/run runs it)


@pytest.fixture(scope="module")
def readmes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    commands = {}
    for name, answers in VARIANTS.items():
        project = render(
            tmp_path_factory.mktemp(name) / "protein-folding", skip_tasks=True, **answers
        )
        commands[name] = readme_commands(project)
    return commands


def test_every_readme_command_has_a_decision(readmes: dict[str, list[str]]) -> None:
    undecided = {c for commands in readmes.values() for c in commands if where(c) is None}
    assert undecided == set()


def test_readmes_show_the_commands_that_once_failed_in_their_working_form(
    readmes: dict[str, list[str]],
) -> None:
    shown = {c for commands in readmes.values() for c in commands}
    assert "uvx sp-repo-review[cli] ." in shown and "uvx sp-repo-review ." not in shown
    assert not [c for c in shown if c.startswith("copier ")]  # copier needs the extensions
    assert readmes["torch-everything"][0] == "uv sync --locked --extra cpu"
    assert readmes["torch-cpu"][0] == "uv sync --locked"


def docs_commands() -> dict[str, list[str]]:
    pages = [*sorted((TEMPLATE / "docs").glob("*.md")), TEMPLATE / "README.md"]
    return {page.name: documented_commands(page.read_text()) for page in pages}


def docs_decision(command: str) -> str | None:
    template_level = next((v for start, v in DOCS_RULES if command.startswith(start)), None)
    return template_level or where(command)


def test_every_docs_command_has_a_decision() -> None:
    undecided = [
        (page, command)
        for page, commands in docs_commands().items()
        for command in commands
        if docs_decision(command) is None
    ]
    assert undecided == []


def test_docs_commands_for_a_project_are_the_readmes_which_the_matrix_runs(
    readmes: dict[str, list[str]],
) -> None:
    in_readmes = {c for commands in readmes.values() for c in commands}
    missing = [
        (page, command)
        for page, commands in docs_commands().items()
        for command in commands
        if docs_decision(command) == RUN
        and command not in in_readmes
        and not (page == "README.md" and command == TEMPLATE_TEST_COMMAND)
    ]
    assert missing == []


@pytest.mark.slow
def test_command_after_a_skipped_setup_runs_as_printed(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "my project"
    copier.run_copy(
        str(TEMPLATE), str(project), data={**BASE_ANSWERS, "framework": "none"},
        defaults=True, unsafe=True, vcs_ref="HEAD", skip_tasks=True,
    )  # fmt: skip
    message = capfd.readouterr().err
    printed = re.search(r"^\s+(cd .* && uv run scripts/setup_env\.py)$", message, re.MULTILINE)
    assert printed is not None, message
    result = run(["bash", "-c", printed[1]], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "==> Environment ready" in result.stdout
