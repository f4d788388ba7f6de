"""The update to the release that moved the template's machinery into kit/ keeps every edit.

Releases of a template clone: v0.1.0, the template before kit/ (its machinery in
src/<package>/, its tests of it in tests/); v0.2.0, this working tree. A NumPy project with a
package name of its own and a tracker, generated from v0.1.0 and set up, whose researcher
edited runs.py and tests/test_runs.py, added a module and a script importing the machinery,
is updated through Copier's command line: the edits arrive in kit/ (tasks/kit_layout.py),
the researcher's imports read research_kit, nothing is left behind in src/<package>/, and
the project's own checks pass. A conflicting edit is merged with markers and stops the
update like Copier's own conflicts (unit test, on a small repository).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import copier_cli, from_old_release, git, run
from hypothesis import given
from hypothesis import strategies as st

from tasks import kit_layout, post_update
from tasks.conflicts import conflicted_files

pytestmark = pytest.mark.xdist_group("update-kit-layout")
SLOW = pytest.mark.slow  # the tests of the generated project: it installs an environment

# The last release with the machinery in src/<package>/ (the commit before kit/).
BEFORE = "c4f8302"
PACKAGE = "lab_numbers"
ANSWERS = (
    "project_name=Plain Numbers",
    "author_name=Ada",
    "framework=none",
    f"package_name={PACKAGE}",
    "tracker=tensorboard",
)
RUNS_LINE = '    line = " ".join(text.split())\n'
OUR_RUNS_LINE = '    line = " ".join(text.split()).strip()  # the lab\'s rule\n'
OUR_TEST = "\n\ndef test_the_lab_keeps_its_test() -> None:\n    assert callable(runs.start_run)\n"
ANALYSIS = f'''"""Our analysis of the runs."""

from __future__ import annotations

from pathlib import Path

from {PACKAGE}.runs import RunConfig

from .config import data_dir


class AnalysisConfig(RunConfig):
    """Settings of an analysis."""

    folds: int = 5


def results_folder() -> Path:
    """Where analyses go: "from .config import data_dir" stays in this string."""
    return data_dir() / "analysis"
'''
# Rewritten to research_kit (a third-party import for ruff: one block, sorted).
ANALYSIS_AFTER = ANALYSIS.replace(
    f"from {PACKAGE}.runs import RunConfig\n\nfrom .config import data_dir\n",
    "from research_kit.config import data_dir\nfrom research_kit.runs import RunConfig\n",
)
SCRIPT = f'''"""Print a run's manifest: uv run scripts/analyse.py RUN_FOLDER."""

import sys
from pathlib import Path

from {PACKAGE}.provenance import read_manifest

if __name__ == "__main__":
    print(read_manifest(Path(sys.argv[1])))  # {PACKAGE}.provenance reads it
