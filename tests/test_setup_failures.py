"""Set-up that fails never costs the user the project, and says how to resume.

Copier deletes a fresh render when a task exits non-zero (cleanup_on_error), and runs tasks
again inside its temporary renders during `copier update`. These tests pin both traps down.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path

import copier
import pytest
import tomlkit
from conftest import BASE_ANSWERS, TEMPLATE, git, render, run, set_environment

pytestmark = pytest.mark.slow

UNREACHABLE_MIRROR = "http://127.0.0.1:9/whl"  # the discard port: nothing listens there


def test_unreachable_mirror_keeps_project_and_names_the_failed_step(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    project = render(tmp_path / "project", torch_index_url=UNREACHABLE_MIRROR)
    output = "".join(capfd.readouterr())
    assert (project / "pyproject.toml").is_file()
    assert (project / "src" / "protein_folding" / "__init__.py").is_file()
    assert "Set-up failed at step 'lock'" in output
    assert "127.0.0.1:9" in output  # uv's own error, naming the unreachable index
    assert "uv run scripts/setup_env.py --from lock" in output


def test_resume_command_finishes_the_setup(
    tmp_path: Path, local_torch_index: Path, real_torch_line: str
) -> None:
    project = render(
        tmp_path / "project", torch_index_url=UNREACHABLE_MIRROR, torch_version=real_torch_line
    )
    # The user points the index at a reachable mirror, then runs the printed command.
    pyproject = tomlkit.parse((project / "pyproject.toml").read_text())
    pyproject["tool"]["uv"]["index"][0]["url"] = str(local_torch_index / "cpu")
    pyproject["tool"]["uv"]["index"][0]["format"] = "flat"
    (project / "pyproject.toml").write_text(tomlkit.dumps(pyproject))
    result = run(["uv", "run", "scripts/setup_env.py", "--from", "lock"], project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Environment ready" in result.stdout
    assert '"torch==2.13.0"' in (project / "pyproject.toml").read_text()


def test_missing_uv_keeps_project_and_explains_how_to_install(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    saved_path = os.environ["PATH"]
    without_uv = [d for d in saved_path.split(os.pathsep) if not (Path(d) / "uv").exists()]
    set_environment(PATH=os.pathsep.join(without_uv))
    assert shutil.which("uv") is None
    try:
        project = render(tmp_path / "project", framework="none")
    finally:
        set_environment(PATH=saved_path)
    output = "".join(capfd.readouterr())
    assert (project / "pyproject.toml").is_file()
    assert "'uv' is not on PATH" in output
    assert "pip install uv" in output
    assert f"cd {project} && uv run scripts/setup_env.py" in output


def test_update_runs_no_setup_task(tagged_template: Path, tmp_path: Path, capfd) -> None:
    project = tmp_path / "project"
    copier.run_copy(
        str(tagged_template),
        str(project),
        data={"project_name": "Plain", "framework": "none", "python_version": "3.11"},
        defaults=True,
        unsafe=True,
        vcs_ref="v0.1.0",
        quiet=True,
    )
    assert "Environment ready" in "".join(capfd.readouterr())
    assert git("status", "--porcelain", cwd=project) == ""  # the copy made the first commit
    lock_before = (project / "uv.lock").read_text()

    copier.run_update(
        str(project), defaults=True, unsafe=True, overwrite=True, vcs_ref="v0.2.0", quiet=True
    )

    output = "".join(capfd.readouterr())
    assert "Setting up the environment" not in output
    assert "Added in v0.2.0." in (project / "README.md").read_text()
    assert (project / "uv.lock").read_text() == lock_before


def without_uv_on_path() -> str:
    """PATH without any folder holding uv; returns the PATH to restore."""
    saved = os.environ["PATH"]
    folders = [d for d in saved.split(os.pathsep) if not (Path(d) / "uv").exists()]
    set_environment(PATH=os.pathsep.join(folders))
    return saved


def test_uv_that_cannot_start_keeps_project_and_says_so(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """A uv on PATH that is no program for this machine (a broken download)."""
    broken = tmp_path / "bin" / "uv"
    broken.parent.mkdir()
    broken.write_bytes(b"\x7fELF\x02\x01\x01" + bytes(64))  # truncated: exec fails
    broken.chmod(0o755)
    saved = without_uv_on_path()
    set_environment(PATH=f"{broken.parent}{os.pathsep}{os.environ['PATH']}")
    try:
        project = render(tmp_path / "project", framework="none")
    finally:
        set_environment(PATH=saved)
    output = "".join(capfd.readouterr())
    assert (project / "pyproject.toml").is_file()
    assert f"the uv at {broken} cannot start" in output
    assert "Next:" not in output


def test_resume_command_is_quoted_and_runs_as_printed(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """A project path with a space: the printed command works when pasted into a shell."""
    saved = without_uv_on_path()
    try:
        project = render(tmp_path / "my project", framework="none")
    finally:
        set_environment(PATH=saved)
    output = "".join(capfd.readouterr())
    printed = next(line.strip() for line in output.splitlines() if line.strip().startswith("cd "))
    assert printed == f"cd {shlex.quote(str(project))} && uv run scripts/setup_env.py"

    result = run(["bash", "-c", printed], tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "==> Environment ready" in result.stdout


def test_failed_setup_never_says_what_to_run_next(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    render(tmp_path / "project", torch_index_url=UNREACHABLE_MIRROR)
    output = "".join(capfd.readouterr())
    assert "Set-up failed at step 'lock'" in output
    assert "Next:" not in output and "uv run pytest" not in output.split("failed at step")[1]


def test_finished_setup_says_what_to_run_next(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "project"
    copier.run_copy(
        str(TEMPLATE), str(project), data={**BASE_ANSWERS, "framework": "none"},
        defaults=True, unsafe=True, vcs_ref="HEAD",
    )  # fmt: skip
    output = capfd.readouterr()
    next_step = f"cd {shlex.quote(str(project))} && uv run pytest"
    assert output.out.endswith(f"==> Next: {next_step}\n\n")
    assert output.err.rstrip().endswith(f"Protein Folding is in {project}.")  # copier's message
    result = run(["bash", "-c", next_step], tmp_path)  # as the user pastes it
    assert result.returncode == 0, result.stdout + result.stderr


def locked_project(tmp_path: Path) -> Path:
    project = render(tmp_path / "project", skip_tasks=True, framework="none")
    assert run(["uv", "lock"], project).returncode == 0
    return project


def test_damaged_lock_is_named_with_its_remedy(tmp_path: Path) -> None:
    project = locked_project(tmp_path)
    lock = project / "uv.lock"
    lock.write_text(lock.read_text()[:1500])  # cut short, as by a full disk or a bad merge

    result = run(["uv", "run", "scripts/setup_env.py", "--from", "lock"], project)

    assert result.returncode == 1
    assert "Failed to parse `uv.lock`" in result.stderr
    assert "Restore it with 'git checkout uv.lock'" in result.stderr
    assert "Check the network" not in result.stderr


def test_a_folder_uv_cannot_build_is_named_with_what_to_look_at(tmp_path: Path) -> None:
    """kit/ broken by an edit (its module-name points nowhere), in a folder whose name uv
    writes %-quoted in its file:// URL: the sync step names the folder, not the network."""
    project = render(tmp_path / "lab project", skip_tasks=True, framework="none")
    assert run(["uv", "lock"], project).returncode == 0
    kit = project / "kit" / "pyproject.toml"
    kit.write_text(kit.read_text().replace('module-name = "research_kit"', 'module-name = "kti"'))

    result = run(["uv", "run", "scripts/setup_env.py", "--from", "sync"], project)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "Set-up failed at step 'sync'" in result.stderr
    assert (
        "What to try: uv could not build protein-folding-kit from the folder kit: the cause "
        "above names what is wrong there (often its pyproject.toml)"
    ) in " ".join(result.stderr.split())
    assert "Check the network" not in result.stderr


