"""Changing answers with `copier update` loses nothing and brings what the new answers need.

A clone of this template gets releases v0.1.0 (this working tree) and v0.2.0, which changes
the module the template writes into the package (its __init__.py) and the README. A NumPy project
generated from v0.1.0, set up and committed, is then updated through Copier's command line:

- renaming the package (`-d package_name=numbers_lab`): every file of the old package
  folder arrives in the new one, byte for byte, the researcher's edits merged with the
  release's; imports follow; no old folder is left; the project's own mypy and tests pass;
- turning features on (`-d notebooks=true -d tracker=tensorboard -d container=docker
  -d devcontainer=true -d agents_md=true`): their files arrive, starter files included
  (the example notebook used to be left out, so the notebook test had nothing to run).

extensions/starters.py decides which starter files an update leaves out; the last tests
check that rule directly, for every feature (SLURM and the framework too).
"""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Any

import copier
import pytest
import yaml
from conftest import (
    BASE_ANSWERS,
    TEMPLATE,
    copier_cli,
    copy_numpy_project,
    git,
    release,
    run,
    template_clone,
)
from test_update import edit, user_copy

from extensions import starters
from tasks.conflicts import conflicted_files

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("update-features")]

OLD, NEW = "plain_numbers", "numbers_lab"
INIT = "template/src/{{package_name}}/__init__.py.jinja"
INIT_LINE = "# Settings from the project's .env apply to every script and notebook"
RELEASE_LINE = "# Settings come from .env (see .env.example); nothing here is secret.\n"
USER_FUNCTION = (
    '\n\ndef folding_data() -> str:\n    """Where our folding data lives."""\n'
    '    return "/scratch/ada"\n'
)
USER_MODULE = (
    '"""Our analysis."""\n\nfrom plain_numbers.regression import fit_least_squares\n\n'
    "__all__ = ['fit_least_squares']\n"
)
USER_DOCSTRING = '"""Our regression of folding energies."""'
STARTER_DOCSTRING = '"""Linear regression with NumPy: synthetic data and a least-squares fit."""'


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    clone = template_clone(tmp_path_factory.mktemp("releases") / "template")
    release(clone, "v0.1.0")
    edit(clone / INIT, INIT_LINE, f"{RELEASE_LINE}{INIT_LINE}")
    edit(clone / "template" / "README.md.jinja", "## Layout\n", "## Project layout\n")
    release(clone, "v0.2.0")
    return clone


@pytest.fixture(scope="module")
def generated(releases: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_numpy_project(releases, tmp_path_factory.mktemp("generated"))


def update(project: Path, *args: str) -> tuple[int, str]:
    return copier_cli("update", "--trust", "--defaults", *args, cwd=project)


# ── Renaming the package ───────────────────────────────────────────────────


@pytest.fixture(scope="module")
def renamed(
    generated: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, bytes], str]:
    """The project after a week of work, updated to v0.2.0 with the package renamed:
    (project, its package's files before, the update's output)."""
    project = user_copy(generated, tmp_path_factory.mktemp("rename") / "plain-numbers")
    package = project / "src" / OLD
    with (package / "__init__.py").open("a") as init:
        init.write(USER_FUNCTION)
    (package / "analysis.py").write_text(USER_MODULE)
    edit(package / "regression.py", STARTER_DOCSTRING, USER_DOCSTRING)
    git("add", "--all", cwd=project)
    git("commit", "-qm", "folding_data, an analysis, our regression", cwd=project)
    before = {p.name: p.read_bytes() for p in package.iterdir() if p.is_file()}
    code, output = update(project, "-r", "v0.2.0", "-d", f"package_name={NEW}")
    assert code == 0, output
    return project, before, output


def test_no_old_package_folder_is_left(renamed) -> None:
    project, _, _ = renamed
    assert not (project / "src" / OLD).exists()
    assert sorted(p.name for p in (project / "src").iterdir()) == [NEW]


def test_your_module_arrives_byte_for_byte_with_its_import_renamed(renamed) -> None:
    project, before, _ = renamed
    expected = before["analysis.py"].replace(OLD.encode(), NEW.encode())
    assert (project / "src" / NEW / "analysis.py").read_bytes() == expected


def test_your_edit_and_the_releases_both_arrive_in_a_template_module(
    renamed, releases: Path
) -> None:
    project, _, _ = renamed
    merged = (project / "src" / NEW / "__init__.py").read_text()
    assert f"{RELEASE_LINE}{INIT_LINE}" in merged
    assert merged.endswith(f"load_environment()\n{USER_FUNCTION}")


def test_every_file_of_the_old_package_arrives_byte_for_byte(renamed) -> None:
    """Your starter edit, and the template's modules (the release left them alone) with the
    new name where they name the package."""
    project, before, _ = renamed
    after = {p.name: p.read_bytes() for p in (project / "src" / NEW).iterdir() if p.is_file()}
    expected = {name: data.replace(OLD.encode(), NEW.encode()) for name, data in before.items()}
    del expected["__init__.py"], after["__init__.py"]  # merged with the release: above
    assert after == expected
    assert after["regression.py"].decode().startswith(USER_DOCSTRING)  # the starter, yours


def test_imports_follow_the_new_name_everywhere(renamed) -> None:
    project, _, output = renamed
    left = run(["git", "grep", "--untracked", "-l", "-w", OLD, "--", "*.py", "*.ipynb"], project)
    assert left.stdout == ""
    assert f"imports of {OLD} renamed in: " in output
    assert "scripts/train_example.py" in output and "tests/test_regression.py" in output


def test_nothing_is_left_in_conflict(renamed) -> None:
    project, _, _ = renamed
    assert conflicted_files(project) == []


