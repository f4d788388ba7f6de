"""The research-workflow questions: notebooks, experiment tracking, dev container, agent
rules, and the GitHub jobs that keep a project fresh and safe (upgrade pull requests, a
vulnerability audit, a cool-off before new releases).

Runs, their settings files and their provenance manifests are not a question: every project
has them (`kit/src/research_kit/runs.py`, `provenance.py`). What they need is added here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from . import cuda, torch_index, wheel_folder
from .containers import gpu_vendor, runtime_image
from .slurm import sync_options
from .tool_versions import PIP_AUDIT, UV

# Typed run settings read from a file and the command line (kit/src/research_kit/runs.py); the
# package and the scripts import pydantic itself too (Field), so it is declared.
RUN_DEPENDENCIES = ("pydantic", "pydantic-settings")


@dataclass(frozen=True)
class Tracker:
    """An experiment tracker: its name, what it installs, what mypy must not read."""

    label: str
    dependencies: tuple[str, ...]
    # Packages mypy takes as untyped instead of reading: no type information, or so much of
    # it that mypy needs minutes (only tracking.py uses them).
    mypy_skip: tuple[str, ...]
    # Dependencies loaded by the tracker at run time, never imported by the project's code
    # (deptry is told, in pyproject.toml).
    runtime_only: tuple[str, ...] = ()


TrackerName = Literal["none", "tensorboard", "wandb", "mlflow"]  # the `tracker` answer
TRACKERS: dict[TrackerName, Tracker] = {
    "none": Tracker("JSON lines (metrics.jsonl in the run's folder)", (), ()),
    # tensorboardX writes TensorBoard's event files without TensorFlow or torch; TensorBoard
    # itself only reads them (`uvx tensorboard --logdir outputs`), so it stays out of the lock.
    "tensorboard": Tracker("TensorBoard", ("tensorboardX",), ("tensorboardX",)),
    # Offline by default (WANDB_MODE in .env): runs are uploaded later with `wandb sync`.
    "wandb": Tracker("Weights & Biases", ("wandb",), ()),
    # The client without MLflow's server and UI (mlflow is ~600 MB installed), plus what its
    # local SQLite store needs; scripts/mlflow_ui.py shows the runs (the UI, at the locked
    # version, run by uvx).
    "mlflow": Tracker(
        "MLflow",
        ("alembic", "mlflow-skinny", "sqlalchemy"),
        ("mlflow",),
        runtime_only=("alembic", "sqlalchemy"),
    ),
}

# Jupyter: ipykernel runs the notebooks in the locked environment (and registers it as a
# kernel for JupyterLab or a cluster's JupyterHub), nbclient executes them headless in the
# tests (reading them with nbformat, which the tests import), nbstripout removes outputs
# before a commit.
NOTEBOOK_DEV_DEPENDENCIES = ("ipykernel", "nbclient", "nbformat", "nbstripout")

MAX_COOLOFF_DAYS = 90


SWEEP_EXAMPLES = {"pytorch": "lr=0.1,0.01 seed=0,1,2", "none": "samples=100,1000 seed=0,1,2"}


def cooloff_error(days: object) -> str:
    """Empty when `days` is a whole number of days from 0 (no cool-off) to the maximum."""
    try:
        value = int(str(days))
    except ValueError:
        return f"'{days}' is not a number of days. Give a whole number, e.g. 7 (0: no cool-off)."
    if not 0 <= value <= MAX_COOLOFF_DAYS:
        return (
            f"{value} days is outside 0 to {MAX_COOLOFF_DAYS}. A week (7) keeps a re-lock away "
            "from releases too new to have been checked; 0 turns the cool-off off."
        )
    return ""


def add_requirements(requirements: list[str], names: tuple[str, ...]) -> list[str]:
    """`requirements` plus each of `names` the list does not name yet (a user's own wins)."""
    present = {canonicalize_name(Requirement(item).name) for item in requirements}
    return [*requirements, *(name for name in names if canonicalize_name(name) not in present)]


def audit_export(torch_plan: torch_index.TorchPlan | None) -> str:
    """`uv export` of every locked package the audit checks (both builds' extras cannot be
    exported together, so a two-build project exports its GPU build)."""
    return (
        "uv export --locked --format requirements.txt --no-emit-project --no-hashes --all-groups"
        + sync_options(torch_plan)
    )


@dataclass(frozen=True)
class DevcontainerPlan:
    uv_image: str
    base_image: str
    gpu: str | None
    sync: str


@dataclass(frozen=True)
class AuditPlan:
    export: str
    pip_audit: str


@dataclass(frozen=True)
class ResearchPlan:
    """What the research-workflow questions add to the project."""

    dependencies: list[str]
    dev_dependencies: list[str]
    tracker_plan: Tracker
    mypy_skip: list[str]
    cooloff: str | None
    cooloff_exempt: list[str]
    devcontainer_plan: DevcontainerPlan | None
    sweep_example: str
    scheduled_upgrade: bool
    audit: AuditPlan | None


def research_plan(
    *,
    dependencies: list[str],
    dev_dependencies: list[str],
    framework: str,
    env_manager: str,
    ci_provider: str,
    build: cuda.Build,
    torch_plan: torch_index.TorchPlan | None,
    tracker: TrackerName,
    notebooks: bool,
    devcontainer: bool,
    scheduled_upgrades: bool,
    vulnerability_audit: bool,
    cooloff_days: int,
) -> ResearchPlan:
    """The research workflow's settings; `torch_plan` is the uv-side plan as written."""
    chosen = TRACKERS[tracker]
    uv = env_manager == "uv"
    github = ci_provider == "github"
    days = cooloff_days if uv else 0
    return ResearchPlan(
        dependencies=add_requirements(dependencies, (*RUN_DEPENDENCIES, *chosen.dependencies)),
        dev_dependencies=add_requirements(
            dev_dependencies, NOTEBOOK_DEV_DEPENDENCIES if notebooks else ()
        ),
        tracker_plan=chosen,
        mypy_skip=list(chosen.mypy_skip),
        cooloff=f"{days} days" if days else None,
        # PyTorch's indexes publish no upload dates, so a cool-off would hide every build
        # there: the packages routed to them are exempt (the cool-off guards PyPI).
        cooloff_exempt=sorted(torch_plan.sources) if days and torch_plan is not None else [],
        devcontainer_plan=DevcontainerPlan(
            uv_image=UV.image,
            base_image=runtime_image(build.name),
            gpu=gpu_vendor(build),
            sync="uv sync --locked" + sync_options(torch_plan),
        )
        if uv and devcontainer
        else None,
        # Six runs of scripts/train_example.py (its settings differ by framework), the
        # size of the job array in scripts/slurm/sweep.sbatch.
        sweep_example=SWEEP_EXAMPLES[framework],
        scheduled_upgrade=uv and github and scheduled_upgrades,
        audit=AuditPlan(audit_export(torch_plan), PIP_AUDIT)
        if uv and github and vulnerability_audit
        else None,
    )


def devcontainer_error(
    devcontainer: object,
    framework: str = "pytorch",
    torch_index_url: str = "",
    platforms: Sequence[str] | None = None,
) -> str:
    """A dev container runs Linux, and cannot see a local wheel folder (uv.lock records its
    path)."""
    wanted = devcontainer is True or str(devcontainer).strip().lower() in ("true", "yes", "1")
    if wanted and platforms is not None and not any(n.startswith("linux-") for n in platforms):
        return (
            "A dev container runs Linux, a platform this project's lock is not made for "
            f"({', '.join(platforms)}). Add linux-x86_64 to platforms, or answer no."
        )
    local = bool(torch_index_url) and wheel_folder.local_folder(torch_index_url) is not None
    if not (wanted and local and framework == "pytorch"):
        return ""
    return (
        f"PyTorch comes from the local folder {torch_index_url}, which a dev container cannot "
        "see (uv.lock records its path). Answer no, or go back and give torch_index_url as "
        "a mirror URL."
    )


FILTERS = {"cooloff_error": cooloff_error, "devcontainer_error": devcontainer_error}
