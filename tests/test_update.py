"""`copier update` brings a template release in and takes nothing of the researcher's out.

A clone of this template gets three releases: v0.1.0 (this working tree); v0.2.0, which
changes a README heading, adds a dependency (tqdm), and renames the question
`extra_dependencies` to `extra_requirements` with a migration; and v0.2.1, which also drops
numpy. A project generated from v0.1.0 with a lab preset is edited like a researcher would
(code, README, `.env`, `uv add` of two packages, a deliberate pin, a range, a marker) and
updated through Copier's command line. Copies of it are saved with CRLF line endings, or
lose their record of the set-up's pins, before updating.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from conftest import git, release, run, template_clone
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tasks.conflicts import conflicted_files
from tasks.recovery import RESTORE

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("update")]

PACKAGE = "protein_folding"
LAB_PRESET = {"license": "BSD-3-Clause", "python_version": "3.11"}
MIGRATION = """\
_migrations:
  - version: v0.2.0
    when: "{{ _stage == 'before' }}"
    command:
      - "{{ _copier_python }}"
      - "{{ _copier_conf.src_path }}/tasks"
      - rename_answer
      - "{{ _copier_conf.answers_file }}"
      - extra_dependencies
      - extra_requirements
"""


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{path} no longer holds {old!r}: adapt this test's v0.2.0"
    path.write_text(text.replace(old, new))


STARTER_DOCSTRING = '"""Linear regression with NumPy: synthetic data and a least-squares fit."""'
USER_DOCSTRING = '"""Our regression of folding energies."""'


def make_v020(clone: Path) -> None:
    """The changes of release v0.2.0: a template file, a dependency, a renamed question."""
    edit(clone / "template" / "README.md.jinja", "## Layout\n", "## Project layout\n")
    starter = next(clone.glob("template/src/*/*regression.py*.jinja"))
    edit(starter, STARTER_DOCSTRING, '"""Least squares with NumPy, on synthetic data."""')
    edit(
        clone / "extensions" / "requirements.py",
        '"none": ("numpy", "python-dotenv"),',
        '"none": ("numpy", "python-dotenv", "tqdm"),',
    )
    sources = [clone / "copier.yml", *clone.glob("extensions/*.py"), *clone.rglob("template/**/*")]
    for path in sources:
        if path.is_file() and "extra_dependencies" in path.read_text():
            edit(path, "extra_dependencies", "extra_requirements")
    edit(clone / "copier.yml", "_migrations:\n", MIGRATION)


def make_v021(clone: Path) -> None:
    """v0.2.0, and numpy is no longer a base dependency."""
    edit(
        clone / "extensions" / "requirements.py",
        '"none": ("numpy", "python-dotenv", "tqdm"),',
        '"none": ("python-dotenv", "tqdm"),',
    )


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    clone = template_clone(tmp_path_factory.mktemp("releases") / "template")
    release(clone, "v0.1.0")
    make_v020(clone)
    release(clone, "v0.2.0")
    make_v021(clone)
    release(clone, "v0.2.1")
    return clone


def copier(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Copier's own command line, as a researcher types it."""
    return run([sys.executable, "-m", "copier", *args], cwd)


