"""Defaults read from the user's git configuration, and where they came from."""

from __future__ import annotations

import shutil
import subprocess


def git_config(key: str) -> str:
    """The value of a git config key, or "" when git or the key is missing."""
    git = shutil.which("git")
    if git is None:
        return ""
    result = subprocess.run(
        [git, "config", "--get", key], capture_output=True, text=True, check=False
    )
    return result.stdout.strip() if result.returncode == 0 else ""


def git_config_source(key: str) -> str:
    """For a question's help: where its default comes from, or why there is none."""
    if git_config(key):
        return f"default: git config {key}"
    return f"no default: git config {key} is not set here"


FILTERS = {"git_config": git_config, "git_config_source": git_config_source}
