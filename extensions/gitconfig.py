"""Defaults read from the user's git configuration, and where they came from.

The filters take the render's context, which they do not use, so that Jinja calls them at
each render: a filter without it is called while compiling when its argument is a constant
(`'user.name' | git_config`), and the compiled code is shared across renders
(extensions/compile_cache.py).
"""

from __future__ import annotations

import shutil
import subprocess

from jinja2 import pass_context
from jinja2.runtime import Context


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


@pass_context
def _git_config_filter(_context: Context, key: str) -> str:
    return git_config(key)


@pass_context
def _git_config_source_filter(_context: Context, key: str) -> str:
    return git_config_source(key)


FILTERS = {"git_config": _git_config_filter, "git_config_source": _git_config_source_filter}
