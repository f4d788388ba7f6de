# /// script
# requires-python = ">=3.11"
# dependencies = ["tomlkit>=0.13", "packaging>=24"]
# ///
"""How `copier update` meets the set-up's pins in pyproject.toml: hide, restore, merge.

The set-up pins each dependency the template writes bare (`numpy` -> `numpy==2.4.6`) and
records those pins ([tool.setup-env.pinned]; see the rules in the generated project's
kit/src/research_kit/setup/pins.py, which this file imports). To Copier's three-way merge
those pins would look like the user's edits, so around the merge:

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
The template's folder and its kit/src are on PYTHONPATH there (pre_update.call_helper), as
they are on sys.path for the tasks (tasks/__init__.py).
"""

from __future__ import annotations

import json
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import tomlkit
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from research_kit.setup import pins

# ── Hide and restore ───────────────────────────────────────────────────────


def set_up_record(document: dict[str, Any]) -> dict[str, str]:
    """The set-up's pins: its record, or (set up before pins were recorded) every == pin."""
    record = pins.set_up_pins(document)
    if record is not None:
        return dict(record)
    return {
        canonicalize_name(Requirement(item).name): next(iter(Requirement(item).specifier)).version
        for item in pins.requirements_in(document)
        if pins.owner(item, None) == "set-up"
    }


def hide(pyproject: str) -> str:
    """pyproject.toml with the set-up's pins taken off and its record left out."""
    document = tomlkit.parse(pyproject)
    record = pins.set_up_pins(document)
    for array in pins.dependency_arrays(document):
        for index, item in enumerate(list(array)):
            if isinstance(item, str) and pins.owner(item, record) == "set-up":
                pins.replace_item(array, index, pins.without_pin(item))
    return str(pins.drop_record(tomlkit.dumps(document)))


def restore(merged: str, head: str) -> str:
    """After the merge: the set-up's pins back from `head` (the project before the update)."""
    before = tomllib.loads(head)
    record = set_up_record(before)
    if not record and pins.record_in(before) is None:  # the set-up never pinned here
        return merged
    document = tomlkit.parse(merged)
    kept: dict[str, str] = {}
    for array in pins.dependency_arrays(document):
        for index, item in enumerate(list(array)):
            name = canonicalize_name(Requirement(item).name) if isinstance(item, str) else ""
            kind = pins.owner(item, record) if name in record else ""
            if kind == "bare":
                pins.replace_item(array, index, pins.with_pin(item, record[name]))
            if kind in ("bare", "set-up"):  # put back, or (no record yet) never taken off
                kept[name] = record[name]
    return str(pins.write_record(tomlkit.dumps(document), kept))


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
    """One dependency of the merged list, as each side will show it (None: not there).

    `source` is the side whose text a clean entry takes ("ours" or "theirs").
    """

    key: Key
    ours: Any
    theirs: Any
    base: Any
    conflict: bool = False
    source: str = "ours"


def merge_entries(
    base: list[Any],
    ours: list[Any],
    theirs: list[Any],
    commented: frozenset[Key] = frozenset(),
) -> list[Entry] | None:
    """The merged list in the user's order, the template's additions in name order.

    Per dependency: the side that changed it wins; both changed it differently: a conflict
    (each side keeps its own text there). A dependency the user wrote a comment for
    (`commented`) is one the user changed: the template dropping it is a conflict, so the
    comment is never lost unseen. None when a list names a dependency twice.
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
        if old is not None and new is None and mine is not None and key in commented:
            mine = f"{mine} # commented"  # the template drops what you annotated
        if mine == new or new == old:
            chosen, source = o.get(key), "ours"
        elif mine == old:
            chosen, source = t.get(key), "theirs"
        else:
            return Entry(key, o.get(key), t.get(key), b.get(key), conflict=True)
        return None if chosen is None else Entry(key, chosen, chosen, chosen, source=source)

    entries = [entry for key in o if (entry := resolved(key)) is not None]
    for key in t:
        if key in o or (entry := resolved(key)) is None:
            continue
        named = [i for i, e in enumerate(entries) if e.key[0] != "{}"]
        later = [i for i in named if entries[i].key[0] > key[0]]
        entries.insert(later[0] if later else (named[-1] + 1 if named else 0), entry)
    return entries


# ── A dependency list as written: each entry with the comments that belong to it ──


@dataclass
class Slot:
    """One entry of a list as written, with its comments.

    `above`: the comment lines right above it (a blank line kept as ""); `inline`: the
    comment after it on its line, with the spaces before it.
    """

    item: Any
    text: str
    above: list[str] = field(default_factory=list)
    inline: str = ""


@dataclass
class Layout:
    """A TOML array as written: its entries, a comment on the `[` line, comments at the end."""

    slots: list[Slot]
    opening: str = ""
    trailing: list[str] = field(default_factory=list)
    indent: str = "    "


class NotAList(Exception):
    """An array written in a form this reader does not take apart: left to the line merge."""


QUOTES = ('"""', "'''", '"', "'")


def _string_end(text: str, start: int) -> int:
    """The index just after the TOML string that starts at `start`."""
    opener = next(quote for quote in QUOTES if text.startswith(quote, start))
    index = start + len(opener)
    while index < len(text):
        if opener[0] == '"' and text[index] == "\\":
            index += 2
            continue
        if text.startswith(opener, index):
            return index + len(opener)
        if len(opener) == 1 and text[index] == "\n":
            break
        index += 1
    raise NotAList("a string that does not end")


