"""scripts/train.py really trains with DistributedDataParallel: torchrun starts two CPU
processes (gloo) in a generated, installed project; a second run resumes from the checkpoint
and ends where an uninterrupted run ends."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import HEAVY_PACKAGES, imported_by_help, run

# One worker generates the project and runs the three trainings the tests read.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("torchrun")]

TRAIN = ["--samples", "512", "--batch-size", "32", "--checkpoint-every", "4"]


def torchrun(project: Path, run_dir: Path, steps: int) -> subprocess.CompletedProcess[str]:
    command = ["uv", "run", "--locked", "torchrun", "--standalone", "--nproc-per-node", "2"]
    arguments = ["scripts/train.py", *TRAIN, "--steps", str(steps), "--run-dir", str(run_dir)]
    result = run([*command, *arguments], project, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture(scope="module")
def training_runs(torch_project: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Run A: 6 steps, then again to 12 (resuming). Run B: 12 steps without a stop."""
    interrupted, straight = tmp_path_factory.mktemp("interrupted"), tmp_path_factory.mktemp("b")
    first = torchrun(torch_project, interrupted, steps=6)
    first_results = json.loads((interrupted / "results.json").read_text())
    second = torchrun(torch_project, interrupted, steps=12)
    torchrun(torch_project, straight, steps=12)
    return {
        "first": first,
        "first_results": first_results,
        "second": second,
        "resumed": json.loads((interrupted / "results.json").read_text()),
        "straight": json.loads((straight / "results.json").read_text()),
        "run_dir": interrupted,
    }


def test_torchrun_trains_on_two_processes_to_completion(training_runs: dict) -> None:
    assert training_runs["first_results"]["steps"] == 6
    assert training_runs["first_results"]["world_size"] == 2
    assert "step 6: loss" in training_runs["first"].stdout
    assert (training_runs["run_dir"] / "checkpoint.pt").is_file()


def test_second_run_resumes_from_the_checkpoint(training_runs: dict) -> None:
    assert "at step 6" in training_runs["second"].stdout
    assert training_runs["resumed"]["steps"] == 12


def test_resumed_run_ends_where_an_uninterrupted_run_ends(training_runs: dict) -> None:
    resumed, straight = training_runs["resumed"], training_runs["straight"]
    assert resumed["final_loss"] == pytest.approx(straight["final_loss"], rel=1e-6)


def test_each_start_of_a_run_keeps_its_settings_and_manifest(training_runs: dict) -> None:
    """The resumed run's folder: the second start's settings, both manifests, all metrics."""
    run_dir = training_runs["run_dir"]
    first = json.loads((run_dir / "manifest.1.json").read_text())
    latest = json.loads((run_dir / "manifest.json").read_text())
    assert (first["config"]["steps"], latest["config"]["steps"]) == (6, 12)
    assert json.loads((run_dir / "config.json").read_text())["batch_size"] == 32
    assert latest["machine"]["torch"] == "2.13.0+cpu"
    steps = [
        json.loads(line)["step"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()
    ]
    assert steps == [4, 6, 8, 12]


def test_train_example_reads_its_settings_and_records_the_torch_build(
    torch_project: Path,
) -> None:
    command = ["uv", "run", "--locked", "scripts/train_example.py", "--epochs", "3", "--seed", "2"]
    result = run(command, torch_project, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    folder = Path(result.stdout.split("run folder: ")[1].splitlines()[0])
    settings = json.loads((folder / "config.json").read_text())
    assert settings == {"seed": 2, "epochs": 3, "lr": 0.01, "samples": 512}
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["machine"]["torch"] == "2.13.0+cpu"
    assert manifest["packages"]["torch"] == "2.13.0+cpu"
    assert len((folder / "metrics.jsonl").read_text().splitlines()) == 3


def test_help_shows_each_setting_plainly(torch_project: Path) -> None:
    """`--run-dir Path`, not `--run-dir {Path,null}`; each setting with its allowed values."""
    result = run(["uv", "run", "--locked", "scripts/train.py", "--help"], torch_project)
    assert result.returncode == 0, result.stderr
    shown = " ".join(result.stdout.split())
    assert "{Path,null}" not in shown
    assert "--run-dir Path default: OUTPUT_DIR/train; allowed: a path, or null (none)" in shown
    assert "--batch-size int samples per process and step; allowed: a whole number above 0" in (
        shown
    )


def test_every_script_answers_help_without_importing_pytorch(torch_project: Path) -> None:
    """--help is read before PyTorch is imported (a second or more), in every script."""
    scripts = sorted(path.name for path in (torch_project / "scripts").glob("*.py"))
    assert {"train.py", "train_example.py", "smoke_test.py"} <= set(scripts)
    heavy = {script: imported_by_help(torch_project, script) & HEAVY_PACKAGES for script in scripts}
    assert {script: found for script, found in heavy.items() if found} == {}