def test_the_projects_own_type_check_and_tests_pass(renamed) -> None:
    project, _, _ = renamed
    mypy = run(["uv", "run", "--locked", "mypy"], project)
    assert mypy.returncode == 0, mypy.stdout + mypy.stderr  # no "Source file found twice"
    tests = run(["uv", "run", "--locked", "pytest", "-q", "-p", "no:cacheprovider"], project)
    assert tests.returncode == 0, tests.stdout + tests.stderr


# ── Turning features on ────────────────────────────────────────────────────

FEATURES = {
    "notebooks": "true",
    "tracker": "tensorboard",
    "container": "docker",
    "devcontainer": "true",
    "agents_md": "true",
}
FEATURE_FILES = [
    "notebooks/example.ipynb",
    "tests/test_notebooks.py",
    "kit/src/research_kit/tracking.py",
    "kit/tests/test_tracking.py",
    "Dockerfile",
    ".dockerignore",
    ".devcontainer/devcontainer.json",
    "AGENTS.md",
]


@pytest.fixture(scope="module")
def turned_on(generated: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    project = user_copy(generated, tmp_path_factory.mktemp("features") / "plain-numbers")
    assert not any((project / name).exists() for name in FEATURE_FILES)
    data = [option for key, value in FEATURES.items() for option in ("-d", f"{key}={value}")]
    code, output = update(project, "-r", "v0.1.0", *data)
    assert code == 0, output
    return project, output


def test_the_features_files_arrive(turned_on) -> None:
    project, _ = turned_on
    assert [name for name in FEATURE_FILES if not (project / name).is_file()] == []


def test_the_notebook_test_has_the_example_notebook_to_run(turned_on) -> None:
    """Collected in the updated environment (re-locked with the notebook tools); running the
    notebook itself is tested on generated projects (test_research_variants.py)."""
    project, _ = turned_on
    tests = run(
        ["uv", "run", "--locked", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
         "tests/test_notebooks.py", "kit/tests/test_tracking.py"],
        project,
    )  # fmt: skip
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "example.ipynb" in tests.stdout  # the parameter set is not empty
    assert "empty parameter set" not in tests.stdout + tests.stderr


# ── The rule, for every feature ────────────────────────────────────────────


def committed_project(folder: Path, answers: dict[str, Any], files: dict[str, str]) -> Path:
    """A git repository holding an answers file and `files`, committed."""
    folder.mkdir(parents=True)
    (folder / ".copier-answers.yml").write_text(yaml.safe_dump(answers))
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    git("init", "-q", cwd=folder)
    git("add", "--all", cwd=folder)
    git("commit", "-qm", "project", cwd=folder)
    return folder


def excluded(project: Path, path: str) -> bool:
    patterns = starters.starter_exclusions("update", project, Path(".copier-answers.yml"))
    return any(fnmatch.fnmatch(path, pattern) for pattern in patterns.splitlines())


RENDERS = {
    "numpy": {"framework": "none"},
    "numpy-features": {"framework": "none", **FEATURES, "tracker": "mlflow", "container": "both"},
    "torch": {},
    "torch-slurm": {"include_slurm": True},
}
# An update from the first render's answers to the second's turns features on.
TURNED_ON = {
    "notebooks-tracker-containers-devcontainer-agents": ("numpy", "numpy-features"),
    "slurm": ("torch", "torch-slurm"),
    "framework": ("numpy", "torch"),
}


@pytest.fixture(scope="module")
def renders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("renders")
    for name, answers in RENDERS.items():
        values = {k: v == "true" if v in ("true", "false") else v for k, v in answers.items()}
        copier.run_copy(
            str(TEMPLATE), str(folder / name), data={**BASE_ANSWERS, **values}, defaults=True,
            unsafe=True, vcs_ref="HEAD", quiet=True, skip_tasks=True,
        )  # fmt: skip
    return {name: folder / name for name in RENDERS}


def files_of(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("change", list(TURNED_ON))
def test_an_update_leaves_out_no_file_of_a_feature_it_turns_on(
    tmp_path: Path, renders: dict[str, Path], change: str
) -> None:
    before, after = (renders[name] for name in TURNED_ON[change])
    added = sorted(files_of(after) - files_of(before))
    assert added
    answers = yaml.safe_load((before / ".copier-answers.yml").read_text())
    project = committed_project(tmp_path / "project", answers, {})
    assert [path for path in added if excluded(project, path)] == []
    if change == "framework":
        assert "src/protein_folding/models.py" in added  # a starter file arrives too


def test_an_update_never_writes_over_a_file_of_yours_at_a_starters_place(tmp_path: Path) -> None:
    project = committed_project(
        tmp_path / "project", {"notebooks": False, "package_name": OLD},
        {"notebooks/example.ipynb": "{}\n"},
    )  # fmt: skip
    assert excluded(project, "notebooks/example.ipynb")


def test_a_starter_you_deleted_stays_deleted(tmp_path: Path) -> None:
    project = committed_project(
        tmp_path / "project", {"notebooks": True, "framework": "none", "package_name": OLD}, {}
    )
    assert excluded(project, "notebooks/example.ipynb")
    assert excluded(project, f"src/{OLD}/regression.py")
    assert not excluded(project, f"src/{OLD}/models.py")  # framework none: never written


def test_outside_the_project_every_starter_is_left_out(tmp_path: Path) -> None:
    """Copier's temporary renders of an update: no committed answers to go by."""
    for path in starters.STARTERS:
        assert excluded(tmp_path, path.replace("*", OLD))


def test_every_starter_has_its_template_file() -> None:
    assert all(starters.starter_sources().values())
