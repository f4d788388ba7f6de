"""Which Python versions each framework supports, and how the project pins Python."""

from __future__ import annotations

import re

from . import torch_releases

# Oldest and newest Python minor each framework publishes wheels for today.
# PyTorch 2.14 is the last release for 3.10 (2.15 needs 3.11); 3.15 wheels are too new to rely on.
PYTHON_SUPPORT: dict[str, tuple[str, str]] = {
    "pytorch": ("3.10", "3.14"),
    "none": ("3.10", "3.14"),
}

FRAMEWORK_LABELS = {"pytorch": "PyTorch", "none": "the NumPy-only project"}


def _as_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def python_version_error(python_version: str, framework: str, accelerator: str = "cpu") -> str:
    low, high = PYTHON_SUPPORT[framework]
    if not re.fullmatch(r"3\.\d{1,2}", python_version):
        return (
            f"'{python_version}' is not a Python minor version. Write it as 3.MINOR, e.g. {high}."
        )
    if not _as_tuple(low) <= _as_tuple(python_version) <= _as_tuple(high):
        return (
            f"{FRAMEWORK_LABELS[framework]} supports Python {low} to {high}, not {python_version}. "
            f"Choose a version in that range."
        )
    if framework == "pytorch":
        return torch_releases.torch_python_error(python_version, accelerator)
    return ""


def requires_python(python_version: str) -> str:
    """One minor version, exactly: a research environment is a single Python.

    An open range (">=3.11") makes uv lock one fork per Python version, and a package whose
    newest release drops an old Python then has two versions in the lock, which no single
    `==` pin can match. The minor is pinned here and patch releases stay free.
    """
    return f"=={python_version}.*"
