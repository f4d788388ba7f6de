# Template-owned: `copier update` replaces this file; edits of yours are merged in.
# /// script
# requires-python = ">=3.11"
# dependencies = ["tomlkit>=0.13", "packaging>=24", "python-dotenv>=1"]
# ///
"""Set up this project's environment: lock, pin direct dependencies to the lock, sync, check.

    uv run scripts/setup_env.py                  # every step; safe to run again
    uv run scripts/setup_env.py --from sync      # resume from one step
    uv run scripts/setup_env.py --until verify   # lock and check every platform; install nothing
    uv run scripts/setup_env.py upgrade [NAME]   # newest versions allowed; re-pin, sync, check

Pinning writes `==<locked version>` for each direct dependency written without a version
(project dependencies, optional dependencies and dependency groups) and records those pins
in [tool.setup-env.pinned], so the file itself says which versions the results were produced
with; uv.lock then pins everything else. A range or pin you wrote yourself stays as written.

A pixi project (pyproject.toml has [tool.pixi]) is set up by pixi instead, and any Python
3.11 or newer runs this script for it: `python scripts/setup_env.py` (.env, pixi lock,
pixi install).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import tomllib
import urllib.parse
import urllib.request
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from platform import machine as cpu_architecture
from types import ModuleType
from typing import Any, BinaryIO

PROJECT = Path(__file__).resolve().parent.parent


class StepFailed(Exception):
    """A step failed; the message says why, `hint` what to try when the step's own hint
    does not fit the cause, and `resume` the step to resume from when it is not this one."""

    def __init__(self, message: str, hint: str = "", resume: str = "", output: str = "") -> None:
        super().__init__(message)
        self.hint = hint
        self.resume = resume
        self.output = output  # what the failed command wrote to stderr (its last 500 lines)


def load_module(name: str) -> ModuleType:
    """src/<package>/<name>.py loaded from its file: project.py (what the project's files
    say), machine.py (the GPU drivers; PyTorch projects only), platforms.py (the platforms a
    lock can target), exits.py (the exit statuses of the project's commands).

    Not imported as `<package>.<name>`: the package is not installed yet, and importing it
    would run its __init__.py, which may need what is not installed. These modules need
    only the standard library.
    """
    path = next((PROJECT / "src").glob(f"*/{name}.py"), None)
    if path is None:
        raise StepFailed(
            f"src/<package>/{name}.py is missing. Restore it from git (git checkout -- src), "
            "or run `copier update` to have the template write it again."
        )
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


project_files = load_module("project")
exits = load_module("exits")


class Exit:
    """exits.py's statuses as typed names (mypy sees the module loaded from its file as Any)."""

    OK: int = exits.Exit.OK
    FAILED: int = exits.Exit.FAILED
    USAGE: int = exits.Exit.USAGE
    INTERRUPTED: int = exits.Exit.INTERRUPTED


try:  # `uv run` installs these (the header above); a pixi project's set-up needs none of them
    import tomlkit
    from dotenv import dotenv_values
    from packaging.markers import Marker
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.tags import Tag, compatible_tags, cpython_tags, mac_platforms
    from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
    from packaging.version import Version
    from tomlkit.items import StringType
except ModuleNotFoundError:
    if project_files.manager(project_files.read_toml(PROJECT / "pyproject.toml")) != "pixi":
        sys.exit("Run it with uv, which installs what it needs:\n    uv run scripts/setup_env.py")

RESUME = "uv run scripts/setup_env.py --from {step}"


class InvalidProject(ValueError):
    """pyproject.toml cannot be set up as it is: the message names the problem (one line),
    `hint` says how to repair it. The set-up and `upgrade` stop before doing anything."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


class InvalidRecord(InvalidProject):
    """[tool.setup-env.pinned] is not a table of versions."""


PLATFORMS_UPDATE = (
    'uvx --with copier-template-extensions copier update --trust --defaults -d "platforms=[...]"'
)


DAMAGED_LOCK = "Failed to parse `uv.lock`"
DAMAGED_LOCK_HINT = (
    "uv.lock is damaged (cut short, or edited by hand). Restore it with "
    "'git checkout uv.lock', or delete it to lock afresh."
)
UV_INSTALL_HINT = "Reinstall uv: https://docs.astral.sh/uv/getting-started/installation/"


# ── Pinning ────────────────────────────────────────────────────────────────
#
# The set-up pins each dependency written without a version (`numpy`) to `==` the locked
# version, and records every pin it writes in pyproject.toml, [tool.setup-env.pinned]. A pin
# equal to its record is the set-up's own: `upgrade` moves it, and after `copier update` the
# set-up pins it again. Any other specifier (a range, your own pin, a pin `uv add` wrote) is
# yours: kept as written and only reported.

RECORD_HEADER = "[tool.setup-env.pinned]"
RECORD_COMMENT = (
    "# Written by scripts/setup_env.py: the == pins it set above, equal to uv.lock. It moves\n"
    "# these (`uv run scripts/setup_env.py upgrade`); a pin or range not listed is yours.\n"
)
# A requirement string cut where its version specifier sits: the name with its extras, the
# specifier (empty when there is none), and the rest (spaces, `; marker`).
_PARTS = re.compile(
    r"(?P<head>\s*[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?(?:\s*\[[^\]]*\])?)"
    r"(?P<specifier>[^;@]*?)(?P<tail>\s*(?:;.*)?)",
    re.DOTALL,
)


def requirement_parts(requirement: str) -> tuple[str, str, str] | None:
    """(name and extras, version specifier, marker part); None for a URL requirement."""
    match = _PARTS.fullmatch(requirement)
    if match is None or Requirement(requirement).url:
        return None
    return match["head"], match["specifier"], match["tail"]


def with_pin(requirement: str, version: str) -> str:
    """`requirement` with its specifier replaced by `==version`, every other character kept."""
    parts = requirement_parts(requirement)
    return requirement if parts is None else f"{parts[0]}=={version}{parts[2]}"


def without_pin(requirement: str) -> str:
    """`requirement` with its version specifier removed, every other character kept."""
    parts = requirement_parts(requirement)
    return requirement if parts is None else parts[0] + parts[2]


RECORD_HINT = (
    "The set-up writes this table: restore it with `git checkout -- pyproject.toml` (or `git "
    'diff pyproject.toml` to see what changed), or write each entry as numpy = "2.3.5", the '
    "version of the dependency's == pin."
)


def record_in(document: Mapping[str, Any]) -> dict[str, str] | None:
    """The set-up's recorded pins (canonical name -> version); None where none was written.

    InvalidRecord when the record is not a table of versions.
    """
    setup = document.get("tool", {}).get("setup-env", {})
    record = setup.get("pinned") if isinstance(setup, Mapping) else setup
    if record is None:
        return None
    if not isinstance(record, Mapping):
        raise InvalidRecord(
            f"pyproject.toml: {RECORD_HEADER} is {_toml_kind(record)} ({_shown(record)}), "
            'not a table of pins (name = "version").',
            RECORD_HINT,
        )
    pins: dict[str, str] = {}
    for name, version in record.items():
        if not isinstance(version, str) or not _is_version(version):
            raise InvalidRecord(
                f"pyproject.toml: {RECORD_HEADER} {name} = {_shown(version)} is not a version.",
                RECORD_HINT,
            )
        pins[canonicalize_name(name)] = str(version)
    return pins


def _is_version(text: str) -> bool:
    try:
        Version(text)
    except ValueError:  # packaging's InvalidVersion
        return False
    return True


def _toml_kind(value: object) -> str:
    kinds = {str: "text", bool: "true or false", int: "a number", float: "a number", list: "a list"}
    return next((kind for type_, kind in kinds.items() if isinstance(value, type_)), "a value")


def _shown(value: object) -> str:
    """`value` on one line, cut when long."""
    text = " ".join(json.dumps(value, default=str, ensure_ascii=False).split())
    return text if len(text) <= 60 else text[:59] + "…"


def set_up_pins(document: Mapping[str, Any]) -> dict[str, str] | None:
    """The record of the set-up's pins; None for a project set up before pins were recorded.

    Such a project has no record and no dependency without a version (the set-up then pinned
    them all); every exact pin in it counts as the set-up's. A project not set up yet has
    bare dependencies and no record: nothing in it is the set-up's.
    """
    record = record_in(document)
    if record is not None:
        return record
    parsed = [Requirement(item) for item in requirements_in(document)]
    return {} if any(not (r.specifier or r.url) for r in parsed) else None


def owner(requirement: str, record: dict[str, str] | None) -> str:
    """Whose version specifier this is: "bare" (none), "set-up" (its recorded pin) or "yours".

    `record` comes from set_up_pins(); None counts every exact pin as the set-up's.
    """
    parsed = Requirement(requirement)
    specifiers = list(parsed.specifier)
    if parsed.url:
        return "yours"
    if not specifiers:
        return "bare"
    (only, *others) = specifiers
    if others or only.operator != "==" or only.version.endswith("*"):
        return "yours"
    if record is None:
        return "set-up"
    recorded = record.get(canonicalize_name(parsed.name))
    if recorded is not None and Version(recorded) == Version(only.version):
        return "set-up"
    return "yours"


def dependency_arrays(document: Mapping[str, Any]) -> Iterator[Any]:
    """The lists that hold direct dependencies: the project's, its extras', its groups'."""
    project = document.get("project", {})
    if "dependencies" in project:
        yield project["dependencies"]
    yield from project.get("optional-dependencies", {}).values()
    yield from document.get("dependency-groups", {}).values()


def requirements_in(document: Mapping[str, Any]) -> Iterator[str]:
    for array in dependency_arrays(document):
        yield from (item for item in array if isinstance(item, str))


locked_versions = project_files.locked_versions  # the smoke test reads uv.lock the same way


def locked_version(
    requirement: str, locked: dict[str, set[str]], routed: frozenset[str] = frozenset()
) -> str | None:
    """The one version uv.lock holds for this requirement, None if it holds none.

    The local label is dropped (torch 2.13.0+cpu is pinned as ==2.13.0, which PEP 440
    matches with the +cpu and plain builds alike), so one pin serves every platform.
    A package taken from its own indexes (`routed`, e.g. torch) can be locked at a different
    release per platform, because those indexes do not publish the same releases: it is
    pinned at the oldest, which every one of them has, and the re-lock then takes it
    everywhere.
    """
    name = Requirement(requirement).name
    versions = {Version(v).public for v in locked.get(canonicalize_name(name), ())}
    if len(versions) > 1 and canonicalize_name(name) in routed:
        return str(min(versions))
    if len(versions) > 1:
        raise StepFailed(
            f"{name} is locked at several versions ({', '.join(sorted(versions))}), "
            "so one == pin cannot match them all. Constrain it in pyproject.toml "
            "(e.g. with a marker per platform) and run this script again."
        )
    return versions.pop() if versions else None


def pinned(requirement: str, locked: dict[str, set[str]]) -> str:
    """`requirement` pinned `==` to its locked version (unchanged when uv.lock lacks it)."""
    version = None if Requirement(requirement).url else locked_version(requirement, locked)
    return requirement if version is None else with_pin(requirement, version)


def replace_item(array: Any, index: int, text: str) -> None:
    """Put `text` at `index` of a tomlkit array, in the quotes the old item used."""
    literal = array[index].type in (StringType.SLL, StringType.MLL) and "'" not in text
    array[index] = tomlkit.string(text, literal=literal)


def drop_record(text: str) -> str:
    """pyproject.toml text without the record of the set-up's pins (unchanged if it has none)."""
    document = tomlkit.parse(text)
    if record_in(document) is None:
        return text
    setup = document["tool"]["setup-env"]
    if list(setup) == ["pinned"]:
        del document["tool"]["setup-env"]
    else:
        del setup["pinned"]
    return str(tomlkit.dumps(document)).rstrip("\n") + "\n"


def write_record(text: str, record: dict[str, str]) -> str:
    """pyproject.toml text with `record` as the set-up's record of pins, at the end."""
    body = drop_record(text).rstrip("\n")
    lines = "".join(f"{name} = {json.dumps(record[name])}\n" for name in sorted(record))
    return f"{body}\n\n{RECORD_HEADER}\n{RECORD_COMMENT}{lines}"


def pin_pyproject(pyproject_text: str, lock_text: str) -> str:
    """Pin the bare and set-up-pinned dependencies to uv.lock and record the pins.

    Formatting, comments and every specifier of yours are kept character for character.
    """
    locked = locked_versions(lock_text)
    document = tomlkit.parse(pyproject_text)
    record = set_up_pins(document)
    routed = frozenset(name for family in index_families(document) for name in family)
    pins: dict[str, str] = {}
    for array in dependency_arrays(document):
        for index, item in enumerate(list(array)):
            if not isinstance(item, str) or owner(item, record) == "yours":
                continue
            name = canonicalize_name(Requirement(item).name)
            version = locked_version(item, locked, routed)
            if version is not None:
                replace_item(array, index, with_pin(item, version))
                pins[name] = version
            elif owner(item, record) == "set-up":  # not locked on any platform: kept
                pins[name] = str(next(iter(Requirement(item).specifier)).version)
    return write_record(tomlkit.dumps(document), pins)


def yours(pyproject_text: str) -> list[str]:
    """The dependencies whose specifier is yours, as written."""
    document = tomllib.loads(pyproject_text)
    record = set_up_pins(document)
    return [item for item in requirements_in(document) if owner(item, record) == "yours"]


def check_pyproject(path: Path) -> dict[str, Any]:
    """pyproject.toml parsed, when the set-up can work on it; else InvalidProject naming the
    problem: not TOML, a dependency that is not a requirement, a record that is not one."""
    edited = "`git diff pyproject.toml` shows what changed since the last commit."
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidProject(f"there is no {path}.", "Run the set-up in the project.") from None
    except (OSError, ValueError) as error:  # unreadable, not UTF-8, not TOML
        raise InvalidProject(f"pyproject.toml cannot be read: {error}.", edited) from None
    for item in requirements_in(document):
        try:
            Requirement(item)
        except InvalidRequirement as error:
            problem = str(error).splitlines()[0]
            raise InvalidProject(
                f"pyproject.toml: {_shown(item)} is not a requirement ({problem}).",
                f'Write it as a requirement (e.g. "numpy>=2"); {edited}',
            ) from None
    record_in(document)
    return document


# ── Steps ──────────────────────────────────────────────────────────────────


def uv_environment() -> dict[str, str]:
    """The environment uv runs in: uv's own settings from .env, then this process's, which win.

    uv reads no .env itself; a setting such as UV_CACHE_DIR (the cache on the project's file
    system, on a cluster) written there still applies to the set-up. What points uv at this
    script's own environment is left out.
    """
    settings = dotenv_values(PROJECT / ".env") if (PROJECT / ".env").is_file() else {}
    from_file = {k: v for k, v in settings.items() if k.startswith("UV_") and v}
    outside: dict[str, str] = project_files.clean_environment()
    return from_file | outside


def run(command: list[str]) -> None:
    """Run a command, streaming its output; on failure raise with the end of its stderr.

    A resolver failure for a package without wheels for one of the project's platforms is
    explained instead: the package, the platform and both ways out (platform_gap).
    """
    env = uv_environment()
    try:
        process = subprocess.Popen(command, cwd=PROJECT, env=env, stderr=subprocess.PIPE, text=True)
    except OSError as error:  # not a program this machine can run
        raise StepFailed(f"{command[0]} cannot start ({error}).", UV_INSTALL_HINT) from error
    said: list[str] = []  # what it printed, the last 500 lines (enough for uv's reasons)
    damaged_lock = False

    def relay() -> None:
        nonlocal damaged_lock
        assert process.stderr is not None
        for line in process.stderr:
            sys.stderr.write(line)
            said[:] = [*said[-499:], line.rstrip()]
            damaged_lock = damaged_lock or DAMAGED_LOCK in line

    reader = threading.Thread(target=relay)
    reader.start()
    code = process.wait()
    reader.join()
    if process.stderr is not None:
        process.stderr.close()
    if code != 0:
        gap = platform_gap("\n".join(said))
        if gap is not None:
            raise StepFailed(*gap)
        output = "\n".join(f"    {line}" for line in said[-8:]) or "    (no output)"
        shown = " ".join([Path(command[0]).name, *command[1:]])
        raise StepFailed(
            f"'{shown}' exited with {code}:\n{output}",
            DAMAGED_LOCK_HINT if damaged_lock else "",
            output="\n".join(said),
        )


# ── Packages without wheels for a platform the project targets ─────────────
#
# The lock is made for the platforms of [tool.uv] required-environments (the template's
# `platforms` answer), and every package needs a wheel for each. A package published for
# Linux only (triton, cupy-cuda12x, vllm's kernels) makes `uv lock` stop with "No solution
# found when resolving dependencies for split (markers: ...)" and "<package> has no
# `<marker>`-compatible wheels"; `uv sync --dry-run --python-platform` (the verify step) says
# "Distribution `<package>==<version> @ ...` can't be installed because it doesn't have a
# source distribution or wheel for the current platform". Either way the set-up names the
# package, the platform and the two ways out: a marker on the requirement, or fewer
# platforms.

_NO_WHEELS = re.compile(r"\b(?:has|have) no `(?P<marker>[^`]+)`-compatible wheels")
_SPLIT = re.compile(
    r"resolving dependencies for split \(markers: (?P<marker>.+?)\)(?= cause:| hint:|$)"
)
_CLAUSE = re.compile(r"\b(?:Because|because|all of:)")
_DEPENDS = re.compile(r"your project depends on (?P<requirement>[^\s,]+)")
_NO_WHEEL_HERE = re.compile(
    r"Distribution `(?P<requirement>[^`\s]+)[^`]*` can't be installed because it doesn't "
    r"have a source distribution or wheel for the current platform"
)
_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
_VERSIONED = re.compile(rf"({_NAME.pattern})(?:\[[^\]]*\])?(?:===?|[<>!~]=?)")


def platform_table() -> list[Any]:
    """The platforms a lock can be made for (src/<package>/platforms.py, the template's)."""
    return list(load_module("platforms").PLATFORMS)


def python_minor() -> str:
    version_file = PROJECT / ".python-version"
    text = version_file.read_text(encoding="utf-8").strip() if version_file.is_file() else ""
    return text or f"{sys.version_info.major}.{sys.version_info.minor}"


def marker_platforms(text: str, among: Sequence[Any]) -> list[Any]:
    """The platforms of `among` a marker selects, for the project's Python."""
    try:
        marker = Marker(text)
    except ValueError:
        return []
    python = python_minor()
    found = []
    for platform in among:
        environment = {
            "sys_platform": platform.sys_platform,
            "platform_machine": platform.machine,
            "python_version": python,
            "python_full_version": f"{python}.0",
        }
        try:
            if marker.evaluate(environment):
                found.append(platform)
        except ValueError:  # a marker naming what is not set here: not ours
            continue
    return found


def _names_in(clause: str) -> list[str]:
    """The package names in a clause of uv's explanation ("triton>=2.0.0", "all of: ...")."""
    versioned = [canonicalize_name(name) for name in _VERSIONED.findall(clause)]
    if versioned:
        return list(dict.fromkeys(versioned))
    words = _NAME.findall(clause)
    return [canonicalize_name(words[-1])] if words else []


@dataclass(frozen=True)
class PlatformGap:
    """A package without wheels for one of the project's platforms."""

    package: str  # the direct dependency to mark (or the one without wheels)
    missing: str  # the package without wheels (a dependency of `package`, or itself)
    platform: Any  # the platform it lacks (a record of platforms.py)
    targets: tuple[Any, ...]  # the project's platforms
    routed: bool = False  # taken from an index of its own ([tool.uv.sources]: PyTorch's)
    written: str = ""  # the requirement as pyproject.toml has it, without its marker

    def __post_init__(self) -> None:
        if not self.written:
            object.__setattr__(self, "written", self.package)

    def explained(self) -> tuple[str, str]:
        """The failure in one sentence, and what to try (for StepFailed)."""
        table = load_module("platforms")
        through = "" if self.missing == self.package else f" (through {self.missing})"
        message = (
            f"{self.package}{through} has no wheels for {self.platform.label}, one of the "
            f"platforms this project's lock is made for "
            f"({', '.join(p.label for p in self.targets)})."
        )
        kept = self.kept()
        ways = []
        if self.routed:
            ways.append(
                f"choose a PyTorch build with wheels for {self.platform.label} (copier update "
                "... -d accelerator=cpu; the README's PyTorch section)"
            )
        elif kept:
            marked = f"{self.written}; {table.marker_for(kept, list(self.targets))}"
            ways.append(
                f"add it for {', '.join(p.label for p in kept)} only, with a marker (code that "
                "imports it then runs there only):\n        "
                f'uv remove --frozen {self.package} && uv add "{marked}"'
            )
        if kept:
            ways.append(
                "or make the lock for fewer platforms (the update re-locks):\n        "
                + table.update_command(kept)
            )
        else:
            return message, (
                f"This project targets {self.platform.label} only: choose another version of "
                f"{self.package}, or another package."
            )
        return message, "Either " + "\n    ".join(ways)

    def kept(self) -> list[Any]:
        """The platforms to keep: those a package missing on this one most likely has wheels
        for (Linux, when it lacks another system; Linux x86_64, when it lacks aarch64)."""
        others = [p for p in self.targets if p != self.platform]
        linux = [p for p in others if p.sys_platform == "linux"]
        if self.platform.sys_platform != "linux" and linux:
            return linux
        x86 = [p for p in linux if p.machine == "x86_64"]
        return x86 if self.platform.sys_platform == "linux" and x86 else others


def platform_gap(output: str, platform: Any = None) -> tuple[str, str] | None:
    """What a failed uv command means when it found a package without wheels for one of the
    project's platforms: (the failure, what to try); None for any other failure.

    `platform`: the platform the command was run for (the verify step's dry runs).
    """
    try:
        gap = _platform_gap(output, platform)
        return gap.explained() if gap is not None else None
    except Exception:  # explaining is a courtesy: uv's own words are shown above it anyway
        return None


def _platform_gap(output: str, platform: Any) -> PlatformGap | None:
    output = " ".join(output.split())  # uv wraps long lines (a long path) where it likes
    document = tomllib.loads(_pyproject())
    targets = target_platforms(_pyproject())
    if not targets:
        return None
    direct = {canonicalize_name(Requirement(item).name) for item in requirements_in(document)}
    missing: list[str] = []
    where: list[Any] = [platform] if platform is not None else []
    if found := _NO_WHEEL_HERE.search(output):
        missing = _names_in(found["requirement"] + "=")
    for found in _NO_WHEELS.finditer(output):
        start = max((m.end() for m in _CLAUSE.finditer(output, 0, found.start())), default=0)
        missing += _names_in(output[start : found.start()])
        where += marker_platforms(found["marker"], targets)
    if not missing:
        return None
    for found in _SPLIT.finditer(output):
        where += marker_platforms(found["marker"], targets)
    if not where:
        return None
    missing_one = next((name for name in missing if name in direct), missing[0])
    depended = [
        canonicalize_name(name[0])
        for found in _DEPENDS.finditer(output)
        if (name := _NAME.match(found["requirement"]))
    ]
    package = (
        missing_one
        if missing_one in direct
        else next((name for name in depended if name in direct), missing_one)
    )
    routed = any(
        package in family and any(name.startswith("pytorch-") for name in indexes)
        for indexes, family in index_families_by_name(document)
    )
    record = set_up_pins(document)
    written = next(
        (  # as written, without the set-up's own pin (uv add pins it again) and the marker
            (without_pin(item) if owner(item, record) == "set-up" else item).split(";")[0].strip()
            for item in requirements_in(document)
            if canonicalize_name(Requirement(item).name) == package
        ),
        package,
    )
    return PlatformGap(package, missing_one, where[0], tuple(targets), routed, written)


def uv() -> str:
    path = shutil.which("uv")
    if path is None:
        raise StepFailed("uv is not on PATH. Install it: https://docs.astral.sh/uv/")
    return path


def create_env_file() -> None:
    env_file, example = PROJECT / ".env", PROJECT / ".env.example"
    if env_file.exists():
        print("    .env exists: kept as it is.")
    elif example.exists():
        shutil.copyfile(example, env_file)
        print("    created .env from .env.example (git-ignored; edit it for this machine).")


def lock() -> None:
    try:
        run([uv(), "lock"])
    except StepFailed as failure:
        failure.hint = failure.hint or torch_line_hint(failure.output, _pyproject())
        raise


def lock_text() -> str:
    """uv.lock's text; a StepFailed that resumes from 'lock' when there is none yet."""
    path = PROJECT / "uv.lock"
    if not path.is_file():
        raise StepFailed(
            "there is no uv.lock yet: the 'lock' step writes it.",
            "Run the set-up from the 'lock' step.",
            resume="lock",
        )
    return path.read_text(encoding="utf-8")


def pin() -> None:
    pyproject = PROJECT / "pyproject.toml"
    before = pyproject.read_text(encoding="utf-8")
    locked = locked_versions(lock_text())
    if set_up_pins(tomllib.loads(before)) is None:
        print("    set up before pins were recorded: every == pin is taken as the set-up's.")
    after = pin_pyproject(before, lock_text())
    for requirement in yours(after):
        name = canonicalize_name(Requirement(requirement).name)
        version = " / ".join(sorted(locked.get(name, set()))) or "not locked"
        print(f"    {requirement}: yours, kept as written (locked: {version}).")
    if after == before:
        print("    every pin of the set-up already equals the lock.")
        return
    pyproject.write_text(after, encoding="utf-8")
    record_pins()


def record_pins() -> None:
    """Lock again so uv.lock records the pins; the versions are the ones just locked.

    Online, always: `uv lock --offline` after the pins were written was seen folding one
    platform's torch wheel into another platform's fork (uv 0.13), depending on the cache.
    """
    run([uv(), "lock"])


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


def target_platforms(pyproject_text: str) -> list[Any]:
    """The platforms (records of src/<package>/platforms.py) that [tool.uv]
    required-environments names, in the table's order."""
    uv_table = tomllib.loads(pyproject_text).get("tool", {}).get("uv", {})
    markers = [Marker(text) for text in uv_table.get("required-environments", [])]
    return [
        platform
        for platform in platform_table()
        if any(
            m.evaluate(
                {"sys_platform": platform.sys_platform, "platform_machine": platform.machine}
            )
            for m in markers
        )
    ]


def install_problem(python: str, platform: Any, extra: str | None) -> str:
    """What `uv sync --locked --dry-run` says against installing uv.lock on `platform`."""
    command = [uv(), "sync", "--locked", "--dry-run", "--quiet"] + (
        ["--python", python] if python else []
    )
    command += ["--python-platform", platform.uv_python_platform]
    command += ["--extra", extra] if extra else []
    # e.g. PyTorch's macOS wheels (torch 2.12 and later) need macOS 14: uv must assume it.
    environment = uv_environment() | dict(platform.uv_environment)
    done = subprocess.run(command, cwd=PROJECT, env=environment, capture_output=True, text=True)
    if done.returncode == 0:
        return ""
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    return "\n".join(lines) or f"exited with {done.returncode}"


@dataclass(frozen=True)
class LockProblem:
    platform: Any
    extra: str | None
    said: str  # uv's words

    def __str__(self) -> str:
        lines = self.said.splitlines()
        where = f"{self.platform.label}{f' (extra {self.extra})' if self.extra else ''}"
        return f"{where}: {' '.join(lines[:2])}"


def lock_problems() -> list[LockProblem]:
    """Each platform (and build extra) uv.lock would not install on, with uv's reason."""
    text = (PROJECT / "pyproject.toml").read_text(encoding="utf-8")
    # The project's interpreter, found once (each dry run would look for it again).
    interpreter = subprocess.run(
        [uv(), "python", "find"], cwd=PROJECT, env=uv_environment(), capture_output=True, text=True
    )
    python = interpreter.stdout.strip() if interpreter.returncode == 0 else ""
    extras: list[str | None] = [*torch_extras(text)] or [None]
    cases = [(platform, extra) for platform in target_platforms(text) for extra in extras]
    with ThreadPoolExecutor(max_workers=4) as pool:
        problems = list(pool.map(lambda case: install_problem(python, *case), cases))
    return [
        LockProblem(platform, extra, problem)
        for (platform, extra), problem in zip(cases, problems, strict=True)
        if problem
    ]


def unchecked_markers(pyproject_text: str) -> list[str]:
    """required-environments entries that select none of the platforms the set-up knows."""
    uv_table = tomllib.loads(pyproject_text).get("tool", {}).get("uv", {})
    known = platform_table()
    return [
        text
        for text in uv_table.get("required-environments", [])
        if not any(
            Marker(text).evaluate({"sys_platform": p.sys_platform, "platform_machine": p.machine})
            for p in known
        )
    ]


def verify() -> None:
    """Prove that uv.lock installs on every platform the project targets, before using it.

    A lock can pass `uv lock --check` and still hold, for one platform, a wheel of another
    (uv was seen folding platform forks when re-locking from a warm cache): such a lock is
    made again from the indexes once, and if it still fails, the set-up stops here, naming
    the package and the platform when one lacks wheels there.
    """
    lock_text()  # there is one
    for text in unchecked_markers(_pyproject()):
        print(f"    not checked: required-environments names {text!r}, not a platform it knows.")
    problems = lock_problems()
    if not problems:
        print(
            f"    uv.lock installs on {', '.join(p.label for p in target_platforms(_pyproject()))}."
        )
        return
    listed = "".join(f"\n      {problem}" for problem in problems)
    print(f"    uv.lock does not install on:{listed}\n    Locking again from the indexes.")
    run([uv(), "lock", "--refresh"])
    pin()
    problems = lock_problems()
    for problem in problems:
        gap = platform_gap(problem.said, problem.platform)
        if gap is not None:
            raise StepFailed(*gap)
    if problems:
        listed = "".join(f"\n      {problem}" for problem in problems)
        raise StepFailed(f"uv.lock does not install on:{listed}")


def _pyproject() -> str:
    return (PROJECT / "pyproject.toml").read_text(encoding="utf-8")


def torch_extras(pyproject_text: str) -> list[str]:
    """The build extras (cpu and the GPU build), as project.py reads them."""
    extras: list[str] = project_files.torch_extras(tomllib.loads(pyproject_text))
    return extras


def choose_extra(extras: list[str], requested: str, gpu: str | None) -> str:
    """TORCH_EXTRA when set, else the build for this machine's GPU driver (`gpu`), else cpu."""
    if requested:
        if requested not in extras:
            raise StepFailed(
                f"TORCH_EXTRA={requested} is not one of this project's builds "
                f"({', '.join(extras)}). Fix it in .env."
            )
        return requested
    extra: str = load_module("machine").extra_for_gpu(extras, gpu)  # a PyTorch project's
    return extra


def sync() -> None:
    lock_text()  # there is one
    extra = chosen_extra()
    run([uv(), "sync", "--locked", *(["--extra", extra] if extra else [])])


def chosen_extra() -> str | None:
    """The build extra to install here (None: the project has one build), said why."""
    extras = torch_extras((PROJECT / "pyproject.toml").read_text(encoding="utf-8"))
    if not extras:
        return None
    requested = os.environ.get("TORCH_EXTRA") or dotenv_values(PROJECT / ".env").get("TORCH_EXTRA")
    gpu: str | None = load_module("machine").gpu_vendor()
    extra = choose_extra(extras, requested or "", gpu)
    if requested:
        why = "TORCH_EXTRA"
    elif gpu is None:
        why = "no GPU driver found"
    else:
        why = f"{'an NVIDIA' if gpu == 'nvidia' else 'an AMD'} GPU driver is present"
    print(f"    PyTorch build: extra '{extra}' ({why}; TORCH_EXTRA in .env chooses).")
    return extra


CHECKED_TOOLS = ("pytest", "ruff", "mypy")  # the project's own checks (README, "Checks")


def check() -> None:
    """The smoke test (one PyTorch import, in one process), and each of the project's own
    checks must at least start. The tools start beside the smoke test: they are independent
    of it, and its first import of PyTorch keeps one core busy."""
    lock_text()  # there is one
    env = uv_environment()
    starts = [
        subprocess.Popen(
            [uv(), "run", "--locked", tool, "--version"],
            cwd=PROJECT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for tool in CHECKED_TOOLS
    ]
    try:
        run([uv(), "run", "--locked", "scripts/smoke_test.py", "--quick"])
    finally:
        said = [process.communicate()[0] for process in starts]
    for tool, process, output in zip(CHECKED_TOOLS, starts, said, strict=True):
        print(output, end="", flush=True)
        if process.returncode != 0:
            lines = [f"    {line}" for line in output.splitlines()[-8:]] or ["    (no output)"]
            raise StepFailed(
                f"'uv run --locked {tool} --version' exited with {process.returncode}:\n"
                + "\n".join(lines),
                output=output,
            )


@dataclass(frozen=True)
class Step:
    name: str
    title: str
    action: Callable[[], None]
    hint: str


STEPS = (
    Step(
        "env",
        "Creating .env from .env.example",
        create_env_file,
        "Check the folder's permissions.",
    ),
    Step(
        "lock",
        "Resolving and locking dependencies (uv lock)",
        lock,
        "Check the network and the package indexes in pyproject.toml ([[tool.uv.index]]); "
        "a resolver conflict names the requirements to relax.",
    ),
    Step(
        "pin",
        "Pinning direct dependencies to uv.lock (pyproject.toml)",
        pin,
        "Fix the requirement named above in pyproject.toml.",
    ),
    Step(
        "verify",
        "Checking that uv.lock installs on every platform the project targets",
        verify,
        "A package named above has no wheel for that platform. Add it with a marker that "
        "leaves the platform out (uv add \"NAME; sys_platform == 'linux'\"), or make the lock "
        "for fewer platforms: " + PLATFORMS_UPDATE + " (required-environments in "
        "pyproject.toml lists them).",
    ),
    Step(
        "sync",
        "Installing the locked environment (uv sync --locked)",
        sync,
        "Check the network and free disk space; UV_CACHE_DIR may point to a bigger disk.",
    ),
    Step(
        "check",
        "Checking the environment (smoke test; pytest, ruff and mypy start)",
        check,
        "Run 'uv run scripts/smoke_test.py' for the full report.",
    ),
)


def run_steps(
    todo: Sequence[Step],
    *,
    resumable: bool = True,
    resume_command: Callable[[str], str] | None = None,
) -> bool:
    """Run the steps in order; at a failure, say which step, why and what to try.

    `resume_command` gives the command that resumes at a step (default: RESUME's).
    """
    command = resume_command or (lambda name: RESUME.format(step=name))
    for number, step in enumerate(todo, start=1):
        print(f"==> [{number}/{len(todo)}] {step.title}", flush=True)
        try:
            step.action()
        except (StepFailed, OSError) as error:
            hint = (error.hint if isinstance(error, StepFailed) else "") or step.hint
            resume = (error.resume if isinstance(error, StepFailed) else "") or step.name
            print(f"\n!!  Set-up failed at step '{step.name}': {error}", file=sys.stderr)
            print(f"    What to try: {hint}", file=sys.stderr)
            if resumable:
                print(f"    Then resume with: {command(resume)}", file=sys.stderr)
            return False
        except KeyboardInterrupt:
            print(f"\n!!  Interrupted at step '{step.name}'.", file=sys.stderr)
            if resumable:
                print(f"    Resume with: {command(step.name)}", file=sys.stderr)
            raise
    return True


def steps_from(name: str) -> tuple[Step, ...]:
    return STEPS[[s.name for s in STEPS].index(name) :]


# ── Upgrade ────────────────────────────────────────────────────────────────
#
#     uv run scripts/setup_env.py upgrade                 # every dependency the set-up pinned
#     uv run scripts/setup_env.py upgrade numpy scipy     # just these (and what moves with them)
#
# Moves the named (or all) direct dependencies to the newest versions their constraints allow,
# then pins, installs and checks as the set-up does. Your ranges are respected (uv moves within
# them); your own pins hold, unless you name the package, which hands its pin to the set-up.
# Any failure puts pyproject.toml and uv.lock back as they were and re-installs them.


def index_families_by_name(document: Mapping[str, Any]) -> list[tuple[set[str], set[str]]]:
    """Like index_families, each family with the names of the indexes it comes from."""
    sources = document.get("tool", {}).get("uv", {}).get("sources", {})
    found: list[tuple[set[str], set[str]]] = []
    for family in index_families(document):
        names = {
            entry["index"]
            for name, entries in sources.items()
            if canonicalize_name(name) in family
            for entry in (entries if isinstance(entries, list) else [entries])
            if "index" in entry
        }
        found.append((names, family))
    return found


def index_families(document: Mapping[str, Any]) -> list[set[str]]:
    """Packages taken from the same index ([tool.uv.sources]), which must move together.

    PyTorch's packages (torch, torchvision, torchaudio, triton-rocm) come from one index and
    require each other at exact versions: one cannot move without the others.
    """
    sources = document.get("tool", {}).get("uv", {}).get("sources", {})
    by_index: dict[str, set[str]] = defaultdict(set)
    for name, entries in sources.items():
        for entry in entries if isinstance(entries, list) else [entries]:
            if "index" in entry:
                by_index[entry["index"]].add(canonicalize_name(name))
    families: list[set[str]] = []
    for members in by_index.values():
        joined = [family for family in families if family & members]
        families = [family for family in families if not family & members]
        families.append(set(members).union(*joined))
    return families


@dataclass(frozen=True)
class UpgradePlan:
    pyproject: str  # pyproject.toml with the pins that move taken off
    packages: tuple[str, ...]  # what uv may move; empty: everything
    held: dict[str, str]  # package -> your pin that holds it


def upgrade_plan(pyproject_text: str, names: Sequence[str]) -> UpgradePlan:
    document = tomlkit.parse(pyproject_text)
    record = set_up_pins(document)
    direct = {canonicalize_name(Requirement(item).name) for item in requirements_in(document)}
    named: set[str] = {canonicalize_name(name) for name in names}
    if unknown := sorted(named - direct):
        raise StepFailed(
            f"{', '.join(unknown)}: not a direct dependency of this project. "
            "Add it with `uv add NAME` first, or check the spelling in pyproject.toml."
        )
    moving = set(named)
    for family in index_families(document):
        if moving & family:
            moving |= family
    held: dict[str, str] = {}
    for array in dependency_arrays(document):
        for index, item in enumerate(list(array)):
            if not isinstance(item, str):
                continue
            name = canonicalize_name(Requirement(item).name)
            if named and name not in moving:
                continue
            kind = owner(item, record)
            exact = kind != "bare" and str(Requirement(item).specifier).startswith("==")
            if kind == "set-up" or (kind == "yours" and exact and name in named):
                replace_item(array, index, without_pin(item))
            elif kind == "yours" and exact:
                held[name] = item
    return UpgradePlan(tomlkit.dumps(document), tuple(sorted(moving)), held)


def direct_versions(pyproject_text: str, lock_text: str) -> dict[str, str]:
    """Direct dependency -> its version in uv.lock (several joined by ' / ')."""
    locked = locked_versions(lock_text)
    document = tomllib.loads(pyproject_text)
    names = {canonicalize_name(Requirement(item).name) for item in requirements_in(document)}
    return {
        name: " / ".join(sorted({Version(v).public for v in locked[name]}, key=Version))
        for name in sorted(names)
        if name in locked
    }


def moves(
    before: dict[str, str],
    after: dict[str, str],
    held: dict[str, str],
    asked: Sequence[str] = (),
) -> list[str]:
    """One line per direct dependency asked to move (every one, when `asked` is empty):
    `name old → new`, unchanged, or held by your pin. Of the others, only those that moved
    anyway (a newer version of one asked for needs them) get a line; a last line counts
    those that were not asked and kept their version."""
    lines, kept = [], 0
    for name, new in after.items():
        old = before.get(name)
        if asked and name not in asked:
            if old is not None and old != new:
                lines.append(f"    {name} {old} → {new} (not asked: moved with {', '.join(asked)})")
            elif old is not None:
                kept += 1
            continue
        if name in held:
            lines.append(f"    {name} {new}: held by your pin ({held[name]})")
        elif old is None:
            lines.append(f"    {name} {new}: new")
        elif old != new:
            lines.append(f"    {name} {old} → {new}")
        else:
            lines.append(f"    {name} {new}: unchanged (the newest allowed)")
    if kept:
        lines.append(f"    ({kept} other direct dependencies not asked to move: kept as locked)")
    return lines


def upgrade(names: Sequence[str]) -> int:
    pyproject, lockfile = PROJECT / "pyproject.toml", PROJECT / "uv.lock"
    if not lockfile.is_file():
        print("!!  No uv.lock yet: run `uv run scripts/setup_env.py` first.", file=sys.stderr)
        return Exit.USAGE
    saved = {path: path.read_bytes() for path in (pyproject, lockfile)}
    text, lock_text = (saved[path].decode("utf-8") for path in (pyproject, lockfile))
    before = direct_versions(text, lock_text)
    try:
        plan = upgrade_plan(text, names)
    except StepFailed as error:
        print(f"!!  Nothing upgraded: {error}", file=sys.stderr)
        return Exit.USAGE
    options = [f"--upgrade-package={name}" for name in plan.packages] or ["--upgrade"]
    what = " ".join(plan.packages) or "every dependency"
    relock = Step(
        "upgrade",
        f"Locking the newest versions the constraints allow ({what})",
        lambda: run([uv(), "lock", *options]),
        "Check the network; a resolver conflict names the requirement that holds it back.",
    )
    try:
        pyproject.write_text(plan.pyproject, encoding="utf-8")
        done = run_steps((relock, *steps_from("pin")), resumable=False)
    except KeyboardInterrupt:
        restore(saved)
        print(
            "\n!!  Upgrade interrupted: pyproject.toml and uv.lock are back as they were.\n"
            "    Re-install them with: uv run scripts/setup_env.py --from sync",
            file=sys.stderr,
        )
        return Exit.INTERRUPTED
    if not done:
        restore(saved)
        print("    Upgrade undone: pyproject.toml and uv.lock are as they were.", file=sys.stderr)
        print("==> Re-installing the previous environment", flush=True)
        run_steps(steps_from("sync")[:1])
        return Exit.FAILED
    after = direct_versions(pyproject.read_text(encoding="utf-8"), lockfile.read_text("utf-8"))
    print("==> Upgraded (old → new):", flush=True)
    print("\n".join(moves(before, after, plan.held, plan.packages)), flush=True)
    if plan.held:
        example = next(iter(plan.held))
        print(f"    Your own pins hold; name a package to move it (upgrade {example}).")
    return Exit.OK


def restore(saved: dict[Path, bytes]) -> None:
    for path, content in saved.items():
        path.write_bytes(content)


# ── Wheelhouse: clusters without internet ─────────────────────────────────
#
#     uv run scripts/setup_env.py wheelhouse DIR [--platform linux-x86_64] [--extra cu130]
#     UV_OFFLINE=1 UV_FIND_LINKS=DIR uv run scripts/setup_env.py --wheelhouse DIR
#
# The first, where there is network, writes into DIR every file uv.lock installs on the
# project's platforms (or the ones named), checked against the lock's sha256, and what this
# script needs to start (its own dependencies, the build backend). The second, on a node
# that reaches no index, installs the locked environment from DIR alone and checks it.
# `uv sync` takes every file from the URL uv.lock records, and from nowhere else, so the
# node installs the lock's export with `uv pip sync --no-index --find-links DIR` (the export
# carries the lock's hashes, which uv checks); `uv sync --locked` then installs the project
# itself and confirms that the environment is the lock's.

WHEELHOUSE_MANIFEST = "wheelhouse.json"
WHEELHOUSE_NOTE = "README.txt"
WHEELHOUSE_WRITE = "uv run scripts/setup_env.py wheelhouse {folder}"
WHEELHOUSE_USE = (
    "UV_OFFLINE=1 UV_FIND_LINKS={folder} uv run scripts/setup_env.py --wheelhouse {folder}"
)
_LEGACY_MANYLINUX = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}


def platform_named(name: str) -> Any:
    """The record of src/<package>/platforms.py with this name (`linux-x86_64`)."""
    return next(p for p in platform_table() if p.name == name)


def platform_name(system: str, machine_name: str) -> str | None:
    """The name of the platform with this sys.platform and platform.machine(), if any."""
    table = platform_table()
    found = (p.name for p in table if (p.sys_platform, p.machine) == (system, machine_name))
    return next(found, None)


def project_platforms(pyproject_text: str) -> list[str]:
    """The names of the platforms in [tool.uv] required-environments."""
    return [platform.name for platform in target_platforms(pyproject_text)]


def project_python(pyproject_text: str) -> str:
    """The project's Python minor (`3.11`): .python-version, else requires-python."""
    pinned_file = PROJECT / ".python-version"
    text = pinned_file.read_text(encoding="utf-8") if pinned_file.is_file() else ""
    text = text or tomllib.loads(pyproject_text).get("project", {}).get("requires-python", "")
    found = re.search(r"(\d+)\.(\d+)", text)
    if found is None:
        raise StepFailed("The project's Python is unknown: write it in .python-version (`3.11`).")
    return f"{found[1]}.{found[2]}"


def supported_tags(platform: str, python: str) -> list[Tag]:
    """The wheel tags CPython `python` accepts on `platform`, the most specific first: for
    the glibc and macOS the per-platform check assumes (its uv platform and environment)."""
    record = platform_named(platform)
    arch = record.machine
    if record.sys_platform == "linux":
        glibc = re.search(r"manylinux_2_(\d+)", record.uv_python_platform)
        platforms = []
        for minor in range(int(glibc[1]) if glibc else 28, 4, -1):
            platforms.append(f"manylinux_2_{minor}_{arch}")
            if minor in _LEGACY_MANYLINUX:
                platforms.append(f"{_LEGACY_MANYLINUX[minor]}_{arch}")
        platforms.append(f"linux_{arch}")
    elif record.sys_platform == "win32":
        platforms = [{"AMD64": "win_amd64", "ARM64": "win_arm64"}.get(arch, f"win_{arch}")]
    else:
        target = dict(record.uv_environment).get("MACOSX_DEPLOYMENT_TARGET", "11.0")
        major, minor = (int(part) for part in f"{target}.0".split(".")[:2])
        platforms = list(mac_platforms((major, minor), arch))
    version = tuple(int(part) for part in python.split("."))
    interpreter = f"cp{version[0]}{version[1]}"
    return [
        *cpython_tags(version, [interpreter], platforms),
        *compatible_tags(version, interpreter, platforms),
    ]


def marker_environment(platform: str, python: str) -> dict[str, str]:
    """What a marker of uv's export is evaluated against, for `platform`."""
    record = platform_named(platform)
    system, arch = record.sys_platform, record.machine
    return {
        "sys_platform": system,
        "platform_machine": arch,
        "platform_system": {"linux": "Linux", "win32": "Windows", "darwin": "Darwin"}[system],
        "os_name": "nt" if system == "win32" else "posix",
        "python_version": python,
        "python_full_version": f"{python}.0",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "extra": "",
    }


@dataclass(frozen=True)
class LockedFile:
    """A wheel or source archive of uv.lock: its file name, where it is, its sha256."""

    name: str
    source: str  # a URL, or the path of a file (a local folder index)
    sha256: str  # empty where uv.lock records none (a local folder index)


@dataclass(frozen=True)
class Exported:
    """A requirement of `uv export`: name, version, the URL it names, marker, hashes."""

    name: str
    version: str | None
    url: str | None
    marker: Marker | None
    hashes: frozenset[str]


def locked_files(lock_text: str) -> dict[str, list[tuple[str, list[LockedFile]]]]:
    """Each package's (version, files) entries in a uv lock, by canonical name."""
    files: dict[str, list[tuple[str, list[LockedFile]]]] = defaultdict(list)
    for package in tomllib.loads(lock_text).get("package", []):
        entries = [*package.get("wheels", []), *([package["sdist"]] if "sdist" in package else [])]
        found = []
        for entry in entries:
            source = entry.get("url") or entry.get("path")
            if not source:
                continue
            name = urllib.parse.unquote(source.replace("\\", "/").rsplit("/", 1)[-1])
            digest = str(entry.get("hash", "")).removeprefix("sha256:")
            found.append(LockedFile(name, source, digest))
        files[canonicalize_name(package["name"])].append((str(package.get("version", "")), found))
    return files


def exported(text: str) -> list[Exported]:
    """The requirements of `uv export --format requirements.txt`; local paths left out
    (they travel with the clone)."""
    found = []
    for line in text.replace("\\\n", " ").splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "-e ", ".", "/", "file:")):
            continue
        head, *options = line.split(" --hash=")
        requirement = Requirement(head)
        specifiers = [s for s in requirement.specifier if s.operator == "=="]
        found.append(
            Exported(
                canonicalize_name(requirement.name),
                specifiers[0].version if specifiers else None,
                requirement.url,
                requirement.marker,
                frozenset(o.strip().removeprefix("sha256:") for o in options),
            )
        )
    return found


