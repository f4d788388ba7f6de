"""What PyTorch's real wheel indexes hold: the facts in pytorch_indexes.toml, as queries.

The facts file lists, for each index (`cpu`, `cu130`, `rocm7.2`, ...) and project (torch,
torchvision, torchaudio, triton-rocm), sets of wheels: releases, local label, Python tags,
ABI tag form and platform tags. `tools/refresh_pytorch_facts.py` rewrites it from the
indexes' own listings; everything that needs to know which release exists where (question
validators, routing, the test suite's replica of the indexes) asks this module.

Standard library and `packaging` only: it runs inside copier.
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from packaging.specifiers import SpecifierSet
from packaging.version import Version

FACTS_FILE = Path(__file__).with_name("pytorch_indexes.toml")
PROJECTS = ("torch", "torchvision", "torchaudio", "triton-rocm")
# ABI tag forms of the facts file: "cp" means the ABI tag equals the Python tag (cp312-cp312,
# cp313-cp313t); "none" and "abi3" are written as they are (cp310-none, cp312-abi3, py3-none).
ABI_FORMS = ("cp", "none", "abi3")


# ── Platforms ──────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Platform:
    """One platform a project targets, with everything uv and markers need to select it."""

    name: str  # linux-x86_64, linux-aarch64, windows-x86_64, macos-arm64
    sys_platform: str  # sys.platform there: linux, win32, darwin
    machine: str  # platform.machine() there: x86_64, aarch64, AMD64, arm64
    marker: str  # the PEP 508 marker that selects this platform
    uv_python_platform: str  # the value of `uv ... --python-platform`
    platform_system: str  # platform.system() there: Linux, Windows, Darwin
    wheel_machine: str  # the machine in wheel platform tags: x86_64, aarch64, amd64, arm64
    # Newest glibc (manylinux_X_Y) or macOS (macosx_X_Y) a wheel may require; None on Windows.
    os_floor: tuple[int, int] | None = None
    # Environment variables uv needs to target this platform as the facts assume it.
    uv_environment: tuple[tuple[str, str], ...] = ()

    @property
    def label(self) -> str:
        """The platform in words, for messages and documents: "Linux x86_64", "macOS arm64"."""
        system = {"Linux": "Linux", "Windows": "Windows", "Darwin": "macOS"}[self.platform_system]
        return f"{system} {self.name.split('-', 1)[1]}"

    def accepts(self, platform_tag: str) -> bool:
        """True when a wheel with this platform tag installs here (`any` installs everywhere).

        A compressed tag set (`manylinux_2_27_x86_64.manylinux_2_28_x86_64`) installs where
        any of its tags does.
        """
        return any(self._accepts_one(tag) for tag in platform_tag.split("."))

    def _accepts_one(self, platform_tag: str) -> bool:
        if platform_tag == "any":
            return True
        if self.sys_platform == "win32":
            return platform_tag == f"win_{self.wheel_machine}"
        if self.sys_platform == "darwin":
            match = re.fullmatch(r"macosx_(\d+)_(\d+)_(\w+)", platform_tag)
            if match is None or match[3] not in (self.wheel_machine, "universal2"):
                return False
            return self.os_floor is None or (int(match[1]), int(match[2])) <= self.os_floor
        if platform_tag == f"linux_{self.wheel_machine}":
            return True
        match = re.fullmatch(r"manylinux_(\d+)_(\d+)_(\w+)", _legacy_manylinux(platform_tag))
        if match is None or match[3] != self.wheel_machine:
            return False
        return self.os_floor is None or (int(match[1]), int(match[2])) <= self.os_floor


def _legacy_manylinux(tag: str) -> str:
    """PEP 600 spelling of the old manylinux tags (manylinux2014_x86_64 -> manylinux_2_17)."""
    for old, glibc in (("manylinux2014", "2_17"), ("manylinux2010", "2_12"), ("manylinux1", "2_5")):
        if tag.startswith(old + "_"):
            return f"manylinux_{glibc}_{tag.removeprefix(old + '_')}"
    return tag


def _platform(
    name: str,
    sys_platform: str,
    machine: str,
    uv_python_platform: str,
    platform_system: str,
    wheel_machine: str,
    os_floor: tuple[int, int] | None = None,
    uv_environment: tuple[tuple[str, str], ...] = (),
) -> Platform:
    marker = f"sys_platform == '{sys_platform}' and platform_machine == '{machine}'"
    return Platform(
        name,
        sys_platform,
        machine,
        marker,
        uv_python_platform,
        platform_system,
        wheel_machine,
        os_floor,
        uv_environment,
    )


# The platforms a project targets, in this order. glibc 2.28 is what PyTorch's
# manylinux_2_28 wheels need; macOS 14.0 is what torch >= 2.12 (macosx_14_0_arm64) needs,
# and uv assumes an older macOS for aarch64-apple-darwin unless MACOSX_DEPLOYMENT_TARGET
# says otherwise.
PLATFORMS: tuple[Platform, ...] = (
    _platform(
        "linux-x86_64", "linux", "x86_64", "x86_64-manylinux_2_28", "Linux", "x86_64", (2, 28)
    ),
    _platform(
        "linux-aarch64", "linux", "aarch64", "aarch64-manylinux_2_28", "Linux", "aarch64", (2, 28)
    ),
    _platform("windows-x86_64", "win32", "AMD64", "x86_64-pc-windows-msvc", "Windows", "amd64"),
    _platform(
        "macos-arm64",
        "darwin",
        "arm64",
        "aarch64-apple-darwin",
        "Darwin",
        "arm64",
        (14, 0),
        (("MACOSX_DEPLOYMENT_TARGET", "14.0"),),
    ),
)
PLATFORMS_BY_NAME = {platform.name: platform for platform in PLATFORMS}


def platform_named(platform: str | Platform) -> Platform:
    if isinstance(platform, Platform):
        return platform
    try:
        return PLATFORMS_BY_NAME[platform]
    except KeyError:
        known = ", ".join(PLATFORMS_BY_NAME)
        raise ValueError(f"unknown platform {platform!r}; known: {known}") from None


# ── Wheels ─────────────────────────────────────────────────────────────────


@functools.cache
def _allows(requires_python: str, python: str) -> bool:
    return SpecifierSet(requires_python).contains(python)


def public(version: str) -> str:
    """The public part of a version: `2.13.0+cpu` -> `2.13.0`."""
    return version.split("+", 1)[0]


def python_tag(python: str) -> str:
    """`3.12` -> `cp312`."""
    major, minor = python.split(".")[:2]
    return f"cp{major}{minor}"


@dataclass(frozen=True)
class Wheel:
    """One wheel file of an index, as its filename describes it."""

    index: str
    project: str
    version: str  # with the local label: 2.13.0+cpu
    python: str  # python tag: cp312, py3
    abi: str  # abi tag: cp312, cp313t, none, abi3
    platform: str  # platform tag: manylinux_2_28_x86_64
    requires_python: str  # "" when the wheel declares none

    @property
    def filename(self) -> str:
        name = self.project.replace("-", "_")
        return f"{name}-{self.version}-{self.python}-{self.abi}-{self.platform}.whl"

    @property
    def public_version(self) -> str:
        return public(self.version)

    @property
    def local(self) -> str:
        return self.version.partition("+")[2]

    @property
    def free_threaded(self) -> bool:
        return self.abi.startswith("cp") and self.abi.endswith("t")

    def installs_on(self, platform: str | Platform, python: str) -> bool:
        """True when this wheel installs on `platform` for CPython `python` (`3.12`)."""
        if not platform_named(platform).accepts(self.platform):
            return False
        if self.requires_python and not _allows(self.requires_python, python):
            return False
        return self.python_matches(python)

    def python_matches(self, python: str) -> bool:
        """Whether a regular (GIL) CPython `python` takes this wheel's Python and ABI tags."""
        if self.free_threaded:
            return False
        wanted = python_tag(python)
        major = python.split(".")[0]
        for tag in self.python.split("."):  # py2.py3: a compressed tag set
            if tag == wanted:
                return True
            if self.abi == "abi3" and tag.startswith("cp") and int(tag[3:]) <= int(wanted[3:]):
                return True
            if self.abi == "none" and tag in (f"py{major}", f"py{wanted[2:]}"):
                return True
        return False


