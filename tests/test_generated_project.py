"""A generated project is ready right after `copier copy`: locked, pinned, installed, tested.

These tests run real uv against PyPI and, for torch, the real CPU wheel from a local folder.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from conftest import run
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

pytestmark = pytest.mark.slow

PROJECTS = ["torch_project", "numpy_project"]


@pytest.fixture(params=PROJECTS)
def project(request: pytest.FixtureRequest) -> Path:
    return request.getfixturevalue(request.param)


def direct_requirements(project: Path) -> list[Requirement]:
    """The direct dependencies from an index: kit/'s <project>-kit, built from its folder,
    has no release to pin."""
    data = tomllib.loads((project / "pyproject.toml").read_text())
    listed = list(data["project"]["dependencies"])
    for group in data.get("dependency-groups", {}).values():
        listed += [item for item in group if isinstance(item, str)]
    local = {name for name, source in data["tool"]["uv"]["sources"].items() if "path" in source}
    assert local == {f"{data['project']['name']}-kit"}
    return [Requirement(item) for item in listed if Requirement(item).name not in local]


def locked_versions(project: Path) -> dict[str, list[str]]:
    lock = tomllib.loads((project / "uv.lock").read_text())
    versions: dict[str, list[str]] = {}
    for package in lock["package"]:
        versions.setdefault(canonicalize_name(package["name"]), []).append(package["version"])
    return versions


def test_every_direct_dependency_is_pinned_to_the_lock(project: Path) -> None:
    locked = locked_versions(project)
    for requirement in direct_requirements(project):
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", requirement
        versions = locked[canonicalize_name(requirement.name)]
        assert all(Version(v).public == specifier.version for v in versions), (
            requirement,
            versions,
        )


def test_lock_is_current(project: Path) -> None:
    result = run(["uv", "lock", "--check"], project)
    assert result.returncode == 0, result.stderr


def test_generated_tests_pass(project: Path, ci_results: CiResults) -> None:
    """The project's own tests, as its CI's "Tests" step runs them (run once, for both)."""
    steps = ci_run(project, ci_results)
    assert "Tests" in steps, f"the CI stopped before its tests: {list(steps)}"
    result = steps["Tests"][1]
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout


def test_generated_project_is_ruff_clean(project: Path) -> None:
    result = run(["uv", "run", "--locked", "ruff", "check", "."], project)
    assert result.returncode == 0, result.stdout


def github_ci_steps(project: Path) -> list[tuple[str, str]]:
    """The named `run` steps of the project's GitHub Actions job, in order."""
    workflow = yaml.safe_load((project / ".github/workflows/ci.yml").read_text())
    return [
        (step["name"], step["run"]) for step in workflow["jobs"]["checks"]["steps"] if "run" in step
    ]


CiResults = dict[Path, dict[str, tuple[str, subprocess.CompletedProcess[str]]]]


@pytest.fixture(scope="module")
def ci_results() -> CiResults:
    """Each project's CI steps, run once for the module: {project: {name: (command, result)}}."""
    return {}


def ci_run(
    project: Path, results: CiResults
) -> dict[str, tuple[str, subprocess.CompletedProcess[str]]]:
    """The project's CI steps, in order, up to the first that fails (as a CI job stops)."""
    if project not in results:
        results[project] = {}
        for name, command in github_ci_steps(project):
            result = run(shlex.split(command), project)
            results[project][name] = (command, result)
            if result.returncode != 0:
                break
    return results[project]


def test_ci_steps_pass(project: Path, ci_results: CiResults) -> None:
    """The project's own CI, step by step: install, lint, format, type check, tests, smoke test."""
    assert [name for name, _ in github_ci_steps(project)] == [
        "Install the locked environment", "Lint", "Format", "Type check", "Tests", "Smoke test",
    ]  # fmt: skip
    for name, (command, result) in ci_run(project, ci_results).items():
        assert result.returncode == 0, f"{name}: {command}\n{result.stdout}{result.stderr}"


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pre-commit's cache of hook environments (pre-commit-hooks, from PyPI)."""
    return tmp_path_factory.mktemp("pre-commit")


