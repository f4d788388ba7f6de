"""The research-workflow options in generated, installed projects (NumPy only, for speed):
each project passes its own CI steps; each tracker writes offline, with a secret in .env that
reaches no output; the example notebook runs headless on the registered kernel and the
pre-commit hook strips it; the audit job finds a vulnerable locked package; the cool-off
holds back new releases; the upgrade job describes its changes.

The audit is checked against a STAND-IN of the OSV API on loopback (this machine reaches
no advisory database): real pip-audit, real `uv export`, a stand-in advisory.
"""

from __future__ import annotations

import datetime
import http.server
import json
import os
import shlex
import subprocess
import sys
import threading
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml
from conftest import HEAVY_PACKAGES, TEMPLATE, git, imported_by_help, render, run

pytestmark = pytest.mark.slow

VARIANTS: dict[str, dict[str, Any]] = {
    "tensorboard": {"tracker": "tensorboard", "notebooks": True, "python_version": "3.12"},
    "wandb": {
        "tracker": "wandb", "agents_md": True, "devcontainer": True, "python_version": "3.12",
    },
    "mlflow": {
        "tracker": "mlflow", "scheduled_upgrades": True, "vulnerability_audit": True,
        "cooloff_days": 7, "python_version": "3.13",
    },
}  # fmt: skip
TENSORBOARD = "tensorboard==2.21.0"  # reads the event files, as a user's `uvx tensorboard` does
SECRET = "sk-never-in-an-output-91c3"
OLDER_NUMPY = "2.2.6"  # older than any lock made today; wheels for Python 3.10 to 3.13

ProjectOf = Callable[[str], Path]


@pytest.fixture(scope="module")
def project_of(tmp_path_factory: pytest.TempPathFactory) -> ProjectOf:
    """A variant generated with its tasks (locked, pinned, installed) and committed."""
    projects: dict[str, Path] = {}

    def _project(variant: str) -> Path:
        if variant not in projects:
            destination = tmp_path_factory.mktemp(variant) / "plain-numbers"
            answers = {"project_name": "Plain Numbers", "framework": "none", **VARIANTS[variant]}
            project = render(destination, **answers)
            assert git("status", "--porcelain", cwd=project) == ""  # the copy committed it
            projects[variant] = project
        return projects[variant]

    return _project


def workflow_steps(project: Path, name: str) -> dict[str, str]:
    """The `run` steps of a workflow's single job, by step name."""
    jobs = yaml.safe_load((project / ".github/workflows" / name).read_text())["jobs"]
    job = jobs["checks"] if name == "ci.yml" else next(iter(jobs.values()))
    return {step["name"]: step["run"] for step in job["steps"] if "run" in step}


def bash(script: str, project: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """A workflow step as GitHub runs it with `shell: bash`."""
    command = ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script]
    return run(command, project, env={**os.environ, **env}, timeout=600)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_generated_ci_steps_pass(project_of: ProjectOf, variant: str) -> None:
    """Install, lint, format, strict type check, the project's tests (the tracker's own test,
    the notebook's), the smoke test."""
    project = project_of(variant)
    for name, command in workflow_steps(project, "ci.yml").items():
        result = run(shlex.split(command), project, timeout=600)
        assert result.returncode == 0, f"{name}: {command}\n{result.stdout}{result.stderr}"


def template_pin(name: str) -> str:
    """A tool's pin in the template's own dev group (`deptry==0.25.1`)."""
    pins = tomllib.loads((TEMPLATE / "pyproject.toml").read_text())["dependency-groups"]["dev"]
    return next(pin for pin in pins if pin.startswith(f"{name}=="))


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_every_import_is_a_declared_dependency(project_of: ProjectOf, variant: str) -> None:
    """deptry, in the installed project (it maps imports to the installed distributions):
    with the project's [tool.deptry] settings, then over the tests too, where a dev
    dependency may be imported (pydantic and nbformat were imported but not declared)."""
    project = project_of(variant)
    deptry = ["uv", "run", "--locked", "--with", template_pin("deptry"), "deptry", "."]
    for options in ([], ["--exclude", r"\.venv", "--ignore", "DEP004"]):
        result = run([*deptry, *options], project)
        assert result.returncode == 0, result.stdout + result.stderr


