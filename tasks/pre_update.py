"""Before an update: let Copier's merge see the dependencies without their `==` pins.

Copier runs this (a `_migrations` step, stage "before") in the real project, once per
`copier update`, before it computes the project's changes against the old template version.

Why: the template writes dependencies without versions and the set-up pins them (`numpy`
becomes `numpy==2.4.6`), so to Copier every dependency line is a user edit, and any
dependency the template adds or drops in the same list would conflict with all of them.
Copier reads the project from git's index (`git write-tree`), so this step stages a
pyproject.toml whose exact pins are removed, in the index only; the working tree is left as
it is. Copier then sees only real edits (a dependency the user added, another specifier).
After the merge, post_update.py restores the index and re-locks and re-pins: uv keeps the
versions uv.lock holds, so the pins come back as they were.
"""

from __future__ import annotations

import json
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

from conflicts import git
from packaging.requirements import InvalidRequirement, Requirement  # Copier depends on it

PYPROJECT = "pyproject.toml"


def unpinned(requirement: str) -> str:
    """The requirement without its specifier if that is one exact `==` pin, else unchanged."""
    parsed = Requirement(requirement)
    specifiers = list(parsed.specifier)
    if (
        parsed.url
        or len(specifiers) != 1
        or specifiers[0].operator != "=="
        or specifiers[0].version.endswith("*")
    ):
        return requirement
    extras = f"[{','.join(sorted(parsed.extras))}]" if parsed.extras else ""
    marker = f"; {parsed.marker}" if parsed.marker else ""
    return f"{parsed.name}{extras}{marker}"


def direct_requirements(document: dict) -> Iterator[str]:
    """Requirement strings of the project, its extras and its dependency groups."""
    project = document.get("project", {})
    yield from project.get("dependencies", [])
    for extra in project.get("optional-dependencies", {}).values():
        yield from extra
    for group in document.get("dependency-groups", {}).values():
        yield from (item for item in group if isinstance(item, str))


def quoted(value: str) -> tuple[str, str]:
    """The two ways TOML writes a one-line string: basic ("...") and literal ('...')."""
    return json.dumps(value, ensure_ascii=False), f"'{value}'"


def unpin_pyproject(text: str) -> str:
    """pyproject.toml text with every exact pin removed, everything else byte for byte."""
    for requirement in set(direct_requirements(tomllib.loads(text))):
        bare = unpinned(requirement)
        for old, new in zip(quoted(requirement), quoted(bare), strict=True):
            text = text.replace(old, new)
    return text


def stage(project: Path, path: str, text: str) -> None:
    """Put `text` in git's index as `path`, leaving the working tree alone."""
    mode = git(project, "ls-files", "--stage", "--", path).stdout.split(" ", 1)[0]
    blob = git(project, "hash-object", "-w", "--stdin", f"--path={path}", stdin=text)
    blob.check_returncode()
    git(project, "update-index", "--cacheinfo", f"{mode},{blob.stdout.strip()},{path}")


def main() -> int:
    project = Path.cwd()
    pyproject = project / PYPROJECT
    if not pyproject.is_file() or not git(project, "ls-files", "--", PYPROJECT).stdout:
        return 0
    text = pyproject.read_text(encoding="utf-8")
    try:
        bare = unpin_pyproject(text)
    except (tomllib.TOMLDecodeError, InvalidRequirement) as error:
        print(f"==> pyproject.toml left as it is for the merge ({error}).", flush=True)
        return 0
    if bare != text:
        print("==> Hiding the == pins from the merge (git index only; uv.lock keeps the versions)")
        stage(project, PYPROJECT, bare)
    return 0


if __name__ == "__main__":
    sys.exit(main())