@pytest.fixture(scope="module")
def generated(releases: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project generated from v0.1.0 with a lab preset, set up and committed."""
    root = tmp_path_factory.mktemp("generated")
    preset = root / "lab.yml"
    preset.write_text(yaml.safe_dump(LAB_PRESET))
    answers = {
        "project_name": "Protein Folding",
        "author_name": "Ada Lovelace",
        "framework": "none",
        "extra_dependencies": "attrs",
    }
    result = copier(
        "copy", "--trust", "--defaults", "--vcs-ref", "v0.1.0", "--data-file", str(preset),
        *(f"--data={key}={value}" for key, value in answers.items()),
        str(releases), str(root / "project"),
        cwd=root,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Environment ready" in result.stdout, result.stdout + result.stderr
    return root / "project"


def test_copy_makes_the_first_commit(generated: Path) -> None:
    assert git("log", "--format=%s", cwd=generated) == "Generated from copier-research v0.1.0\n"
    assert git("status", "--porcelain", cwd=generated) == ""


def user_copy(generated: Path, destination: Path) -> Path:
    """The researcher's own clone of the generated project, with its machine-local .env."""
    git("clone", "-q", str(generated), str(destination), cwd=generated.parent)
    (destination / ".env").write_bytes((generated / ".env").read_bytes())
    return destination


def update(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return copier("update", "--trust", "--defaults", *args, cwd=project)


def requirements(project: Path) -> list[str]:
    data = tomllib.loads((project / "pyproject.toml").read_text())
    return data["project"]["dependencies"] + data["dependency-groups"]["dev"]


def pins(project: Path) -> dict[str, str]:
    """Direct dependencies pinned `==`: canonical name -> the version it is pinned to."""
    result = {}
    for requirement in map(Requirement, requirements(project)):
        if str(requirement.specifier).startswith("=="):
            result[canonicalize_name(requirement.name)] = str(requirement.specifier)[2:]
    return result


def record(project: Path) -> dict[str, str]:
    """The set-up's record of its own pins."""
    return tomllib.loads((project / "pyproject.toml").read_text())["tool"]["setup-env"]["pinned"]


def locked(project: Path) -> dict[str, str]:
    lock = tomllib.loads((project / "uv.lock").read_text())
    return {canonicalize_name(p["name"]): p["version"] for p in lock["package"]}


# ── A clean update: everything of the user's stays, the release arrives ────


USER_MODULE = "def fold(sequence: str) -> str:\n    return sequence[::-1]\n"
USER_README_SECTION = "\n## Results\n\nFolding works on 3 of 4 proteins.\n"
USER_ENV_LINE = "DATA_DIR=/scratch/ada/folding\n"
USER_PIN = "einops==0.7.0"  # deliberately old; the template does not touch it
USER_RANGE = "pytest>=8,<10"
USER_MARKER = "sys_platform != 'win32'"


def add_marker(project: Path, name: str, marker: str) -> None:
    pyproject = project / "pyproject.toml"
    pinned = next(item for item in requirements(project) if item.startswith(f"{name}=="))
    edit(pyproject, f'"{pinned}"', f'"{pinned}; {marker}"')


@pytest.fixture(scope="module")
def before(generated: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The researcher's project at v0.1.0 after a week of work, committed."""
    project = user_copy(generated, tmp_path_factory.mktemp("user") / "protein-folding")
    (project / "src" / PACKAGE / "analysis.py").write_text(USER_MODULE)
    regression = project / "src" / PACKAGE / "regression.py"
    edit(regression, STARTER_DOCSTRING, USER_DOCSTRING)
    with (project / "README.md").open("a") as readme:
        readme.write(USER_README_SECTION)
    with (project / ".env").open("a") as env:
        env.write(USER_ENV_LINE)
    # rich sorts next to the release's tqdm: a line merge would conflict there.
    for added in (["rich"], [USER_PIN]):
        result = run(["uv", "add", *added], project)
        assert result.returncode == 0, result.stderr
    edit(project / "pyproject.toml", f'"pytest=={pins(project)["pytest"]}"', f'"{USER_RANGE}"')
    add_marker(project, "numpy", USER_MARKER)
    assert run(["uv", "lock"], project).returncode == 0
    git("add", "--all", cwd=project)
    git("commit", "-qm", "Analysis, results, rich, an old einops, a range, a marker", cwd=project)
    return project


@pytest.fixture(scope="module")
def snapshot(before: Path) -> dict[str, object]:
    return {
        "pins": pins(before),
        "env": (before / ".env").read_bytes(),
        "requirements": requirements(before),
    }


@pytest.fixture(scope="module")
def updated(before: Path, snapshot: dict[str, object]) -> tuple[Path, str]:
    """The same project after `copier update --defaults` to v0.2.0, and Copier's output."""
    result = update(before, "--vcs-ref", "v0.2.0")
    assert result.returncode == 0, result.stdout + result.stderr
    return before, result.stdout + result.stderr


def test_user_module_is_kept(updated: tuple[Path, str]) -> None:
    project, _ = updated
    assert (project / "src" / PACKAGE / "analysis.py").read_text() == USER_MODULE


def test_starter_code_is_left_to_the_user(updated: tuple[Path, str]) -> None:
    project, _ = updated
    regression = (project / "src" / PACKAGE / "regression.py").read_text()
    assert regression.startswith(USER_DOCSTRING)


def test_user_readme_section_is_kept(updated: tuple[Path, str]) -> None:
    project, _ = updated
    assert USER_README_SECTION in (project / "README.md").read_text()


def test_template_change_arrives(updated: tuple[Path, str]) -> None:
    project, _ = updated
    readme = (project / "README.md").read_text()
    assert "## Project layout\n" in readme
    assert "## Layout\n" not in readme


def test_env_file_is_untouched(updated: tuple[Path, str], snapshot: dict[str, object]) -> None:
    project, _ = updated
    assert (project / ".env").read_bytes() == snapshot["env"]


def test_added_dependency_stays_at_its_pin(
    updated: tuple[Path, str], snapshot: dict[str, object]
) -> None:
    project, _ = updated
    assert pins(project)["rich"] == snapshot["pins"]["rich"]  # type: ignore[index]


def test_deliberate_pin_is_kept(updated: tuple[Path, str]) -> None:
    project, _ = updated
    assert USER_PIN in requirements(project)


def test_range_is_kept_as_written(updated: tuple[Path, str]) -> None:
    project, _ = updated
    assert USER_RANGE in requirements(project)


def test_marker_is_kept(updated: tuple[Path, str], snapshot: dict[str, object]) -> None:
    project, _ = updated
    numpy = f"numpy=={snapshot['pins']['numpy']}; {USER_MARKER}"  # type: ignore[index]
    assert numpy in requirements(project)


def test_every_requirement_of_before_is_unchanged(
    updated: tuple[Path, str], snapshot: dict[str, object]
) -> None:
    project, _ = updated
    assert [r for r in requirements(project) if not r.startswith("tqdm")] == snapshot[
        "requirements"
    ]


def test_new_template_dependency_arrives_pinned_to_the_lock(updated: tuple[Path, str]) -> None:
    project, _ = updated
    assert pins(project)["tqdm"] == locked(project)["tqdm"]


def test_every_pin_equals_the_lock(updated: tuple[Path, str]) -> None:
    project, _ = updated
    assert {name: locked(project)[name] for name in pins(project)} == pins(project)


def test_record_lists_only_the_set_ups_pins(updated: tuple[Path, str]) -> None:
    project, _ = updated
    yours = {"rich", "einops"}  # uv add, the deliberate pin (pytest is a range: no pin)
    assert set(record(project)) == set(pins(project)) - yours
    assert {"attrs", "numpy", "tqdm"} <= set(record(project))


def test_lock_is_current(updated: tuple[Path, str]) -> None:
    project, _ = updated
    result = run(["uv", "lock", "--check"], project)
    assert result.returncode == 0, result.stderr


def test_migration_renames_the_answer(updated: tuple[Path, str]) -> None:
    project, output = updated
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["extra_requirements"] == "attrs"
    assert "extra_dependencies" not in answers
    assert "attrs" in record(project)  # the renamed answer still renders its dependency
    assert "Migration: answer 'extra_dependencies' is now called 'extra_requirements'" in output


def test_lab_preset_answers_survive_the_update(updated: tuple[Path, str]) -> None:
    project, _ = updated
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert {key: answers[key] for key in LAB_PRESET} == LAB_PRESET
    assert answers["_commit"] == "v0.2.0"


def test_no_conflict_and_no_reject_is_left(updated: tuple[Path, str]) -> None:
    project, _ = updated
    assert conflicted_files(project) == []
    assert not list(project.rglob("*.rej"))


def test_git_index_holds_nothing_staged(updated: tuple[Path, str]) -> None:
    project, _ = updated
    assert git("diff", "--cached", "--name-only", cwd=project) == ""


def test_project_tests_pass_after_the_update(updated: tuple[Path, str]) -> None:
    project, _ = updated
    result = run(["uv", "run", "--locked", "pytest", "-q"], project)
    assert result.returncode == 0, result.stdout + result.stderr


# ── A conflict: the user changed a line the release changes too ───────────


@pytest.fixture(scope="module")
def conflicted(generated: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, int]:
    """A README heading and a deliberate numpy pin of the user's; v0.2.1 changes both."""
    project = user_copy(generated, tmp_path_factory.mktemp("conflict") / "protein-folding")
    readme = project / "README.md"
    readme.write_text(readme.read_text().replace("## Layout\n", "## Where things are\n"))
    assert run(["uv", "add", "numpy==2.3.0"], project).returncode == 0
    git("commit", "-qam", "Rename a README section; numpy 2.3.0 for the paper", cwd=project)
    lock = (project / "uv.lock").read_text()
    result = update(project, "--vcs-ref", "v0.2.1")
    assert (project / "uv.lock").read_text() == lock, "re-locked on top of a conflict"
    return project, result.stdout + result.stderr, result.returncode


def test_conflict_is_marked_inline(conflicted: tuple[Path, str, int]) -> None:
    project, _, _ = conflicted
    readme = (project / "README.md").read_text()
    assert "<<<<<<< before updating\n## Where things are\n" in readme
    assert "## Project layout\n>>>>>>> after updating\n" in readme


def test_deliberate_pin_conflicts_when_the_release_changes_that_dependency(
    conflicted: tuple[Path, str, int],
) -> None:
    project, _, _ = conflicted
    pyproject = (project / "pyproject.toml").read_text()
    ours_theirs = '<<<<<<< before updating\n    "numpy==2.3.0",\n=======\n>>>>>>> after updating\n'
    assert ours_theirs in pyproject
    assert pyproject.count("<<<<<<<") == 1  # the rest of the file merged


def test_the_rest_of_pyproject_merges_around_the_conflict(
    conflicted: tuple[Path, str, int],
) -> None:
    project, _, _ = conflicted
    assert '    "tqdm",\n' in (project / "pyproject.toml").read_text()


def test_conflict_fails_the_update_and_names_the_files(conflicted: tuple[Path, str, int]) -> None:
    project, output, returncode = conflicted
    assert returncode != 0
    assert (
        "The update conflicts with your changes in:\n    README.md\n    pyproject.toml\n" in output
    )
    assert (
        "Dependencies you and the new release both changed:\n        project.dependencies: numpy"
        in output
    )
    assert "uv run scripts/setup_env.py --from lock" in output
    assert conflicted_files(project) == ["README.md", "pyproject.toml"]


def test_conflict_message_names_the_command_that_gives_the_update_up(
    conflicted: tuple[Path, str, int],
) -> None:
    project, output, _ = conflicted
    assert f"in {project}:\n        {RESTORE}" in output


def test_conflict_stops_before_relocking(conflicted: tuple[Path, str, int]) -> None:
    _, output, _ = conflicted
    assert "Re-locking" not in output


# ── Defaults stay behaviour-preserving ─────────────────────────────────────


def test_update_with_defaults_changes_nothing_in_an_unchanged_project(
    generated: Path, tmp_path: Path
) -> None:
    project = user_copy(generated, tmp_path / "protein-folding")
    result = update(project, "--vcs-ref", "v0.1.0")
    assert result.returncode == 0, result.stdout + result.stderr
    assert git("status", "--porcelain", cwd=project) == ""


def test_update_that_changes_no_dependency_skips_the_relock(
    generated: Path, tmp_path: Path
) -> None:
    project = user_copy(generated, tmp_path / "protein-folding")
    lock = (project / "uv.lock").read_bytes()
    result = update(project, "--vcs-ref", "v0.1.0")
    assert "Dependencies unchanged by the update" in result.stdout, result.stdout
    assert "Re-locking" not in result.stdout
    assert (project / "uv.lock").read_bytes() == lock


def test_switching_to_pixi_drops_uv_lock_and_sets_up_with_pixi(
    generated: Path, tmp_path: Path
) -> None:
    project = user_copy(generated, tmp_path / "protein-folding")
    result = update(project, "--vcs-ref", "v0.1.0", "--data", "env_manager=pixi")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "pixi" in tomllib.loads((project / "pyproject.toml").read_text())["tool"]
    assert not (project / "uv.lock").exists()
    # The same set-up script, which now sees [tool.pixi]: pixi is not installed here.
    assert "pixi is not on PATH" in result.stdout, result.stdout


# ── Line endings: a CRLF file stays CRLF ───────────────────────────────────


def with_crlf(path: Path) -> None:
    path.write_bytes(path.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))


@pytest.fixture(scope="module")
def windows_endings(generated: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project with pyproject.toml and the answers file saved by a Windows editor."""
    project = user_copy(generated, tmp_path_factory.mktemp("crlf") / "protein-folding")
    for name in ("pyproject.toml", ".copier-answers.yml"):
        with_crlf(project / name)
    git("commit", "-qam", "Saved on Windows", cwd=project)
    return project


def test_an_update_that_changes_no_dependency_keeps_crlf_line_endings(
    windows_endings: Path, tmp_path: Path
) -> None:
    project = user_copy(windows_endings, tmp_path / "protein-folding")
    pyproject = (project / "pyproject.toml").read_bytes()
    result = update(project, "--vcs-ref", "v0.1.0")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Dependencies unchanged by the update" in result.stdout
    assert (project / "pyproject.toml").read_bytes() == pyproject
    assert git("status", "--porcelain", cwd=project) == ""  # the answers file too


def test_an_update_that_relocks_keeps_crlf_line_endings(
    windows_endings: Path, tmp_path: Path
) -> None:
    project = user_copy(windows_endings, tmp_path / "protein-folding")
    result = update(project, "--vcs-ref", "v0.2.0")
    assert result.returncode == 0, result.stdout + result.stderr
    for name in ("pyproject.toml", ".copier-answers.yml"):
        data = (project / name).read_bytes()
        assert data.count(b"\r\n") == data.count(b"\n"), name
    changed = git("diff", "--numstat", "--", "pyproject.toml", cwd=project).split()
    assert int(changed[0]) <= 4, changed  # tqdm and its record line, not every line
    assert '"tqdm==' in (project / "pyproject.toml").read_text()


# ── A project without a record of the set-up's pins ────────────────────────


@pytest.fixture(scope="module")
def without_record(generated: Path, tmp_path_factory: pytest.TempPathFactory):
    """The record deleted (as the docs say for a project set up before it existed) and numpy
    pinned back to 2.3.0 on purpose; then the update to v0.2.1, which drops numpy:
    (project, output, exit status)."""
    project = user_copy(generated, tmp_path_factory.mktemp("no-record") / "protein-folding")
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text()
    text = text[: text.index("\n[tool.setup-env.pinned]")] + "\n"
    pyproject.write_text(text.replace(f'"numpy=={pins(project)["numpy"]}"', '"numpy==2.3.0"'))
    assert run(["uv", "lock"], project).returncode == 0
    git("commit", "-qam", "numpy 2.3.0 for the paper", cwd=project)
    result = update(project, "--vcs-ref", "v0.2.1")
    return project, result.stdout + result.stderr, result.returncode


def test_without_a_record_a_pin_the_release_changes_is_a_conflict(without_record) -> None:
    project, output, returncode = without_record
    assert returncode != 0, output
    pyproject = (project / "pyproject.toml").read_text()
    assert '<<<<<<< before updating\n    "numpy==2.3.0",\n=======\n>>>>>>> after updating\n' in (
        pyproject
    )
    assert "project.dependencies: numpy" in output
    assert "Re-locking" not in output


def test_without_a_record_the_pins_the_release_leaves_alone_stay(without_record) -> None:
    project, _, _ = without_record
    pyproject = (project / "pyproject.toml").read_text()
    outside = pyproject.split("<<<<<<<")[0] + pyproject.split(">>>>>>> after updating")[1]
    assert '"python-dotenv==' in outside and '"pytest==' in outside
    assert '    "tqdm",\n' in outside  # the release's addition, to be pinned by the re-lock
