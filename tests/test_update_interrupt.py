"""An update stopped half-way (Ctrl-C) loses nothing: the project is as it was, or the message
names the one command that makes it so.

A researcher's project (generated from v0.1.0, then a README section, a module, a `.env`
line and `uv add rich`, committed) is updated to v0.2.0, which changes the README, adds a
dependency and carries a STAND-IN hook that stops the update at a chosen stage until it is
interrupted: before the template's migrations, and in the middle of the merge (the new
release written over the project, the user's changes not applied back yet). The third stage,
the re-lock, needs no hook: uv is interrupted while it locks. Each time SIGINT goes to the
whole process group, as a terminal's Ctrl-C does, and the user's files are compared byte
for byte with the committed project.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from conftest import default_ctrl_c, git, release, run, template_clone
from test_update import edit, user_copy

from tasks.recovery import RESTORE

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("update-interrupt")]

PACKAGE = "plain_numbers"
USER_README = "\n## Results\n\nThe fit converges on all 12 runs.\n"
USER_MODULE = "def energy(x: float) -> float:\n    return x * x\n"
USER_ENV = "DATA_DIR=/scratch/ada/numbers\n"
STALLED = "STAND-IN HOOK: waiting for Ctrl-C"
# A test-only hook, in the v0.2.0 release only: when $STALL_AT names the stage it is run
# at (and, for a task, it runs in the real project, not in one of Copier's temporary
# renders), it says so and waits to be interrupted.
STALL_SCRIPT = f"""\
import os, sys, time
from pathlib import Path
stage = sys.argv[1]
here = Path.cwd().resolve() == Path(os.environ.get("STALL_PROJECT", "/")).resolve()
if os.environ.get("STALL_AT") == stage and here:
    print(f"{STALLED} ({{stage}})", flush=True)
    time.sleep(300)
"""
STALL_MIGRATION = """\
_migrations:
  - command: ["{{ _copier_python }}", "{{ _copier_conf.src_path }}/tasks/stall.py", migration]
    when: "{{ _stage == 'before' }}"
"""
STALL_TASK = """\
_tasks:
  - command: ["{{ _copier_python }}", "{{ _copier_conf.src_path }}/tasks/stall.py", merge]
    when: "{{ _copier_operation == 'update' }}"
