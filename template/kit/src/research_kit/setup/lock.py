# Template-owned: `copier update` replaces this file; edits of yours are merged in.
"""The lock and the pins: `uv lock`, then each dependency written without a version pinned
`==` to the locked version (pins.py's rules) and locked again, so that uv.lock records it.
A package that needs another PyTorch release line is named with the command that moves it.
"""

from __future__ import annotations

import re
import subprocess
import tomllib

import tomlkit
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
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
from .steps import (
    PROJECT,
    StepFailed,
    load_module,
    lock_text,
    read_pyproject,
    uv,
    uv_environment,
)


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


# ── The pins written into uv.lock ───────────────────────────────────────────
#
# Pinning a bare dependency to the version uv.lock holds changes one thing in the lock: the
# project's own entry records the requirement's specifier (`{ name = "numpy" }` becomes
# `{ name = "numpy", specifier = "==2.4.6" }`); every resolved package stays as it is. The
# set-up writes that change itself where it can tell each entry's pin for certain and every
# platform's locked version of the package is that pin, then asks uv whether the lock is
# current (`uv lock --check`, a fraction of a second resolution's time); anything else, or a
# lock uv does not accept, is locked again by uv.

_ENTRY = re.compile(
    r'\{ name = "(?P<name>[a-z0-9-]+)"'
    r'(?P<before>(?:, extras = \[[^\]]*\])?(?:, marker = "[^"\\]*")?)'
    r'(?P<after>(?:, index = "[^"\\]*")?(?:, conflict = \{ [^{}]* \})?) \}'
)


def bare_pins(before: str, after: str) -> dict[str, str] | None:
    """What pinning did: the `==` specifier of each package it pinned, where every bare
    requirement of that package got the same one. None when it did anything else (a pin
    moved, two pins of one package differ, a requirement of it left bare)."""
    pinned: dict[str, str] = {}
    left_bare: set[str] = set()
    old, new = tomlkit.parse(before), tomlkit.parse(after)
    for old_array, new_array in zip(dependency_arrays(old), dependency_arrays(new), strict=True):
        for was, now in zip(old_array, new_array, strict=True):
            if was == now:
                if isinstance(now, str) and not Requirement(now).specifier:
                    left_bare.add(canonicalize_name(Requirement(now).name))
                continue
            was_requirement, now_requirement = Requirement(str(was)), Requirement(str(now))
            if was_requirement.specifier or was_requirement.url:
                return None  # a pin moved: uv locks it
            name = canonicalize_name(now_requirement.name)
            specifier = str(now_requirement.specifier)
            if pinned.setdefault(name, specifier) != specifier:
                return None
    return None if left_bare & set(pinned) else pinned


def pins_hold(pinned: dict[str, str], locked: dict[str, set[str]]) -> bool:
    """Every version uv.lock holds of each pinned package, on every platform, is its pin.

    (`uv lock --check` compares the requirements only: a pin that one platform's resolution
    does not meet would pass it.)"""
    return all(
        locked.get(name) and all(SpecifierSet(specifier).contains(v, True) for v in locked[name])
        for name, specifier in pinned.items()
    )


def lock_with_pins(lock_text: str, pinned: dict[str, str]) -> str | None:
    """uv.lock with the bare requirements of the pinned packages in the project's own entry
    pinned (one requirement may be several entries, one per source), or None when a pinned
    package has no such entry."""
    start = re.search(r'^source = \{ (?:editable|virtual) = "\." \}$', lock_text, re.MULTILINE)
    if start is None:
        return None
    metadata = lock_text.find("\n[package.metadata]\n", start.end())
    following = lock_text.find("\n[[package]]\n", start.end())
    if metadata < 0 or -1 < following < metadata:
        return None
    end = lock_text.find("\n[[package]]\n", metadata)
    end = len(lock_text) if end < 0 else end
    found: set[str] = set()

    def with_specifier(entry: re.Match[str]) -> str:
        name = entry["name"]
        if name not in pinned:
            return entry[0]
        found.add(name)
        cut = entry.end("before") - entry.start()  # uv writes the specifier after the marker
        return entry[0][:cut] + f', specifier = "{pinned[name]}"' + entry[0][cut:]

    section = _ENTRY.sub(with_specifier, lock_text[metadata:end])
    if found != set(pinned):
        return None
    return lock_text[:metadata] + section + lock_text[end:]


def lock_is_current() -> bool:
    """Whether uv takes uv.lock as current for pyproject.toml (`uv lock --check`)."""
    checked = subprocess.run(
        [uv(), "lock", "--check", "--quiet"],
        cwd=PROJECT,
        env=uv_environment(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    return checked.returncode == 0


def pin() -> None:
    """Pin to uv.lock, then record the pins in uv.lock (the versions are the ones just
    locked): written in directly where that is certain, else by locking again.

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
    pinned = bare_pins(before, after)
    if pinned is not None and not pins_hold(pinned, locked):
        pinned = None  # a platform resolved another version: uv locks the pins
    patched = None if pinned is None else lock_with_pins(locked_text, pinned)
    if patched is not None:
        (PROJECT / "uv.lock").write_text(patched, encoding="utf-8")
        if lock_is_current():
            print("    uv.lock records the pins (the versions it had locked).")
            return
        (PROJECT / "uv.lock").write_text(locked_text, encoding="utf-8")
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
