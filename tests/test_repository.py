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

from extensions import ci, licenses
from extensions.tool_versions import PRE_COMMIT_HOOKS

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PYPROJECT: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())
# The guide's checks this repository skips, by why ([tool.repo-review.ignore] gives each reason).
NOT_MET = {"PP002", "PP003", "PC180"}  # PP003 follows from PP002
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


def test_the_repository_workflow_pins_the_actions_the_generated_projects_pin() -> None:
    """One pin per action: .github/workflows/ci.yml uses extensions/ci.py's ACTIONS verbatim."""
    workflow = (ROOT / ".github" / "workflows" / "ci.yml").read_text()
    used = [line.split("uses: ", 1)[1] for line in workflow.splitlines() if "uses: " in line]
    assert used, "the workflow uses no action"
    assert set(used) <= set(ci.ACTIONS.values()), set(used) - set(ci.ACTIONS.values())


def test_the_repository_workflow_runs_the_ci_entry_point() -> None:
    """GitHub runs exactly .ci/run, the README's test command on a fresh machine."""
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    runs = [step.get("run", "") for step in workflow["jobs"]["suite"]["steps"]]
    assert any(run.endswith("bash .ci/run") for run in runs), runs


def test_the_repository_workflows_pass_zizmor() -> None:
    result = tool("zizmor", "--offline", "--no-progress", "--pedantic", ".github")
    assert result.returncode == 0, result.stdout + result.stderr


def test_each_contributor_task_runs_a_tool_or_module_of_this_repository() -> None:
    """`uv run poe <task>` (the guide's task runner): every command names what exists here."""
    tasks = PYPROJECT["tool"]["poe"]["tasks"]
    commands = [c for task in tasks.values() for c in task.get("sequence", [task.get("cmd")])]
    for command in commands:
        program, *rest = command.split()
        if program == "python":
            module = rest[1].replace(".", "/")
            assert (ROOT / f"{module}.py").is_file() or (ROOT / module).is_dir(), command
        elif program == "bash":
            assert (ROOT / rest[0]).is_file(), command
        else:
            assert (BIN / program).is_file(), command
    listed = tool("poe").stdout + tool("poe").stderr
    assert all(name in listed for name in tasks), listed
