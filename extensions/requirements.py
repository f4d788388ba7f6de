"""The project's dependency plan: what the template writes before the lock pins it."""

from __future__ import annotations

import re
from typing import Literal

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from . import import_names, naming
from . import text as free_text

Framework = Literal["pytorch", "none"]  # the `framework` answer
BASE_DEPENDENCIES: dict[Framework, tuple[str, ...]] = {
    "pytorch": ("torch", "numpy", "python-dotenv"),
    "none": ("numpy", "python-dotenv"),
}
DEV_DEPENDENCIES: tuple[str, ...] = ("pytest", "ruff", "mypy")


def split_requirements(text: str) -> list[str]:
    """Split a comma-separated answer into requirements.

    Commas inside brackets or quotes belong to one requirement ("foo[a,b]"), and so does a
    piece that cannot start a requirement, as in "numpy>=2,<3".
    """
    pieces: list[str] = []
    depth, quote, current = 0, "", ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        elif char == "," and depth == 0:
            pieces.append(current)
            current = ""
            continue
        current += char
    pieces.append(current)
    requirements: list[str] = []
    for piece in (p.strip() for p in pieces):
        if not piece:
            continue
        if requirements and not piece[0].isalnum():
            requirements[-1] = f"{requirements[-1]},{piece}"
        else:
            requirements.append(piece)
    return requirements


# Packages the torch questions own: torch_version picks torch's release, accelerator its
# build and index, torch_packages the companions; Triton comes with the build that needs it.
TORCH_OWNED = ("torch", "torchvision", "torchaudio")
_TRITON = re.compile(r"(pytorch-)?triton(-.*)?")


def _torch_owned(name: str) -> bool:
    return name in TORCH_OWNED or bool(_TRITON.fullmatch(name))


def requirements_error(
    text: str, package_name: str = "", framework: str = "pytorch", project_name: str = ""
) -> str:
    """Empty when every requirement parses and belongs here, else which one and what to do."""
    if problem := free_text.text_error("extra_dependencies", text):
        return problem
    seen: dict[str, str] = {}
    for item in split_requirements(text):
        try:
            requirement = Requirement(item)
        except InvalidRequirement as error:
            return (
                f"'{item}' is not a valid requirement ({error}). "
                "Write PyPI requirements separated by commas, e.g. 'transformers, datasets>=3'."
            )
        name = canonicalize_name(requirement.name)
        if requirement.url:
            return (
                f"'{item}' points at a URL; a direct reference cannot be pinned from the index. "
                "Leave it out here and add it after generation with 'uv add'."
            )
        if name in seen:
            return (
                f"'{item}' repeats '{seen[name]}'. List each package once, with all its "
                f"constraints in one requirement (e.g. '{requirement.name}>=1,<3')."
            )
        seen[name] = item
        if _torch_owned(name) and framework == "none":
            return (
                f"'{item}': PyTorch is installed by answering framework=pytorch, which takes "
                "it from PyTorch's index for your accelerator (PyPI's Linux torch is a CUDA "
                "build of several GB). Go back and choose framework=pytorch, or leave it out."
            )
        if _torch_owned(name):
            return (
                f"'{item}' is set by the PyTorch questions: torch_version picks the release, "
                "accelerator the build and its index, torch_packages adds torchvision and "
                "torchaudio from the same index (Triton comes with the build). Leave it out here."
            )
        if project_name and name == naming.distribution_name(project_name):
            return (
                f"'{item}' is the project itself ('{project_name}' is named '{name}'). "
                "Leave it out, or rename the project."
            )
        if project_name and name == naming.kit_distribution(project_name):
            return (
                f"'{item}' is the project's kit/ folder, which the template installs "
                "itself. Leave it out."
            )
        if package_name and package_name in import_names.table().modules_of(name):
            return (
                f"'{requirement.name}' installs the module '{package_name}', the name of this "
                "project's package. Rename the package or drop this dependency."
            )
    return ""


def project_dependencies(framework: Framework, extra: str) -> list[str]:
    """Base dependencies of the framework, then the user's; a user's requirement wins."""
    base = [*BASE_DEPENDENCIES[framework]]
    plan: dict[str, str] = {canonicalize_name(name): name for name in base}
    for item in split_requirements(extra):
        requirement = Requirement(item)
        plan[canonicalize_name(requirement.name)] = str(requirement)  # quotes normalised
    return list(plan.values())


def bounds_apart(items: list[str]) -> tuple[list[str], list[str]]:
    """The requirements without their version bounds, and the bounds as uv constraints.

    The set-up pins each dependency written bare and moves those pins on `upgrade`; a bound
    given in an answer ("datasets>=3") goes to [tool.uv] constraint-dependencies, which uv
    applies to every lock, so the pin stays within it.
    """
    bare, bounds = [], []
    for item in items:
        requirement = Requirement(item)
        if not requirement.specifier:
            bare.append(item)
            continue
        extras = f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
        marker = f"; {requirement.marker}" if requirement.marker else ""
        bare.append(f"{requirement.name}{extras}{marker}")
        bounds.append(f"{requirement.name}{requirement.specifier}{marker}")
    return bare, bounds


def sorted_requirements(items: list[str]) -> list[str]:
    """Requirements in name order, the order `uv add` keeps when a list is already sorted.

    A dependency the user adds then lands on its own line, as does one a later template
    release adds, so a three-way merge of the two never conflicts.
    """
    return sorted(items, key=lambda item: canonicalize_name(Requirement(item).name))


FILTERS = {"requirements_error": requirements_error}
