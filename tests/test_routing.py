"""PyTorch routing, proven on uv.lock: each platform gets the build the answers ask for.

The lock is made by real `uv lock` runs against the replica of PyTorch's indexes
(tests/replica.py): flat folders and a PEP 503 server on loopback. Their wheels are
STAND-INS with the names, tags and metadata of the real builds; only the CPU torch wheel is
real. What each of the project's four platforms would install is read from the lock with
`uv sync --locked --dry-run --python-platform ...`; nothing here installs a GPU build.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

import pytest
import tomlkit
import yaml
from conftest import Render, render, run, set_environment
from test_render import assert_ruff_clean, assert_valid_pyproject
from torch_matrix import label, would_install

from extensions import cuda, pytorch_facts

GPU_BUILDS = [build.name for build in cuda.BUILDS if build.is_gpu]
PLATFORMS = [platform.name for platform in pytorch_facts.PLATFORMS]


def lock(project: Path) -> None:
    result = run(["uv", "lock"], project)
    assert result.returncode == 0, result.stderr


def torch_build_on(project: Path, platform: str, package: str = "torch") -> str:
    """The local label of the `package` wheel `platform` would install: "+cu130", "+cpu", ""."""
    version = would_install(project, platform, None)[package]
    return version.partition("+")[1] + version.partition("+")[2]


@pytest.mark.parametrize("accelerator", GPU_BUILDS)
def test_gpu_build_serves_its_platforms_and_cpu_serves_the_rest(
    rendered: Render, stand_in_index: Path, fresh_uv_cache: Path, accelerator: str
) -> None:
    project = rendered(accelerator=accelerator, torch_index_url=str(stand_in_index))
    lock(project)
    build = cuda.BUILDS_BY_NAME[accelerator]
    for platform in PLATFORMS:
        index = accelerator if platform in build.platforms else "cpu"
        assert torch_build_on(project, platform) == label(index, platform), platform


def test_rocm_serves_linux_x86_64_only(rendered: Render, stand_in_index: Path) -> None:
    """PyTorch's ROCm index has no aarch64 wheel: Linux aarch64 gets the CPU build."""
    project = rendered(accelerator="rocm7.2", torch_index_url=str(stand_in_index))
    lock(project)
    assert torch_build_on(project, "linux-x86_64") == "+rocm7.2"
    assert torch_build_on(project, "linux-aarch64") == "+cpu"


def test_rocm_brings_its_triton_from_the_rocm_index_on_linux_x86_64_only(
    rendered: Render, stand_in_index: Path
) -> None:
    project = rendered(accelerator="rocm7.2", torch_index_url=str(stand_in_index))
    lock(project)
    assert "triton-rocm" in would_install(project, "linux-x86_64", None)
    assert "triton-rocm" not in would_install(project, "linux-aarch64", None)
    dependencies = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    marker = "sys_platform == 'linux' and platform_machine == 'x86_64'"
    assert f"triton-rocm; {marker}" in dependencies["dependencies"]


def test_companions_follow_torch_to_the_same_build(rendered: Render, stand_in_index: Path) -> None:
    project = rendered(
        accelerator="cu130", torch_packages=["torchvision"], torch_index_url=str(stand_in_index)
    )
    lock(project)
    assert torch_build_on(project, "linux-aarch64", "torchvision") == "+cu130"
    assert torch_build_on(project, "macos-arm64", "torchvision") == ""  # the CPU index's


def test_pep503_mirror_routes_like_the_folder(
    rendered: Render, stand_in_server: str, fresh_uv_cache: Path
) -> None:
    project = rendered(accelerator="cu126", torch_index_url=stand_in_server)
    indexes = tomllib.loads((project / "pyproject.toml").read_text())["tool"]["uv"]["index"]
    assert [index["url"] for index in indexes] == [
        f"{stand_in_server}/cu126",
        f"{stand_in_server}/cpu",
    ]
    assert all("format" not in index for index in indexes)  # PEP 503, not flat
    lock(project)
    assert torch_build_on(project, "windows-x86_64") == "+cu126"
    assert torch_build_on(project, "macos-arm64") == ""


def test_cpu_project_takes_torch_from_the_cpu_index_everywhere(
    rendered: Render, stand_in_index: Path
) -> None:
    project = rendered(accelerator="cpu", torch_index_url=str(stand_in_index))
    lock(project)
    assert [torch_build_on(project, p) for p in PLATFORMS] == ["+cpu", "+cpu", "+cpu", ""]


# ── Laptop + cluster: two builds as conflicting extras of one lock ──────────────────────


# torch 2.13: the release of the one real wheel; the replica's newest (2.15.0) is a stand-in.
REAL_TORCH = "2.13"


@pytest.fixture
def two_build_project(rendered: Render, stand_in_index: Path) -> Path:
    project = rendered(
        accelerator="cu130",
        cpu_extra=True,
        torch_version=REAL_TORCH,
        torch_index_url=str(stand_in_index),
    )
    lock(project)
    return project


def installed_torch(project: Path) -> str:
    result = run(["uv", "pip", "show", "torch"], project)
    assert result.returncode == 0, result.stderr
    return next(
        line.split()[-1] for line in result.stdout.splitlines() if line.startswith("Version")
    )


@pytest.mark.slow
def test_the_cpu_extra_installs_the_real_cpu_build_from_the_one_lock(
    two_build_project: Path,
) -> None:
    result = run(
        ["uv", "sync", "--locked", "--extra", "cpu", "--no-install-project"], two_build_project
    )
    assert result.returncode == 0, result.stderr
    assert installed_torch(two_build_project) == "2.13.0+cpu"


