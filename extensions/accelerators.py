"""Copier-facing side of the PyTorch builds: choices, detected default, checks, routing."""

from __future__ import annotations

import functools
import json
import os
from typing import Any

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


def derive(context: dict[str, Any]) -> dict[str, Any]:
    """`torch_plan` for the templates, and the dependency list with torch routed by it."""
    if context.get("framework") != "pytorch":
        return {"torch_plan": None}
    accelerator = context["accelerator"]
    choice = torch_releases.choose(
        accelerator,
        context.get("torch_packages") or [],
        context["python_version"],
        cpu_extra=bool(context.get("cpu_extra")),
        torch_version=context.get("torch_version") or NEWEST,
    )
    plan = torch_index.torch_plan(context["torch_index_url"], choice)
    routed = set(plan.sources)
    rest = [
        item
        for item in context["dependencies"]
        if canonicalize_name(Requirement(item).name) not in routed
    ]
    build = cuda.BUILDS_BY_NAME[accelerator]
    return {
        "torch_plan": plan,
        "torch_build": build,
        "torch_build_platforms": ", ".join(
            torch_releases.PLATFORM_LABELS[p] for p in build.platforms
        ),
        "dependencies": [*plan.dependencies, *rest],
        "dependency_constraints": [*plan.constraints, *context["dependency_constraints"]]
        if context.get("env_manager") != "pixi"
        else [],
    }


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
