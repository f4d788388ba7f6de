"""A pairwise-covering matrix of answer combinations, each generated and checked as deep as
this machine allows (rows: tests/test_matrix.py, test_matrix_installs.py, test_matrix_torch.py).

The factors: the package name (default, or `folding` for "Protein Folding"), every offered
Python, both frameworks, uv and pixi, cpu_extra, the torch companions, SLURM, the container
recipes, the CI providers and the licenses. tests/pairwise.py picks rows so that every pair
of values that can occur together occurs in some row (four rows are fixed: the real PyTorch
install, and a framework-free install on each other Python here). What a row proves
depends on what can be installed here:

- install (uv; framework none on Python 3.11-3.13, or PyTorch on 3.11 without companions,
  CPU or cpu_extra, from a loopback index serving the real CPU wheel): copier copy with its
  set-up task (lock, pin, verify, sync, check), then every README command that runs here, exactly
  as written (tests/commands.py), then the steps of the generated CI not already run;
- lock (uv; PyTorch on another Python or with companions, which exist here only as
  stand-ins): rendered, locked against the stand-in index, ruff and format clean, a valid
  pyproject; nothing installed;
- render (Python 3.14, which this machine lacks, and every pixi row): rendered, ruff and
  format clean, a valid pyproject, and for pixi the [tool.pixi] tables against pixi's schema.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from commands import RUN, readme_commands, where
from conftest import git, render, run
from pairwise import covering_rows
from test_pixi import manifest, schema_errors

FACTORS: dict[str, list[Any]] = {
    "package": ["default", "folding"],
    "python": ["3.11", "3.12", "3.13", "3.14"],
    "framework": ["pytorch", "none"],
    "env_manager": ["uv", "pixi"],
    "cpu_extra": [False, True],
    "companions": ["none", "torchvision", "torchvision+torchaudio"],
    "slurm": [False, True],
    "container": ["none", "docker", "apptainer", "both"],
    "ci": ["github", "gitlab", "none"],
    "license": ["MIT", "BSD-3-Clause", "Apache-2.0", "GPL-3.0-only", "Proprietary"],
}
INSTALLABLE_PYTHONS = ("3.11", "3.12", "3.13")  # from pyenv; 3.14 is not here
TORCH_PYTHON = "3.11"  # the one Python the real CPU torch wheel is built for


def valid(row: dict[str, Any]) -> bool:
    if row["framework"] == "none" and (
        row["cpu_extra"] or row["companions"] != "none" or row["slurm"]
    ):
        return False
    return not (row["env_manager"] == "pixi" and (row["container"] != "none" or row["cpu_extra"]))


def depth(row: dict[str, Any]) -> str:
    if row["env_manager"] == "pixi" or row["python"] not in INSTALLABLE_PYTHONS:
        return "render"
    if row["framework"] == "none":
        return "install"
    if row["python"] == TORCH_PYTHON and row["companions"] == "none":
        return "install"
    return "lock"


def cost(row: dict[str, Any]) -> float:
    """Rough seconds per row, so the cover prefers cheap rows among equally useful ones."""
    return {"render": 2, "lock": 6, "install": 25}[depth(row)] * (
        3 if row["framework"] == "pytorch" and depth(row) == "install" else 1
    )


# Rows fixed whatever the pairs: the real PyTorch install (every torch feature on the real
# CPU build; tests/test_generated_project.py installs the plain CPU routing)...
REQUIRED_ROWS = [
    {
        "package": "folding", "python": "3.11", "framework": "pytorch", "env_manager": "uv",
        "cpu_extra": True, "companions": "none", "slurm": True, "container": "both",
        "ci": "github", "license": "MIT",
    },
    # ...and a framework-free install on each other Python here (one with GitLab CI, run
    # with its job's variables).
    {
        "package": "folding", "python": "3.13", "framework": "none", "env_manager": "uv",
        "cpu_extra": False, "companions": "none", "slurm": False, "container": "none",
        "ci": "gitlab", "license": "BSD-3-Clause",
    },
    {
        "package": "default", "python": "3.12", "framework": "none", "env_manager": "uv",
        "cpu_extra": False, "companions": "none", "slurm": False, "container": "docker",
        "ci": "github", "license": "GPL-3.0-only",
    },
    {
        "package": "default", "python": "3.11", "framework": "none", "env_manager": "uv",
        "cpu_extra": False, "companions": "none", "slurm": False, "container": "apptainer",
        "ci": "none", "license": "Proprietary",
    },
]  # fmt: skip
ROWS = covering_rows(FACTORS, valid, cost, required=REQUIRED_ROWS)


def row_id(row: dict[str, Any]) -> str:
    parts = [depth(row), row["framework"], row["env_manager"], f"py{row['python']}"]
    parts += [row["package"]] if row["package"] != "default" else []
    parts += ["cpu-extra"] if row["cpu_extra"] else []
    parts += [row["companions"]] if row["companions"] != "none" else []
    parts += ["slurm"] if row["slurm"] else []
    parts += [f"{row['container']}"] if row["container"] != "none" else []
    parts += [f"ci-{row['ci']}", row["license"]]
    return "-".join(parts)


def answers_of(row: dict[str, Any], torch_index: str) -> dict[str, Any]:
    answers: dict[str, Any] = {
        "python_version": row["python"],
        "framework": row["framework"],
        "env_manager": row["env_manager"],
        "container": row["container"],
        "ci_provider": row["ci"],
        "license": row["license"],
    }
    if row["package"] != "default":
        answers["package_name"] = row["package"]
    if row["framework"] == "pytorch":
        answers["torch_version"] = "2.13"
        answers["torch_packages"] = [p for p in row["companions"].split("+") if p != "none"]
        answers["include_slurm"] = row["slurm"]
        answers["accelerator"] = "cu130" if row["cpu_extra"] else "cpu"
        if row["env_manager"] == "uv":
            answers["cpu_extra"] = row["cpu_extra"]
            answers["torch_index_url"] = torch_index
    return answers


def tool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """A tool of the template's own environment (ruff, validate-pyproject)."""
    return run([sys.executable, "-m", *args], cwd)