'''
SCRIPT_AFTER = SCRIPT.replace(
    f"from {PACKAGE}.provenance import", "from research_kit.provenance import"
)


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return from_old_release(tmp_path_factory.mktemp("releases"), BEFORE)


@pytest.fixture(scope="module")
def updated(releases: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """(the project after the update, the update's output)."""
    root = tmp_path_factory.mktemp("generated")
    code, output = copier_cli(
        "copy", "--trust", "--defaults", "-r", "v0.1.0",
        *(f"--data={answer}" for answer in ANSWERS), str(releases), str(root / "project"),
        cwd=root,
    )  # fmt: skip
    assert code == 0 and "Environment ready" in output, output
    project = root / "project"
    package = project / "src" / PACKAGE
    runs = package / "runs.py"
    assert RUNS_LINE in runs.read_text()
    runs.write_text(runs.read_text().replace(RUNS_LINE, OUR_RUNS_LINE))
    (package / "analysis.py").write_text(ANALYSIS)
    (project / "scripts" / "analyse.py").write_text(SCRIPT)
    with (project / "tests" / "test_runs.py").open("a") as tests:
        tests.write(OUR_TEST)
    for command in (["ruff", "check", "."], ["ruff", "format", "--check", "."], ["mypy"]):
        checked = run(["uv", "run", "--locked", *command], project)  # the edits are clean
        assert checked.returncode == 0, checked.stdout + checked.stderr
    git("add", "--all", cwd=project)
    git("commit", "-qm", "the lab's changes", cwd=project)
    code, output = copier_cli("update", "--trust", "--defaults", "-r", "v0.2.0", cwd=project)
    assert code == 0, output
    return project, output


@SLOW
def test_the_edited_runs_module_is_merged_into_kit(updated: tuple[Path, str]) -> None:
    project, output = updated
    merged = (project / "kit/src/research_kit/runs.py").read_text()
    assert OUR_RUNS_LINE in merged
    assert "<<<<<<<" not in merged
    assert not (project / "src" / PACKAGE / "runs.py").exists()
    assert f"src/{PACKAGE}/runs.py are merged into kit/src/research_kit/runs.py" in output


@SLOW
def test_the_added_module_has_only_its_imports_rewritten(updated: tuple[Path, str]) -> None:
    project, output = updated
    assert (project / "src" / PACKAGE / "analysis.py").read_text() == ANALYSIS_AFTER
    assert f"        src/{PACKAGE}/analysis.py\n" in output


@SLOW
def test_the_script_has_only_its_import_rewritten(updated: tuple[Path, str]) -> None:
    project, output = updated
    assert (project / "scripts" / "analyse.py").read_text() == SCRIPT_AFTER
    assert "        scripts/analyse.py\n" in output


@SLOW
def test_the_edited_test_is_merged_into_kit_tests(updated: tuple[Path, str]) -> None:
    project, output = updated
    merged = (project / "kit/tests/test_runs.py").read_text()
    assert merged.endswith(OUR_TEST)
    assert "from research_kit import runs\n" in merged
    assert not (project / "tests" / "test_runs.py").exists()
    assert "tests/test_runs.py are merged into kit/tests/test_runs.py" in output


@SLOW
def test_nothing_of_the_machinery_is_left_in_the_package(updated: tuple[Path, str]) -> None:
    project, output = updated
    package = project / "src" / PACKAGE
    left = {p.relative_to(package).as_posix() for p in package.rglob("*") if p.is_file()}
    left = {name for name in left if "__pycache__" not in name}
    assert left == {"__init__.py", "regression.py", "py.typed", "analysis.py"}
    assert not (package / "smoke").exists()
    assert not (project / "tests" / "test_config.py").exists()  # unedited: gone, not kept
    assert (project / "kit/src/research_kit/config.py").is_file()
    assert (project / "kit/src/research_kit/tracking.py").is_file()
    assert f"src/{PACKAGE}/config.py" not in output  # nothing to say about unedited files


@SLOW
def test_the_projects_own_checks_pass(updated: tuple[Path, str]) -> None:
    project, _ = updated
    for command in (
        ["ruff", "check", "."],
        ["ruff", "format", "--check", "."],
        ["mypy"],
        ["pytest", "-q", "-p", "no:cacheprovider"],
        ["scripts/smoke_test.py"],
    ):
        result = run(["uv", "run", "--locked", *command], project)
        assert result.returncode == 0, " ".join(command) + result.stdout + result.stderr


# ── A conflicting edit (the task's function on a small repository) ─────────

BASE_RUNS = "from .config import data_dir\n\n\ndef limit() -> int:\n    return 200\n"


@pytest.fixture
def conflicting(tmp_path: Path) -> tuple[Path, kit_layout.Migration]:
    """A project whose researcher and release both changed limit() in runs.py."""
    project, last_release = tmp_path / "project", tmp_path / "last-release"
    (project / "src/lab").mkdir(parents=True)
    (project / "src/lab/runs.py").write_text(BASE_RUNS.replace("200", "300"))
    (project / "pyproject.toml").write_text('[project]\nname = "lab"\n')
    git("init", "-q", cwd=project)
    git("add", "--all", cwd=project)
    git("-c", "user.name=Ada", "-c", "user.email=ada@lab", "commit", "-qm", "ours", cwd=project)
    (last_release / "src/lab").mkdir(parents=True)
    (last_release / "src/lab/runs.py").write_text(BASE_RUNS)
    (project / "src/lab/runs.py").unlink()  # the update deleted it and wrote kit/
    (project / "kit/src/research_kit").mkdir(parents=True)
    kit_runs = BASE_RUNS.replace("200", "250")
    (project / "kit/src/research_kit/runs.py").write_text(kit_runs)
    (project / "kit/src/research_kit/config.py").write_text("")
    migration = kit_layout.merge_edits(project, "lab", ["src/lab/runs.py"], last_release)
    return project, migration


def test_a_conflicting_edit_leaves_markers_and_is_named(
    conflicting: tuple[Path, kit_layout.Migration], capsys: pytest.CaptureFixture[str]
) -> None:
    project, migration = conflicting
    assert migration.conflicts == ["kit/src/research_kit/runs.py"]
    merged = (project / "kit/src/research_kit/runs.py").read_text()
    assert "<<<<<<< before updating\n    return 300\n" in merged
    assert "    return 250\n>>>>>>> after updating\n" in merged
    kit_layout.finish(project, "lab", migration)
    assert "        kit/src/research_kit/runs.py\n" in capsys.readouterr().out


def test_a_conflicting_edit_stops_the_update(
    conflicting: tuple[Path, kit_layout.Migration], capsys: pytest.CaptureFixture[str]
) -> None:
    project, _ = conflicting
    assert "kit/src/research_kit/runs.py" in conflicted_files(project)
    assert post_update.settle(project, "uv") == 1  # nothing re-locked
    out = capsys.readouterr().out
    assert "The update conflicts with your changes in:\n    kit/src/research_kit/runs.py" in out


@pytest.mark.parametrize(
    ("path", "before", "after"),
    [
        ("scripts/a.py", "from lab.runs import X\n", "from research_kit.runs import X\n"),
        ("scripts/a.py", "from lab import runs as r\n", "from research_kit import runs as r\n"),
        (
            "scripts/a.py",
            "from lab import models, runs\n",
            "from lab import models\nfrom research_kit import runs\n",
        ),
        ("scripts/a.py", "from lab.models import MLP\n", "from lab.models import MLP\n"),
        (
            "scripts/a.py",
            "from lab.smoke.facts import f\n",
            "from research_kit.smoke.facts import f\n",
        ),
        (
            "scripts/a.py",
            "import lab.runs\n\nlab.runs.go()  # lab.runs\ns = 'lab.runs'\n",
            "import research_kit.runs\n\nresearch_kit.runs.go()  # lab.runs\ns = 'lab.runs'\n",
        ),
        ("src/lab/a.py", "from .runs import X\n", "from research_kit.runs import X\n"),
        ("src/lab/a.py", "from . import runs\n", "from research_kit import runs\n"),
        ("src/lab/a.py", "from .models import M\n", "from .models import M\n"),
        ("src/lab/sub/a.py", "from ..runs import X\n", "from research_kit.runs import X\n"),
        ("src/lab/sub/a.py", "from .runs import X\n", "from .runs import X\n"),
        ("scripts/a.py", "from .runs import X\n", "from .runs import X\n"),
        (
            "notebooks/a.ipynb",
            '["from lab.runs import X\\n", "from lab import runs\\n", "from lab import models"]',
            '["from research_kit.runs import X\\n", "from research_kit import runs\\n", '
            '"from lab import models"]',
        ),
    ],
)
def test_imports_of_moved_modules_are_rewritten(path: str, before: str, after: str) -> None:
    moved = frozenset({"runs", "config", "smoke"})
    assert kit_layout.rewritten(path, before.encode(), "lab", moved).decode() == after


MODULES = st.sampled_from(["runs", "config", "smoke.facts", "models", "training"])
IMPORTS = st.one_of(
    st.builds("from lab.{} import name".format, MODULES),
    st.builds("from lab import {}".format, st.sampled_from(["runs", "models", "config as c"])),
    st.builds("import lab.{}".format, MODULES),
    st.builds("from .{} import name".format, MODULES),
    st.builds("from other.{} import name".format, MODULES),
    st.just("x = 'lab.runs'  # lab.runs"),
)


@given(st.lists(IMPORTS, max_size=8))
def test_import_rewriting_is_line_by_line_and_idempotent(statements: list[str]) -> None:
    """Each line is rewritten alone, as a module that is moved or not says; strings and
    comments never; twice is once."""
    moved = frozenset({"runs", "config", "smoke"})
    source = "".join(f"{statement}\n" for statement in statements)
    once = kit_layout.rewritten("src/lab/a.py", source.encode(), "lab", moved).decode()
    for before, after in zip(source.splitlines(), once.splitlines(), strict=True):
        words = before.split()
        named = words[3] if words[:2] == ["from", "lab"] else words[1]
        module = named.lstrip(".").removeprefix("lab.").split(".")[0]
        if before.startswith(("from lab", "import lab", "from .")) and module in moved:
            assert "research_kit" in after and "lab" not in after.split(" import ")[0], after
        else:
            assert after == before
    assert kit_layout.rewritten("src/lab/a.py", once.encode(), "lab", moved).decode() == once
