"""`uv run scripts/setup_env.py upgrade` moves an old project to the newest versions allowed.

A generated project (framework none, Python 3.11) is made deliberately old: the set-up's pins
of numpy and ruff set back (numpy==2.2.0, ruff==0.9.0, record and lock alike), a range of the
user's locked low in it (rich>=13,<14 at 13.0.0) and a pin of the user's (tqdm==4.66.0). What
"newest" means comes from PyPI through `uv pip compile`, one package at a time, not from the
upgrade's own resolution.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import tomllib
from pathlib import Path

import pytest
from conftest import default_ctrl_c, git, render, run
from test_update import edit, locked, pins

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("upgrade")]

OLD = {"numpy": "2.2.0", "ruff": "0.9.0"}
USER_RANGE = "rich>=13,<14"
USER_PIN = "tqdm==4.66.0"
UPGRADE = ["uv", "run", "scripts/setup_env.py", "upgrade"]


def newest(requirement: str) -> str:
    """The newest version of one requirement for Python 3.11, asked of PyPI."""
    result = run(
        ["uv", "pip", "compile", "-", "--python-version", "3.11", "--no-deps", "--no-header"],
        Path.cwd(),
        input=requirement,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().split("==")[1]


def record(project: Path) -> dict[str, str]:
    return tomllib.loads((project / "pyproject.toml").read_text())["tool"]["setup-env"]["pinned"]


def requirements(project: Path) -> list[str]:
    return tomllib.loads((project / "pyproject.toml").read_text())["project"]["dependencies"]


@pytest.fixture(scope="module")
def old_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = render(
        tmp_path_factory.mktemp("upgrade") / "old-numbers",
        project_name="Old Numbers",
        framework="none",
        python_version="3.11",
    )
    pyproject = project / "pyproject.toml"
    for name, version in OLD.items():
        current = pins(project)[name]
        edit(pyproject, f'"{name}=={current}"', f'"{name}=={version}"')
        edit(pyproject, f'{name} = "{current}"', f'{name} = "{version}"')
    edit(pyproject, '"numpy==2.2.0",', '"numpy==2.2.0",\n    "rich==13.0.0",\n    "tqdm==4.66.0",')
    assert run(["uv", "lock"], project).returncode == 0
    edit(pyproject, '"rich==13.0.0"', f'"{USER_RANGE}"')  # locked low within the range
    for command in (["uv", "lock"], ["uv", "sync", "--locked"]):
        assert run(command, project).returncode == 0
    git("add", "--all", cwd=project)
    git("commit", "-qm", "An old project", cwd=project)
    return project


@pytest.fixture(scope="module")
def upgraded(old_project: Path) -> tuple[Path, str]:
    result = run(UPGRADE, old_project)
    assert result.returncode == 0, result.stdout + result.stderr
    return old_project, result.stdout


def test_the_set_ups_pins_move_to_the_newest_versions(upgraded: tuple[Path, str]) -> None:
    project, _ = upgraded
    assert {name: pins(project)[name] for name in OLD} == {name: newest(name) for name in OLD}


def test_a_range_of_yours_moves_within_it_and_stays_as_written(upgraded: tuple[Path, str]) -> None:
    project, _ = upgraded
    assert USER_RANGE in requirements(project)
    assert locked(project)["rich"] == newest(USER_RANGE)


def test_a_pin_of_yours_holds(upgraded: tuple[Path, str]) -> None:
    project, output = upgraded
    assert USER_PIN in requirements(project)
    assert f"held by your pin ({USER_PIN})" in output


def test_pins_and_record_equal_the_new_lock(upgraded: tuple[Path, str]) -> None:
    project, _ = upgraded
    assert {name: locked(project)[name] for name in pins(project)} == pins(project)
    assert record(project) == {name: pins(project)[name] for name in record(project)}
    assert run(["uv", "lock", "--check"], project).returncode == 0


def test_what_moved_is_printed_old_to_new(upgraded: tuple[Path, str]) -> None:
    project, output = upgraded
    assert re.search(rf"^    numpy +2\.2\.0 → {pins(project)['numpy']}$", output, re.M), output
    assert re.search(rf"^    rich +13\.0\.0 → {locked(project)['rich']}$", output, re.M), output


def test_the_environment_is_installed_and_checked(upgraded: tuple[Path, str]) -> None:
    project, output = upgraded
    assert "VERDICT: USABLE" in output
    script = "import numpy; print(numpy.__version__)"
    version = run(["uv", "run", "--locked", "python", "-c", script], project)
    assert version.stdout.strip() == pins(project)["numpy"]


def test_naming_a_package_you_pinned_moves_it_and_hands_it_to_the_set_up(
    upgraded: tuple[Path, str],
) -> None:
    project, _ = upgraded
    result = run([*UPGRADE, "tqdm"], project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert pins(project)["tqdm"] == newest("tqdm") == record(project)["tqdm"]
    assert re.search(rf"^    tqdm +4\.66\.0 → {newest('tqdm')}$", result.stdout, re.M)


def test_a_failed_upgrade_puts_pyproject_and_lock_back(old_project: Path, tmp_path: Path) -> None:
    project = tmp_path / "copy"
    git("clone", "-q", str(old_project), str(project), cwd=tmp_path)
    before = {name: (project / name).read_bytes() for name in ("pyproject.toml", "uv.lock")}
    # The set-up's own uv commands read uv's settings from .env (uv run itself does not).
    (project / ".env").write_text("UV_DEFAULT_INDEX=http://127.0.0.1:9/simple\n")
    result = run(UPGRADE, project)
    assert result.returncode == 1
    assert "Set-up failed at step 'upgrade'" in result.stderr
    assert "Upgrade undone" in result.stderr
    assert {name: (project / name).read_bytes() for name in before} == before


def test_an_interrupted_upgrade_puts_pyproject_and_lock_back(
    old_project: Path, tmp_path: Path
) -> None:
    project = tmp_path / "copy"
    git("clone", "-q", str(old_project), str(project), cwd=tmp_path)
    before = {name: (project / name).read_bytes() for name in ("pyproject.toml", "uv.lock")}
    with subprocess.Popen(
        UPGRADE, cwd=project, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True, preexec_fn=default_ctrl_c,
    ) as process:  # fmt: skip
        assert process.stdout is not None
        for line in process.stdout:
            if "Locking the newest versions" in line:
                os.killpg(process.pid, signal.SIGINT)  # Ctrl-C while uv resolves
                break
        output = process.stdout.read()
        assert process.wait(timeout=60) == 130, output
    assert "Upgrade interrupted: pyproject.toml and uv.lock are back as they were" in output
    assert {name: (project / name).read_bytes() for name in before} == before


def test_upgrade_of_one_package_reports_only_it(old_project: Path, tmp_path: Path) -> None:
    """`upgrade ruff` in the old project: numpy, which a plain `upgrade` moves, is not
    reported "unchanged (the newest allowed)"; only ruff is, and the rest are counted."""
    project = tmp_path / "copy"
    git("clone", "-q", str(old_project), str(project), cwd=tmp_path)
    result = run([*UPGRADE, "ruff"], project)
    assert result.returncode == 0, result.stdout + result.stderr
    report = result.stdout[result.stdout.index("==> Upgraded (old → new):") :].splitlines()[1:]
    assert report[0] == f"    ruff 0.9.0 → {newest('ruff')}"
    assert not [line for line in report if "numpy" in line or "newest allowed" in line], report
    assert re.fullmatch(r"    \(\d+ other direct dependencies not asked to move: kept as locked\)",
                        report[-1]), report  # fmt: skip
    assert pins(project)["numpy"] == OLD["numpy"]
