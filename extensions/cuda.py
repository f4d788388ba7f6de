"""The PyTorch builds the template offers and what each one needs from the machine.

This table is the single source of truth: copier.yml's choices and labels, GPU detection,
the index routing of the generated pyproject, and the generated smoke test's driver check
are all derived from it.

Minimum drivers are NVIDIA's minor-version-compatibility floors (CUDA Toolkit release
notes, table 2; the same floors uv's `--torch-backend=auto` uses): a 12.x build runs on any
driver >= 525.60.13 (Windows 528.33), a 13.x build needs >= 580.
"""

from __future__ import annotations

from dataclasses import dataclass

# Where each kind of build has wheels: CUDA on Linux and Windows, ROCm on Linux only.
CUDA_PLATFORMS = ("linux", "win32")
ROCM_PLATFORMS = ("linux",)


@dataclass(frozen=True)
class Build:
    """One PyTorch build, named like its package index (`cpu`, `cu130`, `rocm7.2`, ...)."""

    name: str
    cuda: str | None = None  # CUDA version the wheels are built against
    min_driver_linux: str | None = None
    min_driver_windows: str | None = None
    rocm: str | None = None  # ROCm version the wheels are built against
    # Packages the build's torch requires from its own index (torch's Triton for ROCm).
    companions: tuple[str, ...] = ()

    @property
    def is_gpu(self) -> bool:
        return self.cuda is not None or self.rocm is not None

    @property
    def platforms(self) -> tuple[str, ...]:
        """`sys_platform` values this build has wheels for; empty means every platform."""
        if self.cuda is not None:
            return CUDA_PLATFORMS
        if self.rocm is not None:
            return ROCM_PLATFORMS
        return ()

    @property
    def label(self) -> str:
        if self.cuda is not None:
            return f"CUDA {self.cuda} — NVIDIA driver ≥ {self.min_driver_linux}"
        if self.rocm is not None:
            return f"ROCm {self.rocm} — AMD GPU, Linux only"
        return "CPU only (no GPU needed)"


CUDA_12_FLOOR = ("525.60.13", "528.33")
CUDA_13_FLOOR = ("580", "580")

BUILDS: tuple[Build, ...] = (
    Build("cpu"),
    Build("cu126", "12.6", *CUDA_12_FLOOR),
    Build("cu128", "12.8", *CUDA_12_FLOOR),
    Build("cu130", "13.0", *CUDA_13_FLOOR),
    Build("cu132", "13.2", *CUDA_13_FLOOR),
    Build("rocm7.2", rocm="7.2", companions=("triton-rocm",)),
)
BUILDS_BY_NAME = {build.name: build for build in BUILDS}
ROCM_BUILD = next(build for build in BUILDS if build.rocm is not None)


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def driver_supports(driver: str, build: Build, windows: bool = False) -> bool:
    """True when an NVIDIA driver of version `driver` can run `build`."""
    floor = build.min_driver_windows if windows else build.min_driver_linux
    return floor is None or _version(driver) >= _version(floor)


def newest_build_for_driver(driver: str, windows: bool = False) -> Build:
    """The newest CUDA build the driver runs, or the CPU build when it runs none."""
    for build in reversed(BUILDS):
        if build.cuda is not None and driver_supports(driver, build, windows):
            return build
    return BUILDS_BY_NAME["cpu"]
