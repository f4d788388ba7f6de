"""SLURM job files for multi-GPU training: answer checks and the values the job files use."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from . import cuda, text, torch_index

# Partition and account names as sbatch takes them: no spaces, no shell or option syntax.
_SLURM_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")

# GPUs a job file asks for per node: a common node size; the user edits one line to change it.
GPUS_PER_NODE = 4
# Training processes per node on a CPU build (gloo), each with its share of the cores.
CPU_PROCESSES_PER_NODE = 2


def slurm_partition_error(partition: str) -> str:
    """Empty when `partition` is a partition name, or a comma-separated list of them."""
    if problem := text.text_error("slurm_partition", partition):
        return problem
    if not partition.strip():
        return (
            "The partition is empty. Give the partition your jobs run in (`sinfo -s` lists them)."
        )
    bad = [name for name in partition.split(",") if not _SLURM_NAME.fullmatch(name)]
    if bad:
        return (
            f"'{bad[0]}' is not a SLURM partition name (letters, digits, '_', '.', '-'; "
            "several partitions are separated by commas, no spaces). `sinfo -s` lists them."
        )
    return ""


def slurm_account_error(account: str) -> str:
    """Empty when `account` is empty (no --account line) or an account name."""
    if problem := text.text_error("slurm_account", account):
        return problem
    if account and not _SLURM_NAME.fullmatch(account):
        return (
            f"'{account}' is not a SLURM account name (letters, digits, '_', '.', '-'). "
            "`sacctmgr show assoc user=$USER format=account` lists yours; leave it empty if "
            "your cluster needs none."
        )
    return ""


def include_slurm_error(include_slurm: object, platforms: Sequence[str] | None = None) -> str:
    """SLURM clusters run Linux: the lock must be made for a Linux platform."""
    wanted = include_slurm is True or str(include_slurm).strip().lower() in ("true", "yes", "1")
    if not wanted or platforms is None or any(name.startswith("linux-") for name in platforms):
        return ""
    return (
        "SLURM clusters run Linux, a platform this project's lock is not made for "
        f"({', '.join(platforms)}). Add linux-x86_64 (or linux-aarch64) to platforms, or "
        "answer no."
    )


def sync_options(torch_plan: torch_index.TorchPlan | None) -> str:
    """Options of `uv sync` that install the GPU build when the lock holds two (cpu_extra).

    Also used by the container recipes, which install the same build as a cluster job.
    """
    extras = [name for name in (torch_plan.extras if torch_plan else ()) if name != "cpu"]
    return f" --extra {extras[0]}" if extras else ""


@dataclass(frozen=True)
class SlurmPlan:
    """What the job files need."""

    partition: str
    account: str
    gpus_per_node: int
    cpu_processes_per_node: int
    install: str  # installs the locked environment on the node
    run: str  # prefix that runs a command in it


def slurm_plan(
    *,
    partition: str,
    account: str,
    build: cuda.Build,
    env_manager: str,
    torch_plan: torch_index.TorchPlan | None,
) -> SlurmPlan:
    """The job files' settings; `torch_plan` is the uv-side plan as written (None for pixi)."""
    pixi = env_manager == "pixi"
    return SlurmPlan(
        partition=partition,
        account=account,
        gpus_per_node=GPUS_PER_NODE if build.is_gpu else 0,
        cpu_processes_per_node=CPU_PROCESSES_PER_NODE,
        install="pixi install --frozen" if pixi else f"uv sync --frozen{sync_options(torch_plan)}",
        run="pixi run --frozen" if pixi else "uv run --frozen --no-sync",
    )


FILTERS = {
    "include_slurm_error": include_slurm_error,
    "slurm_partition_error": slurm_partition_error,
    "slurm_account_error": slurm_account_error,
}
