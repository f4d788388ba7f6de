"""The template repository checks itself as it checks the projects it generates: ruff, mypy
--strict, codespell, the Scientific Python guide (sp-repo-review), a license and a pre-commit
config with the generated projects' hooks."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import render
from repo_review.processor import process

from extensions import licenses
from extensions.tool_versions import PRE_COMMIT_HOOKS

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PYPROJECT: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())
# The guide's checks this repository skips, by why ([tool.repo-review.ignore] gives each reason).
NOT_MET = {"PY007", "PP002", "PP003", "GH100", "PC180"}  # PP003 follows from PP002
BY_LOCAL_HOOKS = {"PC100", "PC110", "PC140", "PC160", "PC190"}
NOT_APPLICABLE = {"PC170", "PC901", "PC902", "PC903"}  # no reStructuredText, no pre-commit.ci


def tool(*command: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / command[0]), *command[1:]],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **env},
    )


@pytest.mark.parametrize(
    "command",
    [("ruff", "check", "."), ("ruff", "format", "--check", "."), ("codespell",)],
    ids=["ruff-check", "ruff-format", "codespell"],
)
def test_linters_pass(command: tuple[str, ...]) -> None:
    result = tool(*command)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_passes(tmp_path: Path) -> None:
    """One run over [tool.mypy]'s files: extensions/, tasks/, tools/, benchmarks/, fleet.py."""
    assert PYPROJECT["tool"]["mypy"]["strict"] is True
    files = PYPROJECT["tool"]["mypy"]["files"]
    assert {"extensions", "tasks", "tools", "benchmarks", "fleet.py"} <= set(files)
    result = tool("mypy", MYPY_CACHE_DIR=str(tmp_path / "mypy-cache"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_scientific_python_guide_finds_no_failure() -> None:
    results = process(ROOT).results
    failed = [f"{r.name} {r.description}: {r.err_msg}" for r in results if r.result is False]
    assert not failed, "\n".join(failed)


def test_each_skipped_guide_check_says_why() -> None:
    waived = PYPROJECT["tool"]["repo-review"]["ignore"]
    assert all(len(reason) > 30 for reason in waived.values())
    skipped = {r.name for r in process(ROOT).results if r.skip_reason}
    assert skipped == waived.keys() == NOT_MET | BY_LOCAL_HOOKS | NOT_APPLICABLE
    hooks = hooks_of(ROOT / ".pre-commit-config.yaml")
    for check in BY_LOCAL_HOOKS:
        assert waived[check].startswith("Satisfied by the local hook"), check
        named = waived[check].split("(")[0].replace(",", " ").replace("'", " ").split()
        assert any(word in hooks for word in named), check
    assert all(waived[check].startswith("Not applicable") for check in NOT_APPLICABLE)


def test_the_license_is_the_one_pyproject_names() -> None:
    assert PYPROJECT["project"]["license"] == "MIT"
    text = (ROOT / "LICENSE").read_text()
    year = int(text.split("Copyright (c) ")[1][:4])
    assert 2026 <= year <= datetime.date.today().year
    assert text == licenses.license_text("MIT", "The copier-research authors", year)


def hooks_of(config: Path) -> dict[str, dict[str, Any]]:
    repos = yaml.safe_load(config.read_text())["repos"]
    return {hook["id"]: hook for repo in repos for hook in repo["hooks"]}


def test_pre_commit_runs_the_generated_projects_hooks(tmp_path: Path) -> None:
    """The local hooks of a generated uv project, on the locked tools, at the same pin."""
    project = render(tmp_path / "project", framework="none", skip_tasks=True)
    ours = hooks_of(ROOT / ".pre-commit-config.yaml")
    theirs = hooks_of(project / ".pre-commit-config.yaml")
    assert ours.keys() - theirs.keys() == {"codespell"}
    assert theirs.keys() <= ours.keys()
    for hook_id, hook in ours.items():
        if hook_id not in theirs:
            assert hook["entry"].startswith("uv run --locked "), hook_id
            continue
        assert hook["language"] == theirs[hook_id]["language"], hook_id
        if hook["language"] == "system":
            assert hook["entry"].split()[:2] == theirs[hook_id]["entry"].split()[:2], hook_id
        else:
            assert hook.get("additional_dependencies") == [PRE_COMMIT_HOOKS], hook_id
