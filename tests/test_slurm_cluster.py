"""The generated SLURM jobs on a real scheduler: slurmctld and two slurmd on this machine
(tests/slurm_cluster.py), a generated PyTorch project (CPU build) with the SLURM files, and
the jobs submitted as a user submits them: `sbatch` from the project root, from a shell with
no USER, HOME or SCRATCH (what cron, CI or a container gives).

Checked: the single-node training to its results and what its output says; a sweep as a job
array, one run folder per combination; the smoke test in an allocation (`srun`, as the
README says); a job requeued mid-run that resumes from its checkpoint and ends where an
uninterrupted one ends; a job past its time limit that leaves a checkpoint and says how to
go on; the multi-node job on two nodes. Every run's manifest names its SLURM job.

The tests skip, saying why, where slurm-wlm and munge are not installed or not run as
root; `.ci/run` installs them on CI. All in one module: with `--dist loadfile` one worker
runs them, so a test session starts one cluster.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import slurm_cluster
from conftest import render, run
from slurm_cluster import Cluster

pytestmark = pytest.mark.slow

PARTITION = "debug-cpu"  # not the default answer (gpu): the jobs must use the one asked for
ACCOUNT = "lab42"
# Small, quick training; the requeued job runs the same, so their results must agree.
TRAIN = ["--steps", "40", "--checkpoint-every", "5", "--samples", "1024", "--batch-size", "32"]
# A CPU each (the job files ask for 16): jobs run side by side on the cluster's nodes.
ONE_CPU = "--cpus-per-task=1"
SWEEP = ["scripts/train_example.py", "lr=0.1,0.01", "epochs=2"]


@pytest.fixture(scope="session")
def slurm() -> Iterator[Cluster]:
    """One cluster for the session: two nodes where this machine has two names for itself."""
    if problem := slurm_cluster.missing():
        pytest.skip(problem)
    cluster = slurm_cluster.start(PARTITION, nodes=min(2, len(slurm_cluster.node_names())))
    yield cluster
    slurm_cluster.stop(cluster)


@pytest.fixture(scope="module")
def project(
    tmp_path_factory: pytest.TempPathFactory, stand_in_index: Path, real_torch_line: str
) -> Path:
    """A PyTorch project with the SLURM files, generated with its tasks (locked, installed),
    in a folder whose path has a space."""
    return render(
        tmp_path_factory.mktemp("lab projects") / "cluster-training",
        project_name="Cluster Training",
        torch_index_url=str(stand_in_index),
        torch_version=real_torch_line,
        include_slurm=True,
        slurm_partition=PARTITION,
        slurm_account=ACCOUNT,
    )


def bare_environment(cluster: Cluster) -> dict[str, str]:
    """A shell with nothing but a PATH (uv's folder and the system's) and SLURM_CONF (which
    /etc/slurm/slurm.conf stands for on a cluster): no USER, HOME or SCRATCH."""
    uv = Path(os.environ.get("UV") or shutil.which("uv") or "uv")
    return {"PATH": f"{uv.parent}:/usr/bin:/bin", **cluster.env}


def sbatch(cluster: Cluster, project: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Submit from the project root; the job's id."""
    command = ["sbatch", "--parsable", *args]
    result = run(command, project, env=env or bare_environment(cluster), timeout=60)
    assert result.returncode == 0, f"{' '.join(command)}: {result.stderr}"
    return result.stdout.strip().split(";")[0]


def output_of(project: Path, job_id: str) -> str:
    """The job's output files (`slurm-<name>-<id>.out`, an array's `-<id>_<task>.out`)."""
    paths = [*project.glob(f"slurm-*-{job_id}.out"), *project.glob(f"slurm-*-{job_id}_*.out")]
    return "\n".join(path.read_text() for path in sorted(paths))


def wait(cluster: Cluster, project: Path, job_id: str, state: str = "COMPLETED") -> str:
    """Wait for the job to end in `state`; its output."""
    record = cluster.wait(job_id)
    output = output_of(project, job_id)
    assert record["JobState"] == state, f"job {job_id}: {record['JobState']}\n{output}"
    return output


def read(path: Path) -> Any:
    return json.loads(path.read_text())


def job_user() -> str:
    return pwd.getpwuid(os.getuid()).pw_name


