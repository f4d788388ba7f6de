"""Where `copier update` left work undone in a project: conflicts, markers, rejected hunks.

Copier exits 0 even when a merge conflicted, so whatever runs after an update (the post-update
step, `fleet.py`) asks git instead. Standard library only: Copier's interpreter runs it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

# The labels Copier writes around an inline conflict (copier update --conflict inline).
MARKER_PATTERN = r"^(<<<<<<< before updating|>>>>>>> after updating)"


def git(project: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args], cwd=project, input=stdin, capture_output=True, text=True, check=False
    )


def unmerged_files(project: Path) -> set[str]:
    """Paths with unmerged index entries, as Copier records an inline conflict."""
    listing = git(project, "ls-files", "--unmerged").stdout
    return {line.split("\t", 1)[1] for line in listing.splitlines() if "\t" in line}


def conflicted_files(project: Path) -> list[str]:
    """Every file an update left unresolved, relative to the project.

    Unmerged entries (inline conflicts), files still holding Copier's conflict markers (a
    file marked resolved with `git add` too early, or one an update step merged, tracked or
    new), and `.rej` files (`--conflict rej`).
    """
    marked = git(project, "grep", "--untracked", "-l", "-E", MARKER_PATTERN).stdout.splitlines()
    rejects = git(project, "ls-files", "--others", "--", "*.rej").stdout.splitlines()
    return sorted(unmerged_files(project) | set(marked) | set(rejects))