# ── Trackers, offline ─────────────────────────────────────────────────────


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_script_answers_help_without_importing_its_tracker(
    project_of: ProjectOf, variant: str
) -> None:
    """--help is read before the tracker's package (seconds to import for MLflow, W&B) is."""
    project = project_of(variant)
    scripts = sorted(path.name for path in (project / "scripts").glob("*.py"))
    heavy = {script: imported_by_help(project, script) & HEAVY_PACKAGES for script in scripts}
    assert {script: found for script, found in heavy.items() if found} == {}


@pytest.fixture(scope="module")
def tracked_run(
    project_of: ProjectOf, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], Path]:
    """One run of scripts/train_example.py per variant, with a secret in .env; its folder."""
    folders: dict[str, Path] = {}

    def _run(variant: str) -> Path:
        if variant not in folders:
            project = project_of(variant)
            with (project / ".env").open("a") as env_file:
                env_file.write(f"LAB_API_TOKEN={SECRET}\n")
            home = tmp_path_factory.mktemp("tracker-home")
            env = {**os.environ, "WANDB_CONFIG_DIR": str(home), "WANDB_CACHE_DIR": str(home)}
            before = set((project / "outputs" / "train_example").glob("*"))
            result = run(["uv", "run", "--locked", "scripts/train_example.py"], project, env=env)
            assert result.returncode == 0, result.stdout + result.stderr
            (folders[variant],) = set((project / "outputs" / "train_example").glob("*")) - before
        return folders[variant]

    return _run


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_no_secret_from_env_reaches_any_output(
    project_of: ProjectOf, tracked_run: Callable[[str], Path], variant: str
) -> None:
    folder = tracked_run(variant)
    assert "LAB_API_TOKEN" in json.loads((folder / "manifest.json").read_text())["env_keys"]
    for path in (project_of(variant) / "outputs").rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def test_tensorboard_event_files_are_read_by_tensorboard(
    project_of: ProjectOf, tracked_run: Callable[[str], Path]
) -> None:
    folder = tracked_run("tensorboard")
    reader = (
        "import sys\n"
        "from tensorboard.backend.event_processing.event_accumulator import EventAccumulator\n"
        "events = EventAccumulator(sys.argv[1])\n"
        "events.Reload()\n"
        "print([(e.step, round(e.value, 6)) for e in events.Scalars('max_weight_error')])\n"
    )
    command = ["uv", "run", "--locked", "--with", TENSORBOARD, "python", "-c", reader, str(folder)]
    result = run(command, project_of("tensorboard"))
    assert result.returncode == 0, result.stderr
    error = json.loads((folder / "results.json").read_text())["max_weight_error"]
    assert result.stdout.strip() == str([(0, round(error, 6))])


def test_wandb_writes_an_offline_run_into_the_run_folder(
    tracked_run: Callable[[str], Path],
) -> None:
    (offline,) = (tracked_run("wandb") / "wandb").glob("offline-run-*")
    (records,) = offline.glob("run-*.wandb")
    assert b"max_weight_error" in records.read_bytes()


def test_mlflow_logs_to_the_local_store(
    project_of: ProjectOf, tracked_run: Callable[[str], Path]
) -> None:
    folder = tracked_run("mlflow")
    reader = (
        "import sys, warnings\n"
        "warnings.simplefilter('ignore')\n"
        "from mlflow.tracking import MlflowClient\n"
        "from research_kit.tracking import tracking_uri\n"
        "client = MlflowClient(tracking_uri())\n"
        "experiment = client.get_experiment_by_name('train_example')\n"
        "(found,) = client.search_runs([experiment.experiment_id],\n"
        "    filter_string=f\"tags.run_folder = '{sys.argv[1]}'\")\n"
        "print(found.data.params['samples'], found.data.metrics['max_weight_error'])\n"
    )
    project = project_of("mlflow")
    result = run(["uv", "run", "--locked", "python", "-c", reader, str(folder)], project)
    assert result.returncode == 0, result.stderr
    error = json.loads((folder / "results.json").read_text())["max_weight_error"]
    assert result.stdout.split() == ["512", str(error)]
    assert (project / "outputs" / "mlflow.db").is_file()