@dataclass(frozen=True)
class WheelSet:
    """One entry of the facts file: the same wheel shape for several releases."""

    index: str
    project: str
    versions: tuple[str, ...]  # public versions
    local: str  # local label ("cpu", "cu130", "rocm7.2"), "" for unlabelled wheels
    python: tuple[str, ...]  # python tags; cp313t marks a free-threaded build
    abi: str  # one of ABI_FORMS
    platforms: tuple[str, ...]  # platform tags
    requires_python: str

    def wheels(self) -> Iterator[Wheel]:
        for version in self.versions:
            for tag in self.python:
                for platform in self.platforms:
                    yield self._wheel(version, tag, platform)

    def _wheel(self, version: str, tag: str, platform: str) -> Wheel:
        full = f"{version}+{self.local}" if self.local else version
        interpreter = tag.removesuffix("t") if tag.startswith("cp") else tag
        abi = tag if self.abi == "cp" else self.abi
        return Wheel(
            self.index, self.project, full, interpreter, abi, platform, self.requires_python
        )

    def installs_on(self, platform: str | Platform, python: str) -> bool:
        """True when these releases have a wheel for `platform` and CPython `python`."""
        target = platform_named(platform)
        accepted = [tag for tag in self.platforms if target.accepts(tag)]
        if not accepted:
            return False
        if self.requires_python and not _allows(self.requires_python, python):
            return False
        return any(
            self._wheel(self.versions[0], tag, accepted[0]).python_matches(python)
            for tag in self.python
        )


