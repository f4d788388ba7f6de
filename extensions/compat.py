"""The Python versions the template offers, and how the project pins Python."""

from __future__ import annotations

import re

# Every Python minor a generated project may use, oldest first, and the default (which a local
# wheel folder holding torch for other Pythons only moves: accelerators.python_default).
# 3.10 is left out: it reached end of life in October 2026, and NumPy >= 2.3 and torch 2.15
# need 3.11. 3.15 is left out until the scientific stack publishes wheels for it. Whether a
# PyTorch release has wheels for the chosen Python is checked with the release
# (torch_releases.choose).
PYTHONS: tuple[str, ...] = ("3.11", "3.12", "3.13", "3.14")
DEFAULT_PYTHON = "3.12"


def _as_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def python_range() -> str:
    """The offered Pythons in words, for the question's help: "3.11 to 3.14"."""
    return f"{PYTHONS[0]} to {PYTHONS[-1]}"


def python_version_error(python_version: str) -> str:
    high = PYTHONS[-1]
    if not re.fullmatch(r"3\.\d{1,2}", python_version):
        return (
            f"'{python_version}' is not a Python minor version. Write it as 3.MINOR, e.g. {high}."
        )
    if python_version not in PYTHONS:
        return f"The template offers Python {python_range()}, not {python_version}. Choose one."
    return ""


def requires_python(python_version: str) -> str:
    """One minor version, exactly: a research environment is a single Python.

    An open range (">=3.11") makes uv lock one fork per Python version, and a package whose
    newest release drops an old Python then has two versions in the lock, which no single
    `==` pin can match. The minor is pinned here and patch releases stay free.
    """
    return f"=={python_version}.*"


GLOBALS = {"python_range": python_range}
