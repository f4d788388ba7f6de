"""The `platforms` answer, proven on real locks: uv.lock covers the chosen platforms only,
each gets its PyTorch build, Linux-only packages add as the README says, and a lab's flat
folder holding one wheel sets a project up from the defaults.

Locks are made by `uv lock` against the replica of PyTorch's indexes (tests/replica.py,
STAND-IN wheels but the real CPU torch) and PyPI, on a fresh uv cache; what each platform
would install is read with `uv sync --locked --dry-run --python-platform ...`.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from commands import readme_commands
from conftest import TEMPLATE, Render, render, run
from torch_matrix import label, would_install

from extensions import cuda, pytorch_facts

pytestmark = pytest.mark.slow

TABLE = {platform.name: platform for platform in pytorch_facts.PLATFORMS}


def lock(project: Path) -> None:
    result = run(["uv", "lock"], project)
    assert result.returncode == 0, result.stderr


def refused_on(project: Path, platform: str) -> str:
    """uv's words when asked to install the lock on a platform it was not made for."""
    target = TABLE[platform]
    command = ["uv", "sync", "--locked", "--dry-run", "--python-platform"]
    env = {**os.environ, **dict(target.uv_environment)}
    result = run([*command, target.uv_python_platform], project, env=env)
    assert result.returncode != 0, result.stderr
    return result.stderr


def torch_on(project: Path, platform: str, package: str = "torch") -> str:
    return would_install(project, platform, None)[package]


@pytest.mark.parametrize(
    ("accelerator", "chosen"),
    [
        ("cu130", ["linux-x86_64", "macos-arm64"]),
        ("rocm7.2", ["linux-x86_64", "linux-aarch64"]),
        ("cu126", ["windows-x86_64"]),
        ("cpu", ["macos-arm64"]),
    ],
    ids=lambda value: "+".join(value) if isinstance(value, list) else value,
)
def test_each_chosen_platform_gets_its_build_and_no_other_is_locked(
    rendered: Render,
    stand_in_index: Path,
    fresh_uv_cache: Path,
    real_torch_line: str,
    accelerator: str,
    chosen: list[str],
) -> None:
    project = rendered(
        accelerator=accelerator,
        platforms=chosen,
        torch_index_url=str(stand_in_index),
        torch_version=real_torch_line,
        ci_provider="none",
    )
    lock(project)
    build = cuda.BUILDS_BY_NAME[accelerator]
    for platform in chosen:
        index = accelerator if build.is_gpu and platform in build.platforms else "cpu"
        assert torch_on(project, platform) == f"{real_torch_line}.0{label(index, platform)}"
    for other in (p for p in TABLE if p not in chosen):
        said = " ".join(refused_on(project, other).split())
        assert "not compatible with the lockfile's supported environments" in said, other


def test_a_flat_folder_of_two_builds_routes_each_platform_to_its_own(
    tmp_path: Path, stand_in_index: Path, fresh_uv_cache: Path, real_torch_line: str
) -> None:
    """One flat folder holding cu130's Linux wheels and the CPU build's macOS wheel (no
    label): both indexes are the folder, and each platform still gets its build."""
    folder = tmp_path / "labwheels"
    folder.mkdir()
    version = f"{real_torch_line}.0"
    for build, pattern in (
        ("cu130", f"torch-{version}+cu130-cp311-*"),
        ("cpu", f"torch-{version}-cp311-*macosx*"),
    ):
        for wheel in (stand_in_index / build).glob(pattern):
            shutil.copy(wheel, folder / wheel.name)
    project = render(
        tmp_path / "project",
        skip_tasks=True,
        accelerator="cu130",
        platforms=["linux-x86_64", "linux-aarch64", "macos-arm64"],
        torch_index_url=str(folder),
        ci_provider="none",
    )
    urls = {
        index["url"]
        for index in tomllib.loads((project / "pyproject.toml").read_text())["tool"]["uv"]["index"]
    }
    assert urls == {str(folder)}
    lock(project)
    assert torch_on(project, "linux-aarch64") == f"{version}+cu130"
    assert torch_on(project, "macos-arm64") == version


# ── Linux-only packages, the documented way ────────────────────────────────


def test_a_linux_project_adds_linux_only_packages_as_they_are(
    rendered: Render, fresh_uv_cache: Path
) -> None:
    project = rendered(framework="none", platforms=["linux-x86_64", "linux-aarch64"])
    for package in ("triton", "cupy-cuda12x"):
        added = run(["uv", "add", "--no-sync", package], project)
        assert added.returncode == 0, added.stderr
    checked = run(["uv", "run", "scripts/setup_env.py", "--until", "verify"], project)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "uv.lock installs on Linux x86_64, Linux aarch64." in checked.stdout