# ── The facts ──────────────────────────────────────────────────────────────


def _version_key(version: str) -> Version:
    return Version(version)


@dataclass(frozen=True)
class Facts:
    checked: str  # the date the listings were read
    sets: tuple[WheelSet, ...]
    notes: dict[str, tuple[str, ...]]  # per index: what the listings could not confirm
    source: str = ""  # what the listings were
    # torch release line -> {companion: the companion's release line made for it}
    companions: dict[str, dict[str, str]] = field(default_factory=dict)
    # The local folder the facts were read from (wheel_folder.py); "" for PyTorch's indexes.
    folder: str = ""

    def where(self, index: str) -> str:
        """Where the wheels of `index` come from, for a message: "the cu130 index"."""
        return f"the {index} wheels in {self.folder}" if self.folder else f"the {index} index"

    def indexes(self) -> tuple[str, ...]:
        """Every index, in the facts file's order."""
        return tuple(dict.fromkeys(entry.index for entry in self.sets))

    def projects(self, index: str) -> tuple[str, ...]:
        """The projects `index` holds (of torch, torchvision, torchaudio, triton-rocm)."""
        return tuple(dict.fromkeys(e.project for e in self.sets if e.index == index))

    def _sets(self, index: str, project: str) -> list[WheelSet]:
        return [e for e in self.sets if (e.index, e.project) == (index, project)]

    def wheels(self, index: str | None = None, project: str | None = None) -> Iterator[Wheel]:
        """Every wheel, or those of one index and/or project."""
        for entry in self.sets:
            if index in (None, entry.index) and project in (None, entry.project):
                yield from entry.wheels()

    def versions(
        self, index: str, project: str, platform: str | Platform, python: str
    ) -> list[str]:
        """Public versions of `project` on `index` with a wheel for `platform` and `python`.

        Ascending. `python` is a minor version (`3.12`); free-threaded wheels do not count.
        """
        found = {
            version
            for entry in self._sets(index, project)
            if entry.installs_on(platform, python)
            for version in entry.versions
        }
        return sorted(found, key=_version_key)

    def newest(self, index: str, project: str, platform: str | Platform, python: str) -> str | None:
        """The newest public version `versions()` lists, or None."""
        found = self.versions(index, project, platform, python)
        return found[-1] if found else None

    def all_versions(self, project: str, index: str | None = None) -> list[str]:
        """Every public version of `project` (on `index`, or on any index), ascending."""
        found = {wheel.public_version for wheel in self.wheels(index, project)}
        return sorted(found, key=_version_key)

    def platforms(self, index: str, project: str, version: str) -> set[str]:
        """Names of the PLATFORMS that `project` `version` (public) has wheels for on `index`."""
        return {
            platform.name
            for wheel in self.wheels(index, project)
            if wheel.public_version == public(version)
            for platform in PLATFORMS
            if platform.accepts(wheel.platform)
        }

    def pythons(
        self, index: str, project: str, version: str, platform: str | Platform | None = None
    ) -> list[str]:
        """Python minors (`3.10`, ...) with a regular (not free-threaded) wheel of a release.

        On every platform when `platform` is None, else on that one.
        """
        candidates = [f"3.{minor}" for minor in range(8, 20)]
        sets = [e for e in self._sets(index, project) if public(version) in e.versions]
        targets = [platform_named(platform)] if platform is not None else list(PLATFORMS)
        return [
            python
            for python in candidates
            if any(e.installs_on(t, python) for e in sets for t in targets)
        ]

    def local_versions(
        self, index: str, project: str, version: str, platform: str | Platform
    ) -> set[str]:
        """The full versions (`2.13.0+cpu`, `2.13.0`) of a public release on one platform."""
        target = platform_named(platform)
        return {
            wheel.version
            for wheel in self.wheels(index, project)
            if wheel.public_version == public(version) and target.accepts(wheel.platform)
        }

    def requires_python(self, index: str, project: str, version: str) -> str:
        """The Requires-Python of a release on `index` ("" when it declares none)."""
        for entry in self.sets:
            if (entry.index, entry.project) == (index, project) and public(
                version
            ) in entry.versions:
                return entry.requires_python
        raise LookupError(f"{project} {version} is not on the {index} index")


