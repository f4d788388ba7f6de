"""Pinning pyproject.toml to uv.lock (the generated project's scripts/setup_env.py)."""

from __future__ import annotations

import importlib.util
import sys
import tomllib
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "template" / "scripts" / "setup_env.py"
spec = importlib.util.spec_from_file_location("setup_env", SCRIPT)
assert spec is not None and spec.loader is not None
setup_env = importlib.util.module_from_spec(spec)
sys.modules["setup_env"] = setup_env
spec.loader.exec_module(setup_env)

LOCK = """
version = 1
requires-python = "==3.11.*"

[[package]]
name = "torch"
version = "2.13.0+cpu"

[[package]]
name = "NumPy"
version = "2.4.6"

[[package]]
name = "pytest"
version = "9.2.0"

[[package]]
name = "xarray"
version = "2025.1.0"

[[package]]
name = "demo"
version = "0.1.0"
source = { editable = "." }
"""

PYPROJECT = """\
[project]
name = "demo"
dependencies = [
    "torch",  # the accelerator build comes from the index
    "numpy>=2",
    "xarray[io] ; python_version >= '3.11'",
    "not-locked-anywhere",
]

[dependency-groups]
dev = ["pytest", { include-group = "docs" }]
docs = []
"""


def test_every_direct_dependency_is_pinned_to_the_lock() -> None:
    pinned = setup_env.pin_pyproject(PYPROJECT, LOCK)
    assert '"torch==2.13.0",  # the accelerator build comes from the index' in pinned
    assert '"numpy==2.4.6"' in pinned
    assert '"pytest==9.2.0"' in pinned


def test_extras_and_markers_survive_pinning() -> None:
    dependencies = tomllib.loads(setup_env.pin_pyproject(PYPROJECT, LOCK))["project"][
        "dependencies"
    ]
    assert 'xarray[io]==2025.1.0; python_version >= "3.11"' in dependencies


def test_local_label_is_dropped_so_one_pin_fits_every_platform() -> None:
    assert setup_env.pinned("torch", {"torch": {"2.13.0+cpu", "2.13.0"}}) == "torch==2.13.0"


def test_group_includes_and_unlocked_packages_are_left_alone() -> None:
    pinned = setup_env.pin_pyproject(PYPROJECT, LOCK)
    assert '{ include-group = "docs" }' in pinned
    assert '"not-locked-anywhere"' in pinned


def test_pinning_twice_changes_nothing() -> None:
    once = setup_env.pin_pyproject(PYPROJECT, LOCK)
    assert setup_env.pin_pyproject(once, LOCK) == once


def test_two_locked_versions_cannot_be_pinned() -> None:
    with pytest.raises(setup_env.StepFailed, match="several versions"):
        setup_env.pinned("numpy", {"numpy": {"2.2.6", "2.4.6"}})
