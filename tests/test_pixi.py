"""The pixi variant (env_manager: pixi): its [tool.pixi] tables, activation script and set-up.

pixi itself cannot be installed here (no release on PyPI, npm or Debian), so the manifest is
checked against pixi's own JSON schema (tests/data/pixi, pixi v0.77) and every conda
spec is parsed by rattler, the library pixi is built on. The set-up task is run for real,
with pixi missing and with a STAND-IN `pixi` that only records how it was called.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import copier
import jsonschema
import pytest
from conftest import BASE_ANSWERS, TEMPLATE, Render, render, set_environment, with_base
from rattler import MatchSpec
from test_render import assert_ruff_clean, assert_valid_pyproject

from extensions import cuda, pixi, research, torch_releases

SCHEMA = Path(__file__).parent / "data" / "pixi" / "partial-pixi.json"
CUDA_BUILDS = [build.name for build in cuda.BUILDS if build.cuda is not None]
ACCELERATORS = [build.name for build in cuda.BUILDS]
PYTORCH_INDEX = "https://download.pytorch.org/whl"


def variant_id(accelerator: str, framework: str, source: str) -> str:
    return f"{accelerator}-{framework}" + (f"-{source}" if framework == "pytorch" else "")


# Every accelerator x framework x PyTorch source that can exist (ROCm has no conda-forge
# build; a project without PyTorch has no PyTorch source to choose).
VARIANTS = [
    pytest.param((accelerator, framework, source), id=variant_id(accelerator, framework, source))
    for accelerator in ACCELERATORS
    for framework in ("pytorch", "none")
    for source in (pixi.CONDA_FORGE, pixi.PYPI)
    if not (cuda.BUILDS_BY_NAME[accelerator].rocm and source == pixi.CONDA_FORGE)
    and not (framework == "none" and source == pixi.PYPI)
]


def pixi_answers(**answers: Any) -> dict[str, Any]:
    return {"env_manager": "pixi", "torch_index_url": PYTORCH_INDEX, **answers}


def manifest(project: Path) -> dict[str, Any]:
    return tomllib.loads((project / "pyproject.toml").read_text())


def conda_specs(table: dict[str, Any]) -> dict[str, str]:
    """Every conda dependency of a [tool.pixi] table, common and per platform."""
    specs = dict(table.get("dependencies", {}))
    for name, target in table.get("target", {}).items():
        specs.update(
            {f"{dep} ({name})": spec for dep, spec in target.get("dependencies", {}).items()}
        )
    return specs


def schema_errors(table: dict[str, Any]) -> list[str]:
    assert SCHEMA.is_file(), f"pixi's schema is missing: {SCHEMA} (see its folder's README.md)"
    validator = jsonschema.Draft7Validator(json.loads(SCHEMA.read_text()))
    return [f"{list(error.path)}: {error.message}" for error in validator.iter_errors(table)]


PixiProject = Callable[..., Path]


@pytest.fixture(scope="module")
def pixi_project(tmp_path_factory: pytest.TempPathFactory) -> PixiProject:
    """Render a pixi project (tasks skipped) once per set of answers, for this module.

    Tests only read these renders; one that changes files works on a copy.
    """
    cache: dict[str, Path] = {}

    def _render(
        accelerator: str = "cu128",
        framework: str = "pytorch",
        pixi_torch_source: str = pixi.CONDA_FORGE,
        **answers: Any,
    ) -> Path:
        answers.update(
            accelerator=accelerator, framework=framework, pixi_torch_source=pixi_torch_source
        )
        key = json.dumps(answers, sort_keys=True)
        if key not in cache:
            destination = tmp_path_factory.mktemp("pixi") / "protein-folding"
            cache[key] = render(destination, skip_tasks=True, **pixi_answers(**answers))
        return cache[key]

    return _render


@pytest.fixture(params=VARIANTS)
def variant(request: pytest.FixtureRequest, pixi_project: PixiProject) -> Path:
    accelerator, framework, source = request.param
    return pixi_project(accelerator, framework, source)


# ── Every variant renders a manifest pixi accepts ───────────────────────────

pytestmark = pytest.mark.xdist_group("pixi")  # the variants render once, on one worker


def test_pixi_tables_follow_pixis_schema(variant: Path) -> None:
    assert schema_errors(manifest(variant)["tool"]["pixi"]) == []


def test_every_conda_spec_parses_as_a_matchspec(variant: Path) -> None:
    specs = conda_specs(manifest(variant)["tool"]["pixi"])
    assert specs, "no conda dependencies at all"
    for key, spec in specs.items():
        MatchSpec(f"{key.split(' ')[0]} {spec}")  # raises on a spec pixi would refuse


@pytest.mark.parametrize("source", [pixi.CONDA_FORGE, pixi.PYPI])
def test_pixi_project_is_a_valid_pyproject(pixi_project: PixiProject, source: str) -> None:
    assert_valid_pyproject(pixi_project(pixi_torch_source=source))


def test_pixi_project_is_ruff_clean(variant: Path) -> None:
    assert_ruff_clean(variant)


def test_the_schema_check_has_teeth() -> None:
    """A manifest pixi would refuse (no channels; a platform with neither name nor subdir)."""
    errors = schema_errors({"workspace": {"platforms": [{"cuda": "12"}]}})
    assert any("channels" in error for error in errors)
    assert any("platforms" in error for error in errors)


# ── Platforms and CUDA ─────────────────────────────────────────────────────


@pytest.mark.parametrize("accelerator", CUDA_BUILDS)
def test_cuda_is_declared_on_a_platform_listed_first(
    pixi_project: PixiProject, accelerator: str
) -> None:
    table = manifest(pixi_project(accelerator))["tool"]["pixi"]
    major = accelerator[2:4]
    assert table["workspace"]["platforms"][0] == {
        "name": "linux-64-cuda",
        "platform": "linux-64",
        "cuda": major,
    }
    assert "system-requirements" not in table  # deprecated since pixi 0.71
    assert table["workspace"]["requires-pixi"] == ">=0.71"
    cuda_version = f"{accelerator[2:4]}.{accelerator[4:]}.*"
    assert table["target"]["linux-64-cuda"]["dependencies"]["cuda-version"] == cuda_version


@pytest.mark.parametrize("accelerator", ACCELERATORS)
def test_machines_without_a_gpu_and_macs_have_a_platform(
    pixi_project: PixiProject, accelerator: str
) -> None:
    project = pixi_project(accelerator, pixi_torch_source=pixi.torch_source_default(accelerator))
    platforms = manifest(project)["tool"]["pixi"]["workspace"]["platforms"]
    entries = [p if isinstance(p, dict) else {"platform": p} for p in platforms]
    assert any(p["platform"] == "linux-64" and "cuda" not in p for p in entries)
    assert "osx-arm64" in platforms


def test_python_is_the_answered_minor(pixi_project: PixiProject) -> None:
    assert BASE_ANSWERS["python_version"] == "3.11"
    assert manifest(pixi_project())["tool"]["pixi"]["dependencies"]["python"] == "3.11.*"


# ── Where PyTorch comes from ───────────────────────────────────────────────


def test_conda_forge_torch_stays_out_of_the_pypi_dependencies(pixi_project: PixiProject) -> None:
    data = manifest(pixi_project(torch_packages=["torchvision"]))
    assert data["project"]["dependencies"] == sorted(
        ["numpy", "python-dotenv", f"{data['project']['name']}-kit", *research.RUN_DEPENDENCIES]
    )
    table = data["tool"]["pixi"]
    assert table["dependencies"]["pytorch"] == "*"
    assert table["dependencies"]["torchvision"] == "*"
    assert table["target"]["linux-64-cuda"]["dependencies"]["pytorch-gpu"] == "*"
    assert table["target"]["linux-64-cpu"]["dependencies"]["pytorch-cpu"] == "*"
    assert "pypi-dependencies" not in table["target"]["linux-64-cuda"]


@pytest.mark.parametrize("source", [pixi.CONDA_FORGE, pixi.PYPI])
def test_uv_routing_is_not_written_for_a_pixi_project(
    pixi_project: PixiProject, source: str
) -> None:
    """pixi routes PyTorch itself; a second, uv-side routing could only contradict it."""
    uv = manifest(pixi_project(pixi_torch_source=source))
    assert "index" not in uv["tool"]["uv"] and "sources" not in uv["tool"]["uv"]


def test_pypi_torch_comes_from_each_platforms_build_index(pixi_project: PixiProject) -> None:
    data = manifest(pixi_project("cu130", pixi_torch_source=pixi.PYPI))
    line = torch_releases.choose("cu130", [], data["project"]["requires-python"][2:6]).line
    assert f"torch=={line}.*" in data["project"]["dependencies"]  # pixi reads no [tool.uv]
    targets = data["tool"]["pixi"]["target"]
    indexes = {name: t["pypi-dependencies"]["torch"]["index"] for name, t in targets.items()}
    assert indexes == {
        "linux-64-cuda": f"{PYTORCH_INDEX}/cu130",
        "linux-64-cpu": f"{PYTORCH_INDEX}/cpu",
        "osx-arm64": f"{PYTORCH_INDEX}/cpu",
    }


def test_rocm_takes_torch_and_its_triton_from_the_rocm_index(pixi_project: PixiProject) -> None:
    data = manifest(pixi_project("rocm7.2", pixi_torch_source=pixi.PYPI))
    linux = data["tool"]["pixi"]["target"]["linux-64"]["pypi-dependencies"]
    assert {name: pin["index"] for name, pin in linux.items()} == {
        "torch": f"{PYTORCH_INDEX}/rocm7.2",
        "triton-rocm": f"{PYTORCH_INDEX}/rocm7.2",
    }


@pytest.mark.parametrize(
    ("source", "where", "spec"),
    [("conda-forge", "dependencies", "2.12.*"), ("pypi", "pypi-dependencies", "==2.12.*")],
)
def test_a_chosen_torch_release_is_kept(
    pixi_project: PixiProject, source: str, where: str, spec: str
) -> None:
    project = pixi_project("cu126", pixi_torch_source=source, torch_version="2.12")
    table = manifest(project)["tool"]["pixi"]
    if source == "conda-forge":
        assert table["dependencies"]["pytorch"] == spec
    else:
        assert table["target"]["linux-64-cuda"][where]["torch"]["version"] == spec


def refusal(destination: Path, **answers: Any) -> str:
    """The validator's message for answers copier refuses; nothing may be written."""
    with pytest.raises(ValueError) as refused:
        copier.run_copy(
            str(TEMPLATE),
            str(destination),
            data=with_base(pixi_answers(**answers)),
            defaults=True,
            unsafe=True,
            vcs_ref="HEAD",
            quiet=True,
        )
    assert not destination.exists()
    return str(refused.value)


