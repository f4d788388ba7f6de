"""SLURM: the job files are valid batch scripts that use the lab's answers, the training
code is rendered only when asked for, and bad partition or account names are refused.
tests/test_torchrun.py runs the training itself."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import copier
import pytest
from conftest import BASE_ANSWERS, Render, git, release, render, template_clone

from benchmarks.fixtures import GIT_IDENTITY
from extensions import slurm

JOB_FILES = ["train-single-node.sbatch", "train-multi-node.sbatch"]
SLURM_CODE = [
    "scripts/train.py",
    "kit/src/research_kit/distributed.py",
    "kit/src/research_kit/checkpoint.py",
    "kit/tests/test_distributed.py",
]
# Long options of sbatch(1) that a job file of ours may use.
SBATCH_OPTIONS = {
    "job-name", "partition", "account", "nodes", "ntasks-per-node", "gpus-per-node",
    "cpus-per-task", "time", "output", "requeue", "open-mode",
}  # fmt: skip
DIRECTIVE = re.compile(r"#SBATCH --(?P<option>[a-z-]+)(=(?P<value>\S+))?")


def job_file(project: Path, name: str) -> Path:
    return project / "scripts" / "slurm" / name


def directives(path: Path) -> dict[str, str | None]:
    """The #SBATCH options sbatch reads: those before the first command of the script."""
    found: dict[str, str | None] = {}
    for line in path.read_text().splitlines()[1:]:
        if line and not line.startswith("#"):
            break
        if line.startswith("#SBATCH"):
            match = DIRECTIVE.fullmatch(line)
            assert match, f"malformed directive: {line!r}"
            assert match["option"] not in found, f"repeated: {line!r}"
            found[match["option"]] = match["value"]
    return found


