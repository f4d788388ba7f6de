"""The pixi variant: the `[tool.pixi]` tables of the generated pyproject, planned from the answers.

pixi reads `[project].dependencies` as PyPI dependencies and solves conda-forge first, PyPI
second. So when PyTorch comes from conda-forge, torch and its companions leave
`[project].dependencies` (pixi would otherwise also take them from PyPI) and become conda
packages; when it comes from PyPI, they stay, and each platform pins them to PyTorch's index
for its build. pixi is then the only source of truth for PyTorch: the uv-side index routing
(`torch_plan`) is not written.

Platforms follow the `platforms` answer, among the two the pixi variant targets
(`PIXI_PLATFORMS`: Linux x86_64 and macOS arm64; the platforms question refuses the others),
and pixi >= 0.71, where CUDA is declared on the platform entry: for Linux x86_64 a CUDA
project lists a CUDA Linux platform first (installed where an NVIDIA driver is found, or
where `CONDA_OVERRIDE_CUDA` says so), then a CPU Linux platform (login nodes, CI); Apple
silicon is `osx-arm64`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from . import cuda, torch_index
from .tool_versions import PIXI

TorchSource = Literal["conda-forge", "pypi"]  # the `pixi_torch_source` answer
CONDA_FORGE: TorchSource = "conda-forge"
PYPI: TorchSource = "pypi"
TORCH_SOURCES: tuple[TorchSource, ...] = get_args(TorchSource)
MAC = "osx-arm64"
# The project platforms (pytorch_facts.PLATFORMS names) a pixi project can target, and the
# conda subdir of each.
PIXI_SUBDIRS = {"linux-x86_64": "linux-64", "macos-arm64": MAC}
PIXI_PLATFORMS = tuple(PIXI_SUBDIRS)

# PyTorch packages pixi must take from one source; PyPI name -> conda-forge name.
CONDA_NAMES = {"torch": "pytorch", "torchvision": "torchvision", "torchaudio": "torchaudio"}
# Routed to the build's index on PyPI, but no conda-forge package at all (ROCm's Triton).
PYPI_ONLY = ("triton-rocm", "pytorch-triton-rocm")
# The CUDA toolkit pieces that build extensions against the environment's CUDA (nvcc pulls
# conda-forge's gcc/gxx activation packages and constrains their versions).
CUDA_TOOLKIT = ("cuda-nvcc", "cuda-cudart-dev", "cuda-libraries-dev")
COMPILERS = ("gcc", "gxx")


@dataclass(frozen=True)
class Platform:
    """One entry of `[tool.pixi.workspace] platforms`."""

    name: str
    subdir: str
    cuda: str | None = None  # the `__cuda` major this platform declares

    @property
    def entry(self) -> str:
        """The TOML value: a bare subdir, or an inline table for a named platform."""
        if self.name == self.subdir and self.cuda is None:
            return f'"{self.name}"'
        cuda_key = f', cuda = "{self.cuda}"' if self.cuda else ""
        return f'{{ name = "{self.name}", platform = "{self.subdir}"{cuda_key} }}'


@dataclass(frozen=True)
class PypiPin:
    """A `[tool.pixi.target.<platform>.pypi-dependencies]` entry: a package from one index."""

    version: str
    index: str


@dataclass(frozen=True)
class Target:
    """What one platform adds to the common dependencies."""

    platform: str
    conda: dict[str, str] = field(default_factory=dict)
    pypi: dict[str, PypiPin] = field(default_factory=dict)


@dataclass(frozen=True)
class PixiPlan:
    platforms: tuple[Platform, ...]
    conda: dict[str, str]  # [tool.pixi.dependencies]
    targets: tuple[Target, ...]
    torch_source: str | None  # None when the project does not use PyTorch
    cuda_platform: Platform | None
    cuda_version: str | None  # the build's CUDA, e.g. "12.8"
    compilers: bool

    @property
    def requires_pixi(self) -> str:
        return PIXI.required

    @property
    def override_cuda(self) -> str | None:
        """The CONDA_OVERRIDE_CUDA value that makes a driverless machine take the CUDA platform."""
        return self.cuda_platform.cuda if self.cuda_platform else None


# ── Validators ─────────────────────────────────────────────────────────────


def torch_source_default(accelerator: str) -> str:
    build = cuda.BUILDS_BY_NAME.get(accelerator)
    return PYPI if build is not None and build.rocm is not None else CONDA_FORGE


def compilers_default(accelerator: str) -> bool:
    """Compilers are proposed with a CUDA build (nvcc builds extensions against its CUDA)."""
    build = cuda.BUILDS_BY_NAME.get(accelerator)
    return build is not None and build.cuda is not None


def torch_source_error(source: str, accelerator: str, index_url: str = "") -> str:
    """Empty when pixi can install `accelerator` from `source`, else why not and what to pick."""
    if source not in TORCH_SOURCES:
        return f"'{source}' is not a PyTorch source for pixi. Choose conda-forge or pypi."
    build = cuda.BUILDS_BY_NAME.get(accelerator)
    if source == CONDA_FORGE and build is not None and build.rocm is not None:
        return (
            f"conda-forge has no ROCm build of PyTorch, so {accelerator} cannot come from it. "
            f"Choose 'pypi' (pixi installs PyTorch's {accelerator} wheels from its index), or "
            "go back and choose a CUDA or CPU accelerator to keep conda-forge."
        )
    if source == PYPI and index_url and torch_index.torch_index(index_url, "cpu").flat:
        return (
            f"pixi takes PyPI indexes by URL, and '{index_url}' is a local folder. Serve it "
            "over HTTP (a PEP 503 mirror), use PyTorch's index, or choose 'conda-forge'."
        )
    return ""


# ── The plan ───────────────────────────────────────────────────────────────


def conda_version(specifier: str) -> str:
    """A PEP 440 specifier set as a conda version spec: `==2.13.*` -> `2.13.*`, `` -> `*`."""
    parts = []
    for spec in SpecifierSet(specifier):
        if spec.operator == "==" and spec.version.endswith(".*"):
            parts.append(spec.version)
        elif spec.operator == "~=":
            parts.append(f"~={spec.version}")
        else:
            parts.append(f"{spec.operator}{spec.version}")
    return ",".join(sorted(parts)) or "*"


def _platforms(build: cuda.Build, targets: tuple[str, ...]) -> tuple[Platform, ...]:
    """pixi's platforms for the project's (`targets`, names of pytorch_facts.PLATFORMS)."""
    platforms: list[Platform] = []
    if "linux-x86_64" in targets and build.cuda is not None:
        major = build.cuda.split(".")[0]
        platforms += [
            Platform("linux-64-cuda", "linux-64", major),
            Platform("linux-64-cpu", "linux-64"),
        ]
    elif "linux-x86_64" in targets:
        platforms.append(Platform("linux-64", "linux-64"))
    if "macos-arm64" in targets:
        platforms.append(Platform(MAC, MAC))
    return tuple(platforms)


def _torch_requirements(dependencies: list[str]) -> tuple[dict[str, Requirement], list[str]]:
    """Split the dependency list into the PyTorch packages and the rest."""
    routed = {*CONDA_NAMES, *PYPI_ONLY}
    torch: dict[str, Requirement] = {}
    rest: list[str] = []
    for item in dependencies:
        requirement = Requirement(item)
        name = canonicalize_name(requirement.name)
        if name in routed:
            torch[name] = requirement
        else:
            rest.append(item)
    return torch, rest


def _conda_torch(
    plan_platforms: tuple[Platform, ...], torch: dict[str, Requirement]
) -> tuple[dict[str, str], list[Target]]:
    common = {
        CONDA_NAMES[name]: conda_version(str(requirement.specifier))
        for name, requirement in torch.items()
        if name in CONDA_NAMES
    }
    targets = []
    for platform in plan_platforms:
        if platform.cuda is not None:
            targets.append(Target(platform.name, {"pytorch-gpu": "*"}))
        elif platform.subdir.startswith("linux"):
            targets.append(Target(platform.name, {"pytorch-cpu": "*"}))
    return common, targets


def _pypi_torch(
    plan_platforms: tuple[Platform, ...],
    build: cuda.Build,
    torch: dict[str, Requirement],
    index_url: str,
) -> list[Target]:
    targets = []
    for platform in plan_platforms:
        on_gpu = platform.subdir.startswith("linux") and (
            platform.cuda is not None or build.rocm is not None
        )
        index = torch_index.torch_index(index_url, build.name if on_gpu else "cpu").url
        pins = {
            name: PypiPin(str(requirement.specifier) or "*", index)
            for name, requirement in torch.items()
            if on_gpu or name not in PYPI_ONLY
        }
        targets.append(Target(platform.name, pypi=pins))
    return targets


def pixi_plan(
    *,
    python_version: str,
    framework: str,
    accelerator: str,
    dependencies: list[str],
    torch_source: str = CONDA_FORGE,
    compilers: bool = False,
    index_url: str = torch_index.DEFAULT_TORCH_INDEX_URL,
    target_platforms: tuple[str, ...] = PIXI_PLATFORMS,
) -> tuple[PixiPlan, list[str]]:
    """The `[tool.pixi]` plan, and `[project].dependencies` as pixi must see them."""
    build = cuda.BUILDS_BY_NAME[accelerator if framework == "pytorch" else "cpu"]
    platforms = _platforms(build, target_platforms)
    conda = {"python": f"{python_version}.*"}
    targets = {platform.name: Target(platform.name) for platform in platforms}
    uses_torch = framework == "pytorch"
    torch, rest = _torch_requirements(dependencies) if uses_torch else ({}, dependencies)
    project_dependencies = dependencies
    if uses_torch and torch_source == CONDA_FORGE:
        common, torch_targets = _conda_torch(platforms, torch)
        conda.update(common)
        for target in torch_targets:
            targets[target.platform].conda.update(target.conda)
        project_dependencies = rest
    elif uses_torch:
        for target in _pypi_torch(platforms, build, torch, index_url):
            targets[target.platform].pypi.update(target.pypi)
    cuda_platform = next((p for p in platforms if p.cuda is not None), None)
    for platform in platforms:
        extra = targets[platform.name].conda
        if platform.cuda is not None:
            extra["cuda-version"] = f"{build.cuda}.*"
        if compilers and platform.subdir.startswith("linux"):
            if platform.cuda is not None:
                extra.update(dict.fromkeys(CUDA_TOOLKIT, "*"))
            extra.update(dict.fromkeys(COMPILERS, "*"))
    plan = PixiPlan(
        platforms=platforms,
        conda=conda,
        targets=tuple(t for t in targets.values() if t.conda or t.pypi),
        torch_source=torch_source if uses_torch else None,
        cuda_platform=cuda_platform,
        cuda_version=build.cuda,
        compilers=compilers,
    )
    return plan, project_dependencies


def _with_release_lines(
    dependencies: list[str], torch_plan: torch_index.TorchPlan | None, source: str, explicit: bool
) -> list[str]:
    """The dependencies, the PyTorch packages constrained to the chosen release lines.

    From PyTorch's indexes (source pypi) always, so every platform gets the same release;
    from conda-forge only when the answers name a line (`explicit`; conda-forge has its own
    set of releases).
    """
    if torch_plan is None or not (source == PYPI or explicit):
        return list(dependencies)
    lines = {canonicalize_name(Requirement(c).name): c for c in torch_plan.constraints}
    return [lines.get(canonicalize_name(Requirement(item).name), item) for item in dependencies]


def pixi_step(
    *,
    python_version: str,
    framework: str,
    accelerator: str,
    dependencies: list[str],
    torch_plan: torch_index.TorchPlan | None,
    torch_version: str,
    torch_source: str,
    compilers: bool,
    index_url: str,
    target_platforms: tuple[str, ...],
) -> tuple[PixiPlan, list[str]]:
    """The pixi plan from the uv-side PyTorch plan: pixi takes over the routing of PyTorch.

    Returns the plan and `[project].dependencies` as pixi must see them (the PyTorch packages
    held to the chosen release lines, or moved to conda-forge).
    """
    explicit = torch_version not in ("", "newest")
    return pixi_plan(
        python_version=python_version,
        framework=framework,
        accelerator=accelerator,
        dependencies=_with_release_lines(dependencies, torch_plan, torch_source, explicit),
        torch_source=torch_source,
        compilers=compilers,
        index_url=index_url,
        target_platforms=target_platforms,
    )


FILTERS = {
    "pixi_torch_source_error": torch_source_error,
    "pixi_torch_source_default": torch_source_default,
    "pixi_compilers_default": compilers_default,
}