def test_rocm_from_conda_forge_is_refused_with_what_to_choose(tmp_path: Path) -> None:
    message = refusal(tmp_path / "p", accelerator="rocm7.2", pixi_torch_source="conda-forge")
    assert "conda-forge has no ROCm build of PyTorch" in message
    assert "Choose 'pypi'" in message


def test_a_local_wheel_folder_is_refused_for_pypi_torch(
    tmp_path: Path, local_torch_index: Path
) -> None:
    message = refusal(
        tmp_path / "p",
        accelerator="cpu",
        pixi_torch_source="pypi",
        torch_index_url=str(local_torch_index),
    )
    assert "local folder" in message and "choose 'conda-forge'" in message


@pytest.mark.parametrize(
    ("specifier", "conda"),
    [("", "*"), ("==2.13.*", "2.13.*"), (">=2.12,<3", "<3,>=2.12"), ("~=2.12", "~=2.12")],
)
def test_pep440_specifiers_become_conda_version_specs(specifier: str, conda: str) -> None:
    assert pixi.conda_version(specifier) == conda
    MatchSpec(f"pytorch {conda}")


# ── Compilers ──────────────────────────────────────────────────────────────


def test_cuda_projects_get_the_cuda_compiler_and_gcc_by_default(pixi_project: PixiProject) -> None:
    table = manifest(pixi_project())["tool"]["pixi"]
    cuda_deps = table["target"]["linux-64-cuda"]["dependencies"]
    assert {"cuda-nvcc", "cuda-cudart-dev", "cuda-libraries-dev", "gcc", "gxx"} <= set(cuda_deps)
    assert "cuda-nvcc" not in table["target"]["linux-64-cpu"]["dependencies"]


