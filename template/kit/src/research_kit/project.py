# Template-owned: `copier update` replaces this file; edits of yours are merged in.
"""What the project's files say (pyproject.toml, uv.lock), and a clean environment for tools.

Standard library only, and no imports from this package: scripts/setup_env.py loads this file
by its path before anything is installed, and the template's update steps use the same file.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# Variables that point uv or pixi at another environment (copier's own, an activated conda
# environment, an outer `uv run`): the set-up runs them without these.
OUTER_ENVIRONMENT = ("VIRTUAL_ENV", "UV_RUN_RECURSION_DEPTH", "CONDA_PREFIX", "CONDA_DEFAULT_ENV")


def clean_environment(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The environment without the variables that point at another environment."""
    return {name: value for name, value in environ.items() if name not in OUTER_ENVIRONMENT}


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML file's tables; empty when the file is missing or not TOML."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError:
        return {}
    except tomllib.TOMLDecodeError:
        return {}


def manager(pyproject: Mapping[str, Any]) -> str:
    """The tool that manages the environment: "pixi" with a [tool.pixi] table, else "uv"."""
    return "pixi" if "pixi" in pyproject.get("tool", {}) else "uv"


def torch_extras(pyproject: Mapping[str, Any]) -> list[str]:
    """The extras declared in conflict in [tool.uv] (the cpu/<GPU build> pair), if any."""
    conflicts = pyproject.get("tool", {}).get("uv", {}).get("conflicts", [])
    return [item["extra"] for group in conflicts for item in group if "extra" in item]


def canonical_name(name: str) -> str:
    """A package name as the indexes compare it (PEP 503): `Ruamel_YAML` -> `ruamel-yaml`."""
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_versions(lock_text: str) -> dict[str, set[str]]:
    """Every version of every package in a uv.lock, by canonical name."""
    versions: dict[str, set[str]] = {}
    for package in tomllib.loads(lock_text).get("package", []):
        if "version" in package:
            versions.setdefault(canonical_name(package["name"]), set()).add(package["version"])
    return versions