def static_checks(project: Path) -> None:
    for args in (["ruff", "check", "."], ["ruff", "format", "--check", "."]):
        result = tool(*args, cwd=project)
        assert result.returncode == 0, (args, result.stdout + result.stderr)
    result = tool("validate_pyproject", "pyproject.toml", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr


def ci_commands(project: Path, ci: str) -> tuple[list[str], dict[str, str]]:
    """The generated CI job's commands and the variables it sets."""
    if ci == "github":
        workflow = yaml.safe_load((project / ".github/workflows/ci.yml").read_text())
        steps = workflow["jobs"]["checks"]["steps"]
        return [step["run"] for step in steps if "run" in step], {}
    if ci == "gitlab":
        job = yaml.safe_load((project / ".gitlab-ci.yml").read_text())["checks"]
        return list(job["script"]), {k: str(v) for k, v in job.get("variables", {}).items()}
    return [], {}


def run_as_written(command: str, project: Path, **variables: str) -> None:
    """`command` through bash, as a user pastes it."""
    result = subprocess.run(
        ["bash", "-c", command],
        cwd=project,
        env={**os.environ, **variables},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, f"{command}\n{result.stdout}{result.stderr}"


def one_combination(command: str) -> dict[str, str]:
    """For the README's sweep: what a SLURM array task has, so that the command, exactly as
    written, runs its last combination only (its grid parsed whole, the settings reaching the
    script). Every combination of a sweep runs in tests/test_runs_provenance.py."""
    words = command.split()
    if not any(word.endswith("scripts/sweep.py") for word in words) or "--list" in words:
        return {}
    grids = [word.split("=", 1)[1].split(",") for word in words if "=" in word]
    return {"SLURM_ARRAY_TASK_ID": str(len(list(itertools.product(*grids))) - 1)}


def as_run(command: str) -> str:
    """What a command runs: `uv run --locked X` runs what `uv run X` does once the lock is
    checked (`uv lock --check`), and `uv run python scripts/x.py` what `uv run scripts/x.py`
    does."""
    return command.replace("uv run --locked ", "uv run ").replace("uv run python ", "uv run ")


def check_row(row: dict[str, Any], destination: Path, torch_index: str, mypy_cache: Path,
              capfd: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    """Generate the row's project and check it as deep as its depth allows."""
    level = depth(row)
    project = render(destination, skip_tasks=level != "install", **answers_of(row, torch_index))
    package = row["package"] if row["package"] != "default" else "protein_folding"
    assert (project / "src" / package / "__init__.py").is_file()

    if level == "render":
        static_checks(project)
        if row["env_manager"] == "pixi":
            assert schema_errors(manifest(project)["tool"]["pixi"]) == []
        return
    if level == "lock":
        static_checks(project)
        result = run(["uv", "lock"], project)
        assert result.returncode == 0, result.stderr
        return

    output = capfd.readouterr().out
    assert "==> Environment ready" in output, output
    git("add", "-A", cwd=project)  # tracked, as in a clone (pre-commit reads the index)
    cache = {"MYPY_CACHE_DIR": str(mypy_cache)}
    documented = readme_commands(project)
    ran: list[str] = []
    unchanged: set[str] = set()  # what ran since the project's environment last changed
    for command in documented:
        verdict = where(command)
        assert verdict is not None, f"unclassified command in the README: {command}"
        if verdict != RUN or (command in ONE_ROW_ONLY and row != DOCUMENTATION_ROW):
            continue
        if as_run(command) in unchanged:  # `uv run --locked pytest` after `uv run pytest`
            locked_check(command, project)
        else:
            run_as_written(command, project, **cache, **one_combination(command))
        ran.append(command)
        unchanged = set() if command.startswith(CHANGES) else unchanged | {as_run(command)}
    commands, variables = ci_commands(project, row["ci"])
    for command in commands:
        if command not in ran:
            run_as_written(command, project, **cache, **variables)
    assert "uv run --locked mypy" in documented and "uv run --locked pytest" in documented


# Commands that change the project or its environment: what ran before them runs again.
CHANGES = ("uv add", "uv lock", "uv sync", "uv run scripts/setup_env.py", "cp ", "uvx pre-commit")


def locked_check(command: str, project: Path) -> None:
    """`uv run --locked X`, where `uv run X` has just run: what --locked adds, the lock's check."""
    if "--locked" in command.split():
        run_as_written("uv lock --check", project)


# Commands whose outcome does not depend on the answers (each downloads a tool, re-locks or
# re-installs everything): run in one framework-free row.
DOCUMENTATION_ROW = next(
    row for row in ROWS if depth(row) == "install" and row["framework"] == "none"
)
ONE_ROW_ONLY = {
    "uv run scripts/setup_env.py",
    "uv run scripts/setup_env.py --from lock",
    "uv add einops",
    "uv lock --upgrade",
    "uv run scripts/setup_env.py --from pin",
    "uvx pre-commit install",
    "uvx pre-commit run --all-files",
    "uvx sp-repo-review[cli] .",
    "uvx cffconvert --validate",
}
