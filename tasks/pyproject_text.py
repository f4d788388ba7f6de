"""pyproject.toml work an update does with the standard library alone, in Copier's interpreter.

Taking the set-up's pins off for the merge is a few string replacements in the common case:
the set-up writes `name==version` into a dependency string and its record as the last table
of the file. `hidden_quickly` does exactly that, and only when the result can be checked:
every replaced string occurs in the file as often as in the dependency lists, and the parsed
result equals the parsed original with those pins taken off and the record left out. Anything
else (a pin reformatted by hand, the record moved, a project set up before pins were
recorded) returns None, and dependency_merge.py does it with tomlkit, which costs a `uv run`
(about half a second) per update.
"""

from __future__ import annotations

import copy
import json
import tomllib
from typing import Any

from packaging.requirements import Requirement  # Copier depends on it
from packaging.utils import canonicalize_name

RECORD_HEADER = "[tool.setup-env.pinned]"  # as the set-up writes it (research_kit.setup.pins)
# What uv.lock is computed from: when none of it changed, the lock and the environment stand.
LOCK_INPUTS = ("name", "version", "requires-python", "dependencies", "optional-dependencies")


def lock_inputs(pyproject: str) -> dict[str, Any]:
    data = tomllib.loads(pyproject)
    project = data.get("project", {})
    return {
        "project": {key: project.get(key) for key in LOCK_INPUTS},
        "dependency-groups": data.get("dependency-groups"),
        "tool.uv": data.get("tool", {}).get("uv"),
    }


def dependency_lists(data: dict[str, Any]) -> list[list[Any]]:
    project = data.get("project", {})
    lists = [project.get("dependencies", []), *project.get("optional-dependencies", {}).values()]
    return [*lists, *data.get("dependency-groups", {}).values()]


class NotPlain(Exception):
    """The file is not as the set-up writes it: leave it to tomlkit."""


def set_up_pin(item: Any, record: dict[str, str]) -> str | None:
    """The text `==version` the set-up wrote into this dependency, if it is its pin."""
    if not isinstance(item, str):
        return None
    requirement = Requirement(item)
    version = record.get(canonicalize_name(requirement.name))
    if version is None or str(requirement.specifier) != f"=={version}":
        return None
    if item.count(f"=={version}") != 1:
        raise NotPlain(item)
    return f"=={version}"


def without_record(data: dict[str, Any]) -> dict[str, Any]:
    """Parsed pyproject.toml without [tool.setup-env.pinned] (and tables it alone made)."""
    result = copy.deepcopy(data)
    tool = result.get("tool", {})
    tool.get("setup-env", {}).pop("pinned", None)
    if tool.get("setup-env") == {}:
        del tool["setup-env"]
    if result.get("tool") == {}:
        del result["tool"]
    return result


def hidden_quickly(text: str) -> str | None:
    """`text` with the set-up's pins taken off and its record left out; None if not plain."""
    try:
        return _hidden(text)
    except NotPlain:
        return None


def _hidden(text: str) -> str | None:
    data = tomllib.loads(text)
    record = data.get("tool", {}).get("setup-env", {}).get("pinned")
    start = text.rfind(f"\n{RECORD_HEADER}\n")
    if not isinstance(record, dict) or start < 0:
        return None
    if any(line.startswith("[") for line in text[start + 1 :].splitlines()[1:]):
        return None  # the record is not the last table
    record = {canonicalize_name(name): str(version) for name, version in record.items()}
    items = [item for items in dependency_lists(data) for item in items]
    hidden = text[:start].rstrip("\n") + "\n"
    for item in dict.fromkeys(i for i in items if isinstance(i, str)):
        pin = set_up_pin(item, record)
        if pin is None:
            continue
        bare = item.replace(pin, "")
        tokens = {json.dumps(item, ensure_ascii=False): json.dumps(bare, ensure_ascii=False)}
        if "'" not in item:  # a literal string, as a user may have written it
            tokens[f"'{item}'"] = f"'{bare}'"
        if sum(hidden.count(token) for token in tokens) != items.count(item):
            return None  # written another way, or also outside the lists
        for token, replacement in tokens.items():
            hidden = hidden.replace(token, replacement)
    expected = without_record(data)
    for items_of_list in dependency_lists(expected):
        for index, item in enumerate(items_of_list):
            pin = set_up_pin(item, record)
            if pin is not None:
                items_of_list[index] = item.replace(pin, "")
    return hidden if tomllib.loads(hidden) == expected else None