@pytest.fixture(scope="module", autouse=True)
def jobs(slurm: Cluster, project: Path) -> dict[str, str]:
    """Every job of the module, submitted at once so that they run side by side (each asks
    for one CPU), as a user submits several; their ids by name.

    - time-limited: training that would take over ten minutes (a second's pause per step),
      under a time limit of one minute;
    - single-node, multi-node: the training jobs, to their end;
    - sweep: the sweep job as an array of one task per combination (`sweep.py --list`),
      from a login shell's environment (USER, HOME) with SCRATCH set;
    - requeued: the single-node job with a pause per step, requeued here after its first
      checkpoint, with 35 steps (7 seconds at least) still to go.
    """
    submitted = {
        "time-limited": sbatch(
            slurm, project, "--time=1", ONE_CPU, "scripts/slurm/train-single-node.sbatch",
            "--steps", "1000", "--checkpoint-every", "10", "--step-pause", "1",
            "--run-dir", "outputs/time-limited",
        ),
        "single-node": sbatch(
            slurm, project, ONE_CPU, "scripts/slurm/train-single-node.sbatch", *TRAIN,
            "--run-dir", "outputs/single-node",
        ),
        "requeued": sbatch(
            slurm, project, ONE_CPU, "scripts/slurm/train-single-node.sbatch", *TRAIN,
            "--step-pause", "0.2", "--run-dir", "outputs/requeued",
        ),
        "multi-node": sbatch(
            slurm, project, f"--nodes={len(slurm.nodes)}", ONE_CPU,
            "scripts/slurm/train-multi-node.sbatch", *TRAIN, "--run-dir", "outputs/multi-node",
        ),
    }  # fmt: skip
    login = {name: value for name, value in os.environ.items() if name != "UV_CACHE_DIR"}
    login_shell = {**login, **slurm.env, "SCRATCH": str(project.parent / "scratch")}
    array = f"--array=0-{len(sweep_combinations(project)) - 1}"
    submitted["sweep"] = sbatch(
        slurm, project, array, ONE_CPU, "scripts/slurm/sweep.sbatch", *SWEEP, env=login_shell
    )
    requeue_after_first_checkpoint(slurm, project, submitted["requeued"])
    return submitted


def sweep_combinations(project: Path) -> list[str]:
    """`scripts/sweep.py --list`: the numbered combinations, one per array task."""
    listed = run(["uv", "run", "--locked", "scripts/sweep.py", "--list", *SWEEP], project)
    assert listed.returncode == 0, listed.stderr
    return listed.stdout.splitlines()


def requeue_after_first_checkpoint(cluster: Cluster, project: Path, job_id: str) -> None:
    metrics = project / "outputs" / "requeued" / "metrics.jsonl"
    deadline = time.monotonic() + 300
    while not (metrics.is_file() and metrics.read_text().strip()):
        state = cluster.job(job_id)["JobState"]
        assert state in {"PENDING", "RUNNING"}, f"job {job_id}: {state}"
        assert time.monotonic() < deadline, f"job {job_id}: no checkpoint after 300 s"
        time.sleep(0.2)
    cluster.command("scontrol", "requeue", job_id)
    while cluster.job(job_id)["Restarts"] == "0":
        time.sleep(0.5)


@pytest.fixture(scope="module")
def single_node_job(slurm: Cluster, project: Path, jobs: dict[str, str]) -> tuple[str, str]:
    """The single-node training job, ended: its id and its output."""
    return jobs["single-node"], wait(slurm, project, jobs["single-node"])


def test_single_node_job_trains_to_its_results(
    single_node_job: tuple[str, str], project: Path
) -> None:
    job_id, _ = single_node_job
    folder = project / "outputs" / "single-node"
    assert read(folder / "results.json")["steps"] == 40
    assert read(folder / "results.json")["world_size"] == 2
    manifest = read(folder / "manifest.json")
    assert manifest["finished"] is not None
    job = manifest["slurm"]
    assert job.pop("nodes") in slurm_cluster.node_names()
    assert job == {
        "job_id": int(job_id),
        "job_name": "cluster-training-train",
        "partition": PARTITION,
        "account": ACCOUNT,
        "num_nodes": 1,
        "ntasks": 1,
        "cpus_per_task": 1,
    }
    # The job ran in the locked environment, as installed by the job's own `uv sync --frozen`.
    assert manifest["drift"] == [] and manifest["packages"]["torch"] == "2.13.0+cpu"


def test_job_without_user_or_home_says_what_it_does(
    single_node_job: tuple[str, str], project: Path
) -> None:
    job_id, output = single_node_job
    lines = output.splitlines()
    assert f"[setup] job {job_id} in partition {PARTITION} on 1 node(s): " in lines[0]
    assert f"[setup] batch script on {lines[0].split()[-1]}, in {project}" in output
    # No USER, HOME or SCRATCH in the job: the cache goes to /tmp/<the job's user>.
    assert f"[setup] uv cache: /tmp/{job_user()}/uv-cache\n" in output
    assert "[setup] uv sync --frozen\n" in output
    assert "[setup] 1 CPU(s) per node: 2 process(es) per node, 1 thread(s) each\n" in output
    assert (
        "[train] 2 process(es) on one node: srun uv run --frozen --no-sync torchrun --standalone"
        f" --nproc-per-node=2 scripts/train.py {' '.join(TRAIN)} --run-dir outputs/single-node"
    ) in output
    assert "step 40: loss" in output
    assert lines[-1] == "[job] done"


