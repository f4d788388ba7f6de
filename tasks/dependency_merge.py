# /// script
# requires-python = ">=3.11"
# dependencies = ["tomlkit>=0.13", "packaging>=24", "python-dotenv>=1"]
# ///
"""How `copier update` meets the set-up's pins in pyproject.toml: hide, restore, merge.

The set-up pins each dependency the template writes bare (`numpy` -> `numpy==2.4.6`) and
records those pins ([tool.setup-env.pinned]; see template/scripts/setup_env.py, whose rules
this file imports). To Copier's three-way merge those pins would look like the user's edits,
so around the merge:

- hide: the project's pyproject.toml as the merge should see it, the recorded pins taken off
  and the record left out; everything the user wrote (pins, ranges, markers) stays.
- restore: after a merge that changed no dependency, the same pins put back from the record
  (post_update.py does this with a line merge where it can).
- merge: when the merge conflicted in pyproject.toml, the dependency lists of the three
  versions (base: the old release, ours: the project, theirs: the new release) merged per
  dependency; the three texts come back with those lists made equal wherever the merge is
  clean, so that `git merge-file` leaves only real conflicts.

Copier's interpreter has no tomlkit, so pre_update.py and post_update.py run this through
`uv run --script`: a JSON request on stdin ({"action": ..., texts}), a JSON answer on stdout.
"""

from __future__ import annotations

import copy
import json
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from extensions.loader import load

_SETUP_ENV = Path(__file__).resolve().parent.parent / "template" / "scripts" / "setup_env.py"
setup_env = load(_SETUP_ENV)


# ── Hide and restore ───────────────────────────────────────────────────────


def set_up_record(document: dict[str, Any]) -> dict[str, str]:
    """The set-up's pins: its record, or (set up before pins were recorded) every == pin."""
    record = setup_env.set_up_pins(document)
    if record is not None:
        return dict(record)
    return {
        canonicalize_name(Requirement(item).name): next(iter(Requirement(item).specifier)).version
        for item in setup_env.requirements_in(document)
        if setup_env.owner(item, None) == "set-up"
    }


def hide(pyproject: str) -> str:
    """pyproject.toml with the set-up's pins taken off and its record left out."""
    document = tomlkit.parse(pyproject)
    record = setup_env.set_up_pins(document)
    for array in setup_env.dependency_arrays(document):
        for index, item in enumerate(list(array)):
            if isinstance(item, str) and setup_env.owner(item, record) == "set-up":
                setup_env.replace_item(array, index, setup_env.without_pin(item))
    return str(setup_env.drop_record(tomlkit.dumps(document)))


def restore(merged: str, head: str) -> str:
    """After the merge: the set-up's pins back from `head` (the project before the update)."""
    before = tomllib.loads(head)
    record = set_up_record(before)
    if not record and setup_env.record_in(before) is None:  # the set-up never pinned here
        return merged
    document = tomlkit.parse(merged)
    kept: dict[str, str] = {}
    for array in setup_env.dependency_arrays(document):
        for index, item in enumerate(list(array)):
            name = canonicalize_name(Requirement(item).name) if isinstance(item, str) else ""
            if name in record and setup_env.owner(item, record) == "bare":
                setup_env.replace_item(array, index, setup_env.with_pin(item, record[name]))
                kept[name] = record[name]
    return str(setup_env.write_record(tomlkit.dumps(document), kept))


# ── Merge ──────────────────────────────────────────────────────────────────


SIDES = ("base", "ours", "theirs")
Key = tuple[str, str]


def item_key(item: Any) -> Key:
    """What identifies a dependency in a list: its name and marker (or an included group)."""
    if isinstance(item, str):
        requirement = Requirement(item)
        return canonicalize_name(requirement.name), str(requirement.marker or "")
    return "{}", json.dumps(item, sort_keys=True)


def meaning(item: Any) -> str:
    """The item as its meaning, so quoting and spacing are no change."""
    return str(Requirement(item)) if isinstance(item, str) else json.dumps(item, sort_keys=True)


def array_paths(document: dict[str, Any]) -> Iterator[tuple[str, ...]]:
    project = document.get("project", {})
    if "dependencies" in project:
        yield ("project", "dependencies")
    for extra in project.get("optional-dependencies", {}):
        yield ("project", "optional-dependencies", extra)
    for group in document.get("dependency-groups", {}):
        yield ("dependency-groups", group)


