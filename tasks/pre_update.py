"""Before an update: let Copier's merge see the user's dependency specifiers, not the set-up's.

Copier runs this (a `_migrations` step, stage "before") in the real project, once per
`copier update`, before it computes the project's changes against the old template version.

Why: the template writes dependencies bare and the set-up pins them (`numpy` becomes
`numpy==2.4.6`, recorded in [tool.setup-env.pinned]), so to Copier those pins would be user
edits, and every template change to a dependency list would collide with them. Copier reads
the project from git's index (`git write-tree`), so this step stages a pyproject.toml with
the set-up's recorded pins taken off and the record left out, in the index only; the working
tree is left as it is. The user's own pins, ranges and markers stay in, so the merge keeps
them, and a template change to the same dependency is a real conflict. post_update.py puts
the pins back (or re-locks, when the dependencies changed) and restores the index.

The project may sit anywhere in a larger repository: every path given to git is the
project's own, and `git update-index --cacheinfo`, which takes repository-root paths, gets
the project's prefix.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement  # Copier depends on it

from tasks import KIT, recovery
from tasks.common import clean_environment, say
from tasks.conflicts import git
from tasks.newlines import as_written, uses_crlf
from tasks.pyproject_text import hidden_quickly

PYPROJECT = "pyproject.toml"
TEMPLATE = Path(__file__).resolve().parent.parent
HELPER = str(TEMPLATE / "tasks" / "dependency_merge.py")


UV_REINSTALL = "Reinstall uv: https://docs.astral.sh/uv/getting-started/installation/"


class UpdateRefused(Exception):
    """The update must not start; the message says why and what to do."""


def call_helper(request: dict[str, object]) -> dict[str, object]:
    """Ask dependency_merge.py (tomlkit, through `uv run --script`) to rewrite pyproject.toml."""
    uv = shutil.which("uv")
    if uv is None:
        raise UpdateRefused("'uv' is not on PATH; the update needs it to merge pyproject.toml.")
    try:
        process = subprocess.run(
            [uv, "run", "--quiet", "--no-project", "--python", sys.executable, "--script", HELPER],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            # The helper imports the template's packages and its kit, as the tasks do.
            env={**clean_environment(), "PYTHONPATH": os.pathsep.join([str(TEMPLATE), KIT])},
            check=False,
        )
    except OSError as error:  # a uv that cannot start: a broken download, another platform
        raise UpdateRefused(f"the uv at {uv} cannot start ({error}). {UV_REINSTALL}") from None
    try:
        answer: dict[str, object] = json.loads(process.stdout)
    except json.JSONDecodeError:
        answer = {"error": process.stderr.strip()[-1000:] or f"exit status {process.returncode}"}
    if "error" in answer:
        raise UpdateRefused(f"reading pyproject.toml failed: {answer['error']}")
    return answer


def has_set_up_pins(text: str) -> bool:
    """The set-up pinned something: a record of its pins, or (set up before they were
    recorded) any exact pin."""
    document = tomllib.loads(text)
    if "pinned" in document.get("tool", {}).get("setup-env", {}):
        return True
    project = document.get("project", {})
    lists = [project.get("dependencies", []), *project.get("optional-dependencies", {}).values()]
    lists += document.get("dependency-groups", {}).values()
    return any(
        str(Requirement(item).specifier).startswith("==")
        for items in lists
        for item in items
        if isinstance(item, str)
    )


def stage(project: Path, text: str) -> None:
    """Put `text` in git's index as the project's pyproject.toml; the working tree stays."""
    prefix = git(project, "rev-parse", "--show-prefix").stdout.strip()
    listed = git(project, "ls-files", "--stage", "--", PYPROJECT).stdout.split()
    blob = git(project, "hash-object", "-w", "--stdin", f"--path={PYPROJECT}", stdin=text)
    staged = git(
        project,
        "update-index",
        "--cacheinfo",
        f"{listed[0]},{blob.stdout.strip()},{prefix}{PYPROJECT}",  # repository-root path
    )
    for step in (blob, staged):
        if step.returncode != 0:
            raise UpdateRefused(f"git could not stage {PYPROJECT}: {step.stderr.strip()}")


def check_clean(project: Path) -> None:
    """Nothing untracked in the folder (git status may be set to hide untracked files)."""
    untracked = git(project, "ls-files", "--others", "--exclude-standard", "--", ".").stdout
    if untracked.strip():
        listed = "\n".join(f"        {name}" for name in untracked.splitlines()[:10])
        raise UpdateRefused(
            f"files git does not track are in the project:\n{listed}\n"
            "    Commit them (git add), ignore them (.gitignore) or move them, then update again."
        )


def main() -> int:
    project = Path.cwd()
    try:
        check_clean(project)
        tracked = git(project, "ls-files", "--", PYPROJECT).stdout.strip()
        raw = (project / PYPROJECT).read_bytes() if tracked else b""
        text = raw.decode("utf-8").replace("\r\n", "\n")
        pinned = bool(text) and has_set_up_pins(text)
        recovery.begin(project)
        say(f"==> Should this update stop half-way: {recovery.restore_hint(project)}")
        if pinned:
            say("==> Taking the set-up's == pins out of the merge (in git's index only)")
            hidden = hidden_quickly(text)
            if hidden is None:  # not plain text replacements: tomlkit does it
                hidden = str(call_helper({"action": "hide", "pyproject": text})["pyproject"])
            stage(project, as_written(hidden, uses_crlf(raw)))  # CRLF stays CRLF
    except (
        UpdateRefused,
        tomllib.TOMLDecodeError,
        InvalidRequirement,
        UnicodeDecodeError,
        OSError,
    ) as error:
        recovery.end(project)
        say(f"\n!!  Update not started: {error}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
