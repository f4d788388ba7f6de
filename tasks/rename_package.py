"""After an update that renamed the package: the researcher's files follow it to src/<new>/.

    python tasks/rename_package.py NEW_PACKAGE ANSWERS_FILE TEMPLATE_CLONE

Copier runs this (a `_migrations` step, stage "after", before post_update.py) in the real
project after every update; it does nothing unless `package_name` changed
(`copier update -d package_name=new`). Copier itself would lose work there: it writes the
template's modules into src/<new>/, applies the researcher's edits to the old modules in
src/<old>/, then deletes those as files the template no longer writes, edits and all; the
researcher's own modules stay behind in src/<old>/, and scripts and tests go on importing
the old name (mypy: "Source file found twice under different module names").

Everything of the researcher's is in the last commit (Copier updates only a clean project),
so this step takes each file of src/<old>/ from there and puts it in src/<new>/:

- a module the template writes in both releases is merged three ways, as Copier merges any
  file: the last release rendered again with the new name (the base), the researcher's
  version with its imports renamed (ours) and the new release's (theirs), so both sides'
  changes arrive; where both changed the same lines, conflict markers, which post_update.py
  reports like Copier's own;
- any other file (a module of the researcher's, a starter file) moves as it is, its imports
  renamed;
- `import old` / `from old... import` (and `old.name` after `import old`) become the new
  name in every Python file and notebook of the project; other mentions of the old name are
  listed for the researcher to check;
- src/<old>/ goes, once nothing but caches is left in it.

The base comes from Copier's Python API (this runs in Copier's interpreter): the release the
project was on, from the template clone Copier made for the update.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
import tempfile
import tokenize
from pathlib import Path
from typing import Any

import yaml  # Copier depends on PyYAML

from tasks.common import say
from tasks.conflicts import git
from tasks.post_update import merge_file

CACHES = ("__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache")


def committed_answers(project: Path, answers_file: str) -> dict[str, Any]:
    shown = git(project, "show", f"HEAD:./{answers_file}")
    answers = yaml.safe_load(shown.stdout) if shown.returncode == 0 else None
    return answers if isinstance(answers, dict) else {}


def committed_files(project: Path, folder: str) -> list[str]:
    """The files under `folder` (project-relative) in the last commit, project-relative."""
    listed = git(project, "ls-tree", "-r", "--name-only", "--full-name", "HEAD", "--", folder)
    prefix = git(project, "rev-parse", "--show-prefix").stdout.strip()
    return [name.removeprefix(prefix) for name in listed.stdout.splitlines()]


def committed_bytes(project: Path, path: str) -> bytes:
    shown = subprocess.run(
        ["git", "show", f"HEAD:./{path}"], cwd=project, capture_output=True, check=True
    )
    return shown.stdout


# ── Imports of the old name ────────────────────────────────────────────────


def rename_imports(source: str, old: str, new: str) -> str:
    """Python `source` with the module `old` renamed `new` where it is imported or used.

    Renamed: the first name of a module path in an import statement (`import old.x`,
    `from old import y`, `import a, old as b`) and, where `old` itself is imported
    (`import old`), every use of the name (`old.name`, not `x.old`). Strings and comments
    are left alone.
    """
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return source
    imported = False
    places: list[tuple[int, int]] = []
    statement: list[tokenize.TokenInfo] = []  # the tokens of the current logical line
    for token in tokens:
        if token.type in (tokenize.NEWLINE, tokenize.ENDMARKER):
            statement = []
            continue
        if token.type in (tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT):
            continue
        previous = statement[-1].string if statement else ""
        first = statement[0].string if statement else ""
        statement.append(token)
        if token.type != tokenize.NAME or token.string != old or previous == ".":
            continue
        if first in ("import", "from") and previous in ("import", "from", ","):
            if first == "import" or previous == "from":
                places.append(token.start)
                imported = imported or first == "import"
        elif first not in ("import", "from"):
            places.append((-token.start[0], token.start[1]))  # a use: only if `import old`
    lines = source.splitlines(keepends=True)
    for row, column in sorted(places, key=lambda place: (abs(place[0]), place[1]), reverse=True):
        if row > 0 or imported:
            line = lines[abs(row) - 1]
            lines[abs(row) - 1] = line[:column] + new + line[column + len(old) :]
    return "".join(lines)


def rename_notebook_imports(text: str, old: str, new: str) -> str:
    """A notebook's JSON with the imports of `old` in its code renamed (`from old`,
    `import old`, and `old.name` where `old` itself is imported)."""
    imported = re.search(rf"\bimport {old}\b(?!\.)", text) is not None
    text = re.sub(rf"\b(from|import) {old}\b", rf"\1 {new}", text)
    if imported:
        text = re.sub(rf"(?<![\w.]){old}\.(?=[A-Za-z_])", f"{new}.", text)
    return text


def readable_source(path: str, data: bytes) -> str | None:
    """The text of a Python file or notebook; None for any other file, or one not UTF-8."""
    if not path.endswith((".py", ".ipynb")):
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def renamed(path: str, data: bytes, old: str, new: str) -> bytes:
    """A file's content with its imports of `old` renamed (Python files and notebooks)."""
    if (text := readable_source(path, data)) is None:
        return data
    if path.endswith(".py"):
        return rename_imports(text, old, new).encode("utf-8")
    return rename_notebook_imports(text, old, new).encode("utf-8")


