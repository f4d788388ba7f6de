"""Which PyTorch release a project gets, and from which index on each platform it targets.

A project targets the platforms of its `platforms` answer (names of
`pytorch_facts.PLATFORMS`: Linux x86_64 and aarch64, Windows x86_64, macOS arm64) and
installs PyTorch in one or two ways: one environment routed by platform, or (`cpu_extra`)
two extras, the CPU build and the GPU build. Each way sends each platform to one index: the
GPU build's where it has wheels (`cuda.Build.platforms`), the CPU build's elsewhere. A GPU
build that serves none of the chosen platforms is refused (`serving_problem`). The indexes
do not move together (cu128 stops at torch 2.11 while the CPU index has 2.15), so the
release is chosen here, once, on purpose: the newest release line that every index the
project uses publishes for every chosen platform it serves there and the project's Python,
with the torchvision/torchaudio made for it. The lock then takes that line's newest patch
release everywhere. `torch_version` may ask for an older line instead.

All facts come from `pytorch_indexes.toml` (through `pytorch_facts`), or from the file names
of a local wheel folder (`wheel_folder.py`), which then stands for the indexes: `newest` is
the newest line the folder holds. Nothing here reaches the network.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from packaging.version import Version

from . import cuda, pytorch_facts

NEWEST = "newest"
COMPANIONS = ("torchvision", "torchaudio")
PLATFORM_NAMES = {platform.name: platform for platform in pytorch_facts.PLATFORMS}
# For the messages: "Linux aarch64" rather than "linux-aarch64".
PLATFORM_LABELS = {platform.name: platform.label for platform in pytorch_facts.PLATFORMS}


class NoRelease(ValueError):
    """No release fits the answers; the message says which and what to choose instead."""


@dataclass(frozen=True)
class Variant:
    """One way the project installs PyTorch: the routed environment, or one extra."""

    extra: str | None  # None: the project's own dependencies
    routes: Mapping[str, str]  # platform name -> index (build name) it takes PyTorch from

    def platforms_of(self, index: str) -> tuple[str, ...]:
        return tuple(p for p, routed in self.routes.items() if routed == index)


@dataclass(frozen=True)
class TorchChoice:
    """The PyTorch release line a project gets, its companions, and how it installs them."""

    line: str  # "2.14"
    companions: Mapping[str, str]  # "torchvision" -> "0.29"
    variants: tuple[Variant, ...]

    @property
    def constraints(self) -> tuple[str, ...]:
        """The release lines as uv constraints: ("torch==2.14.*", "torchvision==0.29.*")."""
        lines = {"torch": self.line, **self.companions}
        return tuple(f"{name}=={line}.*" for name, line in lines.items())


def chosen_platforms(platforms: Sequence[str] | None = None) -> tuple[str, ...]:
    """The platform names chosen, in the table's order; every platform when None."""
    if platforms is None:
        return tuple(PLATFORM_NAMES)
    return tuple(name for name in PLATFORM_NAMES if name in platforms)


def variants(
    accelerator: str, cpu_extra: bool = False, platforms: Sequence[str] | None = None
) -> tuple[Variant, ...]:
    """How each chosen platform gets PyTorch for this build (see the module docstring)."""
    build = cuda.BUILDS_BY_NAME[accelerator]
    routed = {
        name: accelerator if name in build.platforms else "cpu"
        for name in chosen_platforms(platforms)
    }
    if not (cpu_extra and build.is_gpu):
        return (Variant(None, routed),)
    everywhere_cpu = dict.fromkeys(routed, "cpu")
    return (Variant("cpu", everywhere_cpu), Variant(extra_name(accelerator), routed))


def serving_problem(accelerator: str, platforms: Sequence[str] | None = None) -> str:
    """Why a GPU build is no use on the chosen platforms, in one sentence; empty when it is.

    A GPU build routes the platforms it has no wheels for to the CPU build; when it has
    wheels for none of the chosen platforms, nothing would install it.
    """
    build = cuda.BUILDS_BY_NAME[accelerator]
    chosen = chosen_platforms(platforms)
    if not build.is_gpu or not chosen or any(name in build.platforms for name in chosen):
        return ""
    served = ", ".join(PLATFORM_LABELS[name] for name in build.platforms)
    asked = ", ".join(PLATFORM_LABELS[name] for name in chosen)
    return (
        f"PyTorch publishes the {accelerator} build for {served} only, and the project "
        f"targets {asked}, where it would install the CPU build everywhere"
    )


def extra_name(build: str) -> str:
    """The extra named after a build, normalised as PEP 685 does (`rocm7.2` -> `rocm7-2`)."""
    return build.replace(".", "-").replace("_", "-").lower()


def torch_lines(facts: pytorch_facts.Facts | None = None) -> list[str]:
    """Every torch release line the indexes of the offered builds hold, newest first."""
    facts = facts or pytorch_facts.load()
    found = {
        release_line(version)
        for build in cuda.BUILDS
        if build.name in facts.indexes()
        for version in facts.all_versions("torch", build.name)
    }
    return sorted(found, key=Version, reverse=True)