def _value_end(text: str, start: int) -> int:
    """The index just after the value (string, inline table, array, bare word) at `start`."""
    if text[start] in "\"'":
        return _string_end(text, start)
    if text[start] in "{[":
        depth, index = 0, start
        while index < len(text):
            if text[index] in "\"'":
                index = _string_end(text, index)
                continue
            depth += text[index] in "{["
            depth -= text[index] in "}]"
            index += 1
            if depth == 0:
                return index
        raise NotAList("brackets that do not close")
    index = start
    while index < len(text) and text[index] not in ",]# \t\r\n":
        index += 1
    return index


def read_layout(array_text: str) -> Layout:
    """A TOML array's text (`[ ... ]`, as tomlkit gives it) as entries with their comments.

    A comment on the line of an entry (after it, or after its comma) is that entry's; a
    comment on a line of its own belongs to the next entry (blank lines in between too);
    comments after the last entry stay at the end.
    """
    if not array_text.startswith("["):
        raise NotAList("not an array")
    layout = Layout(slots=[])
    pending: list[str] = []
    indent: str | None = None
    last: Slot | None = None  # the entry on the current line, if any
    index, line_start, blank, bracket_line = 1, False, False, True
    while index < len(array_text):
        char = array_text[index]
        if char == "]":
            while pending and pending[-1] == "":
                pending.pop()
            layout.trailing = pending
            layout.indent = indent or "    "
            return layout
        if char == "\n":
            if blank and (layout.slots or pending):
                pending.append("")
            index, line_start, blank, bracket_line, last = index + 1, True, True, False, None
        elif char in " \t\r,":
            index += 1
        elif char == "#":
            end = array_text.find("\n", index)
            end = len(array_text) if end < 0 else end
            comment = array_text[index:end].rstrip()
            if last is not None:
                before = array_text[array_text.rfind("\n", 0, index) + 1 : index]
                gap = before[len(before.rstrip(" \t")) :]
                last.inline = (gap or " ") + comment
            elif bracket_line:
                layout.opening = comment
            else:
                pending.append(comment)
            index, blank = end, False
        else:
            end = _value_end(array_text, index)
            text = array_text[index:end]
            try:
                item = tomllib.loads(f"v = {text}")["v"]
            except tomllib.TOMLDecodeError as error:
                raise NotAList(str(error)) from None
            if indent is None and line_start:
                before = array_text[array_text.rfind("\n", 0, index) + 1 : index]
                indent = before if not before.strip() else None
            last = Slot(item, text, above=pending)
            layout.slots.append(last)
            pending, index, blank, line_start = [], end, False, False
    raise NotAList("no closing bracket")


def write_layout(layout: Layout, slots: list[Slot]) -> str:
    """The array's text holding `slots`, one per line, each under its own comments."""
    indent = layout.indent
    lines = ["[" + (f"  {layout.opening}" if layout.opening else "")]
    for slot in slots:
        lines += [f"{indent}{line}" if line else "" for line in slot.above]
        lines.append(f"{indent}{slot.text},{slot.inline}")
    lines += [f"{indent}{line}" if line else "" for line in layout.trailing]
    return "\n".join([*lines, "]"])


def side_slots(entries: list[Entry], layouts: dict[str, Layout], side: str) -> list[Slot]:
    """What `side` shows of the merged list: a clean entry as written by the side it comes
    from, under the user's comments for it; a conflicting one as `side` wrote it."""
    keyed = {name: {item_key(s.item): s for s in layout.slots} for name, layout in layouts.items()}
    slots = []
    for entry in entries:
        if entry.conflict:
            if (own := keyed.get(side, {}).get(entry.key)) is not None:
                slots.append(own)
            continue
        chosen = keyed[entry.source][entry.key]
        mine = keyed["ours"].get(entry.key)
        slots.append(
            chosen if mine is None else Slot(chosen.item, chosen.text, mine.above, mine.inline)
        )
    return slots


def merge(base: str, ours: str, theirs: str) -> dict[str, Any]:
    """The three texts with their dependency lists merged, and the conflicts that remain.

    A list that changes is written again in the user's (ours) layout: each entry keeps the
    comments above it and after it, wherever it moves; a template addition comes without.
    The three sides then differ only at real conflicts, which `git merge-file` marks.
    """
    documents = {
        side: tomlkit.parse(text) for side, text in zip(SIDES, (base, ours, theirs), strict=True)
    }
    ours_paths = set(array_paths(tomllib.loads(ours)))
    conflicts: list[str] = []
    for path in array_paths(tomllib.loads(theirs)):
        if path not in ours_paths:
            continue
        present = [side for side in SIDES if _has(documents[side], path)]
        try:
            layouts = {side: read_layout(at(documents[side], path).as_string()) for side in present}
        except NotAList:
            continue  # the line merge has it
        commented = frozenset(
            item_key(slot.item) for slot in layouts["ours"].slots if slot.inline or any(slot.above)
        )
        items = [[s.item for s in layouts[side].slots] if side in layouts else [] for side in SIDES]
        entries = merge_entries(items[0], items[1], items[2], commented=commented)
        if entries is None:
            continue
        written = at(documents["ours"], path).as_string()
        for side in present:
            slots = side_slots(entries, layouts, side)
            unchanged = len(slots) == len(layouts["ours"].slots) and all(
                (a.text, a.above, a.inline) == (b.text, b.above, b.inline)
                for a, b in zip(slots, layouts["ours"].slots, strict=True)
            )
            text = written if unchanged else write_layout(layouts["ours"], slots)
            _assign(documents[side], path, tomlkit.parse(f"v = {text}\n")["v"])
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