def test_sweep_runs_one_array_task_per_combination(
    slurm: Cluster, project: Path, jobs: dict[str, str]
) -> None:
    """As sweep.sbatch says: count the combinations, then one array task for each."""
    combinations = sweep_combinations(project)
    output = wait(slurm, project, jobs["sweep"])
    scratch = project.parent / "scratch"
    assert output.count(f"[setup] uv cache: {scratch}/uv-cache\n") == len(combinations)
    folders = sorted((project / "outputs" / "train_example").iterdir())
    assert len(folders) == len(combinations)
    tasks = {}
    for folder in folders:
        manifest = read(folder / "manifest.json")
        assert read(folder / "config.json")["epochs"] == 2 and (folder / "results.json").is_file()
        assert manifest["slurm"]["array_job_id"] == int(jobs["sweep"])
        assert manifest["slurm"]["partition"] == PARTITION
        tasks[manifest["slurm"]["array_task_id"]] = manifest["config"]["lr"]
    # Task i ran combination i of the list.
    assert tasks == {number: float(line.split()[2]) for number, line in enumerate(combinations)}


def test_smoke_test_runs_in_an_allocation(slurm: Cluster, project: Path) -> None:
    """The README's command, as written there."""
    (line,) = [
        line.strip("`.")
        for line in (project / "README.md").read_text().splitlines()
        if line.startswith("`srun ")
    ]
    assert f"--partition={PARTITION} --account={ACCOUNT}" in line
    result = run(line.split(), project, env=bare_environment(slurm), timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "VERDICT: USABLE on CPU" in result.stdout


def test_requeued_job_resumes_from_its_checkpoint(
    slurm: Cluster, project: Path, jobs: dict[str, str], single_node_job: tuple[str, str]
) -> None:
    """`scontrol requeue` mid-run: the job stops with a checkpoint, starts again, resumes
    there, and ends with the steps and loss of the job that ran straight through."""
    job_id, folder = jobs["requeued"], project / "outputs" / "requeued"
    output = wait(slurm, project, job_id)
    stopped = re.search(r"stopped at step (\d+) of 40 by SIGTERM", output)
    assert stopped, output
    step = int(stopped[1])
    assert 5 <= step < 40
    assert f"resumed from outputs/requeued/checkpoint.pt at step {step}\n" in output
    assert read(folder / "results.json")["steps"] == 40
    straight = read(project / "outputs" / "single-node" / "results.json")
    assert read(folder / "results.json")["final_loss"] == pytest.approx(
        straight["final_loss"], rel=1e-6
    )
    # Each start kept its manifest: the second one knows it is a restart of the same job.
    first, second = read(folder / "manifest.1.json"), read(folder / "manifest.json")
    assert first["slurm"]["job_id"] == second["slurm"]["job_id"] == int(job_id)
    assert "restarts" not in first["slurm"] and second["slurm"]["restarts"] == 1


def test_multi_node_job_meets_at_a_rendezvous(
    slurm: Cluster, project: Path, jobs: dict[str, str]
) -> None:
    """torchrun on each node of the job (two where this machine has two names, one
    otherwise), meeting on the first; two processes per node train together."""
    nodes, job_id = len(slurm.nodes), jobs["multi-node"]
    output = wait(slurm, project, job_id)
    manifest = read(project / "outputs" / "multi-node" / "manifest.json")
    head = slurm.command("scontrol", "show", "hostnames", manifest["slurm"]["nodes"]).split()[0]
    port = 20000 + int(job_id) % 10000
    assert (
        f"srun uv run --frozen --no-sync torchrun --nnodes={nodes} --nproc-per-node=2 "
        f"--rdzv-id={job_id} --rdzv-backend=c10d --rdzv-endpoint={head}:{port} scripts/train.py"
    ) in output
    results = read(project / "outputs" / "multi-node" / "results.json")
    assert (results["steps"], results["world_size"]) == (40, 2 * nodes)
    assert manifest["slurm"]["num_nodes"] == nodes


def test_job_past_its_time_limit_leaves_a_checkpoint_and_says_how_to_go_on(
    slurm: Cluster, project: Path, jobs: dict[str, str]
) -> None:
    output = wait(slurm, project, jobs["time-limited"], state="TIMEOUT")
    stopped = re.search(
        r"stopped at step (\d+) of 1000 by SIGTERM: checkpoint saved to (\S+)\.", output
    )
    assert stopped, output
    folder = project / "outputs" / "time-limited"
    assert stopped[2] == "outputs/time-limited/checkpoint.pt"
    assert (folder / "checkpoint.pt").is_file() and not (folder / "results.json").exists()
    last = json.loads((folder / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["step"] == int(stopped[1])  # the checkpoint of the step it stopped at
    assert read(folder / "manifest.json")["finished"] is None
    assert output.splitlines()[-3:] == [
        "[job] stopped by SLURM (time limit, preemption, requeue or scancel); the training "
        "kept its last checkpoint.",
        "[job] To go on from it, submit the job again with the same arguments:",
        "[job]   sbatch scripts/slurm/train-single-node.sbatch --steps 1000 --checkpoint-every"
        " 10 --step-pause 1 --run-dir outputs/time-limited",
    ]
