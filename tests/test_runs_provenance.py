"""Runs in a generated, installed project (the default answers, NumPy only): settings from a
file and the command line reach the run and are saved with it, and a wrong one stops the run
before anything is written; every run writes its provenance manifest; two runs compare,
naming a dependency changed between them and the results that differ; a sweep runs here and
as the tasks of a SLURM job array, and ends with a table of its runs. Hostile settings,
manifests and sweeps are tried by hypothesis inside the project (tests/in_project)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from conftest import HEAVY_PACKAGES, TEMPLATE, git, imported_by_help, render, run

pytestmark = pytest.mark.slow

TRAIN = ["uv", "run", "--locked", "scripts/train_example.py"]
SWEEP = ["uv", "run", "--locked", "scripts/sweep.py", "scripts/train_example.py"]
COMPARE = ["uv", "run", "--locked", "scripts/compare_runs.py"]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Generated and set up, then committed: a clean working tree."""
    destination = tmp_path_factory.mktemp("generated") / "plain-numbers"
    project = render(
        destination, project_name="Plain Numbers", framework="none", python_version="3.13"
    )
    assert git("status", "--porcelain", cwd=project) == ""  # the copy made the first commit
    return project


def run_folders(project: Path) -> set[Path]:
    return set((project / "outputs" / "train_example").glob("*"))


def new_runs(
    project: Path, command: list[str], **env: str
) -> tuple[subprocess.CompletedProcess[str], list[Path]]:
    """Run `command` in the project; the run folders it created, in name (start) order."""
    before = run_folders(project)
    result = run(command, project, env={**os.environ, **env}, timeout=300)
    return result, sorted(run_folders(project) - before)


def train(project: Path, *args: str) -> Path:
    result, (folder,) = new_runs(project, [*TRAIN, *args])
    assert result.returncode == 0, result.stdout + result.stderr
    return folder


def read(folder: Path, name: str) -> Any:
    return json.loads((folder / name).read_text())


# ── Settings ──────────────────────────────────────────────────────────────


def test_command_line_override_reaches_the_run_and_is_saved(project: Path) -> None:
    result, (folder,) = new_runs(project, [*TRAIN, "--samples", "64", "--seed", "3"])
    assert "from 64 samples" in result.stdout
    assert read(folder, "config.json") == {"seed": 3, "samples": 64, "features": 8, "noise": 0.05}
    manifest = read(folder, "manifest.json")
    assert manifest["config"] == read(folder, "config.json")
    assert manifest["seed"] == 3
    assert manifest["command"][1:] == ["scripts/train_example.py", "--samples", "64", "--seed", "3"]


def test_settings_file_is_read_and_saved_settings_repeat_the_run(
    project: Path, tmp_path: Path
) -> None:
    settings = tmp_path / "small.toml"
    settings.write_text("samples = 40\nfeatures = 4\n")
    first = train(project, "--config", str(settings), "--noise", "0.3")
    assert read(first, "config.json") == {"seed": 0, "samples": 40, "features": 4, "noise": 0.3}
    again = train(project, "--config", str(first / "config.json"))
    assert read(again, "config.json") == read(first, "config.json")
    assert read(again, "results.json") == read(first, "results.json")


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["--samples", "0"], "Invalid setting --samples 0: Input should be greater than 0"),
        (["--sample", "10"], "unrecognized arguments: --sample 10"),
        (["--seed", str(2**32)], "--seed 4294967296: .*; allowed: a whole number from 0 to 42"),
        (["--noise", "inf"], "--noise inf: Input should be a finite number"),
        (["--config", "{big}"], "samples = 100000000000000000000 in .*big.toml: .* most 1000000"),
        (["--config", "{broken}"], "broken.toml cannot be read: Invalid value"),
        (["--config", "{listed}"], "listed.json holds a list, not a table of settings"),
    ],
)  # fmt: skip
def test_a_wrong_setting_stops_the_run_before_it_starts(
    project: Path, tmp_path: Path, args: list[str], problem: str
) -> None:
    """One line naming the setting and what it allows, exit status 2, and no run folder."""
    files = {"big": "samples = 100000000000000000000\n", "broken": "samples = [\n"}
    for name, text in files.items():
        (tmp_path / f"{name}.toml").write_text(text)
    (tmp_path / "listed.json").write_text("[1, 2]")
    paths = {name: str(tmp_path / f"{name}.toml") for name in files}
    paths["listed"] = str(tmp_path / "listed.json")
    result, created = new_runs(project, [*TRAIN, *(arg.format(**paths) for arg in args)])
    assert result.returncode == 2, result.stdout + result.stderr
    assert re.search(problem, result.stderr), result.stderr
    assert "Traceback" not in result.stderr
    assert created == []


