# Template-owned: `copier update` replaces this file; edits of yours are merged in.
"""The pinning rules: whose each version specifier in pyproject.toml is, and the record of
the set-up's own pins ([tool.setup-env.pinned]).

Functions of text only (tomlkit and packaging; nothing of the project's files): the set-up
pins with them (lock.py), and `copier update` imports this module to hide and restore the
set-up's pins around its merge (the template's tasks/dependency_merge.py).
"""

from __future__ import annotations

import json
import re
import tomllib
from collections import defaultdict
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import tomlkit
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version
from tomlkit.items import StringType

from .steps import InvalidProject, InvalidRecord, StepFailed

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


def local_packages(document: Mapping[str, Any]) -> set[str]:
    """Packages built from a folder of the project ([tool.uv.sources] path or workspace, as
    kit/'s <project>-kit): they have no release to pin, and the set-up leaves them alone."""
    sources = document.get("tool", {}).get("uv", {}).get("sources", {})
    return {
        canonicalize_name(name)
        for name, entries in sources.items()
        for entry in (entries if isinstance(entries, list) else [entries])
        if isinstance(entry, Mapping) and ("path" in entry or "workspace" in entry)
    }


def is_local(requirement: str, local: set[str]) -> bool:
    try:
        return canonicalize_name(Requirement(requirement).name) in local
    except InvalidRequirement:  # check_pyproject names it
        return False


def requirements_in(document: Mapping[str, Any]) -> Iterator[str]:
    """The direct dependencies, the project's own folders' packages left out."""
    local = local_packages(document)
    for array in dependency_arrays(document):
        yield from (item for item in array if isinstance(item, str) and not is_local(item, local))


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
