"""The PyTorch builds the template offers and what each one needs from the machine.

This table is the single source of truth: copier.yml's choices and labels, GPU detection,
the index routing of the generated pyproject, the container and devcontainer base images,
the generated smoke test's driver and GPU checks, and the documentation's build tables are
all derived from it. Adding a build is one line here, plus its wheels in the facts file
(extensions/pytorch_indexes.toml, kept by tools/refresh_pytorch_facts.py).

Minimum drivers are NVIDIA's minor-version-compatibility floors (CUDA Toolkit release
notes, table 2): a 12.x build runs on any driver >= 525.60.13 (Windows 528.33), a 13.x build
needs >= 580.65.06. GPU architectures are those PyTorch compiles each build for (its
RELEASE.md support matrix, 2.10 onwards): CUDA 12.6 keeps Maxwell to Hopper (sm_50-sm_90),
CUDA 12.8 and 13.x start at Turing (sm_75); 13.x also ships PTX, so newer GPUs run too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .loader import load

Capability = tuple[int, int]
# The generated project's machine.py (standard library only, PyTorch projects only, as its
# name says): the rules that read this table, the same at `copier copy` and in the project.
MACHINE = "template/kit/src/research_kit/{% if framework == 'pytorch' %}machine.py{% endif %}"
machine = load(Path(__file__).resolve().parent.parent / MACHINE)
ALL_PLATFORMS = ("linux-x86_64", "linux-aarch64", "windows-x86_64", "macos-arm64")


@dataclass(frozen=True)
class Build:
    """One PyTorch build, named like its package index (`cpu`, `cu130`, `rocm7.2`, ...)."""

    name: str
    cuda: str | None = None  # CUDA version the wheels are built against
    min_driver_linux: str | None = None
    min_driver_windows: str | None = None
    rocm: str | None = None  # ROCm version the wheels are built against
    # NVIDIA GPU architectures (compute capability) the wheels have kernels for; with PTX,
    # every newer GPU too (None as the upper end).
    oldest_gpu: Capability | None = None
    newest_gpu: Capability | None = None
    # Packages the build's torch requires from its own index (torch's Triton for ROCm).
    companions: tuple[str, ...] = ()
    # The newest patch release of the build's CUDA that NVIDIA publishes as the container
    # image nvidia/cuda:<version>-runtime-ubuntu24.04 (the container recipes' base).
    cuda_runtime: str | None = None
    # The project's platforms (pytorch_facts.PLATFORMS) this build serves; the CPU build
    # serves the rest. CUDA wheels exist for Linux (x86_64, aarch64) and Windows; ROCm
    # wheels for Linux x86_64 only.
    platforms: tuple[str, ...] = ALL_PLATFORMS

    @property
    def is_gpu(self) -> bool:
        return self.cuda is not None or self.rocm is not None

    @property
    def label(self) -> str:
        if self.cuda is not None:
            return f"CUDA {self.cuda} — NVIDIA driver ≥ {self.min_driver_linux}"
        if self.rocm is not None:
            return f"ROCm {self.rocm} — AMD GPU, Linux x86_64 only"
        return "CPU only (no GPU needed)"

    def runs_gpu(self, capability: Capability) -> bool:
        """True when the build has kernels (or PTX) for a GPU of this compute capability."""
        if self.oldest_gpu is None:
            return self.cuda is None  # CPU and ROCm builds make no claim on NVIDIA GPUs
        runs: bool = machine.runs_gpu(self, capability)
        return runs


CUDA_12_FLOOR = ("525.60.13", "528.33")
CUDA_PLATFORMS = ("linux-x86_64", "linux-aarch64", "windows-x86_64")
CUDA_13_FLOOR = ("580.65.06", "580.65.06")
MAXWELL, TURING, HOPPER, BLACKWELL = (5, 0), (7, 5), (9, 0), (12, 0)


def _cuda(name: str, runtime: str, floor: tuple[str, str], gpus: tuple[Capability, ...]) -> Build:
    """A CUDA build: its CUDA runtime image version (the CUDA version is its minor), its
    driver floors, its GPUs (oldest[, newest]) and the CUDA platforms."""
    oldest, newest = gpus[0], gpus[1] if len(gpus) > 1 else None
    version = ".".join(runtime.split(".")[:2])
    return Build(name, version, *floor, oldest_gpu=oldest, newest_gpu=newest,
                 cuda_runtime=runtime, platforms=CUDA_PLATFORMS)  # fmt: skip


BUILDS: tuple[Build, ...] = (
    Build("cpu"),
    _cuda("cu126", "12.6.3", CUDA_12_FLOOR, (MAXWELL, HOPPER)),
    _cuda("cu128", "12.8.1", CUDA_12_FLOOR, (TURING, BLACKWELL)),
    _cuda("cu130", "13.0.2", CUDA_13_FLOOR, (TURING,)),
    _cuda("cu132", "13.2.1", CUDA_13_FLOOR, (TURING,)),
    Build("rocm7.2", rocm="7.2", companions=("triton-rocm",), platforms=("linux-x86_64",)),
)
BUILDS_BY_NAME = {build.name: build for build in BUILDS}
ROCM_BUILD = next(build for build in BUILDS if build.rocm is not None)


# The table as the generated builds.py renders it, for machine.py's rules.
CUDA_TABLE = {
    b.name: machine.CudaBuild(b.cuda, b.min_driver_linux, b.min_driver_windows, b.oldest_gpu,
                              b.newest_gpu)
    for b in BUILDS
    if b.cuda
}  # fmt: skip


def newest_build_for(
    driver: str, gpus: tuple[Capability, ...] = (), windows: bool = False
) -> Build:
    """The newest CUDA build the driver runs and every GPU has kernels in, else the CPU build
    (machine.py's rule, as the generated smoke test applies it)."""
    return BUILDS_BY_NAME[machine.newest_build_for(CUDA_TABLE, driver, gpus, windows)]


def capability_text(capability: Capability) -> str:
    """`sm_70` for compute capability 7.0, as PyTorch names architectures."""
    return f"sm_{capability[0]}{capability[1]}"
