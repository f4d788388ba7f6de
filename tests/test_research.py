"""The research-workflow answers, checked on renders: which files each adds, what the files
say, and that the workflows, the dev container and the job file pass their real validators.

Tasks are skipped here. The generated projects are installed and run in
tests/test_runs_provenance.py (runs, sweeps, manifests) and tests/test_research_variants.py
(trackers, notebooks, audit, cool-off, upgrade job).
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import render, run

from extensions import containers, research
from extensions.tool_versions import UV

BIN = Path(sys.executable).parent
DATA = Path(__file__).parent / "data"
WORKFLOWS = Path(".github/workflows")

# Files every project has for its runs: settings, records, comparisons, sweeps.
RUN_FILES = {
    "configs/train_example.toml",
    "scripts/compare_runs.py",
    "scripts/sweep.py",
    "kit/src/research_kit/provenance.py",
    "kit/src/research_kit/runs.py",
    "kit/tests/test_runs.py",
}
# Files that exist only when their answer asks for them.
OPTIONAL_FILES = {
    "notebooks": {"notebooks/example.ipynb", "tests/test_notebooks.py"},
    "tracker": {"kit/src/research_kit/tracking.py", "kit/tests/test_tracking.py"},
    "devcontainer": {".devcontainer/devcontainer.json", ".devcontainer/Dockerfile"},
    "agents_md": {"AGENTS.md"},
    "scheduled_upgrades": {".github/workflows/upgrade.yml"},
    "vulnerability_audit": {".github/workflows/audit.yml"},
}
OPTION_ANSWERS = {
    "notebooks": {"notebooks": True},
    "tracker": {"tracker": "wandb"},
    "devcontainer": {"devcontainer": True},
    "agents_md": {"agents_md": True},
    "scheduled_upgrades": {"scheduled_upgrades": True},
    "vulnerability_audit": {"vulnerability_audit": True},
}
# One render per variant, shared by the module's tests.
VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "numpy": {"framework": "none", "python_version": "3.13"},
    "everything-cuda": {
        "accelerator": "cu130", "notebooks": True, "tracker": "mlflow", "devcontainer": True,
        "agents_md": True, "scheduled_upgrades": True, "vulnerability_audit": True,
        "cooloff_days": 7, "include_slurm": True,
    },
    "everything-two-builds": {
        "accelerator": "cu130", "cpu_extra": True, "devcontainer": True,
        "vulnerability_audit": True, "cooloff_days": 14, "tracker": "tensorboard",
    },
    "rocm-devcontainer": {"accelerator": "rocm7.2", "devcontainer": True},
    "numpy-everything": {
        "framework": "none", "notebooks": True, "tracker": "wandb", "devcontainer": True,
        "agents_md": True, "scheduled_upgrades": True, "vulnerability_audit": True,
        "cooloff_days": 3,
    },
    "pixi": {"env_manager": "pixi", "agents_md": True, "notebooks": True},
    "slurm-cpu": {"include_slurm": True, "accelerator": "cpu", "slurm_account": "lab42"},
}  # fmt: skip

ProjectOf = Callable[[str], Path]


@pytest.fixture(scope="module")
def project_of(tmp_path_factory: pytest.TempPathFactory) -> ProjectOf:
    projects: dict[str, Path] = {}

    def _project(variant: str) -> Path:
        if variant not in projects:
            destination = tmp_path_factory.mktemp(variant) / "protein-folding"
            projects[variant] = render(destination, skip_tasks=True, **VARIANTS[variant])
        return projects[variant]

    return _project


def files(project: Path) -> set[str]:
    return {
        str(path.relative_to(project))
        for path in project.rglob("*")
        if path.is_file() and ".git" not in path.parts
    }


def pyproject(project: Path) -> dict[str, Any]:
    return tomllib.loads((project / "pyproject.toml").read_text())


def dependency_names(project: Path) -> set[str]:
    data = pyproject(project)
    listed = list(data["project"]["dependencies"])
    for extra in data["project"].get("optional-dependencies", {}).values():
        listed += extra
    return {re.split(r"[ ;=<>\[]", item)[0].lower() for item in listed}


# ── Which files ───────────────────────────────────────────────────────────


def test_default_project_has_the_run_files_and_no_optional_ones(project_of: ProjectOf) -> None:
    present = files(project_of("default"))
    assert present >= RUN_FILES
    assert not set().union(*OPTIONAL_FILES.values()) & present


@pytest.mark.parametrize("option", list(OPTIONAL_FILES))
def test_each_option_adds_its_files(tmp_path: Path, option: str) -> None:
    project = render(tmp_path / "protein-folding", skip_tasks=True, **OPTION_ANSWERS[option])
    present = files(project)
    assert OPTIONAL_FILES[option] <= present
    others = set().union(*(f for name, f in OPTIONAL_FILES.items() if name != option))
    assert not others & present


def test_pixi_project_gets_no_uv_only_files(project_of: ProjectOf) -> None:
    present = files(project_of("pixi"))
    assert {"AGENTS.md", "notebooks/example.ipynb"} <= present
    assert not {".devcontainer/devcontainer.json", ".github/workflows/audit.yml"} & present


def test_readme_lists_the_exit_statuses_of_exits_py(project_of: ProjectOf) -> None:
    """One table of exit statuses (kit/src/research_kit/exits.py), shown in the README."""
    project = project_of("default")
    spec = importlib.util.spec_from_file_location(
        "exits", project / "kit" / "src" / "research_kit" / "exits.py"
    )
    assert spec is not None and spec.loader is not None
    exits = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(exits)
    readme = (project / "README.md").read_text()
    table = readme[readme.index("## Exit statuses") :].split("\n## ")[0]
    statuses = [int(row.split("|")[1]) for row in table.splitlines() if re.match(r"\| \d", row)]
    assert statuses == [status.value for status in exits.Exit]


# ── Dependencies, pins, uv settings ───────────────────────────────────────


@pytest.mark.parametrize(
    ("variant", "expected", "absent"),
    [
        ("default", {"pydantic-settings"}, {"wandb", "mlflow-skinny", "tensorboardx"}),
        ("numpy-everything", {"pydantic-settings", "wandb"}, {"mlflow-skinny"}),
        ("everything-cuda", {"mlflow-skinny", "sqlalchemy", "alembic"}, {"wandb"}),
        ("everything-two-builds", {"tensorboardx", "torch"}, {"wandb"}),
    ],
)
def test_run_and_tracker_dependencies(
    project_of: ProjectOf, variant: str, expected: set[str], absent: set[str]
) -> None:
    names = dependency_names(project_of(variant))
    assert expected <= names
    assert not absent & names


def test_notebooks_bring_the_kernel_and_the_stripper_as_dev_tools(project_of: ProjectOf) -> None:
    dev = pyproject(project_of("numpy-everything"))["dependency-groups"]["dev"]
    assert set(research.NOTEBOOK_DEV_DEPENDENCIES) <= set(dev)
    assert not set(research.NOTEBOOK_DEV_DEPENDENCIES) & set(
        pyproject(project_of("default"))["dependency-groups"]["dev"]
    )


def test_nbstripout_runs_before_each_commit_with_notebooks(project_of: ProjectOf) -> None:
    def hooks(variant: str) -> dict[str, Any]:
        config = yaml.safe_load((project_of(variant) / ".pre-commit-config.yaml").read_text())
        return {hook["id"]: hook for repo in config["repos"] for hook in repo["hooks"]}

    strip = "nbstripout --extra-keys metadata.language_info"
    assert hooks("numpy-everything")["nbstripout"]["entry"] == f"uv run --locked {strip}"
    assert hooks("pixi")["nbstripout"]["entry"] == f"pixi run --locked {strip}"
    assert hooks("numpy-everything")["nbstripout"]["types"] == ["jupyter"]
    assert "nbstripout" not in hooks("default")


@pytest.mark.parametrize("variant", ["default", "numpy", "pixi"])
def test_uv_version_floor_in_every_project(project_of: ProjectOf, variant: str) -> None:
    uv = pyproject(project_of(variant))["tool"]["uv"]
    assert uv["required-version"] == UV.required_version


@pytest.mark.parametrize(
    ("variant", "span", "exempt"),
    [
        ("default", None, None),
        ("numpy-everything", "3 days", None),
        ("everything-cuda", "7 days", {"torch": False}),
        ("everything-two-builds", "14 days", {"torch": False}),
    ],
)
def test_cooloff_sets_exclude_newer_and_exempts_the_pytorch_indexes(
    project_of: ProjectOf, variant: str, span: str | None, exempt: dict[str, bool] | None
) -> None:
    uv = pyproject(project_of(variant))["tool"]["uv"]
    assert uv.get("exclude-newer") == span
    assert uv.get("exclude-newer-package") == exempt


@pytest.mark.parametrize(
    ("variant", "modules"),
    [
        ("everything-two-builds", ["tensorboardX", "tensorboardX.*"]),
        ("everything-cuda", ["mlflow", "mlflow.*"]),
    ],
)
def test_mypy_does_not_read_the_trackers_without_usable_types(
    project_of: ProjectOf, variant: str, modules: list[str]
) -> None:
    overrides = pyproject(project_of(variant))["tool"]["mypy"]["overrides"]
    skipped = {"module": modules, "ignore_missing_imports": True, "follow_imports": "skip"}
    assert skipped in overrides


def test_tracker_settings_are_documented_without_values(project_of: ProjectOf) -> None:
    wandb_env = (project_of("numpy-everything") / ".env.example").read_text()
    assert "WANDB_MODE=offline" in wandb_env
    assert "# WANDB_API_KEY=\n" in wandb_env
    mlflow_env = (project_of("everything-cuda") / ".env.example").read_text()
    assert "# MLFLOW_TRACKING_URI=" in mlflow_env and "# MLFLOW_TRACKING_TOKEN=\n" in mlflow_env


# ── The workflows ─────────────────────────────────────────────────────────

UPKEEP_VARIANTS = ["everything-cuda", "everything-two-builds", "numpy-everything"]


def workflow(project: Path, name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((project / WORKFLOWS / name).read_text())
    return loaded


def tool(*command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run([str(BIN / command[0]), *command[1:]], cwd)


def test_workflows_match_the_github_schema(project_of: ProjectOf) -> None:
    paths = [
        str(project_of(variant) / WORKFLOWS / name)
        for variant in UPKEEP_VARIANTS
        for name in ("audit.yml", "upgrade.yml")
        if (project_of(variant) / WORKFLOWS / name).is_file()
    ]
    assert len(paths) == 5
    result = tool(
        "check-jsonschema", "--builtin-schema", "vendor.github-workflows", *paths, cwd=Path.cwd()
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dependabot_still_updates_the_actions(project_of: ProjectOf) -> None:
    config = project_of("everything-cuda") / ".github/dependabot.yml"
    result = tool(
        "check-jsonschema", "--builtin-schema", "vendor.dependabot", str(config), cwd=Path.cwd()
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert yaml.safe_load(config.read_text())["updates"][0]["package-ecosystem"] == "github-actions"


@pytest.mark.parametrize("variant", UPKEEP_VARIANTS)
def test_workflows_pass_zizmor(project_of: ProjectOf, variant: str) -> None:
    """Pedantic: the scheduled jobs limit their concurrency and explain each permission."""
    command = ["zizmor", "--offline", "--no-progress", "--pedantic", ".github"]
    result = tool(*command, cwd=project_of(variant))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("variant", "name"), [
    ("everything-cuda", "upgrade.yml"), ("everything-cuda", "audit.yml"),
])  # fmt: skip
def test_scheduled_jobs_run_weekly_by_hand_and_with_a_timeout(
    project_of: ProjectOf, variant: str, name: str
) -> None:
    loaded = workflow(project_of(variant), name)
    triggers = loaded[True]  # YAML 1.1 reads the key `on` as true
    assert len(triggers["schedule"]) == 1 and "workflow_dispatch" in triggers
    assert all("timeout-minutes" in job for job in loaded["jobs"].values())


def test_upgrade_job_runs_the_upgrade_the_checks_and_opens_a_pull_request(
    project_of: ProjectOf,
) -> None:
    loaded = workflow(project_of("everything-cuda"), "upgrade.yml")
    assert loaded["permissions"] == {}
    (job,) = loaded["jobs"].values()
    assert job["permissions"] == {"contents": "write", "pull-requests": "write"}
    runs = [step.get("run", "") for step in job["steps"]]
    assert runs[2].startswith("uv run scripts/setup_env.py upgrade")
    assert any("pytest" in command for command in runs)
    assert any("scripts/smoke_test.py" in command for command in runs)
    create = job["steps"][-1]
    assert create["uses"].startswith("peter-evans/create-pull-request@")
    assert create["with"]["add-paths"].split() == ["pyproject.toml", "uv.lock"]


def test_audit_exports_the_lock_with_the_gpu_build_of_a_two_build_project(
    project_of: ProjectOf,
) -> None:
    def audit_command(variant: str) -> str:
        (job,) = workflow(project_of(variant), "audit.yml")["jobs"].values()
        return str(job["steps"][-1]["run"])

    assert "--extra cu130" in audit_command("everything-two-builds")
    assert "--extra" not in audit_command("everything-cuda")
    assert f"uvx {research.PIP_AUDIT} --vulnerability-service osv" in audit_command(
        "numpy-everything"
    )


def test_audit_runs_when_the_lock_changes(project_of: ProjectOf) -> None:
    triggers = workflow(project_of("numpy-everything"), "audit.yml")[True]
    assert triggers["push"]["paths"] == triggers["pull_request"]["paths"] == ["uv.lock"]


# ── Dev container ─────────────────────────────────────────────────────────

DEVCONTAINERS = {
    "everything-cuda": ("cu130", "nvidia"),
    "everything-two-builds": ("cu130", "nvidia"),
    "rocm-devcontainer": ("rocm7.2", "amd"),
    "numpy-everything": ("cpu", None),
}


def test_devcontainer_json_matches_the_specification_schema(project_of: ProjectOf) -> None:
    paths = [
        str(project_of(variant) / ".devcontainer/devcontainer.json") for variant in DEVCONTAINERS
    ]
    schema = DATA / "devcontainer" / "devContainer.base.schema.json"
    result = tool("check-jsonschema", "--schemafile", str(schema), *paths, cwd=Path.cwd())
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("variant", list(DEVCONTAINERS))
def test_devcontainer_dockerfile_passes_hadolint(project_of: ProjectOf, variant: str) -> None:
    result = tool("hadolint", str(project_of(variant) / ".devcontainer/Dockerfile"), cwd=Path.cwd())
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("variant", list(DEVCONTAINERS))
def test_devcontainer_uses_the_builds_image_and_installs_the_lock(
    project_of: ProjectOf, variant: str
) -> None:
    build, gpu = DEVCONTAINERS[variant]
    folder = project_of(variant) / ".devcontainer"
    config = json.loads((folder / "devcontainer.json").read_text())
    dockerfile = (folder / "Dockerfile").read_text()
    assert f"\nFROM {containers.runtime_image(build)}\n" in dockerfile
    assert config["postCreateCommand"].startswith("uv sync --locked")
    assert ("--extra cu130" in config["postCreateCommand"]) == (variant == "everything-two-builds")
    targets = {mount["target"] for mount in config["mounts"]}
    assert "${containerWorkspaceFolder}/.venv" in targets
    assert (config.get("hostRequirements") == {"gpu": "optional"}) == (gpu == "nvidia")
    assert ("--device=/dev/kfd" in config.get("runArgs", [])) == (gpu == "amd")


def test_devcontainer_names_a_hostile_project_name_safely(tmp_path: Path) -> None:
    name = 'Lab "Q" \\ Notes'
    project = render(tmp_path / "lab-q", skip_tasks=True, project_name=name, devcontainer=True)
    assert json.loads((project / ".devcontainer/devcontainer.json").read_text())["name"] == name


# ── Agent rules and job files ─────────────────────────────────────────────


def ci_commands(project: Path) -> list[str]:
    loaded = yaml.safe_load((project / WORKFLOWS / "ci.yml").read_text())
    commands = [step.get("run", "") for step in loaded["jobs"]["checks"]["steps"]]
    return [command for command in commands if " run --locked " in command]


@pytest.mark.parametrize("variant", ["everything-cuda", "pixi"])
def test_agents_md_lists_the_checks_ci_runs(project_of: ProjectOf, variant: str) -> None:
    project = project_of(variant)
    text = (project / "AGENTS.md").read_text()
    checks = text.split("```bash\n")[1].split("```")[0].splitlines()
    expected = [
        c.replace(" --locked", "").replace(" --output-format=github", "")
        for c in ci_commands(project)
    ]
    assert checks == expected


def test_agents_md_forbids_pip_and_keeps_pins_equal_to_the_lock(project_of: ProjectOf) -> None:
    text = (project_of("everything-cuda") / "AGENTS.md").read_text()
    assert "`uv add NAME`" in text and "Never `pip install`" in text
    assert "pinned `==` to its version in `uv.lock`" in text


def test_sweep_job_array_passes_shellcheck_and_asks_for_one_gpu(project_of: ProjectOf) -> None:
    job = project_of("everything-cuda") / "scripts/slurm/sweep.sbatch"
    result = tool("shellcheck", str(job), cwd=Path.cwd())
    assert result.returncode == 0, result.stdout
    text = job.read_text()
    assert "#SBATCH --array=0-5\n" in text and "#SBATCH --gpus-per-node=1\n" in text
    assert 'uv run --frozen --no-sync python scripts/sweep.py "$@"' in text
    cpu_job = (project_of("slurm-cpu") / "scripts/slurm/sweep.sbatch").read_text()
    assert "--gpus-per-node" not in cpu_job and "#SBATCH --account=lab42\n" in cpu_job


def test_train_script_reads_its_settings_file(project_of: ProjectOf) -> None:
    project = project_of("everything-cuda")
    assert 'TrainConfig.load("configs/train.toml")' in (project / "scripts/train.py").read_text()
    settings = tomllib.loads((project / "configs/train.toml").read_text())
    assert settings["steps"] == 500 and settings["batch_size"] == 64


@pytest.mark.parametrize("variant", ["default", "numpy"])
def test_sweep_example_names_settings_the_example_script_has(
    project_of: ProjectOf, variant: str
) -> None:
    project = project_of(variant)
    (line,) = [
        line
        for line in (project / "README.md").read_text().splitlines()
        if line.startswith("uv run scripts/sweep.py scripts/train_example.py")
    ]
    names = [item.split("=")[0] for item in line.split("#")[0].split()[4:]]
    settings = tomllib.loads((project / "configs/train_example.toml").read_text())
    assert names and set(names) <= set(settings)
