"""An update that stops half-way names the one command that puts the project back.

Copier refuses to update a project with uncommitted changes or untracked files, so while an
update runs, everything of the user's is in the last commit (or git-ignored, which Copier
never writes: `.env`, `.venv`). RESTORE, run in the project's folder, brings the folder back
to that commit and removes what the update created; it touches nothing outside the folder
(in a larger repository, the rest stays as it is, uncommitted work included).

pre_update.py writes a marker in the git directory when it starts changing the project and
post_update.py removes it once the update has finished (merged, or stopped at conflicts with
its own message). If Copier's process ends while the marker is there (Ctrl-C, a failure in
between), an exit hook registered by the template's Jinja extension (extensions/hooks.py
calls `watch`) prints the command. Standard library only: Copier's interpreter runs it.
"""

from __future__ import annotations

import atexit
import subprocess
import sys
import time
from pathlib import Path

MARKER = "copier-research-update"
RESTORE = "git restore --source=HEAD --staged --worktree -- . && git clean -fd -- ."


def restore_hint(project: Path) -> str:
    return f"in {project}:\n        {RESTORE}"


def marker_path(project: Path) -> Path | None:
    """Where the marker lives: in the repository's git directory (None outside a repository)."""
    found = subprocess.run(
        ["git", "rev-parse", "--git-path", MARKER],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    if found.returncode != 0 or not found.stdout.strip():
        return None
    return (project / found.stdout.strip()).resolve()


def begin(project: Path) -> None:
    marker = marker_path(project)
    if marker is not None:
        marker.write_text(
            "\n!!  The update stopped before it finished; the project is half-updated.\n"
            "    Everything of yours is in the last commit. To put the project back as it\n"
            f"    was, run {restore_hint(project)}\n",
            encoding="utf-8",
        )


def end(project: Path) -> None:
    marker = marker_path(project)
    if marker is not None:
        marker.unlink(missing_ok=True)


# ── In Copier's own process ────────────────────────────────────────────────

_watched: set[Path] = set()
_started = time.time()


def watch(project: str | Path) -> None:
    """At the exit of this process, report an update of `project` that did not finish."""
    if not _watched:
        atexit.register(_report)
    _watched.add(Path(project).resolve())


def _report() -> None:
    for project in sorted(_watched):
        marker = marker_path(project) if project.is_dir() else None
        if marker is not None and marker.is_file() and marker.stat().st_mtime >= _started:
            print(marker.read_text(encoding="utf-8"), file=sys.stderr, flush=True)
