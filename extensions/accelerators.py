"""Copier-facing side of the PyTorch builds: choices, detected default, checks, routing."""

from __future__ import annotations

import functools
import json
import os
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from . import cuda, detect, torch_index, torch_releases

NEWEST = "newest"
TORCH_COMPANIONS = ("torchvision", "torchaudio")
PLATFORM_NAMES = {"linux": "Linux", "win32": "Windows", "darwin": "macOS"}


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
    choices = {"Newest release the build has for this Python": NEWEST}
    choices.update({f"torch {r.version}": r.version for r in reversed(torch_releases.RELEASES)})
    return json.dumps(choices)


def torch_version_error(torch_version: str, accelerator: str, python_version: str) -> str:
    if torch_version == NEWEST:
        return ""
    release = next((r for r in torch_releases.RELEASES if r.version == torch_version), None)
    if release is None:
        return f"torch {torch_version} is not in the template's table; choose a listed release."
    if accelerator not in release.builds:
        with_build = [r.version for r in torch_releases.RELEASES if accelerator in r.builds]
        return (
            f"torch {torch_version} has no {accelerator} build (PyTorch published {accelerator} "
            f"for torch {', '.join(with_build)}). Choose one of those, or another accelerator."
        )
    if not torch_releases.supports(release, accelerator, python_version):
        low, high = release.python
        return (
            f"torch {torch_version} supports Python {low} to {high}, not {python_version}. "
            "Choose another release or go back and change python_version."
        )
    return ""


def torch_requirement(torch_version: str) -> str:
    return "torch" if torch_version in ("", NEWEST) else f"torch=={torch_version}.*"


def derive(context: dict[str, Any]) -> dict[str, Any]:
    """`torch_plan` for the templates, and the dependency list with torch routed by it."""
    if context.get("framework") != "pytorch":
        return {"torch_plan": None}
    routed = {"torch", *TORCH_COMPANIONS}
    release_line = torch_requirement(context.get("torch_version", NEWEST))
    constraints = list(context.get("dependency_constraints") or [])
    if context.get("env_manager") != "pixi" and release_line != "torch":
        # torch bare, for the set-up to pin; the release line a uv constraint ([tool.uv]).
        constraints.append(release_line)
        release_line = "torch"
    specs = {"torch": release_line}
    specs.update({name: name for name in context.get("torch_packages") or []})
    rest = []
    for item in context["dependencies"]:
        name = canonicalize_name(Requirement(item).name)
        if name not in routed:
            rest.append(item)
        elif item != name or name not in specs:
            specs[name] = item  # the user's own requirement ("torch>=2.12") wins
    accelerator = context["accelerator"]
    plan = torch_index.torch_plan(
        context["torch_index_url"],
        accelerator,
        [spec for name, spec in specs.items() if name != "torch"],
        cpu_extra=bool(context.get("cpu_extra")) and cuda.BUILDS_BY_NAME[accelerator].is_gpu,
        torch_requirement=specs["torch"],
    )
    build = cuda.BUILDS_BY_NAME[accelerator]
    return {
        "torch_plan": plan,
        "torch_build": build,
        "torch_build_platforms": " and ".join(PLATFORM_NAMES[p] for p in build.platforms),
        "dependencies": [*plan.dependencies, *rest],
        "dependency_constraints": constraints,
    }


FILTERS = {
    "torch_python_error": torch_releases.torch_python_error,
    "torch_version_error": torch_version_error,
}
GLOBALS = {
    "accelerator_choices": accelerator_choices,
    "detected_accelerator": detected_accelerator,
    "detection_summary": detection_summary,
    "torch_version_choices": torch_version_choices,
}