@pytest.fixture(scope="module")
def job_projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two renders with the SLURM files: a CUDA build with a lab's partitions and account,
    and a CPU build with no account."""
    return {
        "cu130": render(
            tmp_path_factory.mktemp("cu130") / "protein-folding",
            skip_tasks=True,
            include_slurm=True,
            accelerator="cu130",
            slurm_partition="a100,h100",
            slurm_account="lab42",
        ),
        "cpu": render(
            tmp_path_factory.mktemp("cpu") / "protein-folding",
            skip_tasks=True,
            include_slurm=True,
            accelerator="cpu",
            slurm_account="",
        ),
    }


def test_slurm_files_exist_only_when_asked_for(
    job_projects: dict[str, Path], rendered: Render
) -> None:
    without = rendered(include_slurm=False)
    for path in [*SLURM_CODE, *(f"scripts/slurm/{name}" for name in JOB_FILES)]:
        assert (job_projects["cpu"] / path).is_file(), path
        assert not (without / path).exists(), path


def test_numpy_project_gets_no_slurm_files_even_if_answered(rendered: Render) -> None:
    project = rendered(framework="none", include_slurm=True)
    assert not (project / "scripts" / "slurm").exists()
    assert not (project / "scripts" / "train.py").exists()


@pytest.mark.parametrize("accelerator", ["cpu", "cu130"])
@pytest.mark.parametrize("name", JOB_FILES)
def test_job_file_is_valid_bash(job_projects: dict[str, Path], accelerator: str, name: str) -> None:
    path = job_file(job_projects[accelerator], name)
    assert path.read_text().startswith("#!/bin/bash\n")
    result = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("accelerator", ["cpu", "cu130"])
@pytest.mark.parametrize("name", JOB_FILES)
def test_job_file_passes_shellcheck(
    job_projects: dict[str, Path], accelerator: str, name: str
) -> None:
    shellcheck = Path(sys.executable).parent / "shellcheck"
    path = job_file(job_projects[accelerator], name)
    result = subprocess.run([str(shellcheck), str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("accelerator", ["cpu", "cu130"])
@pytest.mark.parametrize("name", JOB_FILES)
def test_job_file_directives_are_well_formed(
    job_projects: dict[str, Path], accelerator: str, name: str
) -> None:
    path = job_file(job_projects[accelerator], name)
    options = directives(path)
    assert set(options) <= SBATCH_OPTIONS, set(options) - SBATCH_OPTIONS
    assert {"partition", "nodes", "time", "ntasks-per-node"} <= set(options)
    # Every #SBATCH line is in the block sbatch reads, none after the first command.
    assert path.read_text().count("#SBATCH") == len(options)


@pytest.mark.parametrize("name", JOB_FILES)
def test_job_files_use_the_labs_partition_and_account(
    job_projects: dict[str, Path], name: str
) -> None:
    options = directives(job_file(job_projects["cu130"], name))
    assert (options["partition"], options["account"]) == ("a100,h100", "lab42")


@pytest.mark.parametrize("name", JOB_FILES)
def test_empty_account_leaves_the_line_out(job_projects: dict[str, Path], name: str) -> None:
    assert "account" not in directives(job_file(job_projects["cpu"], name))


@pytest.mark.parametrize(("accelerator", "gpus"), [("cu130", "4"), ("cpu", None)])
@pytest.mark.parametrize("name", JOB_FILES)
def test_gpus_are_requested_for_gpu_builds_only(
    job_projects: dict[str, Path], accelerator: str, gpus: str | None, name: str
) -> None:
    assert directives(job_file(job_projects[accelerator], name)).get("gpus-per-node") == gpus


def test_multi_node_job_meets_at_a_rendezvous(job_projects: dict[str, Path]) -> None:
    text = job_file(job_projects["cu130"], "train-multi-node.sbatch").read_text()
    assert "srun uv run --frozen --no-sync torchrun" in text
    assert "--rdzv-backend=c10d" in text and '--rdzv-id="${SLURM_JOB_ID}"' in text
    assert "uv sync --frozen" in text and "UV_CACHE_DIR=" in text


def test_pixi_job_files_run_through_pixi(rendered: Render) -> None:
    text = job_file(rendered(include_slurm=True, env_manager="pixi"), JOB_FILES[0]).read_text()
    assert "srun pixi run --frozen torchrun" in text and "pixi install --frozen" in text
    assert "uv " not in text


def test_slurm_code_is_ruff_clean(job_projects: dict[str, Path]) -> None:
    for command in (["check", *SLURM_CODE], ["format", "--check", *SLURM_CODE]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *command],
            cwd=job_projects["cpu"],
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow  # the update re-locks and re-installs the environment
def test_turning_slurm_on_later_with_copier_update_adds_the_files(
    tmp_path: Path, local_torch_index: Path, real_torch_line: str
) -> None:
    clone = template_clone(tmp_path / "template")
    release(clone, "v0.1.0")
    project = tmp_path / "protein-folding"
    common = {"defaults": True, "unsafe": True, "quiet": True, "skip_tasks": True}
    answers = {
        **BASE_ANSWERS,
        "torch_index_url": str(local_torch_index),
        "torch_version": real_torch_line,
    }
    copier.run_copy(str(clone), str(project), data=answers, vcs_ref="v0.1.0", **common)
    git("init", "-q", cwd=project)
    git("add", "--all", cwd=project)
    git(*GIT_IDENTITY, "commit", "-qm", "Generated", cwd=project)
    assert not (project / "scripts" / "train.py").exists()
    copier.run_update(
        str(project), data={"include_slurm": True}, overwrite=True, vcs_ref="v0.1.0", **common
    )
    for path in [*SLURM_CODE, *(f"scripts/slurm/{name}" for name in JOB_FILES)]:
        assert (project / path).is_file(), path


@pytest.mark.parametrize("partition", ["gpu", "gpu-long", "a100,h100", "batch.q"])
def test_partition_names_accepted(partition: str) -> None:
    assert slurm.slurm_partition_error(partition) == ""


@pytest.mark.parametrize("account", ["", "lab42", "proj-ml_2"])
def test_account_names_accepted(account: str) -> None:
    assert slurm.slurm_account_error(account) == ""
