"""Copier-facing side of the PyTorch builds: choices, detected default, checks, routing."""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from . import cuda, detect, pytorch_facts, torch_index, torch_releases

NEWEST = "newest"


def local_detection() -> detect.Detection:
    """Probe this machine once per process (copier renders defaults and help repeatedly)."""
    overrides = (os.environ.get(detect.DRIVER_ENV), os.environ.get(detect.NO_DETECTION_ENV))
    return _cached_detection(overrides)


@functools.cache
def _cached_detection(overrides: tuple[str | None, str | None]) -> detect.Detection:
    return detect.detect_local()  # the overrides only key the cache; read_probes reads them


def detected_accelerator() -> str:
    return local_detection().accelerator


def detection_summary() -> str:
    return local_detection().summary


def accelerator_choices() -> str:
    """copier.yml choices (label -> build name) as JSON, which copier parses as YAML."""
    return json.dumps({f"{build.name}: {build.label}": build.name for build in cuda.BUILDS})


def torch_version_choices() -> str:
    choices = {"Newest release every index the project uses has": NEWEST}
    choices.update({f"torch {line}": line for line in torch_releases.torch_lines()})
    return json.dumps(choices)


def torch_version_error(
    torch_version: str,
    accelerator: str,
    python_version: str,
    packages: list[str] | None = None,
    cpu_extra: bool = False,
) -> str:
    """Empty when a torch release serves these answers on every platform, else why not."""
    try:
        torch_releases.choose(
            accelerator,
            packages or [],
            python_version,
            cpu_extra=cpu_extra,
            torch_version=torch_version or NEWEST,
        )
    except torch_releases.NoRelease as error:
        return str(error)
    return ""


def torch_packages_error(packages: list[str], accelerator: str) -> str:
    """A companion PyTorch publishes for no release of this build, refused when chosen."""
    for package in packages:
        lines = [
            line
            for line in torch_releases.torch_lines()
            if package in pytorch_facts.load().companions.get(line, {})
            and not torch_releases.problem(line, accelerator, [package], None)
        ]
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

    @property
    def build_platforms(self) -> str:
        """The build's platforms in words: "Linux x86_64, Windows"."""
        return ", ".join(torch_releases.PLATFORM_LABELS[p] for p in self.build.platforms)


def torch_step(
    *,
    accelerator: str,
    torch_packages: list[str],
    python_version: str,
    cpu_extra: bool,
    torch_version: str,
    torch_index_url: str,
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
    )


FILTERS = {
    "torch_packages_error": torch_packages_error,
    "torch_version_error": torch_version_error,
}
GLOBALS = {
    "accelerator_choices": accelerator_choices,
    "detected_accelerator": detected_accelerator,
    "detection_summary": detection_summary,
    "torch_version_choices": torch_version_choices,
}
