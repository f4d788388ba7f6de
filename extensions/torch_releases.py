"""Which PyTorch releases exist for which build and Python: refuse what cannot resolve.

The project does not pin a torch release up front (the lock takes the newest one the
build's index has for the project's Python), so a combination is possible when at least one
release publishes wheels for both. Source: the PyTorch release matrix (RELEASE.md), checked
against PyPI's Requires-Python; see docs/index.md. Add a row when PyTorch releases.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TorchRelease:
    version: str
    python: tuple[str, str]  # oldest and newest Python minor with wheels
    builds: frozenset[str]  # index names (cpu, cu126, rocm7.2, ...) that publish it


def _release(version: str, python: tuple[str, str], *builds: str) -> TorchRelease:
    return TorchRelease(version, python, frozenset(("cpu", *builds)))


RELEASES: tuple[TorchRelease, ...] = (
    _release("2.9", ("3.10", "3.14"), "cu126", "cu128", "cu130"),
    _release("2.10", ("3.10", "3.14"), "cu126", "cu128", "cu130"),
    _release("2.11", ("3.10", "3.14"), "cu126", "cu128", "cu130", "rocm7.2"),
    _release("2.12", ("3.10", "3.14"), "cu126", "cu130", "cu132", "rocm7.2"),
    _release("2.13", ("3.10", "3.15"), "cu126", "cu130", "cu132", "rocm7.2"),
    _release("2.14", ("3.10", "3.15"), "cu126", "cu130", "cu132"),
)


def _minor(version: str) -> tuple[int, int]:
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


def supports(release: TorchRelease, build: str, python_version: str) -> bool:
    low, high = release.python
    return build in release.builds and _minor(low) <= _minor(python_version) <= _minor(high)


def newest_release(build: str, python_version: str) -> TorchRelease | None:
    """The newest release with `build` wheels for `python_version`, if any."""
    for release in reversed(RELEASES):
        if supports(release, build, python_version):
            return release
    return None


def python_range(build: str) -> tuple[str, str] | None:
    """Oldest and newest Python any release of `build` supports."""
    releases = [r for r in RELEASES if build in r.builds]
    if not releases:
        return None
    low = min((r.python[0] for r in releases), key=_minor)
    high = max((r.python[1] for r in releases), key=_minor)
    return low, high


def torch_python_error(python_version: str, build: str) -> str:
    """Empty when some torch release has `build` wheels for `python_version`."""
    if newest_release(build, python_version) is not None:
        return ""
    releases = [r.version for r in RELEASES if build in r.builds]
    span = python_range(build)
    if span is None:
        return f"No PyTorch release in the template's table publishes the {build} build."
    return (
        f"PyTorch's {build} build exists for torch {releases[0]} to {releases[-1]}, which "
        f"support Python {span[0]} to {span[1]}, not {python_version}. Choose a Python in that "
        "range, or another accelerator."
    )
