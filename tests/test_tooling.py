"""CI, pre-commit, citation, license and the Scientific Python guide, checked on renders.

Each tool here is the real one: sp-repo-review, zizmor, check-jsonschema (with the GitHub
and GitLab schemas it ships), pre-commit and cffconvert. Tasks are skipped; running the CI
steps and the hooks in installed projects is in tests/test_generated_project.py.
"""

from __future__ import annotations

import datetime
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ALL_PLATFORMS, render, run
from repo_review.processor import process

BIN = Path(sys.executable).parent
WORKFLOW = Path(".github/workflows/ci.yml")
GITLAB_CI = Path(".gitlab-ci.yml")
CFFCONVERT = "cffconvert==2.0.0"  # validates CFF 1.2.0; run apart (it needs jsonschema < 4)

# One render per variant, shared by the tests of this module; between them the variants
# cover every CI provider, both env managers, both frameworks and every license.
VARIANTS: dict[str, dict[str, Any]] = {
    "torch-uv-github": {"framework": "pytorch", "license": "MIT"},
    "cuda-uv-gitlab": {
        "framework": "pytorch", "accelerator": "cu130", "ci_provider": "gitlab",
        "license": "Apache-2.0",
    },
    "numpy-uv-noci": {"framework": "none", "ci_provider": "none", "license": "Proprietary"},
    "torch-pixi-github": {
        "framework": "pytorch", "env_manager": "pixi", "license": "BSD-3-Clause",
        "author_name": "Ludwig van Beethoven", "orcid": "orcid.org/0000-0002-1694-233x",
    },
    "numpy-pixi-gitlab": {
        "framework": "none", "env_manager": "pixi", "ci_provider": "gitlab",
        "license": "GPL-3.0-only",
    },
    # A lock without Linux x86_64: CI (and the weekly upgrade) run on a Windows runner.
    "numpy-windows-github": {
        "framework": "none", "platforms": ["windows-x86_64", "macos-arm64"],
        "scheduled_upgrades": True,
    },
}  # fmt: skip


def answer(variant: str, question: str, default: str) -> str:
    return str(VARIANTS[variant].get(question, default))


ALL = list(VARIANTS)
GITHUB = [name for name in ALL if answer(name, "ci_provider", "github") == "github"]
GITLAB = [name for name in ALL if answer(name, "ci_provider", "github") == "gitlab"]
WITH_CI = GITHUB + GITLAB

pytestmark = pytest.mark.xdist_group("tooling")  # one worker renders each variant once