def best_file(files: Sequence[LockedFile], supported: Sequence[Tag]) -> LockedFile | None:
    """The wheel an installer picks among `files` (`supported`: best first), else the sdist."""
    rank = {tag: position for position, tag in enumerate(supported)}
    best: tuple[int, LockedFile] | None = None
    for file in files:
        if not file.name.endswith(".whl"):
            continue
        try:
            tags = parse_wheel_filename(file.name)[3]
        except InvalidWheelFilename:
            continue
        position = min((rank[tag] for tag in tags if tag in rank), default=None)
        if position is not None and (best is None or position < best[0]):
            best = (position, file)
    if best is not None:
        return best[1]
    return next((file for file in files if not file.name.endswith(".whl")), None)


def files_to_carry(
    lock_text: str, exports: Sequence[str], platforms: Sequence[str], python: str
) -> tuple[dict[str, LockedFile], list[str]]:
    """The files a wheelhouse needs (by file name) and the problems that stop it.

    `exports` are `uv export` outputs of the lock (one per build extra); each requirement
    whose marker holds on a platform needs the file an installer would pick there.
    """
    locked = locked_files(lock_text)
    chosen: dict[str, LockedFile] = {}
    problems: list[str] = []
    for text in exports:
        for requirement in exported(text):
            if requirement.url and requirement.url.startswith("git+"):
                problems.append(
                    f"{requirement.name} comes from git ({requirement.url}), which a node "
                    "without network cannot clone: depend on a released version or a wheel URL."
                )
                continue
            files = [
                file
                for version, entry in locked.get(requirement.name, [])
                if requirement.version is None or Version(version) == Version(requirement.version)
                for file in entry
                if not requirement.hashes or file.sha256 in requirement.hashes
            ]
            for platform in platforms:
                environment = marker_environment(platform, python)
                if requirement.marker and not requirement.marker.evaluate(environment):
                    continue
                file = best_file(files, supported_tags(platform, python))
                if file is None:
                    version = requirement.version or requirement.url
                    problems.append(
                        f"{requirement.name} {version}: uv.lock has no file for {platform}"
                    )
                else:
                    chosen[file.name] = file
    return chosen, problems