"""


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    clone = template_clone(tmp_path_factory.mktemp("releases") / "template")
    release(clone, "v0.1.0")
    edit(clone / "template" / "README.md.jinja", "## Layout\n", "## Project layout\n")
    edit(
        clone / "extensions" / "requirements.py",
        '"none": ("numpy", "python-dotenv"),',
        '"none": ("numpy", "python-dotenv", "tqdm"),',
    )
    (clone / "tasks" / "stall.py").write_text(STALL_SCRIPT)
    edit(clone / "copier.yml", "_migrations:\n", STALL_MIGRATION)
    edit(clone / "copier.yml", "_tasks:\n", STALL_TASK)
    release(clone, "v0.2.0")
    return clone


@pytest.fixture(scope="module")
def worked_on(releases: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project at v0.1.0 after some work, committed."""
    root = tmp_path_factory.mktemp("interrupt")
    answers = ["project_name=Plain Numbers", "author_name=Ada", "framework=none"]
    result = run(
        [sys.executable, "-m", "copier", "copy", "--trust", "--defaults", "-r", "v0.1.0",
         *(f"--data={answer}" for answer in answers), str(releases), str(root / "project")],
        root,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    project = root / "project"
    with (project / "README.md").open("a") as readme:
        readme.write(USER_README)
    (project / "src" / PACKAGE / "energy.py").write_text(USER_MODULE)
    with (project / ".env").open("a") as env:
        env.write(USER_ENV)
    assert run(["uv", "add", "rich"], project).returncode == 0
    git("add", "--all", cwd=project)
    git("commit", "-qm", "Results, energy, rich", cwd=project)
    return project


SKIPPED = {".git", ".venv", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}


def files(project: Path) -> dict[str, bytes]:
    """Every file of the project (ignored ones such as .env included), but git's and caches."""
    return {
        str(path.relative_to(project)): path.read_bytes()
        for path in sorted(project.rglob("*"))
        if path.is_file() and not SKIPPED & set(path.relative_to(project).parts)
    }


def interrupted_update(project: Path, stage: str, trigger: str) -> str:
    """Run `copier update` to v0.2.0; at the line `trigger`, Ctrl-C its process group."""
    env = os.environ | {"STALL_AT": stage, "STALL_PROJECT": str(project)}
    command = [sys.executable, "-m", "copier", "update", "--trust", "--defaults", "-r", "v0.2.0"]
    seen = []
    with subprocess.Popen(
        command,
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, as a terminal gives it
        preexec_fn=default_ctrl_c,
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            seen.append(line)
            if trigger in line:
                os.killpg(process.pid, signal.SIGINT)
                break
        seen.append(process.stdout.read())
        process.wait(timeout=60)
    output = "".join(seen)
    assert trigger in output, output
    return output


def test_stopped_before_the_migrations_the_project_is_untouched(
    worked_on: Path, tmp_path: Path
) -> None:
    project = user_copy(worked_on, tmp_path / "plain-numbers")
    before = files(project)
    output = interrupted_update(project, "migration", STALLED)
    assert "Execution stopped by user" in output, output
    assert files(project) == before
    assert git("status", "--porcelain", cwd=project) == ""
    assert RESTORE not in output  # nothing to restore: no command to confuse anyone


@pytest.fixture(scope="module", params=["merge", "relock"])
def stopped(
    request: pytest.FixtureRequest, worked_on: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, bytes], dict[str, bytes], str]:
    """Stopped half-way: (project, its files before the update, after the Ctrl-C, output)."""
    stage: str = request.param
    project = user_copy(worked_on, tmp_path_factory.mktemp(stage) / "plain-numbers")
    before = files(project)
    trigger = {"relock": "Resolving and locking dependencies"}.get(stage, STALLED)
    output = interrupted_update(project, stage, trigger)
    return project, before, files(project), output


def test_stopped_half_way_the_project_is_half_updated(stopped) -> None:
    _, before, after, output = stopped
    assert "Execution stopped by user" in output, output
    assert after != before  # what makes the restore command necessary


def test_stopped_half_way_the_last_words_are_the_restore_command(stopped) -> None:
    project, _, _, output = stopped
    assert output.rstrip().endswith(f"in {project}:\n        {RESTORE}"), output


def test_the_restore_command_brings_every_file_back_byte_for_byte(stopped) -> None:
    project, before, _, _ = stopped
    restored = run(["bash", "-c", RESTORE], project)
    assert restored.returncode == 0, restored.stderr
    assert files(project) == before
    assert git("status", "--porcelain", cwd=project) == ""
    assert git("diff", "--cached", "--name-only", cwd=project) == ""


def test_after_the_restore_the_update_runs_to_the_end(worked_on: Path, tmp_path: Path) -> None:
    project = user_copy(worked_on, tmp_path / "plain-numbers")
    interrupted_update(project, "merge", STALLED)
    assert run(["bash", "-c", RESTORE], project).returncode == 0
    result = run(
        [sys.executable, "-m", "copier", "update", "--trust", "--defaults", "-r", "v0.2.0"],
        project,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert USER_README in (project / "README.md").read_text()
    assert '"tqdm==' in (project / "pyproject.toml").read_text()


def test_an_update_run_again_after_an_interrupted_relock_relocks(
    worked_on: Path, tmp_path: Path
) -> None:
    """Stopped while re-locking, the half-updated project committed as it was (dependencies
    without pins, an empty record, uv.lock behind) and updated again: this update changes
    no dependency, but the project needs the re-lock, and gets it."""
    project = user_copy(worked_on, tmp_path / "plain-numbers")
    interrupted_update(project, "relock", "Resolving and locking dependencies")
    git("add", "--all", cwd=project)
    git("commit", "-qm", "Half-updated, committed anyway", cwd=project)
    assert run(["uv", "lock", "--check"], project).returncode != 0  # the state of the issue

    result = run(
        [sys.executable, "-m", "copier", "update", "--trust", "--defaults", "-r", "v0.2.0"],
        project,
    )

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Dependencies unchanged" not in output
    assert "have no pin yet (an earlier set-up stopped before pinning): re-locking" in output
    assert "Environment ready" in output
    assert run(["uv", "lock", "--check"], project).returncode == 0
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    pinned = pyproject["tool"]["setup-env"]["pinned"]
    assert {"numpy", "tqdm", "rich"} - set(pinned) == {"rich"}  # rich: `uv add`, yours
    dependencies = pyproject["project"]["dependencies"]
    assert all("==" in item for item in dependencies if not item.endswith("-kit"))  # kit/: no pin