def at(document: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        document = document[key]
    return document


@dataclass
class Entry:
    """One dependency of the merged list, as each side will show it (None: not there)."""

    key: Key
    ours: Any
    theirs: Any
    base: Any
    conflict: bool = False


def merge_entries(base: list[Any], ours: list[Any], theirs: list[Any]) -> list[Entry] | None:
    """The merged list in the user's order, the template's additions in name order.

    Per dependency: the side that changed it wins; both changed it differently: a conflict
    (each side keeps its own text there). None when a list names a dependency twice.
    """
    sides = {}
    for side, items in zip(SIDES, (base, ours, theirs), strict=True):
        keyed = {item_key(item): item for item in items}
        if len(keyed) != len(items):
            return None
        sides[side] = keyed
    b, o, t = sides["base"], sides["ours"], sides["theirs"]

    def resolved(key: Key) -> Entry | None:
        old, mine, new = (meaning(s[key]) if key in s else None for s in (b, o, t))
        if mine == new or new == old:
            chosen = o.get(key)
        elif mine == old:
            chosen = t.get(key)
        else:
            return Entry(key, o.get(key), t.get(key), b.get(key), conflict=True)
        return None if chosen is None else Entry(key, chosen, chosen, chosen)

    entries = [entry for key in o if (entry := resolved(key)) is not None]
    for key in t:
        if key in o or (entry := resolved(key)) is None:
            continue
        named = [i for i, e in enumerate(entries) if e.key[0] != "{}"]
        later = [i for i in named if entries[i].key[0] > key[0]]
        entries.insert(later[0] if later else (named[-1] + 1 if named else 0), entry)
    return entries


def rewrite(array: Any, entries: list[Entry], side: str) -> Any:
    """A copy of the ours side's tomlkit `array`, comments kept, holding `side`'s entries."""
    result = copy.deepcopy(array)
    own = {id(item) for item in array}
    wanted = [item for entry in entries if (item := getattr(entry, side)) is not None]
    kept = {id(item) for item in wanted}
    for index, item in reversed(list(enumerate(array))):
        if id(item) not in kept:
            del result[index]
    # The user's items that stay are now in order; put the others in between.
    for position, item in enumerate(wanted):
        if id(item) not in own:
            result.insert(position, copy.deepcopy(item))
    return result


def merge(base: str, ours: str, theirs: str) -> dict[str, Any]:
    """The three texts with their dependency lists merged, and the conflicts that remain."""
    documents = {
        side: tomlkit.parse(text) for side, text in zip(SIDES, (base, ours, theirs), strict=True)
    }
    ours_paths = set(array_paths(tomllib.loads(ours)))
    conflicts: list[str] = []
    for path in array_paths(tomllib.loads(theirs)):
        if path not in ours_paths:
            continue
        lists = {
            side: at(documents[side], path) if _has(documents[side], path) else [] for side in SIDES
        }
        entries = merge_entries(*(list(lists[side]) for side in SIDES))
        if entries is None:
            continue
        template = at(documents["ours"], path)
        for side in SIDES:
            if side == "base" and not _has(documents["base"], path):
                continue
            _assign(documents[side], path, rewrite(template, entries, side))
        conflicts += [f"{'.'.join(path)}: {e.key[0]}" for e in entries if e.conflict]
    texts = {side: tomlkit.dumps(document) for side, document in documents.items()}
    return {**texts, "conflicts": conflicts}


def _has(document: Any, path: tuple[str, ...]) -> bool:
    try:
        at(document, path)
    except KeyError:
        return False
    return True


def _assign(document: Any, path: tuple[str, ...], value: Any) -> None:
    at(document, path[:-1])[path[-1]] = value


# ── Command line ───────────────────────────────────────────────────────────


def answer(request: dict[str, Any]) -> dict[str, Any]:
    action = request["action"]
    if action == "hide":
        return {"pyproject": hide(request["pyproject"])}
    if action == "restore":
        return {"pinned": restore(request["merged"], request["head"])}
    if action == "merge":
        return merge(request["base"], request["ours"], request["theirs"])
    raise ValueError(f"unknown action {action!r}")


def main() -> int:
    try:
        result = answer(json.load(sys.stdin))
    except (tomllib.TOMLDecodeError, InvalidRequirement, ValueError, KeyError) as error:
        print(json.dumps({"error": f"{type(error).__name__}: {error}"}))
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