def test_the_readmes_way_to_add_a_linux_only_package_works(
    rendered: Render, fresh_uv_cache: Path
) -> None:
    """The README's command, as written but for --no-sync (no 200 MB wheel here), in a
    project for every platform: the lock then installs on each."""
    project = rendered(framework="none")  # every platform
    (command,) = [c for c in readme_commands(project) if c.startswith('uv add "triton;')]
    words = shlex.split(command)
    added = run([*words[:2], "--no-sync", *words[2:]], project)
    assert added.returncode == 0, added.stderr
    checked = run(["uv", "run", "scripts/setup_env.py", "--until", "verify"], project)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "installs on Linux x86_64, Linux aarch64, Windows x86_64, macOS arm64" in checked.stdout


def test_a_project_beyond_linux_names_the_fix_and_the_fix_works(
    rendered: Render, fresh_uv_cache: Path
) -> None:
    project = rendered(framework="none")  # every platform
    assert run(["uv", "add", "--frozen", "triton"], project).returncode == 0
    failed = run(["uv", "run", "scripts/setup_env.py", "--until", "verify"], project)
    assert failed.returncode == 1
    said = failed.stderr
    assert "Set-up failed at step 'lock': triton has no wheels for Windows x86_64" in said
    fixes = re.findall(r"^\s{8}(uv remove .*|uvx .*)$", said, re.MULTILINE)
    assert len(fixes) == 2, said
    assert '-d "platforms=[linux-x86_64, linux-aarch64]"' in fixes[1]
    # The first fix, as printed (without installing triton's 200 MB here):
    for command in fixes[0].split(" && "):
        words = shlex.split(command)
        if words[:2] == ["uv", "add"]:
            words.insert(2, "--no-sync")
        done = run(words, project)
        assert done.returncode == 0, done.stderr
    checked = run(["uv", "run", "scripts/setup_env.py", "--until", "verify"], project)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    dependencies = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    assert any(
        item.startswith("triton==") and item.endswith("; sys_platform == 'linux'")
        for item in dependencies["dependencies"]
    )


# ── A lab's flat folder holding one wheel: every other answer default ───────


@pytest.fixture(scope="module")
def flat_folder_project(
    tmp_path_factory: pytest.TempPathFactory, torch_wheel: Path, fresh_uv_cache: Path
) -> tuple[Path, str, str]:
    """Generated through Copier's command line as a lab would: the folder and a name, the
    rest the defaults (tasks run: lock, pin, verify, sync, check, first commit)."""
    folder = tmp_path_factory.mktemp("labwheels")
    (folder / torch_wheel.name).symlink_to(torch_wheel)
    destination = tmp_path_factory.mktemp("flat") / "protein-folding"
    answers = [
        "project_name=Protein Folding", "author_name=Ada Lovelace", f"torch_index_url={folder}",
    ]  # fmt: skip
    result = run(
        [sys.executable, "-m", "copier", "copy", "--trust", "--defaults", "--vcs-ref", "HEAD",
         *(f"--data={answer}" for answer in answers), str(TEMPLATE), str(destination)],
        destination.parent,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return destination, str(folder), result.stdout + result.stderr


def test_a_flat_folder_of_one_wheel_sets_up_from_the_defaults(
    flat_folder_project: tuple[Path, str, str],
) -> None:
    project, folder, output = flat_folder_project
    assert "==> Environment ready" in output, output
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["python_version"] == "3.11"  # the default followed the folder
    assert answers["platforms"] == ["linux-x86_64"]
    assert answers["torch_version"] == "newest" and answers["ci_provider"] == "none"
    uv = tomllib.loads((project / "pyproject.toml").read_text())["tool"]["uv"]
    assert uv["constraint-dependencies"] == ["torch==2.13.*"]  # newest: what the folder holds
    assert [index["url"] for index in uv["index"]] == [folder]
    command = ["uv", "run", "--locked", "python", "-c", "import torch; print(torch.__version__)"]
    torch = run(command, project)
    assert torch.stdout.strip() == "2.13.0+cpu", torch.stderr
    assert run(["git", "status", "--porcelain"], project).stdout == ""  # set up, committed


def test_the_flat_folder_stays_out_of_ci(flat_folder_project: tuple[Path, str, str]) -> None:
    project, folder, _ = flat_folder_project
    assert not (project / ".github").exists() and not (project / ".gitlab-ci.yml").exists()
    readme = " ".join((project / "README.md").read_text().split())
    assert f"**CI.** None: PyTorch comes from the local folder `{folder}`" in readme