def script_dependencies() -> list[str]:
    """The dependencies in this script's own header (`# /// script`)."""
    text = Path(__file__).read_text(encoding="utf-8")
    block = re.search(r"^# /// script\n((?:#.*\n)*?)# ///$", text, re.MULTILINE)
    assert block is not None, "this script's header is missing"
    header = "".join(line[2:] + "\n" for line in block[1].splitlines())
    return [str(item) for item in tomllib.loads(header).get("dependencies", [])]


UNREADABLE_ARCHIVE = (OSError, ValueError, tarfile.TarError, zipfile.BadZipFile)


def sdist_build_requires(path: Path) -> list[str]:
    """[build-system] requires of a source archive; setuptools where it names none."""
    fallback = ["setuptools>=40.8.0"]
    try:
        if path.name.endswith(".zip"):
            with zipfile.ZipFile(path) as archive:
                name = min(
                    (n for n in archive.namelist() if n.endswith("/pyproject.toml")),
                    key=len,
                    default=None,
                )
                data = archive.read(name) if name else b""
        else:
            with tarfile.open(path) as archive:
                member = min(
                    (m for m in archive.getmembers() if m.name.endswith("/pyproject.toml")),
                    key=lambda m: len(m.name),
                    default=None,
                )
                extracted = archive.extractfile(member) if member else None
                data = extracted.read() if extracted else b""
        requires = tomllib.loads(data.decode("utf-8")).get("build-system", {}).get("requires")
    except UNREADABLE_ARCHIVE:
        return fallback
    return [str(item) for item in requires] if isinstance(requires, list) else fallback


