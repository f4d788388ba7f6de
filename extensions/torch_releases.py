"""Which PyTorch release a project gets, and from which index on each platform it targets.

A project targets four platforms (`pytorch_facts.PLATFORMS`: Linux x86_64 and aarch64,
Windows x86_64, macOS arm64) and installs PyTorch in one or two ways: one environment routed
by platform, or (`cpu_extra`) two extras, the CPU build and the GPU build. Each way sends
each platform to one index: the GPU build's where it has wheels (`cuda.Build.platforms`),
the CPU build's elsewhere. The indexes do not move together (cu128 stops at torch 2.11 while
the CPU index has 2.15), so the release is chosen here, once, on purpose: the newest release
line that every index the project uses publishes for every platform it serves there and the
project's Python, with the torchvision/torchaudio made for it. The lock then takes that
line's newest patch release everywhere. `torch_version` may ask for an older line instead.

All facts come from `pytorch_indexes.toml` (through `pytorch_facts`); nothing here reaches
the network.
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
PLATFORM_LABELS = {
    "linux-x86_64": "Linux x86_64",
    "linux-aarch64": "Linux aarch64",
    "windows-x86_64": "Windows x86_64",
    "macos-arm64": "macOS arm64",
}


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


def variants(accelerator: str, cpu_extra: bool = False) -> tuple[Variant, ...]:
    """How each platform gets PyTorch for this build (see the module docstring)."""
    build = cuda.BUILDS_BY_NAME[accelerator]
    routed = {
        platform.name: accelerator if platform.name in build.platforms else "cpu"
        for platform in pytorch_facts.PLATFORMS
    }
    if not (cpu_extra and build.is_gpu):
        return (Variant(None, routed),)
    everywhere_cpu = dict.fromkeys(routed, "cpu")
    return (Variant("cpu", everywhere_cpu), Variant(extra_name(accelerator), routed))


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
    facts: pytorch_facts.Facts | None = None,
) -> str:
    """Why `line` cannot serve these answers, in one sentence; empty when it can.

    `python` None: any Python (for a question asked before the Python is known).
    """
    facts = facts or pytorch_facts.load()
    companions = facts.companions.get(line, {})
    for package in packages:
        if package not in companions:
            return f"{package} has no release made for torch {line} yet"
    needed = {"torch": line, **{p: companions[p] for p in packages}}
    for variant in variants(accelerator, cpu_extra):
        for index in dict.fromkeys(variant.routes.values()):
            platforms = variant.platforms_of(index)
            for project, project_line in needed.items():
                anywhere = [
                    p for p in PLATFORM_NAMES if _has(facts, index, project, project_line, p, None)
                ]
                if not anywhere:
                    return f"PyTorch publishes no {index} build of {project} {project_line}"
                for platform in platforms:
                    if not _has(facts, index, project, project_line, platform, python):
                        for_python = f" and Python {python}" if python else ""
                        return (
                            f"the {index} index has no {project} {project_line} wheel for "
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
    facts: pytorch_facts.Facts | None = None,
) -> TorchChoice:
    """The release line for these answers (see the module docstring); NoRelease says why not."""
    facts = facts or pytorch_facts.load()
    packages = [p for p in COMPANIONS if p in packages]
    known = torch_lines(facts)
    if torch_version != NEWEST and torch_version not in known:
        raise NoRelease(
            f"torch {torch_version} is not a release line PyTorch's indexes hold "
            f"({', '.join(known)}); choose one of those or '{NEWEST}'."
        )
    candidates = known if torch_version == NEWEST else [torch_version]
    reasons: dict[str, str] = {}
    for line in candidates:
        reason = problem(line, accelerator, packages, python, cpu_extra=cpu_extra, facts=facts)
        if not reason:
            companions = {p: facts.companions[line][p] for p in packages}
            return TorchChoice(line, companions, variants(accelerator, cpu_extra))
        reasons[line] = reason
    if torch_version != NEWEST:
        reason = reasons[torch_version]
        raise NoRelease(
            f"torch {torch_version} cannot serve this project: {reason}. {_fix(packages)}"
        )
    # The most telling reason: from the newest line that has torch itself for this build.
    torch_alone = [
        line for line in reasons if not problem(line, accelerator, [], None, facts=facts)
    ]
    line = (torch_alone or list(reasons))[0]
    what = " and ".join(["torch", *packages])
    raise NoRelease(
        f"No PyTorch release has {what} for the {accelerator} build and Python {python} "
        f"(torch {line}: {reasons[line]}). {_fix(packages)}"
    )


def _fix(packages: Sequence[str]) -> str:
    leave_out = f", or leave out {' and '.join(packages)}" if packages else ""
    return f"Choose another accelerator, Python or torch_version{leave_out}."


FILTERS = {"extra_name": extra_name}