@pytest.mark.parametrize("answers", [{"accelerator": "cpu"}, {"compilers": False}])
def test_no_compilers_unless_wanted(pixi_project: PixiProject, answers: dict[str, Any]) -> None:
    specs = conda_specs(manifest(pixi_project(**answers))["tool"]["pixi"])
    assert not [key for key in specs if key.startswith(("gcc", "gxx", "cuda-nvcc"))]


# ── Tasks, activation, files ───────────────────────────────────────────────


def test_pixi_tasks_run_the_tests_and_the_smoke_test(pixi_project: PixiProject) -> None:
    project = pixi_project()
    tasks = manifest(project)["tool"]["pixi"]["tasks"]
    assert tasks["test"]["cmd"] == "pytest"
    assert tasks["smoke"]["cmd"] == "python scripts/smoke_test.py"
    assert (project / "scripts" / "smoke_test.py").is_file()
    assert manifest(project)["tool"]["pixi"]["environments"]["default"] == ["dev"]


def test_pixi_project_ignores_pixis_environment(pixi_project: PixiProject) -> None:
    assert ".pixi/" in (pixi_project() / ".gitignore").read_text().splitlines()


def test_pixi_lock_is_marked_generated_for_git(pixi_project: PixiProject) -> None:
    attributes = (pixi_project() / ".gitattributes").read_text().splitlines()
    assert "pixi.lock merge=binary linguist-language=YAML linguist-generated=true" in attributes


