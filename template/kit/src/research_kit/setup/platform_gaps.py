# Template-owned: `copier update` replaces this file; edits of yours are merged in.
"""The platforms the project's lock is made for, and what uv's words mean when a package has
no wheels for one of them.

The lock is made for the platforms of [tool.uv] required-environments (the template's
`platforms` answer), and every package needs a wheel for each. A package published for
Linux only (triton, cupy-cuda12x, vllm's kernels) makes `uv lock` stop with "No solution
found when resolving dependencies for split (markers: ...)" and "<package> has no
`<marker>`-compatible wheels"; `uv sync --dry-run --python-platform` (the verify step) says
"Distribution `<package>==<version> @ ...` can't be installed because it doesn't have a
source distribution or wheel for the current platform". Either way the set-up names the
package, the platform and the two ways out: a marker on the requirement, or fewer
platforms.
"""

from __future__ import annotations

import re
import sys
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from .pins import index_families_by_name, owner, requirements_in, set_up_pins, without_pin
from .steps import PROJECT, load_module, platform_table, read_pyproject

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
    document = tomllib.loads(read_pyproject())
    targets = target_platforms(read_pyproject())
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


def target_platforms(pyproject_text: str) -> list[Any]:
    """The platforms (records of kit/src/research_kit/platforms.py) that [tool.uv]
    required-environments names, in the table's order."""
    markers = required_environments(pyproject_text)
    return [p for p in platform_table() if any(selects(marker, p) for marker in markers)]


def unchecked_markers(pyproject_text: str) -> list[str]:
    """required-environments entries that select none of the platforms the set-up knows."""
    known = platform_table()
    markers = required_environments(pyproject_text)
    return [m for m in markers if not any(selects(m, p) for p in known)]


def required_environments(pyproject_text: str) -> list[str]:
    uv_table = tomllib.loads(pyproject_text).get("tool", {}).get("uv", {})
    return list(uv_table.get("required-environments", []))


def selects(marker: str, platform: Any) -> bool:
    """Whether a marker of required-environments selects `platform`."""
    environment = {"sys_platform": platform.sys_platform, "platform_machine": platform.machine}
    return Marker(marker).evaluate(environment)