def test_the_documented_mlflow_viewer_resolves_to_the_locked_mlflow(
    project_of: ProjectOf,
) -> None:
    """The README's viewer runs MLflow's UI at the locked mlflow-skinny's version: the
    store's schema is that version's, and a UI of another version refuses it. Resolved, not
    installed (the UI is 600 MB); starting it was checked by hand (issue #20)."""
    project = project_of("mlflow")
    readme = (project / "README.md").read_text()
    assert "`uv run scripts/mlflow_ui.py`" in readme and "see the runs with\n`uvx" not in readme
    locked = tomllib.loads((project / "uv.lock").read_text())["package"]
    (skinny,) = [p["version"] for p in locked if p["name"] == "mlflow-skinny"]
    result = run(["uv", "run", "--locked", "scripts/mlflow_ui.py", "--check"], project)
    assert result.returncode == 0, result.stdout + result.stderr
    resolved = result.stdout.split("resolves to ")[1].split(";")[0].split(", ")
    assert {f"mlflow=={skinny}", f"mlflow-skinny=={skinny}"} <= set(resolved), result.stdout


# ── Notebooks ─────────────────────────────────────────────────────────────


def readme_command(project: Path, starts_with: str) -> list[str]:
    """A command the generated README tells the user to run."""
    for line in (project / "README.md").read_text().splitlines():
        if line.startswith(starts_with):
            return shlex.split(line.split("  #")[0])
    raise AssertionError(f"README has no line starting with {starts_with!r}")


def test_registered_kernel_runs_the_notebook_headless(
    project_of: ProjectOf, tmp_path: Path
) -> None:
    project = project_of("tensorboard")
    env = {**os.environ, "JUPYTER_DATA_DIR": str(tmp_path / "jupyter")}
    register = readme_command(project, "uv run python -m ipykernel install")
    result = run(register, project, env=env)
    assert result.returncode == 0, result.stderr
    kernel = json.loads((tmp_path / "jupyter/kernels/plain-numbers/kernel.json").read_text())
    assert Path(kernel["argv"][0]) == project / ".venv" / "bin" / "python"

    executed = tmp_path / "executed.ipynb"
    command = ["uv", "run", "--locked", "jupyter", "execute", "--kernel_name=plain-numbers"]
    result = run([*command, f"--output={executed}", "notebooks/example.ipynb"], project, env=env)
    assert result.returncode == 0, result.stderr
    cells = json.loads(executed.read_text())["cells"]
    printed = "".join("".join(o.get("text", "")) for c in cells for o in c.get("outputs", []))
    assert "largest weight error" in printed


def test_notebook_is_committed_stripped_and_the_hook_strips_outputs(
    project_of: ProjectOf, tmp_path: Path
) -> None:
    project = project_of("tensorboard")
    notebook = project / "notebooks" / "example.ipynb"
    config = yaml.safe_load((project / ".pre-commit-config.yaml").read_text())
    (hook,) = [h for repo in config["repos"] for h in repo["hooks"] if h["id"] == "nbstripout"]
    verify = run([*shlex.split(hook["entry"]), "--verify", str(notebook)], project)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    committed = notebook.read_text()
    executed = tmp_path / "executed.ipynb"
    command = ["uv", "run", "--locked", "jupyter", "execute", f"--output={executed}"]
    assert run([*command, str(notebook)], project).returncode == 0
    notebook.write_text(executed.read_text())
    try:
        pre_commit = str(Path(sys.executable).parent / "pre-commit")
        env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit")}
        hook = run([pre_commit, "run", "nbstripout", "--files", str(notebook)], project, env=env)
        assert hook.returncode == 1 and "files were modified by this hook" in hook.stdout
        assert notebook.read_text() == committed
    finally:
        notebook.write_text(committed)


# ── The audit, against a stand-in of the OSV API ──────────────────────────


