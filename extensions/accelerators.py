"""Copier-facing side of the PyTorch builds: choices, detected default, checks, routing."""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from . import compat, cuda, detect, pytorch_facts, torch_index, torch_releases, wheel_folder

NEWEST = "newest"


def local_detection() -> detect.Detection:
    """Probe this machine once per process (copier renders defaults and help repeatedly)."""
    overrides = (os.environ.get(detect.DRIVER_ENV), os.environ.get(detect.NO_DETECTION_ENV))
    return _cached_detection(overrides)


@functools.cache
def _cached_detection(overrides: tuple[str | None, str | None]) -> detect.Detection:
    return detect.detect_local()  # the overrides only key the cache; read_probes reads them


def newest_cuda_build(driver: str, gpus: list[tuple[int, int]] | None = None) -> str:
    """The build the generated smoke test proposes for an NVIDIA driver and GPUs (`cpu`
    when none runs them): its tests' expectations, from the table (extensions/cuda.py)."""
    return cuda.newest_build_for(driver, tuple((gpu[0], gpu[1]) for gpu in gpus or ())).name


def detected_accelerator() -> str:
    return local_detection().accelerator


def detection_summary() -> str:
    return local_detection().summary


def accelerator_choices() -> str:
    """copier.yml choices (label -> build name) as JSON, which copier parses as YAML."""
    return json.dumps({f"{build.name}: {build.label}": build.name for build in cuda.BUILDS})


def facts_for(torch_index_url: str = "") -> pytorch_facts.Facts:
    """What the project's PyTorch source holds: a local folder's wheels, read from their file
    names, or (for PyTorch's indexes and mirrors, which are not reached at question time)
    the facts file."""
    folder = wheel_folder.read(torch_index_url) if torch_index_url else None
    return folder.facts if folder is not None else pytorch_facts.load()


def torch_version_choices(torch_index_url: str = "") -> str:
    """The release lines the project's PyTorch source holds, newest first, after `newest`."""
    facts = facts_for(torch_index_url)
    held = (
        f"the folder {facts.folder} holds" if facts.folder else "every index the project uses has"
    )
    choices = {f"Newest release {held}": NEWEST}
    choices.update({f"torch {line}": line for line in torch_releases.torch_lines(facts)})
    return json.dumps(choices)


def _folder_of(
    framework: str, accelerator: str, torch_index_url: str
) -> wheel_folder.Folder | None:
    """The local wheel folder a PyTorch project takes torch from, when it holds the build."""
    if framework != "pytorch" or not torch_index_url:
        return None
    folder = wheel_folder.read(torch_index_url)
    return folder if folder is not None and accelerator in folder.builds() else None


def python_default(
    framework: str = "pytorch", accelerator: str = "cpu", torch_index_url: str = ""
) -> str:
    """compat.DEFAULT_PYTHON, unless a local wheel folder holds the build for other Pythons
    only: then the newest of those the template offers."""
    folder = _folder_of(framework, accelerator, torch_index_url)
    served = folder.pythons(accelerator, compat.PYTHONS) if folder else ()
    default = compat.DEFAULT_PYTHON
    return default if not served or default in served else served[-1]


def python_version_error(
    python_version: str,
    framework: str = "none",
    accelerator: str = "cpu",
    torch_index_url: str = "",
) -> str:
    """The template's range; for a local wheel folder, a Python it holds the build for."""
    if problem := compat.python_version_error(python_version):
        return problem
    folder = _folder_of(framework, accelerator, torch_index_url)
    if folder is None or python_version in folder.pythons(accelerator, (python_version,)):
        return ""
    served = folder.pythons(accelerator, compat.PYTHONS)
    choose = f"Choose {' or '.join(served)}" if served else "Choose another Python"
    return (
        f"The wheel folder {folder.path} holds no torch wheel of the {accelerator} build for "
        f"Python {python_version} (it holds {folder.holds(accelerator)}). {choose}, or add "
        "wheels for it to the folder."
    )


def platform_list(platforms: object) -> list[str] | None:
    """A `platforms` answer as a list (None when not given: every platform)."""
    if platforms is None or platforms == "":
        return None
    if isinstance(platforms, str):
        return [platforms]
    if isinstance(platforms, (list, tuple)):
        return [str(name) for name in platforms]
    return [str(platforms)]


