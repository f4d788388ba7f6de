"""A project inside a larger repository updates in its own folder and nowhere else.

A lab repository holds its own files (a root `pyproject.toml`, or none) and, in
`projects/sub`, a project generated from release v0.1.0 of a template clone; the researcher
added a dependency there and committed. Elsewhere in the lab repository there is work not
committed yet (Copier checks only the sub-project). Release v0.2.0 adds a dependency and a
README line; the sub-project is updated to it through Copier's command line.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest
from conftest import git, release, run, template_clone
from test_update import edit, locked, pins

from tasks.recovery import RESTORE

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("update-monorepo")]

ROOT_PYPROJECT = (
    '[project]\nname = "lab-tools"\nversion = "1.0"\ndependencies = ["numpy==1.26.4"]\n'
)
LAB_NOTES = "# Lab notes\n\nDraft, not committed yet.\n"


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    clone = template_clone(tmp_path_factory.mktemp("releases") / "template")
    release(clone, "v0.1.0")
    edit(
        clone / "extensions" / "requirements.py",
        '"none": ("numpy", "python-dotenv"),',
        '"none": ("numpy", "python-dotenv", "tqdm"),',
    )
    readme = clone / "template" / "README.md.jinja"
    readme.write_text(readme.read_text() + "\nAdded in v0.2.0.\n")
    release(clone, "v0.2.0")
    return clone


def copier(*args: str, cwd: Path) -> str:
    result = run([sys.executable, "-m", "copier", *args], cwd)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


@pytest.fixture(scope="module", params=[True, False], ids=["root-pyproject", "no-root-pyproject"])
def lab(request: pytest.FixtureRequest, releases: Path, tmp_path_factory: pytest.TempPathFactory):
    """(the lab repository, the sub-project, Copier's output of the copy and of the update)."""
    lab = tmp_path_factory.mktemp("lab")
    git("init", "-q", cwd=lab)
    (lab / "README.md").write_text("# Lab\n")
    if request.param:
        (lab / "pyproject.toml").write_text(ROOT_PYPROJECT)
    (lab / "notes.md").write_text("# Lab notes\n")
    git("add", "--all", cwd=lab)
    git("commit", "-qm", "Lab repository", cwd=lab)

    sub = lab / "projects" / "sub"
    answers = ["project_name=Sub Study", "author_name=Ada", "framework=none"]
    copied = copier(
        "copy", "--trust", "--defaults", "-r", "v0.1.0",
        *(f"--data={answer}" for answer in answers), str(releases), str(sub),
        cwd=lab,
    )  # fmt: skip
    assert run(["uv", "add", "rich"], sub).returncode == 0
    git("add", "projects/sub", cwd=lab)
    git("commit", "-qm", "Sub-study from copier-research v0.1.0", cwd=lab)
    (lab / "notes.md").write_text(LAB_NOTES)  # work in progress elsewhere in the repository
    updated = copier("update", "--trust", "--defaults", "-r", "v0.2.0", cwd=sub)
    return lab, sub, copied, updated


def test_copy_inside_a_repository_says_where_to_commit(lab) -> None:
    _, sub, copied, _ = lab
    assert "Not committed: the project is inside the repository" in copied
    assert f"cd {sub} && git add --all && git commit" in copied


def test_root_pyproject_is_untouched_in_the_files_and_the_index(lab) -> None:
    root, _, _, _ = lab
    if (root / "pyproject.toml").exists():
        assert (root / "pyproject.toml").read_text() == ROOT_PYPROJECT
        assert git("show", ":pyproject.toml", cwd=root) == ROOT_PYPROJECT
    else:
        assert git("ls-files", "pyproject.toml", cwd=root) == ""


def test_uncommitted_work_elsewhere_in_the_repository_is_untouched(lab) -> None:
    root, _, _, _ = lab
    assert (root / "notes.md").read_text() == LAB_NOTES
    assert git("status", "--porcelain", "--", ":!projects", cwd=root) == " M notes.md\n"


def test_nothing_is_left_staged(lab) -> None:
    root, _, _, _ = lab
    assert git("diff", "--cached", "--name-only", cwd=root) == ""


def test_sub_project_is_merged(lab) -> None:
    _, sub, _, _ = lab
    assert "Added in v0.2.0." in (sub / "README.md").read_text()
    names = set(pins(sub))
    assert {"rich", "tqdm", "numpy"} <= names


def test_sub_project_pins_equal_its_lock(lab) -> None:
    _, sub, _, _ = lab
    assert {name: locked(sub)[name] for name in pins(sub)} == pins(sub)
    assert run(["uv", "lock", "--check"], sub).returncode == 0


def test_sub_project_restore_command_is_scoped_to_its_folder(lab) -> None:
    _, sub, _, updated = lab
    assert f"in {sub}:\n        {RESTORE}" in updated
    assert "-- ." in RESTORE  # restore and clean only below the project's folder


def test_the_record_names_the_set_ups_pins(lab) -> None:
    _, sub, _, _ = lab
    record = tomllib.loads((sub / "pyproject.toml").read_text())["tool"]["setup-env"]["pinned"]
    assert "tqdm" in record and "rich" not in record


# Last in this file: it undoes the update the tests above look at.
def test_restore_command_undoes_the_sub_project_and_nothing_else(lab) -> None:
    root, sub, _, _ = lab
    restored = run(["bash", "-c", RESTORE], sub)
    assert restored.returncode == 0, restored.stderr
    assert git("status", "--porcelain", cwd=root) == " M notes.md\n"
    assert (root / "notes.md").read_text() == LAB_NOTES
