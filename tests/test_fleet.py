"""`fleet.py` reports on, updates and upgrades many generated projects, never a dirty one.

Three projects of one template clone with releases v0.1.0 and v0.2.0: one behind (v0.1.0),
one current (v0.2.0), and one behind with uncommitted work; for `upgrade`, a fourth whose
numpy pin was set back to an old release. `uv run fleet.py` runs as a lab maintainer runs
it, from the template's folder.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import copier
import pytest
from conftest import TEMPLATE, git, release, run, template_clone

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("fleet")]

NAMES = ("behind", "current", "dirty")


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("fleet")
    clone = template_clone(root / "template")
    release(clone, "v0.1.0")
    readme = clone / "template" / "README.md.jinja"
    readme.write_text(readme.read_text() + "\nAdded in v0.2.0.\n")
    release(clone, "v0.2.0")

    projects: dict[str, Path] = {}
    for name, version in (("behind", "v0.1.0"), ("current", "v0.2.0")):
        project = root / name
        copier_copy(clone, project, version)  # which makes the first commit
        projects[name] = project
    dirty = root / "dirty"
    git("clone", "-q", str(projects["behind"]), str(dirty), cwd=root)
    (dirty / ".env").write_bytes((projects["behind"] / ".env").read_bytes())
    with (dirty / "README.md").open("a") as readme_file:
        readme_file.write("\nWork in progress, not committed.\n")
    projects["dirty"] = dirty
    return projects


def copier_copy(template: Path, project: Path, version: str) -> None:
    copier.run_copy(
        str(template),
        str(project),
        data={"project_name": project.name, "author_name": "Ada", "framework": "none"},
        defaults=True,
        unsafe=True,
        vcs_ref=version,
        quiet=True,
    )


def fleet_command(*args: str) -> tuple[int, dict[str, Any], str]:
    result = run(["uv", "run", "--quiet", "fleet.py", *args], TEMPLATE)
    try:
        data = json.loads(result.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"fleet.py printed no JSON:\n{result.stdout}\n{result.stderr}")
    return result.returncode, data, result.stderr


def by_name(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {Path(report["project"]).name: report for report in data["projects"]}


@pytest.fixture(scope="module")
def status(fleet: dict[str, Path]) -> tuple[int, dict[str, dict[str, Any]], str]:
    code, data, progress = fleet_command("status", "--json", *(str(fleet[n]) for n in NAMES))
    return code, by_name(data), progress


@pytest.fixture(scope="module")
def update(
    fleet: dict[str, Path], status: tuple[int, dict[str, dict[str, Any]], str]
) -> tuple[int, dict[str, dict[str, Any]], str]:
    """`fleet update`, run after `fleet status` has looked at the projects."""
    code, data, progress = fleet_command("update", "--json", *(str(fleet[n]) for n in NAMES))
    return code, by_name(data), progress


def test_status_compares_each_version_with_the_latest(status) -> None:
    _, reports, _ = status
    assert {n: (r["version"], r["latest"]) for n, r in reports.items()} == {
        "behind": ("0.1.0", "0.2.0"),
        "current": ("0.2.0", "0.2.0"),
        "dirty": ("0.1.0", "0.2.0"),
    }


def test_status_flags_only_the_dirty_tree(status) -> None:
    _, reports, _ = status
    assert {n: r["dirty"] for n, r in reports.items()} == {
        "behind": False,
        "current": False,
        "dirty": True,
    }


def test_status_checks_the_lock_and_runs_the_smoke_test(status) -> None:
    _, reports, _ = status
    assert {r["lock"] for r in reports.values()} == {"fresh"}
    assert {r["smoke"] for r in reports.values()} == {"cpu"}


def test_status_shows_progress_per_project(status) -> None:
    _, _, progress = status
    for number, name in enumerate(NAMES, start=1):
        assert f"[{number}/3] " in progress and f"{name}: status" in progress


def test_update_brings_the_project_behind_to_the_latest_version(update, fleet) -> None:
    _, reports, _ = update
    behind = reports["behind"]
    assert (behind["result"], behind["version"]) == ("updated", "0.2.0")
    assert (behind["lock"], behind["tests"]) == ("fresh", "passed")
    assert "Added in v0.2.0." in (fleet["behind"] / "README.md").read_text()


def test_update_leaves_the_current_project_alone(update) -> None:
    _, reports, _ = update
    assert reports["current"]["result"] == "up to date"


def test_update_never_touches_a_dirty_project(update, fleet) -> None:
    _, reports, _ = update
    assert reports["dirty"]["result"] == "skipped: uncommitted changes"
    assert "Added in v0.2.0." not in (fleet["dirty"] / "README.md").read_text()
    assert "_commit: v0.1.0" in (fleet["dirty"] / ".copier-answers.yml").read_text()


def test_update_succeeds_when_only_a_dirty_project_was_skipped(update) -> None:
    code, _, _ = update
    assert code == 0


def test_update_without_json_ends_with_a_table(fleet: dict[str, Path]) -> None:
    result = run(["uv", "run", "--quiet", "fleet.py", "update", str(fleet["current"])], TEMPLATE)
    assert result.returncode == 0, result.stderr
    header, row = result.stdout.splitlines()
    assert header.split() == [
        "project",
        "version",
        "result",
        "conflicts",
        "lock",
        "tests",
        "seconds",
    ]
    assert row.split()[:4] == [str(fleet["current"]), "0.2.0", "up", "to"]


def test_status_names_a_folder_that_is_no_project_and_fails(tmp_path: Path) -> None:
    code, data, _ = fleet_command("status", "--json", "--no-smoke", str(tmp_path))
    assert code == 1
    assert data["projects"][0]["result"] == "failed: not a folder in a git repository"


# ── upgrade ────────────────────────────────────────────────────────────────

OLD_NUMPY = "2.2.0"


@pytest.fixture(scope="module")
def old(fleet: dict[str, Path]) -> Path:
    """A clean project whose set-up pinned numpy at an old release (pin, record and lock)."""
    project = fleet["current"].parent / "old"
    git("clone", "-q", str(fleet["current"]), str(project), cwd=project.parent)
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text()
    current = tomllib.loads(text)["tool"]["setup-env"]["pinned"]["numpy"]
    text = text.replace(f'"numpy=={current}"', f'"numpy=={OLD_NUMPY}"')
    pyproject.write_text(text.replace(f'numpy = "{current}"', f'numpy = "{OLD_NUMPY}"'))
    assert run(["uv", "lock"], project).returncode == 0
    git("commit", "-qam", "numpy as it was last year", cwd=project)
    return project


@pytest.fixture(scope="module")
def upgrade(
    fleet: dict[str, Path], old: Path, update: tuple[int, dict[str, dict[str, Any]], str]
) -> tuple[int, dict[str, dict[str, Any]], str]:
    """`fleet upgrade --commit` of the old project and the dirty one (after `fleet update`)."""
    projects = (str(old), str(fleet["dirty"]))
    code, data, progress = fleet_command("upgrade", "--commit", "--json", *projects)
    return code, by_name(data), progress


def test_upgrade_moves_the_old_project_and_reports_what_moved(upgrade, old: Path) -> None:
    code, reports, _ = upgrade
    report = reports["old"]
    assert code == 0
    assert report["result"] == "upgraded"
    new = tomllib.loads((old / "uv.lock").read_text())
    locked = {p["name"]: p["version"] for p in new["package"]}
    assert report["moved"]["numpy"] == [OLD_NUMPY, locked["numpy"]]
    assert locked["numpy"] != OLD_NUMPY
    assert report["lock"] == "fresh"


def test_upgrade_commits_what_moved_when_asked(upgrade, old: Path) -> None:
    _, reports, _ = upgrade
    numpy = " -> ".join(reports["old"]["moved"]["numpy"])
    subject = git("log", "-1", "--format=%s", cwd=old)
    assert subject.startswith("Upgrade dependencies: ") and f"numpy {numpy}" in subject
    assert git("status", "--porcelain", cwd=old) == ""


def test_upgrade_never_touches_a_dirty_project(upgrade, fleet: dict[str, Path]) -> None:
    _, reports, _ = upgrade
    assert reports["dirty"]["result"] == "skipped: uncommitted changes"
    assert reports["dirty"]["moved"] == {}


def test_upgrade_ends_with_a_table(upgrade, old: Path) -> None:
    result = run(["uv", "run", "--quiet", "fleet.py", "upgrade", str(old)], TEMPLATE)
    assert result.returncode == 0, result.stderr
    header, row = result.stdout.splitlines()
    assert header.split() == ["project", "result", "moved", "lock", "seconds"]
    assert row.split()[:3] == [str(old), "nothing", "to"]  # the first upgrade moved it already


def unreadable_project(root: Path, name: str, pyproject: str) -> Path:
    """A committed project whose pyproject.toml cannot be read as it should."""
    project = root / name
    (project / "scripts").mkdir(parents=True)
    (project / "scripts" / "setup_env.py").write_text("raise SystemExit('never run here')\n")
    (project / "pyproject.toml").write_text(pyproject)
    (project / "uv.lock").write_text("version = 1\n")
    git("init", "-q", cwd=project)
    git("add", "--all", cwd=project)
    git("commit", "-qm", name, cwd=project)
    return project


def test_upgrade_reports_an_unreadable_project_and_goes_on(tmp_path: Path) -> None:
    bad_toml = unreadable_project(tmp_path, "bad-toml", '[project\nname = "x"\n')
    bad_requirement = unreadable_project(
        tmp_path, "bad-requirement", '[project]\nname = "x"\ndependencies = ["numpy>>1"]\n'
    )
    later = unreadable_project(tmp_path, "later", '[project]\nname = "x"\n')
    (later / "notes.txt").write_text("uncommitted\n")
    projects = [str(p) for p in (bad_toml, bad_requirement, later)]

    code, data, progress = fleet_command("upgrade", "--json", *projects)

    reports = by_name(data)
    assert code == 1
    assert reports["bad-toml"]["result"].startswith("failed: pyproject.toml does not parse (")
    assert reports["bad-requirement"]["result"].startswith(
        "failed: pyproject.toml holds a requirement that is not valid ("
    )
    assert "numpy>>1" in reports["bad-requirement"]["result"]
    assert reports["later"]["result"] == "skipped: uncommitted changes"  # it still ran
    assert "Traceback" not in progress
    table = run(["uv", "run", "--quiet", "fleet.py", "upgrade", *projects], TEMPLATE)
    assert table.returncode == 1 and "Traceback" not in table.stderr
    assert [line.split()[0] for line in table.stdout.splitlines()] == ["project", *projects]