def _strings(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"{where}: expected a list of strings, got {value!r}")
    return tuple(value)


def _companions(table: object, source: str) -> dict[str, dict[str, str]]:
    """The [companions] table: torch line -> {torchvision: line, torchaudio: line}."""
    if not isinstance(table, dict):
        raise ValueError(f"{source}: [companions] must be a table")
    pairs: dict[str, dict[str, str]] = {}
    for line, companions in table.items():
        if not isinstance(companions, dict) or not all(
            isinstance(v, str) and k in PROJECTS for k, v in companions.items()
        ):
            raise ValueError(f"{source}: companions.{line} must map projects to release lines")
        pairs[line] = dict(companions)
    return pairs


def parse(document: dict[str, object], source: str = "facts") -> Facts:
    """Facts from the parsed TOML document (see pytorch_indexes.toml for the format)."""
    indexes = document.get("indexes", {})
    if not isinstance(indexes, dict):
        raise ValueError(f"{source}: [indexes] must be a table")
    sets: list[WheelSet] = []
    notes: dict[str, tuple[str, ...]] = {}
    for index, projects in indexes.items():
        if not isinstance(projects, dict):
            raise ValueError(f"{source}: [indexes.{index}] must be a table")
        for project, entries in projects.items():
            where = f"{source}: indexes.{index}.{project}"
            if project == "notes":
                notes[index] = _strings(entries, where)
                continue
            if project not in PROJECTS:
                raise ValueError(f"{where}: unknown project (known: {', '.join(PROJECTS)})")
            for entry in entries:
                abi = entry.get("abi", "cp")
                if abi not in ABI_FORMS:
                    raise ValueError(f"{where}: abi {abi!r} is not one of {ABI_FORMS}")
                sets.append(
                    WheelSet(
                        index=index,
                        project=project,
                        versions=_strings(entry["versions"], where),
                        local=str(entry.get("local", "")),
                        python=_strings(entry["python"], where),
                        abi=abi,
                        platforms=_strings(entry["platforms"], where),
                        requires_python=str(entry.get("requires_python", "")),
                    )
                )
    return Facts(
        companions=_companions(document.get("companions", {}), source),
        checked=str(document.get("checked", "")),
        sets=tuple(sets),
        notes=notes,
        source=str(document.get("source", "")),
    )


def read(path: Path) -> Facts:
    """Facts from a facts file (the committed one is read by `load()`)."""
    with path.open("rb") as file:
        return parse(tomllib.load(file), str(path))


@functools.cache
def load() -> Facts:
    """The committed facts (extensions/pytorch_indexes.toml), read once per process."""
    return read(FACTS_FILE)