def index_credentials(pyproject_text: str, environment: Mapping[str, str]) -> dict[str, str]:
    """Authorization headers by the address (scheme://host:port) of each index that has
    credentials in uv's variables (UV_INDEX_<NAME>_USERNAME / _PASSWORD)."""
    headers = {}
    for index in tomllib.loads(pyproject_text).get("tool", {}).get("uv", {}).get("index", []):
        key = re.sub(r"[^A-Z0-9]", "_", str(index.get("name", "")).upper())
        user = environment.get(f"UV_INDEX_{key}_USERNAME")
        if user is None or "://" not in str(index.get("url", "")):
            continue
        token = f"{user}:{environment.get(f'UV_INDEX_{key}_PASSWORD', '')}".encode()
        headers[realm(str(index["url"]))] = "Basic " + base64.b64encode(token).decode()
    return headers


def realm(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port or ''}"


def sha256_of(path: Path) -> str:
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def opened(source: str, credentials: Mapping[str, str]) -> BinaryIO:
    """A file of uv.lock opened for reading: a URL (with the index's credentials), a file: URL
    or a path (a local folder index; relative to the project)."""
    if re.match(r"https?://", source):
        headers = {"User-Agent": "scripts/setup_env.py (wheelhouse)"}
        if realm(source) in credentials:
            headers["Authorization"] = credentials[realm(source)]
        request = urllib.request.Request(source, headers=headers)
        response: BinaryIO = urllib.request.urlopen(request, timeout=60)
        return response
    if source.startswith("file:"):
        return Path(urllib.request.url2pathname(urllib.parse.urlsplit(source).path)).open("rb")
    return (PROJECT / source).open("rb")