def test_pre_commit_hooks_pass(project: Path, pre_commit_home: Path) -> None:
    listed = run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], project)
    files = listed.stdout.split()
    assert "pyproject.toml" in files and ".venv" not in {f.split("/")[0] for f in files}
    result = run(
        [str(Path(sys.executable).parent / "pre-commit"), "run", "--files", *files],
        project,
        env={**os.environ, "PRE_COMMIT_HOME": str(pre_commit_home)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    for hook in ("ruff check", "ruff format", "mypy", "uv.lock matches", "TOML files parse"):
        assert any(line.startswith(hook) and line.endswith("Passed") for line in lines), hook


def test_smoke_test_passes_on_cpu(project: Path) -> None:
    result = run(["uv", "run", "--locked", "scripts/smoke_test.py"], project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "VERDICT: USABLE on CPU (no GPU here)" in result.stdout


def smoke_json(project: Path, *args: str) -> tuple[int, dict]:
    result = run(["uv", "run", "--locked", "scripts/smoke_test.py", "--json", *args], project)
    return result.returncode, json.loads(result.stdout)


def test_smoke_test_json_report(project: Path) -> None:
    code, report = smoke_json(project)
    assert code == report["exit_code"] == 0
    assert report["verdict"] == "cpu"
    assert report["gpu_usable"] is False
    names = [check["name"] for check in report["checks"]]
    gpu_checks = ["torch", "driver", "devices", "compute", "multi-gpu", "toolchain", "mps"]
    torch = (project / "kit/src/research_kit/machine.py").is_file()  # a NumPy project checks no GPU
    assert names == ["interpreter", "lock", "env", *(gpu_checks if torch else [])]
    for check in report["checks"]:
        assert check["status"] in ("PASS", "WARN", "FAIL", "SKIP")
        assert set(check) == {"name", "status", "summary", "remedy"}
    assert report["facts"]["in_project_env"] is True


def test_smoke_test_judges_recorded_facts(torch_project: Path, tmp_path: Path) -> None:
    """A report recorded on one machine can be judged again: old driver for a CUDA build."""
    project = torch_project
    _, report = smoke_json(project)
    report["facts"].update(torch_version="2.13.0+cu130", torch_cuda="13.0", driver="550.54.14")
    recorded = tmp_path / "recorded.json"
    recorded.write_text(json.dumps(report))
    code, judged = smoke_json(project, "--facts", str(recorded))
    assert code == 1
    driver = next(c for c in judged["checks"] if c["name"] == "driver")
    assert "accelerator=cu128" in driver["remedy"]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "cannot read it"),
        ("{not json", "not a smoke test report (JSONDecodeError"),
        ('{"verdict": "cpu"}', "not a smoke test report (KeyError"),
        ('{"facts": [1, 2]}', "not a smoke test report"),
        ('{"facts": {"devices": [{"name": "A100"}]}}', "not a smoke test report"),
        ('{"facts": {"python": 3.12, "gpu_capabilities": 7}}', "not a smoke test report"),
    ],
    ids=["missing", "not-json", "no-facts", "facts-not-a-table", "device-half", "wrong-types"],
)
def test_a_recorded_facts_file_that_is_not_a_report_is_refused_in_one_line(
    numpy_project: Path, tmp_path: Path, content: str | None, problem: str
) -> None:
    recorded = tmp_path / "recorded.json"
    if content is not None:
        recorded.write_text(content)
    python = str(numpy_project / ".venv" / "bin" / "python")
    judged = run([python, "scripts/smoke_test.py", "--facts", str(recorded)], numpy_project)
    assert judged.returncode == 2, judged.stdout + judged.stderr
    assert "Traceback" not in judged.stderr, judged.stderr
    assert f"--facts {recorded}: {problem}" in judged.stderr, judged.stderr
    assert judged.stdout == ""


def test_lock_drift_is_caught_and_the_remedy_fixes_it(numpy_project: Path) -> None:
    """A package changed behind the lock's back, seen from the venv's own python."""
    python = str(numpy_project / ".venv" / "bin" / "python")
    for requirement in ("python-dotenv==1.0.1", "six==1.16.0"):
        install = run(["uv", "pip", "install", "--python", python, requirement], numpy_project)
        assert install.returncode == 0, install.stderr
    smoke = run([python, "scripts/smoke_test.py", "--json"], numpy_project)
    lock = next(c for c in json.loads(smoke.stdout)["checks"] if c["name"] == "lock")
    assert smoke.returncode == 1 and lock["status"] == "FAIL"
    assert "python-dotenv: installed 1.0.1, locked 1." in lock["summary"]
    assert "six: installed 1.16.0, not in uv.lock" in lock["summary"]
    assert run(["uv", "sync", "--locked"], numpy_project).returncode == 0
    assert run([python, "scripts/smoke_test.py"], numpy_project).returncode == 0


def installed_top_level_modules(project: Path) -> dict[str, set[str]]:
    """What each distribution in the project's environment installed, from its RECORD."""
    from importlib.metadata import distributions

    from tools.import_names import top_level_names

    site = next((project / ".venv" / "lib").glob("python3.*/site-packages"))
    return {
        canonicalize_name(dist.metadata["Name"]): top_level_names(
            [str(file) for file in dist.files or []]
        )
        for dist in distributions(path=[str(site)])
    }


def template_locked_packages(project: Path) -> set[str]:
    """Packages of the lock that the template's own dependencies bring (not the user's)."""
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    from extensions import requirements

    own = {
        canonicalize_name(Requirement(item).name)
        for item in requirements.split_requirements(answers.get("extra_dependencies", ""))
    }
    graph: dict[str, set[str]] = {}
    for package in tomllib.loads((project / "uv.lock").read_text())["package"]:
        if package["source"].get("editable") == "kit":  # kit/, no package of an index
            own.add(canonicalize_name(package["name"]))
        edges = graph.setdefault(canonicalize_name(package["name"]), set())
        for key in ("dependencies", "dev-dependencies", "optional-dependencies"):
            value = package.get(key, [])
            groups = value.values() if isinstance(value, dict) else [value]
            edges.update(canonicalize_name(dep["name"]) for group in groups for dep in group)
    root = canonicalize_name(project_name(project))
    reached, todo = set(), [name for name in graph[root] if name not in own]
    while todo:
        name = todo.pop()
        if name not in reached:
            reached.add(name)
            todo.extend(graph.get(name, ()))
    return reached


def test_every_locked_package_is_in_the_import_name_table(project: Path) -> None:
    """The table behind the package-name check knows every package the template's
    dependencies bring into a real lock.

    When this fails, a dependency changed: run `uv run python -m tools.import_names`.
    """
    from extensions import import_names

    table = import_names.table().distributions
    assert template_locked_packages(project) - set(table) == set()


def test_installed_modules_are_those_the_table_names(project: Path) -> None:
    from extensions import import_names

    table = import_names.table().distributions
    for name, modules in installed_top_level_modules(project).items():
        if name in template_locked_packages(project):
            assert modules <= set(table[name]), (name, modules)


def project_name(project: Path) -> str:
    return str(tomllib.loads((project / "pyproject.toml").read_text())["project"]["name"])