def test_hostile_settings_manifests_and_sweeps_are_accepted_or_refused(
    project: Path, tmp_path: Path
) -> None:
    """Hypothesis, inside the project: every settings file, command line, config.json,
    manifest and sweep it makes up gives usable settings or a one-line refusal. Its scratch
    files stay in this test's folder and are gone when it ends."""
    pins = tomllib.loads((TEMPLATE / "pyproject.toml").read_text())["dependency-groups"]["dev"]
    hypothesis = next(pin for pin in pins if pin.startswith("hypothesis=="))
    script = TEMPLATE / "tests" / "in_project" / "properties.py"
    command = ["uv", "run", "--locked", "--with", hypothesis, "python", str(script)]
    environment = {**os.environ, "TMPDIR": str(tmp_path)}
    result = run([*command, "plain_numbers"], project, timeout=600, env=environment)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all properties hold" in result.stdout
    assert not list(tmp_path.glob("properties-*"))  # uv's own lock files may stay


def test_help_of_each_script_is_whole(project: Path) -> None:
    """Each script's --help gives its whole first paragraph, each setting's allowed values."""
    for script, opening in [
        ("sweep.py", "Run a script once for every combination of settings: here, one after "
                     "another, or as a SLURM job array, one combination per array task."),
        ("compare_runs.py", "Compare two runs: what differs in code, environment, machine, "
                            "settings and results."),
        ("train_example.py", "--seed int seed of every random number generator; allowed: a "
                             "whole number from 0 to 4294967295 (default: 0)"),
    ]:  # fmt: skip
        result = run(["uv", "run", "--locked", f"scripts/{script}", "--help"], project)
        assert result.returncode == 0, result.stderr
        assert opening in " ".join(result.stdout.split()), result.stdout


def test_every_script_answers_help_without_importing_numpy(project: Path) -> None:
    """--help is read before NumPy is imported, in every script of a project without PyTorch."""
    scripts = sorted(path.name for path in (project / "scripts").glob("*.py"))
    assert "train_example.py" in scripts
    heavy = {script: imported_by_help(project, script) & HEAVY_PACKAGES for script in scripts}
    assert {script: found for script, found in heavy.items() if found} == {}


# ── Provenance ────────────────────────────────────────────────────────────


@pytest.fixture
def secret_in_env_file(project: Path) -> Iterator[str]:
    env_file = project / ".env"
    saved = env_file.read_text()
    env_file.write_text(saved + "LAB_API_TOKEN=tok-never-recorded-5e1f\n")
    yield "tok-never-recorded-5e1f"
    env_file.write_text(saved)


def test_manifest_records_what_produced_the_result(project: Path, secret_in_env_file: str) -> None:
    manifest = read(train(project), "manifest.json")
    head = git("rev-parse", "HEAD", cwd=project).strip()
    assert manifest["git"] == {"commit": head, "dirty": False, "changed": []}
    lock_digest = hashlib.sha256((project / "uv.lock").read_bytes()).hexdigest()
    assert manifest["lock"] == {"file": "uv.lock", "sha256": lock_digest}
    numpy_pin = re.search(r'"numpy==([^"]+)"', (project / "pyproject.toml").read_text())
    assert numpy_pin and manifest["packages"]["numpy"] == numpy_pin[1]
    assert manifest["drift"] == []
    assert manifest["machine"]["python"].startswith("3.13.")
    assert manifest["machine"]["platform"].startswith("linux")
    assert manifest["finished"] is not None
    assert {"DATA_DIR", "OUTPUT_DIR", "LAB_API_TOKEN"} <= set(manifest["env_keys"])