def fetch(file: LockedFile, folder: Path, credentials: Mapping[str, str]) -> tuple[str, int]:
    """Copy one file of uv.lock into `folder`, checking its sha256; ("kept" | "fetched", size)."""
    target = folder / file.name
    if target.is_file() and file.sha256 and sha256_of(target) == file.sha256:
        return "kept", target.stat().st_size
    partial = folder / f".{file.name}.part"
    digest = hashlib.sha256()
    try:
        with opened(file.source, credentials) as stream, partial.open("wb") as out:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
                out.write(block)
    except OSError as error:  # urllib's URLError is one
        partial.unlink(missing_ok=True)
        raise StepFailed(f"{file.name}: cannot read {file.source} ({error}).") from error
    if file.sha256 and digest.hexdigest() != file.sha256:
        partial.unlink()
        raise StepFailed(
            f"{file.name} from {file.source} has sha256 {digest.hexdigest()}, but uv.lock "
            f"records {file.sha256}: the index serves another file than the one locked.",
            "Lock again (uv run scripts/setup_env.py), or ask the index's keeper.",
        )
    partial.replace(target)
    return "fetched", target.stat().st_size


def fetch_all(files: Mapping[str, LockedFile], folder: Path) -> dict[str, str]:
    """Fetch every file, four at a time, one line each; file name -> sha256."""
    credentials = index_credentials(_pyproject(), uv_environment())
    done: dict[str, str] = {}
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {
            name: pool.submit(fetch, files[name], folder, credentials) for name in sorted(files)
        }
        for name, future in futures.items():
            how, size = future.result()
            shown = f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size / 1e3:.0f} kB"
            print(f"    {name} ({shown}){': already there' if how == 'kept' else ''}", flush=True)
            done[name] = files[name].sha256 or sha256_of(folder / name)
    return done


