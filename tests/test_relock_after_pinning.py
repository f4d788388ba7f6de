"""Issue #11, item 1: a re-lock after pinning can fold one platform into another's fork.

A ROCm project of the current template (torch 2.13, Python 3.11), against the replica of
PyTorch's indexes served as PEP 503 pages, on a fresh uv cache: `uv lock`, then the set-up's
own pin step (scripts/setup_env.py, pin_pyproject), then a re-lock that records the pins.

`uv lock --offline` there locks the macOS wheel (torch 2.13.0) for Windows, and still says
the lock is current; the online `uv lock` the set-up now runs does not. Both are recorded
here as evidence for the fix of issue #11; the set-up's per-platform check is the fix.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest
from conftest import render, run

from extensions import pytorch_facts

PLATFORMS = {platform.name: platform for platform in pytorch_facts.PLATFORMS}


def setup_env_of(project: Path) -> ModuleType:
    """The generated project's own scripts/setup_env.py, imported."""
    spec = importlib.util.spec_from_file_location(
        "generated_setup_env", project / "scripts" / "setup_env.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def installs_on(project: Path, platform: str) -> tuple[bool, str]:
    """Whether `uv sync --locked` would succeed on `platform`; uv's words either way."""
    target = PLATFORMS[platform]
    result = run(
        ["uv", "sync", "--locked", "--dry-run", "--python-platform", target.uv_python_platform],
        project,
        env={**os.environ, **dict(target.uv_environment)},
    )
    return result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def relocked(
    tmp_path_factory: pytest.TempPathFactory, stand_in_server: str, fresh_uv_cache: Path
) -> dict[str, Path]:
    """The pinned project re-locked offline (first, on the cold cache) and online."""
    pinned = render(
        tmp_path_factory.mktemp("relock") / "pinned",
        skip_tasks=True,
        accelerator="rocm7.2",
        torch_version="2.13",
        python_version="3.11",
        torch_index_url=stand_in_server,
    )
    assert run(["uv", "lock"], pinned).returncode == 0
    pyproject = pinned / "pyproject.toml"
    pin = setup_env_of(pinned).pin_pyproject
    pyproject.write_text(pin(pyproject.read_text(), (pinned / "uv.lock").read_text()))
    assert '"torch==2.13.0",' in pyproject.read_text()
    projects = {}
    for mode, command in (("offline", ["uv", "lock", "--offline"]), ("online", ["uv", "lock"])):
        project = shutil.copytree(pinned, pinned.parent / mode)
        result = run(command, project)
        assert result.returncode == 0, result.stderr
        projects[mode] = project
    return projects


def test_offline_relock_gives_windows_the_macos_wheel(relocked: dict[str, Path]) -> None:
    installs, output = installs_on(relocked["offline"], "windows-x86_64")
    assert not installs
    assert "only has wheels for the following platform: `macosx_14_0_arm64`" in output


def test_offline_relock_still_passes_the_lock_check(relocked: dict[str, Path]) -> None:
    assert run(["uv", "lock", "--check"], relocked["offline"]).returncode == 0


@pytest.mark.parametrize(
    "platform",
    [
        "linux-x86_64",
        pytest.param(
            "linux-aarch64",
            marks=pytest.mark.xfail(
                strict=True,
                reason="issue #11 item 5: ROCm routing sends Linux aarch64 to x86_64-only wheels",
            ),
        ),
        "windows-x86_64",
        "macos-arm64",
    ],
)
def test_online_relock_installs_on_every_platform(relocked: dict[str, Path], platform: str) -> None:
    installs, output = installs_on(relocked["online"], platform)
    assert installs, output
