"""The pieces `copier update` runs in a project: pins hidden from the merge, answers renamed,
conflicts found. The whole update is tested in test_update.py."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import TEMPLATE, git

# Copier runs tasks/*.py as scripts, which import their siblings by name.
sys.path.insert(0, str(TEMPLATE / "tasks"))
from conflicts import conflicted_files
from post_update import remove_stale_locks
from pre_update import unpin_pyproject, unpinned
from rename_answer import rename_answer


@pytest.mark.parametrize(
    ("requirement", "expected"),
    [
        pytest.param("numpy==2.4.6", "numpy", id="pin"),
        pytest.param("Torch[opt]==2.13.0", "Torch[opt]", id="extras"),
        pytest.param(
            "torch==2.13.0; sys_platform == 'linux'", 'torch; sys_platform == "linux"', id="marker"
        ),
        pytest.param("numpy>=2", "numpy>=2", id="floor-kept"),
        pytest.param("numpy==2.*", "numpy==2.*", id="wildcard-kept"),
        pytest.param("numpy==2.4.6,!=2.4.5", "numpy==2.4.6,!=2.4.5", id="two-specifiers-kept"),
        pytest.param(
            "pkg @ https://example.org/pkg-1.0.whl",
            "pkg @ https://example.org/pkg-1.0.whl",
            id="url-kept",
        ),
    ],
)
def test_unpinned_drops_only_one_exact_pin(requirement: str, expected: str) -> None:
    assert unpinned(requirement) == expected


PYPROJECT = """\
[project]
name = "demo"
# Pinned to uv.lock.
dependencies = [
    "numpy==2.4.6",
    "einops>=0.8",
]

[project.optional-dependencies]
plots = ['matplotlib==3.10.0']

[dependency-groups]
dev = [
    "pytest==9.2.0",
    { include-group = "lint" },
]
lint = ["ruff==0.17.5"]

[tool.demo]
note = "numpy==2.4.6 stays pinned here: not a dependency"
"""


def test_unpin_pyproject_changes_the_dependency_strings_and_nothing_else() -> None:
    expected = (
        PYPROJECT.replace('"numpy==2.4.6",', '"numpy",')
        .replace("'matplotlib==3.10.0'", "'matplotlib'")
        .replace('"pytest==9.2.0"', '"pytest"')
        .replace('"ruff==0.17.5"', '"ruff"')
    )
    assert unpin_pyproject(PYPROJECT) == expected


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        pytest.param({"old": "a", "x": 1}, {"new": "a", "x": 1}, id="renamed"),
        pytest.param({"old": "a", "new": "b"}, {"new": "b"}, id="new-answer-wins"),
        pytest.param({"x": 1}, {"x": 1}, id="nothing-to-rename"),
    ],
)
def test_rename_answer(answers: dict, expected: dict) -> None:
    assert rename_answer(answers, "old", "new") == expected


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    git("init", "-q", cwd=tmp_path)
    (tmp_path / "clean.txt").write_text("nothing to see\n")
    (tmp_path / "marked.txt").write_text(
        "a\n<<<<<<< before updating\nmine\n=======\ntheirs\n>>>>>>> after updating\n"
    )
    (tmp_path / "quoted.md").write_text("Search for `<<<<<<< before updating` to find them.\n")
    git("add", "--all", cwd=tmp_path)
    git("commit", "-qm", "state after an update", cwd=tmp_path)
    (tmp_path / "pyproject.toml.rej").write_text("a rejected hunk\n")
    return tmp_path


def test_conflicted_files_lists_marked_files_and_rejects(repository: Path) -> None:
    assert conflicted_files(repository) == ["marked.txt", "pyproject.toml.rej"]


@pytest.mark.parametrize(
    ("env_manager", "stale", "kept"),
    [("uv", "pixi.lock", "uv.lock"), ("pixi", "uv.lock", "pixi.lock")],
)
def test_switching_environment_manager_removes_the_other_lock(
    tmp_path: Path, env_manager: str, stale: str, kept: str
) -> None:
    for name in (stale, kept):
        (tmp_path / name).write_text("# a lock\n")
    remove_stale_locks(tmp_path, env_manager)
    assert not (tmp_path / stale).exists()
    assert (tmp_path / kept).exists()