def test_no_value_from_env_reaches_the_run_folder(project: Path, secret_in_env_file: str) -> None:
    folder = train(project)
    for path in folder.rglob("*"):
        if path.is_file():
            assert secret_in_env_file.encode() not in path.read_bytes(), path


def test_uncommitted_changes_are_recorded(project: Path) -> None:
    readme = project / "README.md"
    saved = readme.read_text()
    readme.write_text(saved + "\nA note.\n")
    try:
        manifest = read(train(project), "manifest.json")
    finally:
        readme.write_text(saved)
    assert manifest["git"]["dirty"] is True
    assert manifest["git"]["changed"] == ["README.md"]


def compare(project: Path, a: Path, b: Path) -> subprocess.CompletedProcess[str]:
    return run([*COMPARE, str(a), str(b)], project)


def test_identical_runs_compare_equal(project: Path) -> None:
    first, second = train(project, "--seed", "5"), train(project, "--seed", "5")
    result = compare(project, first, second)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Same code, environment, machine, settings and results." in result.stdout


@contextmanager
def older_numpy(project: Path) -> Iterator[tuple[str, str]]:
    """numpy re-pinned to an older release and the environment re-synced; undone after.
    Yields the locked version and the older one."""
    pyproject = project / "pyproject.toml"
    current = re.search(r'"numpy==([^"]+)"', pyproject.read_text())
    assert current is not None
    older = "2.2.6"  # older than any lock made today; wheels for Python 3.10 to 3.13
    pyproject.write_text(pyproject.read_text().replace(current[0], f'"numpy=={older}"'))
    try:
        for command in (["uv", "lock"], ["uv", "sync", "--locked"]):
            result = run(command, project)
            assert result.returncode == 0, result.stderr
        yield current[1], older
    finally:
        git("checkout", "pyproject.toml", "uv.lock", cwd=project)
        assert run(["uv", "sync", "--locked"], project).returncode == 0


def test_runs_across_a_dependency_change_compare_naming_it(project: Path) -> None:
    before = train(project, "--seed", "7")
    with older_numpy(project) as (locked, older):
        after = train(project, "--seed", "7", "--noise", "0.1")
    result = compare(project, before, after)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = [line.split() for line in result.stdout.splitlines()]
    assert ["package", "numpy", locked, "->", older] in lines
    assert any(line[:2] == ["lock", "(uv.lock)"] for line in lines)
    assert ["setting", "noise", "0.05", "->", "0.1"] in lines
    assert any(line[:2] == ["result", "max_weight_error"] for line in lines)
    assert [
        "git",
        head_of(project),
        "->",
        head_of(project),
        "+",
        "2",
        "uncommitted",
        "change(s)",
    ] in lines
    assert not [line for line in lines if line and line[0] in ("seed", "machine")]