def test_setup_is_not_ready_when_a_check_tool_cannot_start(tmp_path: Path) -> None:
    project = locked_project(tmp_path)
    assert run(["uv", "run", "scripts/setup_env.py"], project).returncode == 0
    (project / ".venv" / "bin" / "mypy").unlink()  # a broken install of the type checker
    # Without it, `uv run mypy` would run the next mypy on PATH (the template's own).
    path = [p for p in os.environ["PATH"].split(os.pathsep) if not (Path(p) / "mypy").exists()]
    elsewhere = {**os.environ, "PATH": os.pathsep.join(path)}

    result = run(["uv", "run", "scripts/setup_env.py", "--from", "check"], project, env=elsewhere)

    assert result.returncode == 1
    assert "Set-up failed at step 'check'" in result.stderr and "mypy" in result.stderr
    assert "Environment ready" not in result.stdout


# ── A pyproject.toml the set-up cannot work on: one line, exit status 2, nothing changed ──


def with_record(project: Path, record: str) -> None:
    """The project's pyproject.toml with `record` as the set-up's record of pins."""
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + f"\n{record}\n")


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        (
            '[tool.setup-env.pinned]\nnumpy = "banana"',
            '!!  pyproject.toml: [tool.setup-env.pinned] numpy = "banana" is not a version.',
        ),
        (
            '[tool.setup-env]\npinned = "all of them"',
            '!!  pyproject.toml: [tool.setup-env.pinned] is text ("all of them"), not a table',
        ),
    ],
)
def test_a_record_that_is_not_one_stops_the_set_up_and_upgrade(
    tmp_path: Path, record: str, problem: str
) -> None:
    project = locked_project(tmp_path)
    with_record(project, record)
    before = (project / "pyproject.toml").read_bytes()
    for command in (["--from", "pin"], ["upgrade"], ["upgrade", "numpy"]):
        result = run(["uv", "run", "scripts/setup_env.py", *command], project)
        assert result.returncode == 2, result.stdout + result.stderr
        lines = result.stderr.splitlines()  # after uv's own lines (installing the script's)
        first, hint = lines[next(i for i, line in enumerate(lines) if line.startswith("!!")) :][:2]
        assert first.startswith(problem), result.stderr
        assert hint.startswith("    What to try: The set-up writes this table")
        assert "Traceback" not in result.stderr
    assert (project / "pyproject.toml").read_bytes() == before