def torch_version_error(
    torch_version: str,
    accelerator: str,
    python_version: str,
    packages: list[str] | None = None,
    cpu_extra: bool = False,
    platforms: list[str] | None = None,
    torch_index_url: str = "",
) -> str:
    """Empty when a torch release serves these answers on every chosen platform, else why not."""
    try:
        torch_releases.choose(
            accelerator,
            packages or [],
            python_version,
            cpu_extra=cpu_extra,
            torch_version=torch_version or NEWEST,
            platforms=platform_list(platforms),
            facts=facts_for(torch_index_url),
        )
    except torch_releases.NoRelease as error:
        return str(error)
    return ""


def torch_packages_error(packages: list[str], accelerator: str, torch_index_url: str = "") -> str:
    """A companion PyTorch (or the local folder) holds for no release of this build, refused
    when chosen."""
    facts = facts_for(torch_index_url)
    for package in packages:
        lines = [
            line
            for line in torch_releases.torch_lines(facts)
            if package in facts.companions.get(line, {})
            and not torch_releases.problem(line, accelerator, [package], None, facts=facts)
        ]
        if not lines and facts.folder:
            return (
                f"The folder {facts.folder} holds no {package} made for a torch release it holds "
                f"({accelerator} build). Add {package}'s wheels to it, or leave {package} out."
            )
        if not lines:
            return (
                f"PyTorch publishes no {package} for the {accelerator} build. Choose another "
                f"accelerator, or leave {package} out."
            )
    return ""


@dataclass(frozen=True)
class TorchStep:
    """The PyTorch release and build chosen, and the dependency lists routed by them."""

    plan: torch_index.TorchPlan
    build: cuda.Build
    dependencies: list[str]  # torch and its companions from the plan, then the rest
    constraints: list[str]  # the release lines, then the project's own bounds
    platforms: tuple[str, ...]  # the platforms the project targets

    @property
    def build_platforms(self) -> str:
        """The targeted platforms the build serves, in words: "Linux x86_64, Windows x86_64"."""
        served = [p for p in self.platforms if p in self.build.platforms]
        return ", ".join(torch_releases.PLATFORM_LABELS[p] for p in served)

    @property
    def cpu_platforms(self) -> str:
        """The targeted platforms that take the CPU build instead, in words ("" for none)."""
        rest = [p for p in self.platforms if p not in self.build.platforms]
        return ", ".join(torch_releases.PLATFORM_LABELS[p] for p in rest)


def torch_step(
    *,
    accelerator: str,
    torch_packages: list[str],
    python_version: str,
    cpu_extra: bool,
    torch_version: str,
    torch_index_url: str,
    platforms: list[str],
    dependencies: list[str],
    constraints: list[str],
) -> TorchStep:
    """Choose the release for these answers and route torch and its companions to it."""
    choice = torch_releases.choose(
        accelerator,
        torch_packages,
        python_version,
        cpu_extra=cpu_extra,
        torch_version=torch_version or NEWEST,
        platforms=platforms,
        facts=facts_for(torch_index_url),
    )
    plan = torch_index.torch_plan(torch_index_url, choice)
    routed = set(plan.sources)
    rest = [
        item for item in dependencies if canonicalize_name(Requirement(item).name) not in routed
    ]
    return TorchStep(
        plan=plan,
        build=cuda.BUILDS_BY_NAME[accelerator],
        dependencies=[*plan.dependencies, *rest],
        constraints=[*plan.constraints, *constraints],
        platforms=torch_releases.chosen_platforms(platforms),
    )


FILTERS = {
    "python_version_error": python_version_error,
    "torch_packages_error": torch_packages_error,
    "torch_version_error": torch_version_error,
}
GLOBALS = {
    "python_default": python_default,
    "accelerator_choices": accelerator_choices,
    "detected_accelerator": detected_accelerator,
    "newest_cuda_build": newest_cuda_build,
    "detection_summary": detection_summary,
    "torch_version_choices": torch_version_choices,
}
