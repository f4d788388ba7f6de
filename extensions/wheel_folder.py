"""A local folder of PyTorch wheels, as labs keep them, read from the wheels' file names.

`torch_index_url` may be an absolute folder, laid out in one of two ways, holding any subset
of platforms, Pythons and releases:

- per build, `<folder>/<build>/*.whl` (`<folder>/cpu/`, `<folder>/cu130/`): each build's
  index is its own subfolder, and a wheel belongs to the build of the folder it is in;
- flat, `<folder>/*.whl`: every build comes from the folder itself, and a wheel belongs to
  the build its local label names (`torch-2.13.0+cpu-...` is the CPU build). A wheel without
  a label is the CPU build on macOS and Windows (PyTorch's macOS wheels carry none, and
  PyPI's Windows wheels are CPU builds); an unlabelled Linux wheel (PyPI's, a CUDA build its
  name does not name) belongs to no build and is only reported. A build's own companion
  (ROCm's triton-rocm, unlabelled) belongs to the build that needs it.

Only file names are read (name, version with its local label, Python, ABI and platform
tags): the facts they make (`Folder.facts`) answer the same questions as the facts of
PyTorch's indexes, so `newest` means the newest release the folder holds. Standard library
and `packaging` only: it runs inside copier.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from . import cuda, pytorch_facts

FLAT = "flat"
PER_BUILD = "per build"


def local_folder(base: str) -> Path | None:
    """The folder a `torch_index_url` answer names; None for a URL."""
    if base.startswith("file://"):
        return Path(base.removeprefix("file://"))
    if "://" in base:
        return None
    return Path(os.path.expanduser(base))


def parse_filename(filename: str, build: str) -> pytorch_facts.Wheel | None:
    """The wheel a file name describes, as a wheel of `build` ("" when not known yet).

    None for a file that is not a wheel of one of PyTorch's projects.
    """
    if not filename.endswith(".whl"):
        return None
    parts = filename[: -len(".whl")].split("-")
    if len(parts) == 6:  # a build tag (a re-upload, torch-2.10.0-2-...) is dropped
        del parts[2]
    if len(parts) != 5:
        return None
    name, version, python, abi, platform = parts
    project = canonicalize_name(name)
    if project not in pytorch_facts.PROJECTS:
        return None
    try:
        Version(version)
    except InvalidVersion:
        return None
    return pytorch_facts.Wheel(build, project, version, python, abi, platform, "")


def _build_of(wheel: pytorch_facts.Wheel) -> str | None:
    """The build a wheel of a flat folder belongs to (see the module docstring)."""
    if wheel.local:
        return wheel.local if wheel.local in cuda.BUILDS_BY_NAME else None
    for build in cuda.BUILDS:
        if wheel.project in build.companions:
            return build.name
    cpu_only = [p for p in pytorch_facts.PLATFORMS if p.sys_platform != "linux"]
    if any(platform.accepts(wheel.platform) for platform in cpu_only):
        return "cpu"
    return None


def _wheel_set(wheel: pytorch_facts.Wheel) -> pytorch_facts.WheelSet | None:
    """One wheel as an entry of the facts (None for an ABI tag the facts cannot say)."""
    if wheel.abi in (wheel.python, f"{wheel.python}t"):
        form, python = "cp", wheel.abi  # cp313-cp313t is written cp313t
    elif wheel.abi in ("none", "abi3"):
        form, python = wheel.abi, wheel.python
    else:
        return None
    return pytorch_facts.WheelSet(
        index=wheel.index,
        project=wheel.project,
        versions=(wheel.public_version,),
        local=wheel.local,
        python=(python,),
        abi=form,
        platforms=(wheel.platform,),
        requires_python="",
    )


@dataclass(frozen=True)
class Folder:
    """A folder of PyTorch wheels: its layout and the wheels of each build it holds."""

    path: Path
    layout: str  # FLAT or PER_BUILD
    wheels: tuple[pytorch_facts.Wheel, ...]  # `index` is the build each one belongs to
    unattributed: tuple[str, ...]  # file names of wheels that belong to no build offered

    def index_path(self, build: str) -> Path:
        """Where uv finds the wheels of `build`: the folder, or its subfolder."""
        return self.path if self.layout == FLAT else self.path / build

    def builds(self, project: str = "torch") -> tuple[str, ...]:
        """The offered builds the folder has a `project` wheel of, in the builds' order."""
        held = {wheel.index for wheel in self.wheels if wheel.project == project}
        return tuple(build.name for build in cuda.BUILDS if build.name in held)

    @functools.cached_property
    def facts(self) -> pytorch_facts.Facts:
        """The folder as facts of PyTorch's indexes: one index per build it holds."""
        sets = tuple(entry for entry in map(_wheel_set, self.wheels) if entry is not None)
        return pytorch_facts.Facts(
            checked="",
            sets=sets,
            notes={},
            source=f"the file names in {self.path}",
            companions=pytorch_facts.load().companions,
            folder=str(self.path),
        )

    def platforms(self, build: str, python: str | None = None) -> tuple[str, ...]:
        """The platforms (names, in the table's order) with a torch wheel of `build`.

        For `python` (`3.11`) only when given, else for any Python.
        """
        torch = [w for w in self.wheels if w.project == "torch" and w.index == build]
        return tuple(
            platform.name
            for platform in pytorch_facts.PLATFORMS
            if any(
                w.installs_on(platform, python)
                if python
                else platform.accepts(w.platform) and not w.free_threaded
                for w in torch
            )
        )

    def pythons(self, build: str, candidates: tuple[str, ...]) -> tuple[str, ...]:
        """The `candidates` (Python minors) a torch wheel of `build` serves on any platform."""
        return tuple(python for python in candidates if self.platforms(build, python))

    def holds(self, build: str) -> str:
        """What the folder holds of `build`'s torch, in words: "torch 2.13.0+cpu for Linux
        x86_64, Python 3.11"."""
        torch = [w for w in self.wheels if w.project == "torch" and w.index == build]
        versions = sorted({w.version for w in torch}, key=Version)
        where = [pytorch_facts.platform_named(p).label for p in self.platforms(build)]
        pythons = sorted(
            {f"3.{w.python[3:]}" for w in torch if w.python.startswith("cp3")},
            key=lambda p: int(p.split(".")[1]),
        )
        return f"torch {', '.join(versions)} for {', '.join(where) or 'no platform offered'}" + (
            f", Python {', '.join(pythons)}" if pythons else ""
        )

    def contents(self) -> str:
        """What the folder holds, build by build, for a message."""
        held = [f"{build}: {self.holds(build)}" for build in self.builds()]
        if self.unattributed:
            shown = ", ".join(self.unattributed[:3]) + (
                ", ..." if len(self.unattributed) > 3 else ""
            )
            held.append(f"of no build offered: {shown}")
        return "; ".join(held) or "no torch wheel"