def release_line(version: str) -> str:
    """`2.14` for 2.14.1 (and for 2.14.0+cu130)."""
    release = Version(version).release
    return f"{release[0]}.{release[1]}"


def _has(
    facts: pytorch_facts.Facts,
    index: str,
    project: str,
    line: str,
    platform: str,
    python: str | None,
) -> bool:
    """True when `index` has a wheel of `project` `line`.* for `platform` (and `python`)."""
    if python is None:
        return any(
            release_line(version) == line and platform in facts.platforms(index, project, version)
            for version in facts.all_versions(project, index)
        )
    return any(release_line(v) == line for v in facts.versions(index, project, platform, python))


def problem(
    line: str,
    accelerator: str,
    packages: Sequence[str],
    python: str | None,
    *,
    cpu_extra: bool = False,
    platforms: Sequence[str] | None = None,
    facts: pytorch_facts.Facts | None = None,
) -> str:
    """Why `line` cannot serve these answers, in one sentence; empty when it can.

    `python` None: any Python (for a question asked before the Python is known).
    `platforms` None: every platform of the table.
    """
    facts = facts or pytorch_facts.load()
    companions = facts.companions.get(line, {})
    for package in packages:
        if package not in companions:
            return f"{package} has no release made for torch {line} yet"
    needed = {"torch": line, **{p: companions[p] for p in packages}}
    for variant in variants(accelerator, cpu_extra, platforms):
        for index in dict.fromkeys(variant.routes.values()):
            platforms_there = variant.platforms_of(index)
            for project, project_line in needed.items():
                anywhere = [
                    p for p in PLATFORM_NAMES if _has(facts, index, project, project_line, p, None)
                ]
                if not anywhere:
                    if facts.folder:
                        return f"{facts.where(index)} hold no {project} {project_line}"
                    return f"PyTorch publishes no {index} build of {project} {project_line}"
                for platform in platforms_there:
                    if not _has(facts, index, project, project_line, platform, python):
                        for_python = f" and Python {python}" if python else ""
                        return (
                            f"{facts.where(index)} {'hold' if facts.folder else 'has'} no "
                            f"{project} {project_line} wheel for "
                            f"{PLATFORM_LABELS[platform]}{for_python}"
                        )
    return ""


def choose(
    accelerator: str,
    packages: Sequence[str],
    python: str,
    *,
    cpu_extra: bool = False,
    torch_version: str = NEWEST,
    platforms: Sequence[str] | None = None,
    facts: pytorch_facts.Facts | None = None,
) -> TorchChoice:
    """The release line for these answers (see the module docstring); NoRelease says why not."""
    facts = facts or pytorch_facts.load()
    packages = [p for p in COMPANIONS if p in packages]
    if reason := serving_problem(accelerator, platforms):
        raise NoRelease(f"{reason}. {PLATFORMS_FIX}")
    known = torch_lines(facts)
    if torch_version != NEWEST and torch_version not in known:
        holding = f"the wheels in {facts.folder} hold" if facts.folder else "PyTorch's indexes hold"
        raise NoRelease(
            f"torch {torch_version} is not a release line {holding} "
            f"({', '.join(known) or 'none'}); choose one of those or '{NEWEST}'."
        )
    candidates = known if torch_version == NEWEST else [torch_version]
    reasons: dict[str, str] = {}
    for line in candidates:
        reason = problem(
            line,
            accelerator,
            packages,
            python,
            cpu_extra=cpu_extra,
            platforms=platforms,
            facts=facts,
        )
        if not reason:
            companions = {p: facts.companions[line][p] for p in packages}
            return TorchChoice(line, companions, variants(accelerator, cpu_extra, platforms))
        reasons[line] = reason
    if torch_version != NEWEST:
        reason = reasons[torch_version]
        raise NoRelease(
            f"torch {torch_version} cannot serve this project: {reason}. {_fix(packages, facts)}"
        )
    if not reasons:
        raise NoRelease(f"{facts.where(accelerator)} hold no torch at all. {_fix(packages, facts)}")
    # The most telling reason: from the newest line that has torch itself for this build.
    torch_alone = [
        line
        for line in reasons
        if not problem(line, accelerator, [], None, platforms=platforms, facts=facts)
    ]
    line = (torch_alone or list(reasons))[0]
    what = " and ".join(["torch", *packages])
    raise NoRelease(
        f"No PyTorch release has {what} for the {accelerator} build and Python {python} "
        f"(torch {line}: {reasons[line]}). {_fix(packages, facts)}"
    )


PLATFORMS_FIX = "Choose another accelerator, or add a platform it serves to `platforms`."


def _fix(packages: Sequence[str], facts: pytorch_facts.Facts | None = None) -> str:
    leave_out = f", or leave out {' and '.join(packages)}" if packages else ""
    fix = f"Choose another accelerator, Python, platforms or torch_version{leave_out}."
    if facts is not None and facts.folder:
        fix += f" Or add the missing wheels to {facts.folder}."
    return fix


FILTERS = {"extra_name": extra_name}