def export_lock(extra: str | None, output: Path, *, script: Path | None = None) -> str:
    """uv.lock (or a script's lock) as requirements with hashes, for one build extra."""
    command = [uv(), "export", "--format", "requirements.txt", "--no-header", "--no-annotate"]
    if script is None:
        command += ["--locked", "--no-emit-project", *(["--extra", extra] if extra else [])]
    else:
        command += ["--script", str(script)]
    run([*command, "--quiet", "--output-file", str(output)])
    return output.read_text(encoding="utf-8")


def start_script(requirements: Sequence[str], python: str) -> str:
    """A script whose dependencies are what the set-up needs before anything is installed."""
    listed = ", ".join(json.dumps(item) for item in requirements)
    return f'# /// script\n# requires-python = "=={python}.*"\n# dependencies = [{listed}]\n# ///\n'


def wheelhouse_note(manifest: Mapping[str, Any], folder: Path) -> str:
    builds = f"; PyTorch builds: {', '.join(manifest['extras'])}" if manifest["extras"] else ""
    platforms, python = ", ".join(manifest["platforms"]), manifest["python"]
    return f"""\
Wheelhouse of {manifest["project"]}: every file its uv.lock installs on {platforms}
(Python {python}{builds}), and what scripts/setup_env.py needs to start (its own
dependencies and the build backend). Written for uv.lock {manifest["lock_sha256"][:12]};
every file was checked against the sha256 uv.lock records.

On a machine without network: copy this folder there, with a clone of the project at the
same commit (the same uv.lock), and, from the project's root:

    export UV_OFFLINE=1 UV_FIND_LINKS={folder}
    uv run scripts/setup_env.py --wheelhouse {folder}

(give the folder's path there). uv and Python {python} must be on the machine: offline,
uv can download neither. The set-up installs the locked environment from this folder alone,
then runs the smoke test. After uv.lock changes, write the folder again where there is
network: uv run scripts/setup_env.py wheelhouse {folder}
"""


