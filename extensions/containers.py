"""Container recipes (Dockerfile, Apptainer definition) built from the project's uv.lock.

Both recipes build in two stages: a builder with uv installs a uv-managed Python and the
locked environment under /python and /app; the runtime stage copies those two folders onto
a base image that matches the PyTorch build. The managed Python makes every base image work
alike, including the CUDA images, which carry no Python of their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

from . import cuda, torch_index
from .slurm import sync_options
from .tool_versions import UV

BUILDER_IMAGE = "debian:trixie-slim"
CPU_RUNTIME_IMAGE = "debian:trixie-slim"
# ROCm wheels carry ROCm's user-space libraries; the host's amdgpu driver and /dev/kfd are
# all they need, so a plain Ubuntu suffices (rocm/dev-* images would add several GB of tools).
ROCM_RUNTIME_IMAGE = "ubuntu:24.04"

Container = Literal["none", "docker", "apptainer", "both"]  # the `container` answer
CONTAINERS: tuple[Container, ...] = get_args(Container)


def runtime_image(accelerator: str) -> str:
    """The base image of the runtime stage for a PyTorch build (or CPU for no framework)."""
    build = cuda.BUILDS_BY_NAME[accelerator]
    if build.cuda_runtime is not None:
        return f"nvidia/cuda:{build.cuda_runtime}-runtime-ubuntu24.04"
    if build.is_gpu:
        return ROCM_RUNTIME_IMAGE
    return CPU_RUNTIME_IMAGE


def container_error(
    container: str, env_manager: str, torch_index_url: str, platforms: Sequence[str] | None = None
) -> str:
    """Empty when the recipes can be built from this project's lock, else why not."""
    if container == "none":
        return ""
    if platforms is not None and not any(name.startswith("linux-") for name in platforms):
        return (
            "Container images run Linux, a platform this project's lock is not made for "
            f"({', '.join(platforms)}). Add linux-x86_64 to platforms (linux-aarch64 for "
            "images built on ARM hosts), or answer 'none' here."
        )
    if env_manager != "uv":
        return (
            "The container recipes install the environment from uv.lock, which a pixi "
            "project does not use. Answer 'none' here (the docs show pixi's own image pattern) "
            "or choose env_manager 'uv'."
        )
    if torch_index.torch_index(torch_index_url, "cpu").flat:
        return (
            f"The PyTorch index is the local folder '{torch_index_url}', which a container "
            "build cannot see (uv.lock records its path). Use an index URL, e.g. a lab "
            "mirror, or answer 'none' here."
        )
    return ""


def gpu_vendor(build: cuda.Build) -> str | None:
    """Which GPUs a container of this build is given: "nvidia", "amd", or None (CPU)."""
    if build.cuda is not None:
        return "nvidia"
    return "amd" if build.is_gpu else None


@dataclass(frozen=True)
class ContainerPlan:
    """What the recipes need."""

    docker: bool
    apptainer: bool
    uv_image: str
    uv_debian_image: str
    builder_image: str
    runtime_image: str
    gpu: str | None
    sync_options: str


def container_plan(
    container: str, build: cuda.Build, torch_plan: torch_index.TorchPlan | None
) -> ContainerPlan | None:
    """The recipes' settings, or None when the project has none."""
    if container == "none":
        return None
    return ContainerPlan(
        docker=container in ("docker", "both"),
        apptainer=container in ("apptainer", "both"),
        uv_image=UV.image,
        uv_debian_image=UV.debian_image,
        builder_image=BUILDER_IMAGE,
        runtime_image=runtime_image(build.name),
        gpu=gpu_vendor(build),
        sync_options=sync_options(torch_plan),
    )


FILTERS = {"container_error": container_error}