def layout(folder: Path) -> str | None:
    """PER_BUILD when a build's subfolder holds wheels, else FLAT when the folder itself
    does, else None (no wheels, or no such folder)."""
    try:
        if any(_wheel_names(folder / build.name) for build in cuda.BUILDS):
            return PER_BUILD
        return FLAT if _wheel_names(folder) else None
    except OSError:
        return None


def _wheel_names(folder: Path) -> tuple[str, ...]:
    if not folder.is_dir():
        return ()
    return tuple(sorted(name for name in os.listdir(folder) if name.endswith(".whl")))


def read(base: str) -> Folder | None:
    """The folder `torch_index_url` names, read; None for a URL or a folder without wheels."""
    folder = local_folder(base)
    if folder is None or not folder.is_absolute():
        return None
    kind = layout(folder)
    if kind is None:
        return None
    subfolders = [b.name for b in cuda.BUILDS] if kind == PER_BUILD else [""]
    listing = tuple((sub, _wheel_names(folder / sub)) for sub in subfolders)
    return _read(folder.resolve(), kind, listing)


@functools.cache
def _read(folder: Path, kind: str, listing: tuple[tuple[str, tuple[str, ...]], ...]) -> Folder:
    """The folder from its listing (cached: copier asks about it for many questions)."""
    wheels: list[pytorch_facts.Wheel] = []
    unattributed: list[str] = []
    for build, names in listing:
        for name in names:
            wheel = parse_filename(name, build)
            if wheel is None:
                continue
            owner = build or _build_of(wheel)
            if owner is None:
                unattributed.append(name)
                continue
            wheels.append(pytorch_facts.Wheel(owner, *_fields(wheel)))
    return Folder(folder, kind, tuple(wheels), tuple(unattributed))


def _fields(wheel: pytorch_facts.Wheel) -> tuple[str, str, str, str, str, str]:
    return (wheel.project, wheel.version, wheel.python, wheel.abi, wheel.platform, "")
