"""What every set-up task shares: progress lines, and an environment free of the caller's.

The rules themselves live in the generated project's research_kit.project (standard library
only), imported here from the template's kit/ (tasks/__init__.py), so the tasks and the
project's own set-up never disagree.
"""

from __future__ import annotations

from pathlib import Path

from research_kit import project as project_files

# Variables that point uv or pixi at another environment (copier's own venv, an activated
# conda env, an outer `uv run`): project.py's list, for fleet.py too.
OUTER_ENVIRONMENT: tuple[str, ...] = project_files.OUTER_ENVIRONMENT
# What the template's own suite and benchmarks also drop, running under `uv run` in the
# template's folder. A user's task keeps UV_PROJECT_ENVIRONMENT: set on purpose, it says
# where the project's environment lives.
UV_RUN_ENVIRONMENT = (*OUTER_ENVIRONMENT, "UV_PROJECT_ENVIRONMENT")


def say(message: str) -> None:
    print(message, flush=True)


def clean_environment() -> dict[str, str]:
    """The caller's environment minus variables that point at another environment."""
    environment: dict[str, str] = project_files.clean_environment()
    return environment


def manager(project: Path) -> str:
    """`pixi` when the project's pyproject.toml has a [tool.pixi] table, else `uv`."""
    name: str = project_files.manager(project_files.read_toml(project / "pyproject.toml"))
    return name