@pytest.fixture(scope="module")
def project_of(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """The render of a variant, made on first use (tasks skipped)."""
    projects: dict[str, Path] = {}

    def _project(variant: str) -> Path:
        if variant not in projects:
            destination = tmp_path_factory.mktemp(variant) / "protein-folding"
            projects[variant] = render(destination, skip_tasks=True, **VARIANTS[variant])
        return projects[variant]

    return _project


def tool(*command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run([str(BIN / command[0]), *command[1:]], cwd)


def ci_commands(project: Path, ci_provider: str) -> list[str]:
    """The shell commands of the CI job that checks the project, in order."""
    if ci_provider == "github":
        workflow = yaml.safe_load((project / WORKFLOW).read_text())
        return [step["run"] for step in workflow["jobs"]["checks"]["steps"] if "run" in step]
    return list(yaml.safe_load((project / GITLAB_CI).read_text())["checks"]["script"])


ProjectOf = Callable[[str], Path]


@pytest.mark.parametrize("variant", ALL)
def test_scientific_python_guide_finds_no_failure(project_of: ProjectOf, variant: str) -> None:
    results = process(project_of(variant)).results
    failed = [f"{r.name} {r.description}: {r.err_msg}" for r in results if r.result is False]
    assert not failed, "\n".join(failed)


@pytest.mark.parametrize("variant", ALL)
def test_each_skipped_guide_check_says_why(project_of: ProjectOf, variant: str) -> None:
    results = process(project_of(variant)).results
    ignored = [r for r in results if r.skip_reason]
    assert ignored
    assert all(len(r.skip_reason) > 20 for r in ignored)


@pytest.mark.parametrize(
    ("variants", "schema", "path"),
    [
        pytest.param(GITHUB, "vendor.github-workflows", WORKFLOW, id="github"),
        pytest.param(GITLAB, "vendor.gitlab-ci", GITLAB_CI, id="gitlab"),
    ],
)
def test_ci_config_matches_its_schema(
    project_of: ProjectOf, variants: list[str], schema: str, path: Path
) -> None:
    files = [str(project_of(variant) / path) for variant in variants]
    result = tool("check-jsonschema", "--builtin-schema", schema, *files, cwd=Path.cwd())
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("variant", GITHUB)
def test_every_github_job_has_a_timeout(project_of: ProjectOf, variant: str) -> None:
    workflow = yaml.safe_load((project_of(variant) / WORKFLOW).read_text())
    assert all("timeout-minutes" in job for job in workflow["jobs"].values())


@pytest.mark.parametrize("variant", GITHUB)
def test_ci_runs_on_a_platform_the_lock_is_made_for(project_of: ProjectOf, variant: str) -> None:
    workflows = project_of(variant) / ".github" / "workflows"
    platforms = VARIANTS[variant].get("platforms", ALL_PLATFORMS)
    expected = "ubuntu-latest" if "linux-x86_64" in platforms else "windows-latest"
    for name in ("ci.yml", "upgrade.yml"):
        if (workflows / name).is_file():
            job = next(iter(yaml.safe_load((workflows / name).read_text())["jobs"].values()))
            assert job["runs-on"] == expected, name
            if expected.startswith("windows"):  # the steps are written for bash
                assert job["defaults"]["run"]["shell"] == "bash"


@pytest.mark.parametrize("variant", GITHUB)
def test_github_workflows_pass_zizmor(project_of: ProjectOf, variant: str) -> None:
    """Pinned actions, no persisted credentials, read-only token, a Dependabot cooldown;
    pedantic too: concurrency limits, every permission explained."""
    command = ["zizmor", "--offline", "--no-progress", "--pedantic", ".github"]
    result = tool(*command, cwd=project_of(variant))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("variant", WITH_CI)
def test_ci_installs_the_lock_and_runs_every_check(project_of: ProjectOf, variant: str) -> None:
    env_manager = answer(variant, "env_manager", "uv")
    commands = ci_commands(project_of(variant), "github" if variant in GITHUB else "gitlab")
    if env_manager == "uv":
        assert commands[0] == "uv sync --locked"
    for check in ("ruff check", "ruff format --check", "mypy", "pytest", "scripts/smoke_test.py"):
        assert any(c.startswith(f"{env_manager} run --locked") and check in c for c in commands), (
            check
        )


def test_no_ci_config_without_a_provider(project_of: ProjectOf) -> None:
    project = project_of("numpy-uv-noci")
    assert not (project / ".github").exists()
    assert not (project / GITLAB_CI).exists()


def test_pre_commit_configs_are_valid(project_of: ProjectOf) -> None:
    configs = [str(project_of(variant) / ".pre-commit-config.yaml") for variant in ALL]
    result = tool("pre-commit", "validate-config", *configs, cwd=Path.cwd())
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("variant", ALL)
def test_pre_commit_has_the_promised_hooks(project_of: ProjectOf, variant: str) -> None:
    config = yaml.safe_load((project_of(variant) / ".pre-commit-config.yaml").read_text())
    hooks = {hook["id"]: hook for repo in config["repos"] for hook in repo["hooks"]}
    assert {"ruff-check", "ruff-format", "mypy", "lock-check"} <= hooks.keys()
    assert {"check-merge-conflict", "check-toml", "check-yaml"} <= hooks.keys()
    assert hooks["lock-check"]["entry"] == f"{answer(variant, 'env_manager', 'uv')} lock --check"


# The two shapes of CITATION.cff: every optional field, and no license, ORCID or particle.
@pytest.mark.parametrize("variant", ["torch-pixi-github", "numpy-uv-noci"])
def test_citation_is_valid_cff(project_of: ProjectOf, variant: str) -> None:
    command = ["uv", "tool", "run", "--from", CFFCONVERT, "cffconvert", "--validate"]
    result = run(command, project_of(variant))
    assert result.returncode == 0, result.stdout + result.stderr


def test_citation_carries_the_authors_names_and_orcid(project_of: ProjectOf) -> None:
    cff = yaml.safe_load((project_of("torch-pixi-github") / "CITATION.cff").read_text())
    assert cff["title"] == "Protein Folding"
    assert cff["license"] == "BSD-3-Clause"
    assert cff["authors"] == [
        {
            "family-names": "Beethoven",
            "given-names": "Ludwig",
            "name-particle": "van",
            "email": "ada@example.org",
            "orcid": "https://orcid.org/0000-0002-1694-233X",
        }
    ]


def test_citation_of_a_proprietary_project_names_no_license(project_of: ProjectOf) -> None:
    cff = yaml.safe_load((project_of("numpy-uv-noci") / "CITATION.cff").read_text())
    assert "license" not in cff
    assert "orcid" not in cff["authors"][0]


LICENSE_OPENINGS = {
    "MIT": "MIT License\n\nCopyright (c) {year} Ada Lovelace\n",
    "BSD-3-Clause": "Copyright (c) {year} Ludwig van Beethoven.\n\nRedistribution and use",
    "Apache-2.0": "\n                                 Apache License\n",
    "GPL-3.0-only": "                    GNU GENERAL PUBLIC LICENSE\n",
    "Proprietary": "Copyright (c) {year} Ada Lovelace. All rights reserved.\n",
}


@pytest.mark.parametrize("variant", ALL)
def test_license_file_matches_the_license_answer(project_of: ProjectOf, variant: str) -> None:
    opening = LICENSE_OPENINGS[answer(variant, "license", "MIT")]
    text = (project_of(variant) / "LICENSE").read_text()
    assert text.startswith(opening.format(year=datetime.date.today().year))


def test_every_license_choice_is_covered() -> None:
    assert {answer(name, "license", "MIT") for name in ALL} == LICENSE_OPENINGS.keys()
