"""Container recipes: a multi-stage Dockerfile and an Apptainer definition, built from uv.lock.

No container engine runs here, so the recipes are checked statically: hadolint lints the
Dockerfile, dockerfile-parse and spython read both into instructions and sections, and the
tests check what those say (stages, base images, the locked sync, files that exist).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import copier
import pytest
from conftest import TEMPLATE, Render, render, with_base
from dockerfile_parse import DockerfileParser
from spython.main.parse.parsers import SingularityParser

from extensions import containers, cuda

ACCELERATORS = ["cpu", "cu130", "rocm7.2"]
RUNTIME_IMAGES = {
    "cpu": "debian:trixie-slim",
    "cu130": "nvidia/cuda:13.0.2-runtime-ubuntu24.04",
    "rocm7.2": "ubuntu:24.04",
}
APPTAINER_SECTIONS = {
    "setup", "files", "environment", "post", "runscript", "startscript", "test", "labels",
    "help", "arguments",
}  # fmt: skip
APPTAINER_HEADERS = {"Bootstrap", "From", "Stage"}
SET_UP_WRITES = {"uv.lock"}  # by the set-up task after generation, skipped in these renders


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One render with both recipes per kind of build: CPU, CUDA, ROCm."""
    return {
        accelerator: render(
            tmp_path_factory.mktemp(accelerator) / "protein-folding",
            skip_tasks=True,
            accelerator=accelerator,
            container="both",
        )
        for accelerator in ACCELERATORS
    }


def dockerfile(project: Path) -> DockerfileParser:
    return DockerfileParser(path=str(project / "Dockerfile"))


def stages(parser: DockerfileParser) -> list[list[dict[str, Any]]]:
    """The instructions of each build stage, in order."""
    found: list[list[dict[str, Any]]] = []
    for instruction in parser.structure:
        if instruction["instruction"] == "FROM":
            found.append([])
        if found:
            found[-1].append(instruction)
    return found


def apptainer(project: Path) -> dict[str, Any]:
    return SingularityParser(str(project / "apptainer.def")).recipe


@pytest.mark.parametrize(
    ("container", "files"),
    [
        ("none", []),
        ("docker", ["Dockerfile", ".dockerignore"]),
        ("apptainer", ["apptainer.def"]),
    ],
)
def test_recipes_match_the_answer(rendered: Render, container: str, files: list[str]) -> None:
    project = rendered(container=container)
    recipes = ["Dockerfile", ".dockerignore", "apptainer.def"]
    assert {name for name in recipes if (project / name).exists()} == set(files)