def write_wheelhouse(folder: Path, names: Sequence[str], extras: Sequence[str]) -> int:
    """`wheelhouse DIR`: every file uv.lock installs on the platforms, and the set-up's own."""
    text = _pyproject()
    targets = project_platforms(text)
    builds = torch_extras(text)
    unknown = [name for name in names if name not in targets]
    if unknown:
        problem = (
            f"--platform {', '.join(unknown)}: not a platform this project locks "
            f"({', '.join(targets)}; [tool.uv] required-environments)."
        )
        print(
            exits.message(problem, "Name one of those, or leave --platform out."), file=sys.stderr
        )
        return Exit.USAGE
    if stray := [extra for extra in extras if extra not in builds]:
        offered = f"its builds are {', '.join(builds)}" if builds else "it has one build"
        problem = f"--extra {', '.join(stray)}: not a build of this project ({offered})."
        print(
            exits.message(problem, "Name one of its builds, or leave --extra out."), file=sys.stderr
        )
        return Exit.USAGE
    if not (PROJECT / "uv.lock").is_file():
        hint = "Run `uv run scripts/setup_env.py` first: it locks, pins and checks."
        print(exits.message("There is no uv.lock yet.", hint), file=sys.stderr)
        return Exit.USAGE
    platforms = [name for name in targets if name in names] or targets
    chosen_extras = [extra for extra in builds if extra in extras] or builds
    folder = folder.resolve()
    state: dict[str, Any] = {}

    def read_lock() -> None:
        state["python"] = python = project_python(text)
        each: list[str | None] = [*chosen_extras] or [None]  # None: the one build
        with tempfile.TemporaryDirectory() as scratch:
            exports = [export_lock(extra, Path(scratch) / f"{extra}.txt") for extra in each]
        lock_text = (PROJECT / "uv.lock").read_text(encoding="utf-8")
        files, problems = files_to_carry(lock_text, exports, platforms, python)
        if problems:
            raise StepFailed(
                "uv.lock cannot be carried:\n" + "\n".join(f"      {p}" for p in problems)
            )
        state["files"] = files
        builds_note = f", PyTorch builds {', '.join(chosen_extras)}" if chosen_extras else ""
        print(f"    {len(files)} files for {', '.join(platforms)} (Python {python}{builds_note}).")

    def fetch_locked() -> None:
        folder.mkdir(parents=True, exist_ok=True)
        state["hashes"] = fetch_all(state["files"], folder)

    def fetch_start() -> None:
        sdists = [name for name in state["files"] if not name.endswith(".whl")]
        for name in sdists:
            print(
                f"    {name}: no wheel in uv.lock; the node builds it (build requirements carried)."
            )
        build_system = tomllib.loads(text).get("build-system", {}).get("requires", [])
        requirements = [*script_dependencies(), *build_system]
        requirements += [r for name in sdists for r in sdist_build_requires(folder / name)]
        with tempfile.TemporaryDirectory() as scratch:
            script = Path(scratch) / "start.py"
            script.write_text(start_script(requirements, state["python"]), encoding="utf-8")
            run([uv(), "lock", "--script", str(script)])
            export = export_lock(None, Path(scratch) / "start.txt", script=script)
            lock_text = Path(f"{script}.lock").read_text(encoding="utf-8")
        files, problems = files_to_carry(lock_text, [export], platforms, state["python"])
        if problems:
            raise StepFailed(
                "The set-up's own packages cannot be carried:\n"
                + "\n".join(f"      {p}" for p in problems)
            )
        state["hashes"] |= fetch_all(files, folder)

    def write_manifest() -> None:
        path = folder / WHEELHOUSE_MANIFEST
        lock_hash = sha256_of(PROJECT / "uv.lock")
        manifest: dict[str, Any] = {
            "project": tomllib.loads(text).get("project", {}).get("name", PROJECT.name),
            "lock_sha256": lock_hash,
            "python": state["python"],
            "platforms": platforms,
            "extras": chosen_extras,
            "files": state["hashes"],
        }
        old = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
        if isinstance(old, dict) and old.get("lock_sha256") == lock_hash:  # another platform added
            manifest["platforms"] = [
                p.name for p in platform_table() if p.name in {*old["platforms"], *platforms}
            ]
            manifest["extras"] = sorted({*old["extras"], *chosen_extras})
            manifest["files"] = dict(sorted({**old["files"], **state["hashes"]}.items()))
        elif isinstance(old, dict):  # written for an older lock: its files go
            for name in set(old.get("files", {})) - set(state["hashes"]):
                (folder / name).unlink(missing_ok=True)
        path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        (folder / WHEELHOUSE_NOTE).write_text(wheelhouse_note(manifest, folder), encoding="utf-8")
        size = sum((folder / name).stat().st_size for name in manifest["files"])
        count = len(manifest["files"])
        print(f"    {count} files, {size / 1e6:.0f} MB; how to use it: {folder / WHEELHOUSE_NOTE}")

    steps = (
        Step(
            "export",
            "Reading what uv.lock installs on each platform (uv export)",
            read_lock,
            "Run `uv run scripts/setup_env.py` first: it locks, pins and checks uv.lock.",
        ),
        Step(
            "fetch",
            f"Fetching the locked files into {folder}",
            fetch_locked,
            "Check the network and the credentials of the index named above (.env), then run "
            "this again: the files fetched already are kept.",
        ),
        Step(
            "start",
            "Fetching what the set-up needs to start (its own dependencies, the build backend)",
            fetch_start,
            "Check the network; run this again.",
        ),
        Step(
            "note",
            f"Writing {WHEELHOUSE_MANIFEST} and {WHEELHOUSE_NOTE}",
            write_manifest,
            "Check the folder's permissions and free space.",
        ),
    )
    try:
        if not run_steps(steps, resumable=False):
            return Exit.FAILED
    except KeyboardInterrupt:
        return Exit.INTERRUPTED
    use = WHEELHOUSE_USE.format(folder=shlex.quote(str(folder)))
    print(
        f"==> Wheelhouse ready. On a node without network, from the project's root:\n    {use}",
        flush=True,
    )
    return Exit.OK


# The node's side: `--wheelhouse DIR` runs env, this check, the install below, and check.


def read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / WHEELHOUSE_MANIFEST
    write = WHEELHOUSE_WRITE.format(folder=folder)
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise StepFailed(
            f"{folder} is not a wheelhouse ({WHEELHOUSE_MANIFEST}: {error}).",
            f"Write one where there is network: {write}",
        ) from error
    if not isinstance(manifest, dict) or not {"lock_sha256", "platforms", "extras", "files"} <= set(
        manifest
    ):
        raise StepFailed(
            f"{path} is not a wheelhouse's manifest.", f"Write the wheelhouse again: {write}"
        )
    return manifest


def check_wheelhouse(folder: Path) -> None:
    lock_text()  # there is one
    manifest = read_manifest(folder)
    write = WHEELHOUSE_WRITE.format(folder=folder)
    if manifest["lock_sha256"] != sha256_of(PROJECT / "uv.lock"):
        raise StepFailed(
            f"{folder} was written for another uv.lock than this clone's.",
            "Check out the commit it was written for, or write it again from this one where "
            f"there is network: {write}",
        )
    here = platform_name(sys.platform, cpu_architecture())
    if here not in manifest["platforms"]:
        raise StepFailed(
            f"{folder} holds the files of {', '.join(manifest['platforms'])}, not of this machine "
            f"({here or f'{sys.platform} {cpu_architecture()}'}).",
            f"Write it for this platform too: {write} --platform {here}",
        )
    missing = sorted(name for name in manifest["files"] if not (folder / name).is_file())
    if missing:
        raise StepFailed(
            f"{folder} lacks {len(missing)} of its files: {', '.join(missing[:3])}"
            f"{', ...' if len(missing) > 3 else ''}.",
            "Copy the whole folder again.",
        )
    platforms = ", ".join(manifest["platforms"])
    print(f"    {len(manifest['files'])} files for {platforms}, written for this uv.lock.")


def local_requirements(text: str, folder: Path) -> str:
    """Exported requirements with each `name @ <URL of a file the folder holds>` pointed at
    the folder's copy (a node without network cannot reach the URL)."""

    def local(found: re.Match[str]) -> str:
        name = urllib.parse.unquote(found["url"].rsplit("/", 1)[-1])
        return f" @ {(folder / name).as_uri()}" if (folder / name).is_file() else found[0]

    return re.sub(r" @ (?P<url>https?://\S+)", local, text)


def project_environment() -> Path:
    """The project's environment: UV_PROJECT_ENVIRONMENT, else .venv."""
    named = uv_environment().get("UV_PROJECT_ENVIRONMENT")
    return PROJECT / named if named else PROJECT / ".venv"