@pytest.mark.parametrize("platform", PLATFORMS)
def test_the_gpu_extra_installs_on_every_platform(two_build_project: Path, platform: str) -> None:
    """The cu130 extra takes the CPU build where cu130 has no wheels (macOS)."""
    torch = would_install(two_build_project, platform, "cu130")["torch"]
    assert torch == "2.13.0" + label("cpu" if platform == "macos-arm64" else "cu130", platform)


def test_the_two_extras_cannot_be_installed_together(two_build_project: Path) -> None:
    result = run(
        ["uv", "sync", "--locked", "--extra", "cpu", "--extra", "cu130"], two_build_project
    )
    assert result.returncode != 0
    assert "conflict" in result.stderr.lower()


# ── uv#12774: an index without a source is silently ignored ─────────────────────────────


def test_an_index_without_a_source_gives_the_wrong_torch(
    rendered: Render, stand_in_index: Path
) -> None:
    """The mistake our template cannot make, reproduced by removing the sources by hand."""
    project = rendered(accelerator="cu130", torch_index_url=str(stand_in_index))
    pyproject = tomlkit.parse((project / "pyproject.toml").read_text())
    kit = pyproject["tool"]["uv"]["sources"]["protein-folding-kit"]
    pyproject["tool"]["uv"]["sources"] = {"protein-folding-kit": kit}  # kit/ is no index
    (project / "pyproject.toml").write_text(tomlkit.dumps(pyproject))
    lock(project)
    assert torch_build_on(project, "linux-x86_64") == ""  # PyPI's torch, not +cu130


VARIANTS = [
    pytest.param(
        {"accelerator": acc, "cpu_extra": extra, "torch_packages": packages},
        id=f"{acc}-{'extras' if extra else 'markers'}-{len(packages)}",
    )
    for acc in [build.name for build in cuda.BUILDS]
    for extra in (False, True)
    for packages in ([], ["torchvision", "torchaudio"] if acc != "cu132" else ["torchvision"])
    if not (extra and acc == "cpu")
]


@pytest.mark.parametrize("answers", VARIANTS)
def test_every_index_has_a_source_and_every_torch_package_a_route(
    rendered: Render, answers: dict[str, Any]
) -> None:
    config = tomllib.loads((rendered(**answers) / "pyproject.toml").read_text())
    uv = config["tool"]["uv"]
    routed = {
        source["index"]
        for sources in uv["sources"].values()
        for source in (sources if isinstance(sources, list) else [sources])
        if "index" in source
    }
    assert routed == {index["name"] for index in uv["index"]}
    requirements = list(config["project"]["dependencies"])
    for extra in config["project"].get("optional-dependencies", {}).values():
        requirements += extra
    names = {item.split(";")[0].split("=")[0].strip() for item in requirements}
    for package in (
        "torch",
        *answers["torch_packages"],
        *cuda.BUILDS_BY_NAME[answers["accelerator"]].companions,
    ):
        assert package in names
        assert package in uv["sources"]


@pytest.mark.slow
def test_laptop_cluster_project_sets_up_the_cpu_build_without_a_gpu(
    tmp_path: Path, stand_in_index: Path
) -> None:
    """This machine has no GPU driver: the set-up picks the cpu extra and pins both extras."""
    project = render(
        tmp_path / "project",
        accelerator="cu130",
        cpu_extra=True,
        torch_version=REAL_TORCH,
        torch_index_url=str(stand_in_index),
    )
    extras = tomllib.loads((project / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert extras["cpu"][0] == extras["cu130"][0] == "torch==2.13.0"
    assert installed_torch(project) == "2.13.0+cpu"
    assert run(["uv", "lock", "--check"], project).returncode == 0
    assert "TORCH_EXTRA=" in (project / ".env").read_text()


# ── The default comes from the machine, and the answer is recorded concretely ────────────


NO_DETECTION = "COPIER_RESEARCH_NO_GPU_DETECTION"


@pytest.mark.parametrize(
    ("variables", "proposed"),
    [
        ({"COPIER_RESEARCH_DRIVER_VERSION": "580.65.06", NO_DETECTION: None}, "cu132"),
        ({"COPIER_RESEARCH_DRIVER_VERSION": "550.54.14", NO_DETECTION: None}, "cu128"),
        ({NO_DETECTION: "1"}, "cpu"),
    ],
    ids=["R580", "R550", "no-gpu"],
)
def test_default_accelerator_is_detected_and_recorded(
    rendered: Render, variables: dict[str, str | None], proposed: str
) -> None:
    saved = {name: os.environ.get(name) for name in variables}
    set_environment(**variables)
    try:
        project = rendered()
    finally:
        set_environment(**saved)
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["accelerator"] == proposed


# One variant per branch of the templates: CPU, CUDA and ROCm, by markers and as extras.
DISTINCT_VARIANTS = [
    v for v in VARIANTS if v.id.split("-")[0] in ("cpu", "cu126", "rocm7.2") and v.id[-1] == "2"
]


@pytest.mark.parametrize("answers", DISTINCT_VARIANTS)
def test_every_variant_is_valid_and_ruff_clean(rendered: Render, answers: dict[str, Any]) -> None:
    project = rendered(**answers)
    assert_valid_pyproject(project)
    assert_ruff_clean(project)
