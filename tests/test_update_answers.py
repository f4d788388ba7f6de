"""Changing an answer with `copier update` turns the project over, with nothing stale left.

A CPU PyTorch project, generated and set up from a template release, is updated to the same
release with `--defaults -d accelerator=cu130` against the replica of PyTorch's indexes
(tests/replica.py): the real CPU torch wheel, and STAND-IN wheels that cannot be imported.
The project asks for torch 2.13, the real wheel's release (the replica's newest is a
stand-in). The post-update re-lock therefore gets through lock, pin and sync, and its last
step, the smoke check that imports torch, fails on the stand-in; on a real index it passes.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import copier
import pytest
import yaml
from conftest import ALL_PLATFORMS, git, release, run, template_clone
from test_update import update, user_copy
from torch_matrix import label, would_install

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("update-answers")]


@pytest.fixture(scope="module")
def cpu_project(tmp_path_factory: pytest.TempPathFactory, stand_in_index: Path) -> Path:
    root = tmp_path_factory.mktemp("answers")
    clone = template_clone(root / "template")
    release(clone, "v0.1.0")
    project = root / "generated"
    copier.run_copy(
        str(clone),
        str(project),
        data={
            "project_name": "Protein Folding",
            "author_name": "Ada Lovelace",
            "python_version": "3.11",
            "accelerator": "cpu",
            "torch_version": "2.13",
            "torch_index_url": str(stand_in_index),
            "platforms": ALL_PLATFORMS,
        },
        defaults=True,
        unsafe=True,
        vcs_ref="v0.1.0",
        quiet=True,
    )
    torch = run(
        ["uv", "run", "--locked", "python", "-c", "import torch; print(torch.__version__)"], project
    )
    assert torch.stdout.strip() == "2.13.0+cpu", torch.stdout + torch.stderr
    assert git("status", "--porcelain", cwd=project) == ""  # the copy made the first commit
    return project


@pytest.fixture(scope="module")
def to_cu130(
    cpu_project: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, str, dict[str, Any]]:
    project = user_copy(cpu_project, tmp_path_factory.mktemp("cu130") / "protein-folding")
    result = update(project, "--data", "accelerator=cu130")
    lock = tomllib.loads((project / "uv.lock").read_text())
    return project, result.stdout + result.stderr, lock


def test_relock_runs_to_the_smoke_check(to_cu130: tuple[Path, str, dict[str, Any]]) -> None:
    _, output, _ = to_cu130
    assert "==> [4/5] Installing the locked environment" in output, output
    assert "+ torch==2.13.0+cu130" in output, output
    assert "Set-up failed at step 'check'" in output, output
    assert "torch 2.13.0+cu130: stand-in" in output, output  # expected here, see above


def test_pyproject_routes_torch_to_the_cuda_index(
    to_cu130: tuple[Path, str, dict[str, Any]], stand_in_index: Path
) -> None:
    project, _, _ = to_cu130
    uv = tomllib.loads((project / "pyproject.toml").read_text())["tool"]["uv"]
    urls = {index["url"] for index in uv["index"]}
    assert urls == {str(stand_in_index / "cu130"), str(stand_in_index / "cpu")}
    routed = {source["index"] for source in uv["sources"]["torch"]}
    assert routed == {index["name"] for index in uv["index"]}


@pytest.mark.parametrize(
    ("platform", "build"),
    [
        ("linux-x86_64", "cu130"),
        ("linux-aarch64", "cu130"),
        ("windows-x86_64", "cu130"),
        ("macos-arm64", "cpu"),
    ],
)
def test_each_platform_installs_its_build_of_the_same_release(
    to_cu130: tuple[Path, str, dict[str, Any]], platform: str, build: str
) -> None:
    project, _, _ = to_cu130
    installed = would_install(project, platform, None)
    assert installed["torch"] == "2.13.0" + label(build, platform)


def test_no_cpu_wheel_of_torch_is_left_for_linux(
    to_cu130: tuple[Path, str, dict[str, Any]],
) -> None:
    _, _, lock = to_cu130
    wheels = [str(w) for p in lock["package"] if p["name"] == "torch" for w in p.get("wheels", [])]
    linux = [wheel for wheel in wheels if "manylinux" in wheel]
    assert linux
    assert all("torch-2.13.0+cu130-" in wheel for wheel in linux), linux


def test_lock_is_current_and_torch_stays_pinned(to_cu130: tuple[Path, str, dict[str, Any]]) -> None:
    project, _, _ = to_cu130
    assert run(["uv", "lock", "--check"], project).returncode == 0
    dependencies = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    assert "torch==2.13.0" in dependencies["dependencies"]


def test_answers_record_the_new_build(to_cu130: tuple[Path, str, dict[str, Any]]) -> None:
    project, _, _ = to_cu130
    assert "accelerator: cu130" in (project / ".copier-answers.yml").read_text()


# ── `copier update -d platforms=[...]`: fewer platforms, then more ──────────


@pytest.fixture(scope="module")
def four_platform_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A NumPy project generated (and set up) from a release for every platform."""
    root = tmp_path_factory.mktemp("platforms")
    clone = template_clone(root / "template")
    release(clone, "v0.1.0")
    project = root / "generated"
    copier.run_copy(
        str(clone),
        str(project),
        data={
            "project_name": "Plain Numbers",
            "author_name": "Ada Lovelace",
            "framework": "none",
            "python_version": "3.11",
            "platforms": ALL_PLATFORMS,
        },
        defaults=True,
        unsafe=True,
        vcs_ref="v0.1.0",
        quiet=True,
    )
    assert git("status", "--porcelain", cwd=project) == ""
    return project


