"""A generated project is ready right after `copier copy`: locked, pinned, installed, tested.

These tests run real uv against PyPI and, for torch, the real CPU wheel from a local folder.
"""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import pytest
from conftest import run
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

pytestmark = pytest.mark.slow

PROJECTS = ["torch_project", "numpy_project"]


@pytest.fixture(params=PROJECTS)
def project(request: pytest.FixtureRequest) -> Path:
    return request.getfixturevalue(request.param)


def direct_requirements(project: Path) -> list[Requirement]:
    data = tomllib.loads((project / "pyproject.toml").read_text())
    listed = list(data["project"]["dependencies"])
    for group in data.get("dependency-groups", {}).values():
        listed += [item for item in group if isinstance(item, str)]
    return [Requirement(item) for item in listed]


def locked_versions(project: Path) -> dict[str, list[str]]:
    lock = tomllib.loads((project / "uv.lock").read_text())
    versions: dict[str, list[str]] = {}
    for package in lock["package"]:
        versions.setdefault(canonicalize_name(package["name"]), []).append(package["version"])
    return versions


def test_every_direct_dependency_is_pinned_to_the_lock(project: Path) -> None:
    locked = locked_versions(project)
    for requirement in direct_requirements(project):
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", requirement
        versions = locked[canonicalize_name(requirement.name)]
        assert all(Version(v).public == specifier.version for v in versions), (
            requirement,
            versions,
        )


def test_lock_is_current(project: Path) -> None:
    result = run(["uv", "lock", "--check"], project)
    assert result.returncode == 0, result.stderr


def test_generated_tests_pass(project: Path) -> None:
    result = run(["uv", "run", "--locked", "pytest", "-q"], project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout


def test_generated_project_is_ruff_clean(project: Path) -> None:
    result = run(["uv", "run", "--locked", "ruff", "check", "."], project)
    assert result.returncode == 0, result.stdout


def test_smoke_test_passes_on_cpu(project: Path) -> None:
    result = run(["uv", "run", "--locked", "scripts/smoke_test.py"], project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK: the environment works." in result.stdout


def test_require_gpu_exits_2_without_one(project: Path) -> None:
    result = run(["uv", "run", "--locked", "scripts/smoke_test.py", "--require-gpu"], project)
    assert result.returncode == 2, result.stdout + result.stderr


def test_example_script_runs(project: Path) -> None:
    result = run(["uv", "run", "--locked", "scripts/train_example.py"], project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (project / "outputs" / "train_example" / "results.json").is_file()


def test_project_is_a_git_repository(project: Path) -> None:
    assert run(["git", "rev-parse", "--is-inside-work-tree"], project).stdout.strip() == "true"


def test_env_is_ignored_and_its_example_is_not(project: Path) -> None:
    assert (project / ".env").is_file()
    assert run(["git", "check-ignore", "-q", ".env"], project).returncode == 0
    assert run(["git", "check-ignore", "-q", ".env.example"], project).returncode == 1


def test_env_file_is_read_from_any_working_directory(project: Path, tmp_path: Path) -> None:
    python = project / ".venv" / "bin" / "python"
    name = next((project / "src").iterdir()).name
    code = f"import {name}, os; print(os.environ['DATA_DIR'])"
    result = run([str(python), "-c", code], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(project / "data")


def test_torch_is_the_cpu_build_from_the_local_index(torch_project: Path) -> None:
    python = torch_project / ".venv" / "bin" / "python"
    result = run([str(python), "-c", "import torch; print(torch.__version__)"], torch_project)
    assert result.stdout.strip() == "2.13.0+cpu", result.stderr
    lock = (torch_project / "uv.lock").read_text()
    assert 'version = "2.13.0+cpu"' in lock


def test_extra_dependency_is_installed_and_pinned(torch_project: Path) -> None:
    names = {r.name: r for r in direct_requirements(torch_project)}
    assert str(names["einops"].specifier).startswith("==")


def test_fresh_clone_reproduces_the_environment(project: Path, tmp_path: Path) -> None:
    """Everything git would commit, copied elsewhere, syncs to the same packages."""
    tracked = run(["git", "ls-files", "--others", "--cached", "--exclude-standard"], project)
    clone = tmp_path / "clone"
    for name in tracked.stdout.split():
        (clone / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(project / name, clone / name)
    assert not (clone / ".env").exists()
    sync = run(["uv", "sync", "--locked"], clone)
    assert sync.returncode == 0, sync.stderr

    def installed(folder: Path) -> set[str]:
        freeze = run(["uv", "pip", "freeze", "--exclude-editable"], folder)
        return set(freeze.stdout.split())

    assert installed(clone) == installed(project)
