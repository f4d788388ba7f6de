"""The update to the release that moved the template's machinery into kit/ (research_kit).

Called by kept_files.py (a `_migrations` step, stage "after", before post_update.py). Up to
that release the template wrote its machinery into the researcher's package
(src/<package>/runs.py, provenance.py, smoke/, ...) and its tests of it into tests/; since
then they are kit/src/research_kit/ and kit/tests/, and researcher code imports
`research_kit.runs`. Copier deletes the old files, edits and all, and writes the new ones;
this step:

- merges each old file the researcher had edited into its new place three ways (git
  merge-file): the new kit file as the update wrote it, the last release's file and the
  researcher's, both with the release's own import rewrite applied (`<package>.runs` ->
  `research_kit.runs`), so the edit arrives; where both changed the same lines, conflict
  markers with Copier's labels, which post_update.py stops at like Copier's own;
- rewrites the imports of moved modules in the researcher's Python files and notebooks
  (outside kit/): `from <package>.runs import X`, `from <package> import runs`,
  `import <package>.provenance` (and its uses), and in src/<package>/ the relative
  `from .runs import X`; other imports, strings and comments stay as they are;
- sorts the rewritten import blocks with the project's own ruff (research_kit is a
  third-party import for ruff), so that `ruff check` passes as before;
- removes src/<package>/smoke/ once nothing but caches is left in it.

A moved file whose new place the release does not write (a NumPy project's machine.py) is
no move: kept_files.py keeps it where it was if the researcher had edited it.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

from tasks.common import clean_environment, say
from tasks.conflicts import git
from tasks.rename_package import CACHES, committed_bytes, merge_texts, readable_source

KIT_PACKAGE = "research_kit"
KIT_SOURCE = f"kit/src/{KIT_PACKAGE}"
# The modules the release moved out of src/<package>/ (smoke/ is a subpackage), and the
# tests of them it moved out of tests/.
MOVED_MODULES = (
    "builds",
    "bundle",
    "checkpoint",
    "config",
    "devices",
    "distributed",
    "exits",
    "machine",
    "platforms",
    "project",
    "provenance",
    "runs",
    "seeding",
    "tracking",
)
MOVED_SMOKE = ("__init__", "checks", "cli", "facts", "torch_probe")
MOVED_TESTS = (
    "test_bundle",
    "test_config",
    "test_distributed",
    "test_runs",
    "test_seeding",
    "test_smoke",
    "test_tracking",
)


def new_place(path: str, package: str) -> str | None:
    """Where the release moved the file at `path` (project-relative), or None."""
    inner = path.removeprefix(f"src/{package}/")
    if inner != path:
        if inner.removesuffix(".py") in MOVED_MODULES and inner.endswith(".py"):
            return f"{KIT_SOURCE}/{inner}"
        smoke = inner.removeprefix("smoke/")
        if smoke != inner and smoke.endswith(".py") and smoke.removesuffix(".py") in MOVED_SMOKE:
            return f"{KIT_SOURCE}/{inner}"
        return None
    name = path.removeprefix("tests/")
    if name != path and name.endswith(".py") and name.removesuffix(".py") in MOVED_TESTS:
        return f"kit/tests/{name}"
    return None


def moved_modules(project: Path, package: str) -> frozenset[str]:
    """The moved modules this project has in kit/ now and no longer in src/<package>/."""
    kit, old = project / KIT_SOURCE, project / "src" / package
    names = {*MOVED_MODULES, "smoke"}
    return frozenset(
        name
        for name in names
        if ((kit / f"{name}.py").is_file() or (kit / name).is_dir())
        and not ((old / f"{name}.py").exists() or (old / name / "__init__.py").exists())
    )


# ── Imports of moved modules ───────────────────────────────────────────────


def _dotted(tokens: list[tokenize.TokenInfo], start: int) -> tuple[list[str], int]:
    """The dotted name at tokens[start:]: (its parts, the index after it)."""
    parts: list[str] = []
    index = start
    while index < len(tokens) and tokens[index].type == tokenize.NAME:
        if tokens[index].string == "import":  # `from . import x`: no name
            break
        parts.append(tokens[index].string)
        index += 1
        if index < len(tokens) and tokens[index].string == ".":
            index += 1
        else:
            break
    return parts, index


def _absolute(level: int, parts: list[str], here: list[str] | None) -> list[str] | None:
    """The module a `from` names, made absolute; None when relative to nothing known."""
    if level == 0:
        return parts
    if here is None or level - 1 >= len(here):
        return None
    return here[: len(here) - (level - 1)] + parts


def rewrite_imports(
    source: str, package: str, moved: frozenset[str], here: list[str] | None = None
) -> str:
    """Python `source` with its imports of `<package>.<moved module>` made research_kit's.

    `here` is the package the file is in (["pkg"] for src/pkg/a.py), for its relative
    imports; None leaves relative imports alone. `from <package> import runs, models` is
    split in two. After `import <package>.runs` (no alias), `<package>.runs` in the code
    becomes `research_kit.runs` too. Strings and comments are left alone.
    """
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return source
    lines = source.splitlines(keepends=True)
    edits: list[tuple[tuple[int, int], tuple[int, int], str]] = []  # (start, end, text)
    used: set[str] = set()  # moved modules imported as `import <package>.<module>`
    statements: list[list[tokenize.TokenInfo]] = [[]]
    for token in tokens:
        if token.type in (tokenize.NEWLINE, tokenize.ENDMARKER) or token.string == ";":
            statements.append([])
        elif token.type not in (tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT):
            statements[-1].append(token)
    uses: list[list[tokenize.TokenInfo]] = []
    for statement in statements:
        if not statement:
            continue
        first = statement[0].string
        if first == "from":
            edits.extend(_from_edits(statement, lines, package, moved, here))
        elif first == "import":
            edits.extend(_import_edits(statement, package, moved, used))
        else:
            uses.append(statement)
    for statement in uses:
        for index, token in enumerate(statement[:-2]):
            after = statement[index + 1 : index + 3]
            if (
                token.type == tokenize.NAME
                and token.string == package
                and (index == 0 or statement[index - 1].string != ".")
                and after[0].string == "."
                and after[1].string in used
            ):
                edits.append((token.start, token.end, KIT_PACKAGE))
    for start, end, text in sorted(edits, reverse=True):
        (row, column), (end_row, end_column) = start, end
        head, tail = lines[row - 1][:column], lines[end_row - 1][end_column:]
        lines[row - 1 : end_row] = [head + text + tail]
    return "".join(lines)


def _from_edits(
    statement: list[tokenize.TokenInfo],
    lines: list[str],
    package: str,
    moved: frozenset[str],
    here: list[str] | None,
) -> list[tuple[tuple[int, int], tuple[int, int], str]]:
    index, level = 1, 0
    while index < len(statement) and statement[index].string in (".", "..."):
        level += len(statement[index].string)
        index += 1
    parts, after = _dotted(statement, index)
    if after >= len(statement) or statement[after].string != "import":
        return []
    module = _absolute(level, parts, here)
    if module is None or module[0] != package:
        return []
    start, end = statement[1].start, statement[after - 1].end
    if len(module) > 1:
        if module[1] not in moved:
            return []
        return [(start, end, ".".join([KIT_PACKAGE, *module[1:]]))]
    # `from <package> import a, b as c`: the names imported, and their aliases
    names: list[tuple[str, str]] = []
    tokens = [t for t in statement[after + 1 :] if t.string not in ("(", ")")]
    position = 0
    while position < len(tokens):
        if tokens[position].string == "*":
            return []
        name = tokens[position].string
        text = name
        if position + 2 < len(tokens) and tokens[position + 1].string == "as":
            text = f"{name} as {tokens[position + 2].string}"
            position += 2
        names.append((name, text))
        position += 2  # past the comma
    kit = [text for name, text in names if name in moved]
    if not kit:
        return []
    if len(kit) == len(names):
        return [(start, end, KIT_PACKAGE)]
    own = [text for name, text in names if name not in moved]
    line = lines[statement[0].start[0] - 1]
    indent = line[: len(line) - len(line.lstrip())]
    origin = source_text(lines, start, end)
    text = f"from {origin} import {', '.join(own)}\n"
    text += f"{indent}from {KIT_PACKAGE} import {', '.join(kit)}"
    return [(statement[0].start, statement[-1].end, text)]


def source_text(lines: list[str], start: tuple[int, int], end: tuple[int, int]) -> str:
    if start[0] == end[0]:
        return lines[start[0] - 1][start[1] : end[1]]
    middle = lines[start[0] : end[0] - 1]
    return lines[start[0] - 1][start[1] :] + "".join(middle) + lines[end[0] - 1][: end[1]]


def _import_edits(
    statement: list[tokenize.TokenInfo], package: str, moved: frozenset[str], used: set[str]
) -> list[tuple[tuple[int, int], tuple[int, int], str]]:
    edits = []
    index = 1
    while index < len(statement):
        parts, after = _dotted(statement, index)
        if not parts:
            break
        aliased = after < len(statement) and statement[after].string == "as"
        if len(parts) > 1 and parts[0] == package and parts[1] in moved:
            edits.append((statement[index].start, statement[index].end, KIT_PACKAGE))
            if not aliased:
                used.add(parts[1])
        index = after + (2 if aliased else 0)
        if index < len(statement) and statement[index].string == ",":
            index += 1
        else:
            break
    return edits


def rewrite_notebook(text: str, package: str, moved: frozenset[str]) -> str:
    """A notebook's JSON with its code's imports of moved modules made research_kit's: the
    absolute forms (`from <package>.runs import`, `import <package>.runs` and its uses, and
    `from <package> import runs` where every name is a moved module)."""
    names = "|".join(sorted(moved))
    if not names:
        return text
    module = rf"\b{package}\.(?=(?:{names})\b)"
    imported = re.search(rf"\bimport {module}", text) is not None
    text = re.sub(rf"\b(from|import) {module}", rf"\1 {KIT_PACKAGE}.", text)
    if imported:
        text = re.sub(rf"(?<![\w.]){module}", f"{KIT_PACKAGE}.", text)

    def whole(match: re.Match[str]) -> str:
        imported_names = [part.split(" as ")[0].strip() for part in match[1].split(",")]
        if all(name in moved for name in imported_names):
            return f"from {KIT_PACKAGE} import {match[1]}"
        return match[0]

    return re.sub(rf"\bfrom {package} import ([\w ,]+?)(?=\\n|\"|$)", whole, text, flags=re.M)


def rewritten(path: str, data: bytes, package: str, moved: frozenset[str]) -> bytes:
    """A project file's content with its imports of moved modules made research_kit's."""
    if (text := readable_source(path, data)) is None:
        return data
    if path.endswith(".ipynb"):
        return rewrite_notebook(text, package, moved).encode("utf-8")
    here = None
    if path.startswith(f"src/{package}/"):
        here = [package, *Path(path).parent.relative_to(f"src/{package}").parts]
    return rewrite_imports(text, package, moved, here).encode("utf-8")


# ── The migration ──────────────────────────────────────────────────────────


@dataclass
class Migration:
    """What the move did: the deleted paths it took care of, where edits went."""

    handled: set[str] = field(default_factory=set)
    merged: list[tuple[str, str]] = field(default_factory=list)  # (old path, new path)
    conflicts: list[str] = field(default_factory=list)  # new paths with conflict markers


def merge_edits(
    project: Path, package: str, deleted: list[str], last_release: Path | None
) -> Migration:
    """Each deleted file the release moved into kit/: an edited one merged into its new
    place (last_release: the last release rendered again; None merges with no base)."""
    migration = Migration()
    moved = moved_modules(project, package)
    for path in deleted:
        target = new_place(path, package)
        if target is None or not (project / target).is_file():
            continue
        migration.handled.add(path)
        ours = committed_bytes(project, path)
        written = last_release / path if last_release is not None else None
        original = written.read_bytes() if written is not None and written.is_file() else None
        if original == ours:
            continue  # not edited: the new file stands
        ours = rewritten(path, ours, package, moved)
        theirs = (project / target).read_bytes()
        base = rewritten(path, original, package, moved) if original is not None else b""
        if ours == theirs:
            continue
        result = merge_texts(ours, base, theirs)
        if result is None:  # not UTF-8 text: the release's stands, yours beside it
            (project / f"{target}.rej").write_bytes(ours)
            migration.conflicts.append(f"{target}.rej")
            continue
        count, merged = result
        (project / target).write_bytes(merged)
        if count:
            migration.conflicts.append(target)
        else:
            migration.merged.append((path, target))
    return migration


def researchers_files(project: Path) -> list[str]:
    """Tracked and untracked (not ignored) Python files and notebooks outside kit/."""
    listed = git(project, "ls-files", "--cached", "--others", "--exclude-standard", "--", ".")
    return sorted(
        {
            path
            for path in listed.stdout.splitlines()
            if path.endswith((".py", ".ipynb"))
            and not path.startswith("kit/")
            and (project / path).is_file()
        }
    )


def rewrite_researchers_imports(project: Path, package: str) -> list[str]:
    """The researcher's files with imports of moved modules rewritten: the files changed."""
    moved = moved_modules(project, package)
    changed = []
    for path in researchers_files(project):
        data = (project / path).read_bytes()
        if (result := rewritten(path, data, package, moved)) != data:
            (project / path).write_bytes(result)
            changed.append(path)
    return changed