class StandInOsv(http.server.BaseHTTPRequestHandler):
    """STAND-IN for api.osv.dev's /v1/query: answers from `advisories`, records each query."""

    advisories: ClassVar[dict[tuple[str, str], list[dict[str, Any]]]] = {}
    queried: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        query = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        name, version = query["package"]["name"], query["version"]
        type(self).queried.append(name)
        body = json.dumps({"vulns": self.advisories.get((name, version), [])}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def osv() -> Iterator[tuple[str, type[StandInOsv]]]:
    handler = type("Handler", (StandInOsv,), {"advisories": {}, "queried": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1/query", handler
    finally:
        server.shutdown()
        server.server_close()


def locked_version(project: Path, name: str) -> str:
    lock = tomllib.loads((project / "uv.lock").read_text())
    return next(p["version"] for p in lock["package"] if p["name"] == name)


def audit(project: Path, osv_url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    (script,) = workflow_steps(project, "audit.yml").values()
    return bash(script, project, RUNNER_TEMP=str(tmp_path), PIP_AUDIT_OSV_URL=osv_url)


def test_audit_queries_every_locked_package_and_passes_without_findings(
    project_of: ProjectOf, osv: tuple[str, type[StandInOsv]], tmp_path: Path
) -> None:
    url, handler = osv
    result = audit(project_of("mlflow"), url, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No known vulnerabilities found" in result.stdout + result.stderr
    expected = {"numpy", "python-dotenv", "pydantic-settings", "mlflow-skinny", "pytest"}
    assert expected <= set(handler.queried)


def test_audit_fails_on_a_vulnerable_locked_package_and_names_the_fix(
    project_of: ProjectOf, osv: tuple[str, type[StandInOsv]], tmp_path: Path
) -> None:
    url, handler = osv
    project = project_of("mlflow")
    version = locked_version(project, "numpy")
    handler.advisories[("numpy", version)] = [
        {
            "id": "STAND-IN-2026-0001",
            "summary": "Stand-in advisory served by the test suite",
            "modified": "2026-11-30T00:00:00Z",
            "affected": [
                {
                    "package": {"ecosystem": "PyPI", "name": "numpy"},
                    "ranges": [
                        {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "99.0"}]}
                    ],
                    "versions": [version],
                }
            ],
        }
    ]
    result = audit(project, url, tmp_path)
    assert result.returncode == 1
    row = next(line for line in result.stdout.splitlines() if line.startswith("numpy "))
    assert row.split() == ["numpy", version, "STAND-IN-2026-0001", "99.0"]


# ── Cool-off and the upgrade job ──────────────────────────────────────────


def test_cooloff_lock_holds_only_releases_a_week_old(project_of: ProjectOf) -> None:
    project = project_of("mlflow")
    lock = tomllib.loads((project / "uv.lock").read_text())
    assert lock["options"]["exclude-newer-span"] == "P7D"
    cutoff = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=7)
    uploads = [
        datetime.datetime.fromisoformat(file["upload-time"])
        for package in lock["package"]
        for file in [*package.get("wheels", []), package.get("sdist") or {}]
        if "upload-time" in file
    ]
    assert len(uploads) > 50
    assert max(uploads) < cutoff
    assert run(["uv", "lock", "--check"], project).returncode == 0


def set_back(project: Path, name: str, version: str) -> None:
    """Make the set-up's pin of `name` an old one, as a lock from last year would have it.

    (`uv add name==version` would not do: that pin is the user's, which the upgrade holds.)
    """
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text()
    current = tomllib.loads(text)["tool"]["setup-env"]["pinned"][name]
    text = text.replace(f'"{name}=={current}"', f'"{name}=={version}"')
    pyproject.write_text(text.replace(f'{name} = "{current}"', f'{name} = "{version}"'))
    locked = run(["uv", "lock"], project)
    assert locked.returncode == 0, locked.stderr


def test_upgrade_job_opens_a_pull_request_naming_each_change(
    project_of: ProjectOf, tmp_path: Path
) -> None:
    project = project_of("mlflow")
    usage = run(["uv", "run", "scripts/setup_env.py", "--help"], project).stdout
    # The job runs `setup_env.py upgrade`: without that command it could only fail.
    assert "upgrade" in usage, f"scripts/setup_env.py offers no `upgrade` command:\n{usage}"
    set_back(project, "numpy", OLDER_NUMPY)
    steps = workflow_steps(project, "upgrade.yml")
    try:
        for name in ("Upgrade (re-lock, re-pin, install, quick check)", "Tests", "Smoke test"):
            result = bash(steps[name], project, RUNNER_TEMP=str(tmp_path))
            assert result.returncode == 0, f"{name}\n{result.stdout}{result.stderr}"
        outcomes = {"TESTS": "success", "SMOKE": "success"}
        result = bash(steps["Describe the changes"], project, RUNNER_TEMP=str(tmp_path), **outcomes)
        assert result.returncode == 0, result.stderr
        body = (tmp_path / "pull-request.md").read_text()
        assert any(line.startswith(f"- numpy {OLDER_NUMPY} → ") for line in body.splitlines()), body
        assert "- Smoke test: success, VERDICT: USABLE on CPU" in body
    finally:
        git("checkout", "pyproject.toml", "uv.lock", cwd=project)
        assert run(["uv", "sync", "--locked"], project).returncode == 0
