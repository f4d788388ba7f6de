"""What every set-up task shares: progress lines, and an environment free of the caller's."""

from __future__ import annotations

import os

# Variables that point uv or pixi at another environment (copier's own venv, an activated
# conda env, an outer `uv run`).
OUTER_ENVIRONMENT = (
    "VIRTUAL_ENV",
    "UV_RUN_RECURSION_DEPTH",
    "CONDA_PREFIX",
    "CONDA_DEFAULT_ENV",
)


def say(message: str) -> None:
    print(message, flush=True)


def clean_environment() -> dict[str, str]:
    """The caller's environment minus variables that point at another environment."""
    return {name: value for name, value in os.environ.items() if name not in OUTER_ENVIRONMENT}