def project_ruff(project: Path) -> Path | None:
    """The ruff of the project's environment (the one set up before the update), if any."""
    windows = sys.platform == "win32"
    binary = "ruff.exe" if windows else "ruff"
    folders = [Path(os.environ.get("UV_PROJECT_ENVIRONMENT", ".venv")), Path(".pixi/envs/default")]
    for folder in folders:
        root = folder if folder.is_absolute() else project / folder
        for candidate in (root / ("Scripts" if windows else "bin") / binary, root / binary):
            if candidate.is_file():
                return candidate
    return None


def sort_imports(project: Path, paths: list[str]) -> bool:
    """`ruff check --select I --fix` on `paths` with the project's ruff; False without one."""
    ruff = project_ruff(project)
    if ruff is None or not paths:
        return not paths
    try:
        subprocess.run(
            [str(ruff), "check", "--quiet", "--no-cache", "--select", "I", "--fix", *paths],
            cwd=project,
            env=clean_environment(),
            capture_output=True,
            check=False,
        )
    except OSError:
        return False
    return True


def remove_empty_folder(folder: Path) -> None:
    """`folder` gone if nothing but caches and empty folders is left in it."""
    if not folder.is_dir():
        return
    for cache in [d for d in folder.rglob("*") if d.is_dir() and d.name in CACHES]:
        shutil.rmtree(cache, ignore_errors=True)
    for directory in sorted((d for d in folder.rglob("*") if d.is_dir()), reverse=True):
        if not any(directory.iterdir()):
            directory.rmdir()
    if not any(folder.iterdir()):
        folder.rmdir()


def finish(project: Path, package: str, migration: Migration) -> None:
    """After the merges: the researcher's imports, the sort, the old smoke/ folder, a report."""
    if not migration.handled:
        return
    say("==> The template's machinery moved from src/<package>/ into kit/ (research_kit)")
    for old, new in migration.merged:
        say(f"    your changes to {old} are merged into {new}")
    changed = rewrite_researchers_imports(project, package)
    clean = [new for _, new in migration.merged]
    if changed:
        say("    imports of the moved modules now read research_kit in:")
        for path in changed:
            say(f"        {path}")
    if not sort_imports(project, [*changed, *clean]):
        say(
            "    (no ruff in the project's environment to sort those imports: run\n"
            "     uv run ruff check --select I --fix . once the update is done)"
        )
    remove_empty_folder(project / "src" / package / "smoke")
    if migration.conflicts:
        say("    both you and the release changed (conflict markers; resolve them):")
        for path in migration.conflicts:
            say(f"        {path}")
