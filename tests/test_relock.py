"""The set-up records its pins with a second, offline `uv lock`; online when it must.

The offline lock is a shortcut (the first lock has just put every index page it needs in
uv's cache). Resuming with `--from pin` after the cache was cleaned must still work.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from conftest import Render, run

pytestmark = pytest.mark.slow


def setup_script(project: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The generated project's scripts/setup_env.py, imported from where it was written."""
    path = project / "scripts" / "setup_env.py"
    spec = importlib.util.spec_from_file_location("generated_setup_env", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_pins_are_recorded_when_the_cache_cannot_serve_an_offline_lock(
    rendered: Render, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = rendered(framework="none", python_version="3.11")
    assert run(["uv", "lock"], project).returncode == 0
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "empty-cache"))

    setup_script(project, monkeypatch).pin()

    monkeypatch.delenv("UV_CACHE_DIR")
    assert '"numpy==' in (project / "pyproject.toml").read_text()
    check = run(["uv", "lock", "--check"], project)
    assert check.returncode == 0, check.stderr