def head_of(project: Path) -> str:
    return git("rev-parse", "HEAD", cwd=project).strip()[:12]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{", "manifest.json cannot be read as JSON (JSONDecodeError"),
        ('{"packages": "numpy 2.3"}', "manifest.json: 'packages' holds text, not an object"),
    ],
)
def test_a_corrupt_manifest_is_refused_by_name(
    project: Path, tmp_path: Path, content: str, problem: str
) -> None:
    """Exit status 2, not 1 ("the runs differ"), and one line naming the file."""
    good = train(project)
    (tmp_path / "manifest.json").write_text(content)
    result = compare(project, good, tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    first = result.stderr.splitlines()[0]
    assert first.startswith("!!  ") and problem in first, result.stderr
    assert "Traceback" not in result.stderr


def test_runs_that_differ_only_in_results_say_so(project: Path, tmp_path: Path) -> None:
    first = train(project, "--seed", "11")
    second = tmp_path / "copy"
    second.mkdir()
    for name in ("manifest.json", "config.json"):
        (second / name).write_text((first / name).read_text())
    (second / "results.json").write_text(json.dumps({"max_weight_error": 1.5}))
    result = compare(project, first, second)
    assert result.returncode == 1, result.stdout + result.stderr
    error = read(first, "results.json")["max_weight_error"]
    assert f"result max_weight_error  {error} -> 1.5" in result.stdout
    assert "Only the results differ" in result.stdout


# ── Sweeps ────────────────────────────────────────────────────────────────

GRID = ["samples=32,64", "seed=0,1"]


def settings_of(folders: list[Path]) -> list[tuple[int, int]]:
    return [(read(f, "config.json")["samples"], read(f, "config.json")["seed"]) for f in folders]


def test_sweep_runs_every_combination_here_and_tabulates_them(project: Path) -> None:
    result, folders = new_runs(project, [*SWEEP, *GRID, "features=4"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(settings_of(folders)) == [(32, 0), (32, 1), (64, 0), (64, 1)]
    assert "==> sweep 4/4: scripts/train_example.py --samples 64 --seed 1 --features 4" in (
        result.stdout
    )
    table = result.stdout[result.stdout.index("==> 4 run(s) of scripts/train_example.py:") :]
    rows = [line.split() for line in table.splitlines()[1:]]
    assert rows[0] == ["#", "samples", "seed", "max_weight_error", "folder"]  # features: fixed
    for number, (row, folder) in enumerate(zip(rows[1:], folders, strict=True)):
        error = read(folder, "results.json")["max_weight_error"]
        assert row[:3] == [str(number), *map(str, settings_of([folder])[0])]
        assert float(row[3]) == pytest.approx(error, rel=1e-5)
        assert row[4] == str(folder.relative_to(project))


@pytest.mark.parametrize(
    ("assignments", "problem"),
    [
        (["seed=0,1", "seed=2,3"], "seed is given twice (seed=0,1 and seed=2,3)"),
        (["batch_size=1", "batch-size=2"], "batch-size is given twice"),
        (["seed=0,0"], "'seed=0,0' lists 0 twice"),
        (["seed=0,,1"], "'seed=0,,1' has an empty value"),
        (["seed"], "'seed' is not NAME=VALUE[,VALUE...]"),
    ],
)
def test_a_wrong_sweep_is_refused_before_any_run(
    project: Path, assignments: list[str], problem: str
) -> None:
    result, folders = new_runs(project, [*SWEEP, *assignments])
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith(f"!!  {problem}"), result.stderr
    assert "==> sweep" not in result.stdout
    assert folders == []


def test_sweep_lists_the_numbered_combinations(project: Path) -> None:
    result, folders = new_runs(project, [*SWEEP, "--list", *GRID])
    assert result.stdout.splitlines() == [
        "0 --samples 32 --seed 0", "1 --samples 32 --seed 1",
        "2 --samples 64 --seed 0", "3 --samples 64 --seed 1",
    ]  # fmt: skip
    assert folders == []


def test_job_array_task_runs_its_combination_and_records_the_job(project: Path) -> None:
    job = {"SLURM_JOB_ID": "4243", "SLURM_ARRAY_JOB_ID": "4240", "SLURM_ARRAY_TASK_ID": "2"}
    result, folders = new_runs(project, [*SWEEP, *GRID], **job)
    assert result.returncode == 0, result.stdout + result.stderr
    assert settings_of(folders) == [(64, 0)]
    recorded = {"job_id": 4243, "array_job_id": 4240, "array_task_id": 2}
    assert read(folders[0], "manifest.json")["slurm"] == recorded


def test_job_array_larger_than_the_sweep_is_refused(project: Path) -> None:
    result, folders = new_runs(project, [*SWEEP, *GRID], SLURM_ARRAY_TASK_ID="4")
    assert result.returncode == 2
    assert "combination 4 does not exist: the sweep has 4" in result.stderr
    assert "sbatch --array=0-3" in result.stderr
    assert folders == []
