# Template-owned: `copier update` replaces this file; edits of yours are merged in.
"""The set-up's steps, in order: what `uv run scripts/setup_env.py` runs, and where it resumes.

Apart from steps.py (which the steps themselves import) so that the table can name them
without an import cycle; each step's module is imported when the step runs.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from .steps import PLATFORMS_UPDATE, Step, create_env_file


def later(module: str, function: str) -> Callable[[], None]:
    """A step's action, imported when the step runs: the uv steps need tomlkit and packaging,
    which a pixi project's set-up (a plain `python`) may not have."""

    def action() -> None:
        getattr(importlib.import_module(f"{__package__}.{module}"), function)()

    return action


STEPS = (
    Step(
        "env",
        "Creating .env from .env.example",
        create_env_file,
        "Check the folder's permissions.",
    ),
    Step(
        "lock",
        "Resolving and locking dependencies (uv lock)",
        later("lock", "lock"),
        "Check the network and the package indexes in pyproject.toml ([[tool.uv.index]]); "
        "a resolver conflict names the requirements to relax.",
    ),
    Step(
        "pin",
        "Pinning direct dependencies to uv.lock (pyproject.toml)",
        later("lock", "pin"),
        "Fix the requirement named above in pyproject.toml.",
    ),
    Step(
        "verify",
        "Checking that uv.lock installs on every platform the project targets",
        later("verify", "verify"),
        "A package named above has no wheel for that platform. Add it with a marker that "
        "leaves the platform out (uv add \"NAME; sys_platform == 'linux'\"), or make the lock "
        "for fewer platforms: " + PLATFORMS_UPDATE + " (required-environments in "
        "pyproject.toml lists them).",
    ),
    Step(
        "sync",
        "Installing the locked environment (uv sync --locked)",
        later("install", "sync"),
        "Check the network and free disk space; UV_CACHE_DIR may point to a bigger disk.",
    ),
    Step(
        "check",
        "Checking the environment (smoke test; pytest, ruff and mypy start)",
        later("install", "check"),
        "Run 'uv run scripts/smoke_test.py' for the full report.",
    ),
)


def steps_from(name: str) -> tuple[Step, ...]:
    return STEPS[[s.name for s in STEPS].index(name) :]
