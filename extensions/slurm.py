"""SLURM job files for multi-GPU training: answer checks and the values the job files use."""

from __future__ import annotations

import re
from typing import Any

from . import cuda, text

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


def sync_options(context: dict[str, Any]) -> str:
    """Options of `uv sync` that install the GPU build when the lock holds two (cpu_extra).

    Also used by the container recipes, which install the same build as a cluster job.
    """
    plan = context.get("torch_plan")
    extras = [name for name in getattr(plan, "extras", None) or () if name != "cpu"]
    return f" --extra {extras[0]}" if extras else ""


def derive(context: dict[str, Any]) -> dict[str, Any]:
    """`slurm`: what the job files need, or None when the project has none."""
    if context.get("framework") != "pytorch" or not context.get("include_slurm"):
        return {"slurm": None}
    build = cuda.BUILDS_BY_NAME.get(context.get("accelerator", "cpu"))
    gpus = GPUS_PER_NODE if build is not None and build.is_gpu else 0
    pixi = context.get("env_manager") == "pixi"
    return {
        "slurm": {
            "partition": context["slurm_partition"],
            "account": context.get("slurm_account", ""),
            "gpus_per_node": gpus,
            "cpu_processes_per_node": CPU_PROCESSES_PER_NODE,
            "install": "pixi install --frozen"
            if pixi
            else f"uv sync --frozen{sync_options(context)}",
            "run": "pixi run --frozen" if pixi else "uv run --frozen --no-sync",
        }
    }


FILTERS = {
    "slurm_partition_error": slurm_partition_error,
    "slurm_account_error": slurm_account_error,
}