def sync_from_wheelhouse(folder: Path) -> None:
    extra = chosen_extra()
    extras = read_manifest(folder)["extras"]
    if extra and extra not in extras:
        raise StepFailed(
            f"The wheelhouse holds the PyTorch builds {', '.join(extras)}, not '{extra}'.",
            f"Set TORCH_EXTRA in .env to one it holds, or write it with --extra {extra}.",
        )
    options = ["--extra", extra] if extra else []
    environment = project_environment()
    with tempfile.TemporaryDirectory() as scratch:
        requirements = Path(scratch) / "requirements.txt"
        text = export_lock(extra, requirements)
        requirements.write_text(local_requirements(text, folder), encoding="utf-8")
        run([uv(), "venv", "--quiet", "--allow-existing", str(environment)])
        run(
            [
                uv(),
                "pip",
                "sync",
                "--no-index",
                "--find-links",
                str(folder),
                "--python",
                str(environment),
                str(requirements),
            ]
        )
    run([uv(), "sync", "--locked", "--find-links", str(folder), *options])


def wheelhouse_steps(todo: Sequence[Step], folder: Path) -> tuple[Step, ...]:
    """The set-up's steps for `--wheelhouse`: lock, pin and the per-platform check were done
    where the wheelhouse was written; the install takes every file from it."""
    checked = Step(
        "wheelhouse",
        f"Checking the wheelhouse {folder} against uv.lock and this machine",
        lambda: check_wheelhouse(folder),
        "Use the wheelhouse written for this commit and platform.",
    )
    install = Step(
        "sync",
        f"Installing the locked environment from {folder} (no index)",
        lambda: sync_from_wheelhouse(folder),
        f"Write it again where there is network: {WHEELHOUSE_WRITE.format(folder=folder)}",
    )
    names = [step.name for step in todo]
    steps: list[Step] = []
    for step in todo:
        if step.name == "sync":
            steps += [checked, install]
        elif step.name not in ("lock", "pin", "verify"):
            steps.append(step)
    if "sync" not in names and {"lock", "pin", "verify"} & set(names):
        steps.insert(1 if names[0] == "env" else 0, checked)
    return tuple(steps)


# ── pixi ───────────────────────────────────────────────────────────────────
#
# A pixi project is locked and installed by pixi; this script writes .env, runs
# `pixi lock` and `pixi install --locked`, and says what to run when pixi is missing or fails.

PIXI_INSTALL_HINT = (
    "Install pixi (https://pixi.sh/latest/installation/), then open a new shell:\n"
    "    curl -fsSL https://pixi.sh/install.sh | sh      # Linux, macOS\n"
    "    brew install pixi                                # Homebrew"
)
CUDA_OVERRIDE = "CONDA_OVERRIDE_CUDA"  # pixi's stand-in for the driver of the GPU machines


def declared_cuda(pixi: Mapping[str, Any]) -> str | None:
    """The CUDA version the manifest's CUDA platform declares (`cuda = "12"`), if any."""
    for platform in pixi.get("workspace", {}).get("platforms", []):
        if isinstance(platform, dict) and isinstance(platform.get("cuda"), str):
            return str(platform["cuda"])
    return None


def here() -> str:
    """The command that enters the project, quoted for the shell (a path may hold spaces)."""
    return f"cd {shlex.quote(str(PROJECT))}"


def run_pixi(step: str, args: list[str], env: dict[str, str]) -> bool:
    """Run `pixi <args>` on the project's manifest; on failure, say how to resume."""
    shown = " ".join(["pixi", *args])
    print(f"==> {step} ({shown})", flush=True)
    pixi = shutil.which("pixi", path=env.get("PATH")) or "pixi"
    command = [pixi, *args, "--manifest-path", str(PROJECT / "pyproject.toml")]
    try:
        code = subprocess.run(command, cwd=PROJECT, env=env, check=False).returncode
    except OSError as error:  # a pixi that cannot start
        failure = f"the pixi at {pixi} cannot start ({error}); reinstall it"
    else:
        if code == 0:
            return True
        failure = f"`{shown}` exited with {code}"
    print(f"\n!!  Set-up failed at step '{step}': {failure}.", flush=True)
    print(f"The project is kept in {PROJECT}; only the environment is unfinished.")
    print(f"After fixing the problem above, resume with:\n    {here()} && {shown}", flush=True)
    return False


def override_hint(cuda: str) -> str:
    return (
        f"This machine shows no NVIDIA driver, so pixi installs the CPU platform here. To "
        f"install the CUDA one anyway (e.g. on a login node, for the GPU nodes):\n"
        f"    {CUDA_OVERRIDE}={cuda} pixi install"
    )


def set_up_pixi(pixi_table: Mapping[str, Any]) -> int:
    print("==> Creating .env from .env.example", flush=True)
    create_env_file()
    env: dict[str, str] = project_files.clean_environment()
    cuda = declared_cuda(pixi_table)
    # The CUDA platform's version, when this machine has no NVIDIA driver to install it for.
    no_driver = cuda is not None and load_module("machine").nvidia().driver is None
    cuda_without_driver = cuda if no_driver else None
    if shutil.which("pixi") is None:
        print("\n!!  pixi is not on PATH, so the environment is not installed yet.")
        print(PIXI_INSTALL_HINT)
        print(
            "The project is kept, and its manifest is ready (pyproject.toml, [tool.pixi]). "
            f"Then install the environment with:\n    {here()} && pixi install"
        )
        if cuda_without_driver:
            print(override_hint(cuda_without_driver))
        return Exit.FAILED
    lock_env = dict(env)
    if cuda_without_driver and CUDA_OVERRIDE not in env:
        # Solving needs no GPU, but pixi checks the CUDA platform's packages against the
        # machine; the override stands in for the driver of the GPU machines.
        lock_env[CUDA_OVERRIDE] = cuda_without_driver
        print(f"==> No NVIDIA driver here: solving with {CUDA_OVERRIDE}={cuda_without_driver}")
    if not run_pixi("Solving every platform into pixi.lock", ["lock"], lock_env):
        return Exit.FAILED
    if not run_pixi("Installing this machine's platform", ["install", "--locked"], env):
        return Exit.FAILED
    print(f"==> Environment ready. Next: {here()} && pixi run test", flush=True)
    if cuda_without_driver and CUDA_OVERRIDE not in env:
        print(override_hint(cuda_without_driver))
    return Exit.OK


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    names = [s.name for s in STEPS]
    parser.add_argument("--from", dest="start", choices=names, default="env")
    parser.add_argument(
        "--until",
        choices=names,
        default=names[-1],
        help="stop after this step (verify: lock and check every platform, install nothing)",
    )
    parser.add_argument(
        "--wheelhouse",
        metavar="DIR",
        type=Path,
        help="install from a folder written by `wheelhouse DIR`, without any index "
        "(a node without network); lock, pin and verify were done where it was written",
    )
    commands = parser.add_subparsers(dest="command", metavar="upgrade | wheelhouse")
    upgrading = commands.add_parser(
        "upgrade", help="move dependencies to the newest versions their constraints allow"
    )
    upgrading.add_argument(
        "packages", nargs="*", metavar="PACKAGE", help="only these (default: every dependency)"
    )
    carrying = commands.add_parser(
        "wheelhouse",
        help="write every file uv.lock installs (and the set-up's own) into DIR, "
        "for a machine without network",
    )
    carrying.add_argument("folder", metavar="DIR", type=Path)
    carrying.add_argument(
        "--platform",
        action="append",
        default=[],
        choices=[platform.name for platform in platform_table()],
        help="only this platform (repeatable; default: every platform the project locks)",
    )
    carrying.add_argument(
        "--extra",
        action="append",
        default=[],
        metavar="BUILD",
        help="only this PyTorch build extra (repeatable; default: every build)",
    )
    args = parser.parse_args(argv)
    pyproject = project_files.read_toml(PROJECT / "pyproject.toml")
    if project_files.manager(pyproject) == "pixi":
        if args.command == "upgrade":
            print("!!  A pixi project upgrades with `pixi update`.", file=sys.stderr)
            return Exit.USAGE
        if args.command == "wheelhouse" or args.wheelhouse:
            print(
                "!!  A wheelhouse carries a uv project; pixi projects: `pixi-pack`.",
                file=sys.stderr,
            )
            return Exit.USAGE
        return set_up_pixi(pyproject["tool"]["pixi"])
    if args.wheelhouse and args.command:
        print(f"!!  --wheelhouse installs; `{args.command}` needs an index.", file=sys.stderr)
        return Exit.USAGE
    try:
        check_pyproject(PROJECT / "pyproject.toml")
    except InvalidProject as error:
        print(exits.message(f"{error} Nothing was changed.", error.hint), file=sys.stderr)
        return Exit.USAGE
    if args.command == "upgrade":
        return upgrade(args.packages)
    if args.command == "wheelhouse":
        return write_wheelhouse(args.folder, args.platform, args.extra)
    todo = steps_from(args.start)
    todo = todo[: [s.name for s in todo].index(args.until) + 1] if args.until in names else todo
    resume = None
    if args.wheelhouse:
        folder = args.wheelhouse.resolve()
        # No uv command of the set-up reaches for an index; the set-up's own packages and the
        # build backend come from the folder too.
        os.environ["UV_OFFLINE"] = "1"
        os.environ["UV_FIND_LINKS"] = str(folder)
        todo = wheelhouse_steps(todo, folder)
        command = f"uv run scripts/setup_env.py --wheelhouse {shlex.quote(str(folder))}"
        resume = lambda name: f"{command} --from {'sync' if name == 'wheelhouse' else name}"  # noqa: E731
    try:
        if not run_steps(todo, resume_command=resume):
            return Exit.FAILED
    except KeyboardInterrupt:
        return Exit.INTERRUPTED
    if todo[-1] is not STEPS[-1]:
        print(f"==> Stopped after '{args.until}', as asked: nothing after it was done.", flush=True)
        return Exit.OK
    print("==> Environment ready: uv run pytest runs the tests.", flush=True)
    return Exit.OK


if __name__ == "__main__":
    sys.exit(main())