def test_uv_project_has_no_pixi_tables(rendered: Render) -> None:
    project = rendered(env_manager="uv")
    assert "pixi" not in manifest(project)["tool"]
    assert not (project / "scripts" / "activate.sh").exists()
    assert not (project / ".gitattributes").exists()


def test_activation_script_passes_shellcheck(pixi_project: PixiProject) -> None:
    """pixi sources it with the user's shell: it says it is POSIX sh, and is clean as such."""
    script = pixi_project() / "scripts" / "activate.sh"
    shellcheck = Path(sys.executable).parent / "shellcheck"
    result = subprocess.run([str(shellcheck), str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def activate(project: Path, shell: str, prefix: Path, **env: str) -> dict[str, str]:
    """Source scripts/activate.sh as pixi does, in `shell`, and return the environment."""
    script = f'. "{project}/scripts/activate.sh" && env -0'
    environment = {
        "PATH": os.environ["PATH"],
        "PIXI_PROJECT_ROOT": str(project),
        "CONDA_PREFIX": str(prefix),
        **env,
    }
    result = subprocess.run(
        [shell, "-c", script], capture_output=True, text=True, env=environment, check=True
    )
    return dict(line.split("=", 1) for line in result.stdout.split("\0") if "=" in line)


@pytest.mark.parametrize("shell", ["bash", "sh"])
def test_activation_loads_env_and_the_environment_wins(
    pixi_project: PixiProject, tmp_path: Path, shell: str
) -> None:
    project = shutil.copytree(pixi_project(), tmp_path / "project")
    (project / ".env").write_text("DATA_DIR=${PROJECT_ROOT}/data\nOUTPUT_DIR=/from/dotenv\n")
    env = activate(project, shell, tmp_path, OUTPUT_DIR="/from/shell")
    assert env["PROJECT_ROOT"] == str(project)
    assert env["DATA_DIR"] == f"{project}/data"
    assert env["OUTPUT_DIR"] == "/from/shell"


@pytest.mark.parametrize(
    ("source", "ld_library_path"),
    [("conda-forge", "{prefix}/lib:/usr/local/lib"), ("pypi", "/usr/local/lib")],
)
def test_activation_points_cuda_builds_at_the_environment(
    pixi_project: PixiProject, tmp_path: Path, source: str, ld_library_path: str
) -> None:
    project = pixi_project(pixi_torch_source=source)
    prefix = tmp_path / "env"
    (prefix / "bin").mkdir(parents=True)
    (prefix / "bin" / "nvcc").write_text("#!/bin/sh\n")
    (prefix / "bin" / "nvcc").chmod(0o755)
    env = activate(project, "bash", prefix, LD_LIBRARY_PATH="/usr/local/lib")
    assert env["CUDA_HOME"] == str(prefix)
    assert env["LIBRARY_PATH"] == f"{prefix}/lib"
    assert env["LD_LIBRARY_PATH"] == ld_library_path.format(prefix=prefix)


def test_no_cuda_variables_where_the_platform_has_no_nvcc(
    pixi_project: PixiProject, tmp_path: Path
) -> None:
    project = pixi_project()
    env = activate(project, "bash", tmp_path)  # the CPU platform: no nvcc in the environment
    assert "CUDA_HOME" not in env and "LIBRARY_PATH" not in env


# ── The set-up task: pixi missing, pixi present (a stand-in), pixi failing ──


# The switches of the template's GPU detection, which the set-up task honours too.
DRIVER_ENV = "COPIER_RESEARCH_DRIVER_VERSION"
NO_DETECTION_ENV = "COPIER_RESEARCH_NO_GPU_DETECTION"


@pytest.fixture
def task_environment() -> Iterator[None]:
    """Restore PATH and the GPU-detection switches after a test changes them for the task."""
    names = ("PATH", DRIVER_ENV, NO_DETECTION_ENV, "CONDA_OVERRIDE_CUDA")
    saved = {name: os.environ.get(name) for name in names}
    set_environment(CONDA_OVERRIDE_CUDA=None)
    yield
    set_environment(**saved)


def path_without_pixi() -> str:
    return os.pathsep.join(
        d for d in os.environ["PATH"].split(os.pathsep) if not (Path(d) / "pixi").exists()
    )


def stand_in_pixi(folder: Path, fail_on: str = "") -> Path:
    """A STAND-IN `pixi` executable: appends its arguments (and CONDA_OVERRIDE_CUDA) to a log."""
    log = folder / "calls.jsonl"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pixi").write_text(
        f"#!{sys.executable}\n"
        "# STAND-IN for pixi in the template's tests: records how it was called.\n"
        "import json, os, sys\n"
        f"with open({str(log)!r}, 'a') as log:\n"
        "    call = {'args': sys.argv[1:], 'override': os.environ.get('CONDA_OVERRIDE_CUDA')}\n"
        "    log.write(json.dumps(call) + '\\n')\n"
        f"sys.exit(1 if sys.argv[1:2] == [{fail_on!r}] else 0)\n"
    )
    (folder / "pixi").chmod(0o755)
    return log


def calls(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def generate(tmp_path: Path, **answers: Any) -> Path:
    return render(tmp_path / "project", **pixi_answers(accelerator="cu128", **answers))


@pytest.mark.usefixtures("task_environment")
def test_missing_pixi_keeps_the_project_and_says_how_to_install_it(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    set_environment(PATH=path_without_pixi(), **{NO_DETECTION_ENV: "1"})
    assert shutil.which("pixi") is None
    project = generate(tmp_path)
    output = "".join(capfd.readouterr())
    assert (project / "pyproject.toml").is_file() and (project / ".git").is_dir()
    assert (project / ".env").read_text() == (project / ".env.example").read_text()
    assert "pixi is not on PATH" in output
    assert "curl -fsSL https://pixi.sh/install.sh | sh" in output
    assert f"cd {project} && pixi install" in output
    assert "CONDA_OVERRIDE_CUDA=12 pixi install" in output
    assert not (project / "uv.lock").exists() and not (project / ".venv").exists()


@pytest.mark.usefixtures("task_environment")
def test_stand_in_pixi_locks_every_platform_then_installs(tmp_path: Path) -> None:
    log = stand_in_pixi(tmp_path / "bin")
    set_environment(
        PATH=f"{tmp_path / 'bin'}{os.pathsep}{path_without_pixi()}",
        **{NO_DETECTION_ENV: "1"},
    )
    project = generate(tmp_path)
    manifest_path = ["--manifest-path", str(project / "pyproject.toml")]
    assert calls(log) == [
        # No driver here: the solve stands in the GPU machines' driver; the install does not.
        {"args": ["lock", *manifest_path], "override": "12"},
        {"args": ["install", "--locked", *manifest_path], "override": None},
    ]


@pytest.mark.usefixtures("task_environment")
def test_with_a_driver_pixi_solves_without_an_override(tmp_path: Path) -> None:
    log = stand_in_pixi(tmp_path / "bin")
    set_environment(
        PATH=f"{tmp_path / 'bin'}{os.pathsep}{path_without_pixi()}",
        **{DRIVER_ENV: "580.65.06", NO_DETECTION_ENV: None},
    )
    generate(tmp_path)
    assert [call["override"] for call in calls(log)] == [None, None]


def bare_python(script: str, project: Path, path: str) -> subprocess.CompletedProcess[str]:
    """Run `script` with this Python, without its site-packages (no tomlkit, no dotenv)."""
    environment = {**os.environ, "PATH": path, NO_DETECTION_ENV: "1"}
    return subprocess.run(
        [sys.executable, "-S", script], cwd=project, env=environment, capture_output=True,
        text=True, check=False,
    )  # fmt: skip


def test_the_set_up_script_sets_up_a_pixi_project_with_a_bare_python(tmp_path: Path) -> None:
    project = render(tmp_path / "project", skip_tasks=True, **pixi_answers(accelerator="cu128"))
    log = stand_in_pixi(tmp_path / "bin")
    path = f"{tmp_path / 'bin'}{os.pathsep}{path_without_pixi()}"
    result = bare_python("scripts/setup_env.py", project, path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert [call["args"][:2] for call in calls(log)] == [
        ["lock", "--manifest-path"],
        ["install", "--locked"],
    ]
    assert (project / ".env").read_text() == (project / ".env.example").read_text()
    assert f"cd {project} && pixi run test" in result.stdout


def test_a_uv_projects_set_up_on_a_bare_python_says_to_use_uv(rendered: Render) -> None:
    project = rendered(framework="none")
    result = bare_python("scripts/setup_env.py", project, os.environ["PATH"])
    assert result.returncode == 1
    assert "uv run scripts/setup_env.py" in result.stderr
    assert not (project / ".env").exists() and not (project / "uv.lock").exists()


@pytest.mark.usefixtures("task_environment")
def test_failed_pixi_step_keeps_the_project_and_names_the_step(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    log = stand_in_pixi(tmp_path / "bin", fail_on="lock")
    set_environment(PATH=f"{tmp_path / 'bin'}{os.pathsep}{path_without_pixi()}")
    project = generate(tmp_path)
    output = "".join(capfd.readouterr())
    assert (project / "pyproject.toml").is_file()
    assert "Set-up failed at step 'Solving every platform into pixi.lock'" in output
    assert f"cd {project} && pixi lock" in output
    assert [call["args"][0] for call in calls(log)] == ["lock"]  # no install after a failed lock