# ── The last release, rendered again with the new name ─────────────────────


def render_last_release(template: str, answers: dict[str, Any], new: str, folder: Path) -> bool:
    """The release the project was on, rendered with the new package name into `folder`."""
    import copier  # Copier's own interpreter runs this step

    data = {key: value for key, value in answers.items() if not key.startswith("_")}
    data["package_name"] = new
    try:
        copier.run_copy(
            template,
            str(folder),
            data=data,
            vcs_ref=str(answers.get("_commit") or "HEAD"),
            defaults=True,
            overwrite=True,
            unsafe=True,
            quiet=True,
            skip_tasks=True,
        )
    except Exception as error:  # whatever fails, the merge goes on with no base (markers)
        say(f"    (the last release could not be rendered again with the new name: {error})")
        return False
    return True


# ── Moving src/<old>/ ──────────────────────────────────────────────────────


def merge_texts(ours: bytes, base: bytes, theirs: bytes) -> tuple[int, bytes] | None:
    """git merge-file of three files: (conflicts, merged); None when one is not UTF-8 text."""
    try:
        texts = [data.decode("utf-8") for data in (ours, base, theirs)]
    except UnicodeDecodeError:
        return None
    count, text = merge_file(*texts)
    return count, text.encode("utf-8")


def move_package(project: Path, old: str, new: str, base: Path | None) -> tuple[int, list[str]]:
    """Each committed file of src/<old>/ into src/<new>/: (files moved, files in conflict)."""
    moved, conflicts = 0, []
    for path in committed_files(project, f"src/{old}"):
        inner = path.removeprefix(f"src/{old}/")
        target = project / "src" / new / inner
        ours = renamed(path, committed_bytes(project, path), old, new)
        theirs = target.read_bytes() if target.is_file() else None
        template = base / "src" / new / inner if base is not None else None
        if theirs is not None and ours != theirs:
            original = template.read_bytes() if template is not None and template.is_file() else b""
            merged = merge_texts(ours, original, theirs)
            if merged is not None:  # text; a binary file of yours stays as it is
                count, ours = merged
                if count:
                    conflicts.append(f"src/{new}/{inner}")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(ours)
        (project / path).unlink(missing_ok=True)
        moved += 1
    return moved, conflicts


def remove_old_folder(project: Path, old: str) -> list[str]:
    """src/<old>/ without its caches and empty folders; what is left in it (git-ignored)."""
    folder = project / "src" / old
    if not folder.is_dir():
        return []
    for cache in sorted(folder.rglob("*"), reverse=True):
        if cache.is_dir() and cache.name in CACHES:
            for item in sorted(cache.rglob("*"), reverse=True):
                item.rmdir() if item.is_dir() else item.unlink()
            cache.rmdir()
    for directory in sorted((d for d in folder.rglob("*") if d.is_dir()), reverse=True):
        if not any(directory.iterdir()):
            directory.rmdir()
    if not any(folder.iterdir()):
        folder.rmdir()
        return []
    return sorted(str(p.relative_to(project)) for p in folder.rglob("*") if p.is_file())


def rename_elsewhere(project: Path, old: str, new: str) -> list[str]:
    """Imports of `old` renamed in the project's other Python files and notebooks."""
    listed = git(project, "ls-files", "--cached", "--others", "--exclude-standard", "--", ".")
    changed = []
    for path in listed.stdout.splitlines():
        target = project / path
        if not target.is_file() or path.startswith((f"src/{old}/", f"src/{new}/")):
            continue
        data = target.read_bytes()
        if (result := renamed(path, data, old, new)) != data:
            target.write_bytes(result)
            changed.append(path)
    return changed


def mentions(project: Path, old: str) -> list[str]:
    """Files that still name `old` as a word (README, configs): for the researcher to check."""
    found = git(project, "grep", "--untracked", "-l", "-w", "-F", old, "--", ".")
    return found.stdout.splitlines()


def main(argv: list[str]) -> int:
    new, answers_file, template = argv[0], argv[1], argv[2]
    project = Path.cwd()
    answers = committed_answers(project, answers_file)
    old = answers.get("package_name")
    if not isinstance(old, str) or old == new or not committed_files(project, f"src/{old}"):
        return 0
    say(f"==> The package is renamed {old} -> {new}: moving your files to src/{new}/")
    with tempfile.TemporaryDirectory() as scratch:
        base = Path(scratch) / "last-release"
        rendered = render_last_release(template, answers, new, base)
        moved, conflicts = move_package(project, old, new, base if rendered else None)
    left = remove_old_folder(project, old)
    changed = rename_elsewhere(project, old, new)
    say(f"    src/{old}/ -> src/{new}/: {moved} files, merged with the release's where it has one")
    if changed:
        say(f"    imports of {old} renamed in: {', '.join(changed)}")
    if conflicts:
        say(f"    both you and the release changed (conflict markers): {', '.join(conflicts)}")
    if left:
        say(f"    left in src/{old}/ (git ignores them; move or delete them): {', '.join(left)}")
    if named := [path for path in mentions(project, old) if path not in left]:
        say(f"    still naming '{old}' (check them): {', '.join(named)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
