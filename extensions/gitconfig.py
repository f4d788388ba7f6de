"""Defaults read from the user's git configuration."""

from __future__ import annotations

import getpass
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


def default_author_name() -> str:
    try:
        fallback = getpass.getuser()
    except (OSError, KeyError):
        fallback = "Author"
    return git_config("user.name") or fallback


FILTERS = {"git_config": git_config}
GLOBALS = {"default_author_name": default_author_name}