@pytest.mark.parametrize("accelerator", ACCELERATORS)
def test_dockerfile_passes_hadolint(projects: dict[str, Path], accelerator: str) -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    result = subprocess.run(
        [str(hadolint), str(projects[accelerator] / "Dockerfile")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("accelerator", ACCELERATORS)
def test_dockerfile_stages_and_base_images(projects: dict[str, Path], accelerator: str) -> None:
    parser = dockerfile(projects[accelerator])
    assert parser.structure[0]["content"] == "# syntax=docker/dockerfile:1\n"  # BuildKit mounts
    froms = [stage[0]["value"] for stage in stages(parser)]
    assert froms == [
        "ghcr.io/astral-sh/uv:0.13 AS uv",
        "debian:trixie-slim AS builder",
        f"{RUNTIME_IMAGES[accelerator]} AS runtime",
    ]


def test_builder_installs_uv_and_the_lock(projects: dict[str, Path]) -> None:
    _, builder, _ = stages(dockerfile(projects["cu130"]))
    values = [(i["instruction"], i["value"]) for i in builder]
    assert ("COPY", "--from=uv /uv /uvx /bin/") in values
    runs = [value for instruction, value in values if instruction == "RUN"]
    assert runs[0] == "uv python install"
    # Dependencies first (a cached layer until uv.lock changes), then the project.
    assert runs[1].endswith("uv sync --locked --no-dev --no-install-local")
    assert runs[2].endswith("uv sync --locked --no-dev")


def test_runtime_stage_gets_only_python_and_the_project(projects: dict[str, Path]) -> None:
    *_, runtime = stages(dockerfile(projects["cu130"]))
    copies = [i["value"] for i in runtime if i["instruction"] == "COPY"]
    assert copies == ["--from=builder /python /python", "--from=builder /app /app"]
    assert [i["value"] for i in runtime if i["instruction"] == "CMD"] == [
        '["python", "scripts/smoke_test.py"]'
    ]


def test_dockerfile_reads_only_files_the_project_has(projects: dict[str, Path]) -> None:
    project = projects["cpu"]
    text = (project / "Dockerfile").read_text()
    sources = re.findall(r"--mount=type=bind,source=([^,\s]+)", text)
    sources += [
        i["value"].split()[0]
        for i in dockerfile(project).structure
        if i["instruction"] == "COPY" and not i["value"].startswith("--from")
    ]
    assert sources == ["uv.lock", "pyproject.toml", "kit/pyproject.toml", ".python-version", "."]
    assert all((project / source).exists() for source in sources if source not in SET_UP_WRITES)


def test_dockerignore_keeps_secrets_and_the_local_environment_out(
    projects: dict[str, Path],
) -> None:
    ignored = (projects["cpu"] / ".dockerignore").read_text().splitlines()
    assert {".env", ".venv", ".git", "outputs", "data"} <= set(ignored)


@pytest.mark.parametrize("accelerator", ACCELERATORS)
def test_apptainer_definition_is_well_formed(projects: dict[str, Path], accelerator: str) -> None:
    text = (projects[accelerator] / "apptainer.def").read_text()
    for line in text.splitlines():
        if line.startswith("%"):
            assert line.split()[0][1:] in APPTAINER_SECTIONS, line
        elif line and not line[0].isspace() and not line.startswith("#"):
            assert line.split(":")[0] in APPTAINER_HEADERS, line
    assert text.count("Bootstrap: docker") == 2


SHELL_SECTIONS = ("post", "environment", "runscript", "startscript", "test")


def apptainer_scripts(text: str) -> dict[str, str]:
    """The shell scripts of a definition file (/bin/sh runs them), by stage and section."""
    scripts: dict[str, str] = {}
    stage, section = "", ""
    for line in text.splitlines():
        if line.startswith("Stage:"):
            stage = line.split()[1]
        elif line.startswith("%"):
            section = line.split()[0][1:]
        elif section in SHELL_SECTIONS and line.strip():
            scripts[f"{stage} %{section}"] = scripts.get(f"{stage} %{section}", "") + line + "\n"
    return scripts


@pytest.mark.parametrize("accelerator", ACCELERATORS)
def test_apptainer_shell_sections_pass_shellcheck(
    projects: dict[str, Path], accelerator: str
) -> None:
    scripts = apptainer_scripts((projects[accelerator] / "apptainer.def").read_text())
    assert {"build %post", "final %runscript", "final %test"} <= scripts.keys()
    shellcheck = Path(sys.executable).parent / "shellcheck"
    for name, script in scripts.items():
        checked = subprocess.run(
            [str(shellcheck), "--shell=sh", "-"], input=script, capture_output=True, text=True
        )
        assert checked.returncode == 0, f"{name}:\n{script}{checked.stdout}"


@pytest.mark.parametrize("accelerator", ACCELERATORS)
def test_apptainer_builds_from_the_lock_in_two_stages(
    projects: dict[str, Path], accelerator: str
) -> None:
    recipe = apptainer(projects[accelerator])
    assert list(recipe) == ["build", "final"]
    build, final = recipe["build"], recipe["final"]
    assert build.fromHeader == "ghcr.io/astral-sh/uv:0.13-trixie-slim"
    assert final.fromHeader == RUNTIME_IMAGES[accelerator]
    assert "uv sync --locked --no-dev" in build.install
    assert final.layer_files == {"build": ["/python /python", "/app /app"]}


def test_apptainer_copies_only_files_the_project_has(projects: dict[str, Path]) -> None:
    project = projects["cpu"]
    sources = [line.split()[0] for line in apptainer(project)["build"].files]
    assert {"uv.lock", "pyproject.toml", ".python-version"} <= set(sources)
    assert ".env" not in sources
    assert all((project / s).exists() for s in sources if s not in SET_UP_WRITES), sources


def test_gpu_extra_is_installed_when_the_lock_has_two_builds(rendered: Render) -> None:
    project = rendered(accelerator="cu130", cpu_extra=True, container="both")
    assert "uv sync --locked --no-dev --extra cu130" in (project / "Dockerfile").read_text()
    assert "uv sync --locked --no-dev --extra cu130" in apptainer(project)["build"].install


def test_every_cuda_build_has_a_runtime_image() -> None:
    for build in cuda.BUILDS:
        image = containers.runtime_image(build.name)
        if build.cuda is not None:
            assert image.startswith(f"nvidia/cuda:{build.cuda}."), image
            assert image.endswith("-runtime-ubuntu24.04"), image


def test_readme_explains_building_and_running(projects: dict[str, Path]) -> None:
    readme = (projects["cu130"] / "README.md").read_text()
    assert "docker build -t protein-folding ." in readme
    assert "docker run --rm --gpus all protein-folding" in readme
    assert "apptainer run --nv protein-folding.sif" in readme


BAD_ANSWERS = [
    pytest.param({"env_manager": "pixi", "container": "docker"}, "pixi", id="pixi"),
]


@pytest.mark.parametrize(("answers", "message"), BAD_ANSWERS)
def test_recipes_that_cannot_build_are_refused(
    tmp_path: Path, answers: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        copier.run_copy(
            str(TEMPLATE),
            str(tmp_path / "project"),
            data=with_base(answers),
            defaults=True,
            unsafe=True,
            vcs_ref="HEAD",
            quiet=True,
        )
    assert not (tmp_path / "project").exists()


def test_local_torch_folder_is_refused_for_containers(local_torch_index: Path) -> None:
    message = containers.container_error("docker", "uv", str(local_torch_index))
    assert "cannot see" in message
    assert containers.container_error("none", "uv", str(local_torch_index)) == ""
    assert containers.container_error("both", "uv", "https://mirror.lab.org/torch") == ""
