"""After an update: a file of the template's that the new release no longer writes, and that
the researcher had edited, is kept (Copier itself would delete it, edits and all).

    python tasks/kept_files.py PACKAGE ANSWERS_FILE TEMPLATE_CLONE

Copier runs this (a `_migrations` step, stage "after", before post_update.py) in the real
project after every update. Copier deletes every file the last release wrote and the new one
does not (a NumPy project has had no machine.py since the release that rendered GPU code for
PyTorch projects only; `-d tracker=none` drops tracking.py), whether or not the researcher
changed it. Everything of the researcher's is in the last commit (Copier updates only a clean
project), so this step compares each file the update deleted with the last release rendered
again: an unchanged one stays deleted; an edited one is written back from the last commit and
named, for the researcher to keep or delete. Updates that delete nothing cost nothing here.
A renamed package's old folder is rename_package.py's business, which runs first. A file the
release moved into kit/ (the machinery in src/<package>/ and its tests, up to the release that
made kit/) is kit_layout.py's: an edit is merged into the new place, not kept in the old.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from tasks import kit_layout
from tasks.common import say
from tasks.conflicts import git
from tasks.rename_package import committed_answers, committed_bytes, render_last_release


def deleted_by_the_update(project: Path) -> list[str]:
    """Files of the last commit missing from the working tree now, project-relative."""
    listed = git(project, "diff", "--name-only", "--diff-filter=D", "--relative", "HEAD", "--", ".")
    return [path for path in listed.stdout.splitlines() if path]


def edited(project: Path, paths: list[str], last_release: Path | None) -> list[str]:
    """The paths whose committed content is not what the last release wrote (all of them
    when the last release could not be rendered again: nothing is deleted on a guess)."""
    if last_release is None:
        return paths
    found = []
    for path in paths:
        written = last_release / path
        if not written.is_file() or written.read_bytes() != committed_bytes(project, path):
            found.append(path)
    return found


def main(argv: list[str]) -> int:
    new_package, answers_file, template = argv[0], argv[1], argv[2]
    project = Path.cwd()
    deleted = deleted_by_the_update(project)
    if not deleted:
        return 0
    answers = committed_answers(project, answers_file)
    package = str(answers.get("package_name", ""))
    if package and package != new_package:  # moved to src/<new>/ by rename_package.py
        deleted = [path for path in deleted if not path.startswith(f"src/{package}/")]
    with tempfile.TemporaryDirectory() as scratch:
        base = Path(scratch) / "last-release"
        rendered = bool(package) and render_last_release(template, answers, package, base)
        last_release = base if rendered else None
        moved = kit_layout.merge_edits(project, new_package, deleted, last_release)
        deleted = [path for path in deleted if path not in moved.handled]
        kept = edited(project, deleted, last_release)
    for path in kept:
        (project / path).parent.mkdir(parents=True, exist_ok=True)
        (project / path).write_bytes(committed_bytes(project, path))
    if kept:
        say("==> Kept files the release no longer writes, as you had changed them:")
        for path in kept:
            say(f"    {path}")
        say("    They are yours now: delete them (git rm) when you no longer need them.")
    kit_layout.finish(project, new_package, moved)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
