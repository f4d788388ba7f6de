"""scripts/train.py really trains with DistributedDataParallel: torchrun starts two CPU
processes (gloo) in a generated, installed project; a second run resumes from the checkpoint
and ends where an uninterrupted run ends."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import run

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
