# Template-owned: `copier update` replaces this file; edits of yours are merged in.
"""The lock and the pins: `uv lock`, then each dependency written without a version pinned
`==` to the locked version (pins.py's rules) and locked again, so that uv.lock records it.
A package that needs another PyTorch release line is named with the command that moves it.
"""

from __future__ import annotations

import re
import tomllib

import tomlkit
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from .commands import run
from .pins import (
    dependency_arrays,
    index_families,
    is_local,
    local_packages,
    locked_version,
    owner,
    replace_item,
    set_up_pins,
    with_pin,
    write_record,
    yours,
)
from .steps import PROJECT, StepFailed, load_module, lock_text, read_pyproject, uv


def locked_versions(lock_text: str) -> dict[str, set[str]]:
    """Every version of every package in a uv.lock (project.py's reading, the smoke test's)."""
    versions: dict[str, set[str]] = load_module("project").locked_versions(lock_text)
    return versions


def pin_pyproject(pyproject_text: str, lock_text: str) -> str:
    """Pin the bare and set-up-pinned dependencies to uv.lock and record the pins.

    Formatting, comments and every specifier of yours are kept character for character.
    """
    locked = locked_versions(lock_text)
    document = tomlkit.parse(pyproject_text)
    record = set_up_pins(document)
    routed = frozenset(name for family in index_families(document) for name in family)
    local = local_packages(document)
    pins: dict[str, str] = {}
    for array in dependency_arrays(document):
        for index, item in enumerate(list(array)):
            if not isinstance(item, str) or is_local(item, local) or owner(item, record) == "yours":
                continue
            name = canonicalize_name(Requirement(item).name)
            version = locked_version(item, locked, routed)
            if version is not None:
                replace_item(array, index, with_pin(item, version))
                pins[name] = version
            elif owner(item, record) == "set-up":  # not locked on any platform: kept
                pins[name] = str(next(iter(Requirement(item).specifier)).version)
    return write_record(tomlkit.dumps(document), pins)


def lock() -> None:
    try:
        run([uv(), "lock"])
    except StepFailed as failure:
        failure.hint = failure.hint or torch_line_hint(failure.output, read_pyproject())
        raise


def pin() -> None:
    """Pin to uv.lock, then lock again so that uv.lock records the pins (the versions are
    the ones just locked).

    The second lock is online, always: `uv lock --offline` after the pins were written was
    seen folding one platform's torch wheel into another platform's fork (uv 0.13),
    depending on the cache.
    """
    pyproject = PROJECT / "pyproject.toml"
    before, locked_text = read_pyproject(), lock_text()
    locked = locked_versions(locked_text)
    if set_up_pins(tomllib.loads(before)) is None:
        print("    set up before pins were recorded: every == pin is taken as the set-up's.")
    after = pin_pyproject(before, locked_text)
    for requirement in yours(after):
        name = canonicalize_name(Requirement(requirement).name)
        version = " / ".join(sorted(locked.get(name, set()))) or "not locked"
        print(f"    {requirement}: yours, kept as written (locked: {version}).")
    if after == before:
        print("    every pin of the set-up already equals the lock.")
        return
    pyproject.write_text(after, encoding="utf-8")
    lock()


# ── Packages that need another PyTorch release line ─────────────────────────
#
# The project holds torch to one release line ([tool.uv] constraint-dependencies, written
# from the `torch_version` answer). A package that pins torch itself (xformers, vllm) to a
# release of another line cannot be locked with it; uv says so ("xformers==0.0.34 depends on
# torch==2.10.0 and your project depends on torch==2.13.*"), and the set-up names the
# command that moves the line.

MOVE_LINE = (
    "uvx --with copier-template-extensions copier update --trust --defaults -d torch_version={line}"
)
_NEEDS_TORCH = re.compile(
    r"(?<!your )\b(?P<package>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?(?:\{[^}]*\})?"
    r"(?P<version>[=<>!~][^\s]*)? depends on torch(?P<specifier>[=<>!~][^\s,]*)"
)


def torch_line(pyproject_text: str) -> str | None:
    """The project's PyTorch release line (`2.13`), from its constraint-dependencies."""
    constraints = tomllib.loads(pyproject_text).get("tool", {}).get("uv", {})
    for item in constraints.get("constraint-dependencies", []):
        requirement = Requirement(item)
        if canonicalize_name(requirement.name) == "torch":
            found = re.search(r"==\s*(\d+\.\d+)\.\*", str(requirement.specifier))
            if found:
                return found[1]
    return None


def torch_line_hint(output: str, pyproject_text: str) -> str:
    """What to do when uv found a package that needs torch outside the project's line ("" when
    that is not what failed): the command that moves the line, or a release of the package
    made for the project's line."""
    line = torch_line(pyproject_text)
    if line is None:
        return ""
    for found in _NEEDS_TORCH.finditer(output):
        if found["package"] in ("project", "torch"):
            continue
        specifier = found["specifier"].rstrip(".")
        needed = re.search(r"(?:==|>=|~=|>)\s*(\d+)\.(\d+)", specifier)
        target = f"{needed[1]}.{needed[2]}" if needed else "<line>"
        if target == line:
            continue
        package = f"{found['package']}{found['version'] or ''}"
        return (
            f"{package} needs torch{specifier}, outside this project's PyTorch line {line} "
            "(the `torch_version` answer, [tool.uv] constraint-dependencies). Either add a "
            f"release of {found['package']} made for torch {line} (`uv add` without a "
            "version picks one when it exists), or move the line, which rewrites the "
            f"indexes, constraints and companions, then re-locks: {MOVE_LINE.format(line=target)}"
        )
    return ""


# ── Checking the lock on every platform ─────────────────────────────────────
