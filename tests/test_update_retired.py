"""An update to the release where NumPy projects lost their GPU code keeps every edit.

Releases of a template clone: v0.1.0, the template as it was before NumPy projects stopped
getting machine.py (GPU probing) and builds.py (the CUDA build table); v0.2.0, this working
tree. A NumPy project generated from v0.1.0 and set up, whose researcher changed machine.py
and left builds.py alone, is updated through Copier's command line: the unchanged module
goes (Copier deletes what the release no longer writes), the changed one stays byte for byte
and is named (tasks/kept_files.py), and the project's own checks pass.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import copier_cli, copy_numpy_project, from_old_release, git, run

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("update-retired")]

# The last commit whose NumPy projects have machine.py and builds.py.
BEFORE = "4690f6e1a244926bfadbbb10ba90dc571e13cf54"
PACKAGE = "plain_numbers"
USER_FUNCTION = '\n\ndef lab_gpus() -> list[str]:\n    """Our cluster\'s cards."""\n    return []\n'
RETIRED = ("machine.py", "builds.py")


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return from_old_release(tmp_path_factory.mktemp("releases"), BEFORE)


@pytest.fixture(scope="module")
def updated(releases: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes, str]:
    """(the project after the update, its machine.py before, the update's output)."""
    project = copy_numpy_project(releases, tmp_path_factory.mktemp("generated"))
    package = project / "src" / PACKAGE
    assert all((package / name).is_file() for name in RETIRED)  # the old release wrote them
    with (package / "machine.py").open("a") as machine:
        machine.write(USER_FUNCTION)
    git("commit", "-qam", "our cluster's cards", cwd=project)
    before = (package / "machine.py").read_bytes()
    code, output = copier_cli("update", "--trust", "--defaults", "-r", "v0.2.0", cwd=project)
    assert code == 0, output
    return project, before, output


def test_the_unchanged_cuda_table_is_gone(updated: tuple[Path, bytes, str]) -> None:
    project, _, _ = updated
    assert not (project / "src" / PACKAGE / "builds.py").exists()
    assert (project / "kit/src/research_kit/project.py").is_file()  # what replaced machine.py


def test_the_changed_machine_module_is_kept_byte_for_byte_and_named(
    updated: tuple[Path, bytes, str],
) -> None:
    project, before, output = updated
    assert (project / "src" / PACKAGE / "machine.py").read_bytes() == before
    assert f"src/{PACKAGE}/machine.py" in output
    assert f"src/{PACKAGE}/builds.py" not in output


def test_the_projects_own_checks_pass(updated: tuple[Path, bytes, str]) -> None:
    project, _, _ = updated
    for command in (
        ["uv", "run", "--locked", "scripts/smoke_test.py"],
        ["uv", "run", "--locked", "mypy"],
        ["uv", "run", "--locked", "pytest", "-q", "-p", "no:cacheprovider"],
    ):
        result = run(command, project)
        assert result.returncode == 0, " ".join(command) + result.stdout + result.stderr