def lock_environments(project: Path) -> list[str]:
    """The platforms uv.lock was made for, as it writes them."""
    return list(tomllib.loads((project / "uv.lock").read_text())["supported-markers"])


@pytest.fixture(scope="module")
def to_linux(
    four_platform_project: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, str]:
    project = user_copy(four_platform_project, tmp_path_factory.mktemp("linux") / "numbers")
    result = update(project, "--data", "platforms=[linux-x86_64]")
    return project, result.stdout + result.stderr


def test_fewer_platforms_relock_for_those_only(
    four_platform_project: Path, to_linux: tuple[Path, str]
) -> None:
    project, output = to_linux
    assert len(lock_environments(four_platform_project)) == 4
    assert "==> Re-locking after the update" in output, output
    assert "uv.lock installs on Linux x86_64." in output, output
    assert "==> Environment ready" in output, output
    linux = "sys_platform == 'linux' and platform_machine == 'x86_64'"
    uv = tomllib.loads((project / "pyproject.toml").read_text())["tool"]["uv"]
    assert uv["environments"] == uv["required-environments"] == [linux]
    assert [" ".join(e.split()) for e in lock_environments(project)] == [
        "platform_machine == 'x86_64' and sys_platform == 'linux'"
    ]
    assert run(["uv", "lock", "--check"], project).returncode == 0
    assert yaml.safe_load((project / ".copier-answers.yml").read_text())["platforms"] == [
        "linux-x86_64"
    ]


def test_more_platforms_name_the_linux_only_package_and_both_fixes(
    to_linux: tuple[Path, str],
) -> None:
    """A Linux-only package added as is to a Linux project; the update to a Mac too stops
    at the re-lock, naming the package, the platform and both ways out."""
    project, _ = to_linux
    added = run(["uv", "add", "--no-sync", "triton"], project)
    assert added.returncode == 0, added.stderr
    git("commit", "-qam", "triton", cwd=project)
    result = update(project, "--data", "platforms=[linux-x86_64, macos-arm64]")
    said = " ".join((result.stdout + result.stderr).split())
    assert "Set-up failed at step 'lock': triton has no wheels for macOS arm64" in said, said
    # The marker on the requirement as written (uv add's own pin kept), or fewer platforms:
    marked = r"uv remove --frozen triton && uv add \"triton==[\d.]+; sys_platform == 'linux'\""
    assert re.search(marked, said), said
    assert '-d "platforms=[linux-x86_64]"' in said
    assert "The update is merged; only the environment is not rebuilt yet" in said