def test_a_record_that_is_not_one_refuses_the_update_in_one_line(tmp_path: Path) -> None:
    """`copier update` asks tasks/dependency_merge.py (which reads the record as the set-up
    does) to hide the pins: a broken record is named, not a traceback cut mid-path."""
    sys.path.insert(0, str(TEMPLATE / "tasks"))
    from pre_update import UpdateRefused, call_helper

    pyproject = '[project]\nname = "demo"\ndependencies = ["numpy==2.3.0"]\n\n'
    pyproject += '[tool.setup-env]\npinned = "all of them"\n'
    with pytest.raises(UpdateRefused) as refused:
        call_helper({"action": "hide", "pyproject": pyproject})
    message = str(refused.value)
    assert "\n" not in message and "Traceback" not in message
    assert '[tool.setup-env.pinned] is text ("all of them"), not a table' in message


def test_a_step_after_lock_without_uv_lock_names_the_lock_step(tmp_path: Path) -> None:
    project = render(tmp_path / "project", skip_tasks=True, framework="none")
    for step in ("pin", "verify", "sync"):
        result = run(["uv", "run", "scripts/setup_env.py", "--from", step], project)
        assert result.returncode == 1, result.stdout + result.stderr
        assert f"Set-up failed at step '{step}': there is no uv.lock yet" in result.stderr
        assert "What to try: Run the set-up from the 'lock' step." in result.stderr
        assert "Then resume with: uv run scripts/setup_env.py --from lock" in result.stderr


def test_update_with_a_uv_that_cannot_start_names_the_step_and_how_to_resume(
    tagged_template: Path, tmp_path: Path
) -> None:
    """The release adds a dependency, so the update re-locks; the uv on PATH is a script
    whose interpreter is gone (an uninstalled Python): no traceback, the resume command."""
    project = tmp_path / "project"
    copier.run_copy(
        str(tagged_template), str(project),
        data={"project_name": "Plain", "framework": "none", "python_version": "3.11"},
        defaults=True, unsafe=True, vcs_ref="v0.1.0", quiet=True,
    )  # fmt: skip
    broken = tmp_path / "bin" / "uv"
    broken.parent.mkdir()
    broken.write_text("#!/nonexistent/python3\n")
    broken.chmod(0o755)
    folders = [d for d in os.environ["PATH"].split(os.pathsep) if not (Path(d) / "uv").exists()]
    env = os.environ | {"PATH": os.pathsep.join([str(broken.parent), *folders])}

    result = run(
        [sys.executable, "-m", "copier", "update", "--trust", "--defaults", "-r", "v0.3.0"],
        project,
        env=env,
    )

    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Traceback" not in output and "FileNotFoundError" not in output, output
    assert f"Re-locking skipped: the uv at {broken} cannot start" in output, output
    after = output.split("Re-locking skipped")[1]
    assert "Then run:\n    uv run scripts/setup_env.py --from lock\n" in after
    assert "Added in v0.2.0." in (project / "README.md").read_text()  # the update is merged


def test_a_python_this_machine_lacks_stops_the_lock_naming_it_and_both_ways_out(
    tmp_path: Path,
) -> None:
    project = render(tmp_path / "project", skip_tasks=True, framework="none", python_version="3.13")
    # Only Python 3.11 in sight (pyenv's shims show the selected versions), no downloads.
    older = [v for v in os.environ.get("PYENV_VERSION", "").split(":") if v.startswith("3.11")]
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "PYENV_VERSION": ":".join(older)}
    if run(["uv", "python", "find", "3.13"], project, env=env).returncode == 0:
        pytest.skip("this machine shows uv a Python 3.13 that the test cannot hide")
    # The set-up itself on the Python there is, as the copy starts it (tasks/post_copy.py:
    # `uv run --python <Copier's Python>`); uv then needs the project's for the lock.
    result = run(["uv", "run", "--python", "3.11", "scripts/setup_env.py"], project, env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Set-up failed at step 'lock'" in result.stderr
    assert "uv needs Python 3.13 (.python-version) and finds none on this machine" in (
        result.stderr
    )
    assert "Check the network" not in result.stderr  # the step's own hint does not fit
    assert "uv run scripts/setup_env.py --from lock" in result.stderr


def test_until_a_step_before_from_is_refused_in_one_line(tmp_path: Path) -> None:
    project = render(tmp_path / "project", skip_tasks=True, framework="none")
    result = run(
        ["uv", "run", "scripts/setup_env.py", "--from", "sync", "--until", "lock"], project
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "--until lock comes before --from sync" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (project / "uv.lock").exists()  # nothing ran
