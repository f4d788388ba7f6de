"""What this machine has (GPU drivers, GPUs) and what the project files say to install on it.

Standard library only, and no imports from this package: scripts/setup_env.py loads this file
by its path before anything is installed, and the template's GPU detection at `copier copy`
uses the same file. Functions named `parse_*` only read text; the others ask the machine.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Switches that decide what the machine is taken for, instead of probing it (also honoured
# by the template at `copier copy`): e.g. to set up, on a login node, for the GPU nodes.
DRIVER_ENV = "COPIER_RESEARCH_DRIVER_VERSION"  # this NVIDIA driver version, e.g. 550.54.14
NO_DETECTION_ENV = "COPIER_RESEARCH_NO_GPU_DETECTION"  # 1: no GPU here

PROC_DRIVER_VERSION = Path("/proc/driver/nvidia/version")  # NVIDIA's kernel module (Linux)
AMD_COMPUTE_DEVICE = Path("/dev/kfd")  # AMD's compute driver (Linux)
TOOL_TIMEOUT_S = 10.0

# compute_cap needs a driver from 2021 or later (R510); older ones refuse the field and are
# asked again without it.
NVIDIA_SMI_QUERY = (
    "nvidia-smi",
    "--query-gpu=driver_version,name,compute_cap",
    "--format=csv,noheader",
)
NVIDIA_SMI_QUERY_OLD = ("nvidia-smi", "--query-gpu=driver_version,name", "--format=csv,noheader")

# Variables that point uv or pixi at another environment (copier's own, an activated conda
# environment, an outer `uv run`): the set-up runs them without these.
OUTER_ENVIRONMENT = ("VIRTUAL_ENV", "UV_RUN_RECURSION_DEPTH", "CONDA_PREFIX", "CONDA_DEFAULT_ENV")

Capability = tuple[int, int]
Gpu = tuple[str, Capability | None]  # name, compute capability (None from an old driver)
ToolResult = tuple[int, str] | None  # exit status and output; None: missing, broken or hung

_DRIVER_VERSION = re.compile(r"\d+(?:\.\d+)*")
_CAPABILITY = re.compile(r"(\d+)\.(\d+)")
_PROC_VERSION = re.compile(r"NVRM version:.*?\s(\d+\.\d+(?:\.\d+)*)(?:\s|$)")
_CUDA_VERSION = re.compile(r"CUDA Version:\s*(\d+\.\d+)")


@dataclass(frozen=True)
class Nvidia:
    driver: str | None = None  # None: no NVIDIA driver here
    gpus: tuple[Gpu, ...] = ()  # the GPUs nvidia-smi lists
    problem: str | None = None  # why no GPU is listed, when nvidia-smi (or a switch) says


# ── Parsers ────────────────────────────────────────────────────────────────


def is_driver_version(text: str) -> bool:
    """True for an NVIDIA driver version such as `580`, `470.57` or `550.54.14`."""
    return _DRIVER_VERSION.fullmatch(text) is not None


def parse_proc_driver_version(text: str) -> str | None:
    """The driver version in /proc/driver/nvidia/version (proprietary or open module)."""
    match = _PROC_VERSION.search(text)
    return match[1] if match else None


def parse_nvidia_gpus(text: str) -> tuple[str | None, tuple[Gpu, ...]]:
    """(driver version, GPUs) from `nvidia-smi --query-gpu=driver_version,name[,compute_cap]`.

    Reads lines such as "580.65.06, Tesla V100-SXM2-16GB, 7.0", and the older two-field form.
    """
    driver: str | None = None
    gpus: list[Gpu] = []
    for line in text.splitlines():
        version, comma, rest = line.partition(",")
        name, _, last = rest.rpartition(",")
        capability = _CAPABILITY.fullmatch(last.strip())
        if capability is None:
            name = rest
        if comma and is_driver_version(version.strip()) and name.strip():
            driver = driver or version.strip()
            cap = (int(capability[1]), int(capability[2])) if capability else None
            gpus.append((name.strip(), cap))
    return driver, tuple(gpus)


def nvidia_smi_problem(text: str) -> str:
    """Why nvidia-smi listed no GPU, in a few words: the first sentence it printed."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0].split(". ")[0].rstrip(".") if lines else "listed no GPU"


def parse_nvidia(smi: ToolResult, proc_text: str | None) -> Nvidia:
    """The driver and GPUs from nvidia-smi's query; the driver from /proc when it fails.

    The /proc driver counts without a visible GPU: an HPC login node usually runs the driver
    of the cluster's GPU nodes.
    """
    driver, gpus = parse_nvidia_gpus(smi[1]) if smi is not None and smi[0] == 0 else (None, ())
    problem = nvidia_smi_problem(smi[1]) if smi is not None and not gpus else None
    if driver is None and proc_text is not None:
        driver = parse_proc_driver_version(proc_text)
    return Nvidia(driver, gpus, problem)


def parse_cuda_version(text: str) -> str | None:
    """The newest CUDA the driver supports, from nvidia-smi's table ("CUDA Version: 12.8")."""
    match = _CUDA_VERSION.search(text)
    return match[1] if match else None


# ── Asking the machine ─────────────────────────────────────────────────────


def switched_off(environ: Mapping[str, str] = os.environ) -> bool:
    """NO_DETECTION_ENV is set to anything but an empty or false word."""
    return environ.get(NO_DETECTION_ENV, "").strip().lower() not in ("", "0", "false", "no", "off")


def run_tool(command: tuple[str, ...], timeout: float = TOOL_TIMEOUT_S) -> ToolResult:
    """(exit status, stdout and stderr) of a command; None when missing, broken or hung."""
    try:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            encoding="utf-8",
            errors="replace",
        )
    except OSError:  # it cannot start
        return None
    except ValueError:  # a path it cannot be started from (a NUL byte in it)
        return None
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:  # it hangs (a driver call can): kill it, read no more
        process.kill()
        if process.stdout is not None:
            process.stdout.close()  # a child of the tool may still hold it open
        with contextlib.suppress(subprocess.TimeoutExpired):  # a hung driver call may not die
            process.wait(timeout=1)
        return None
    return process.returncode, output


def query_nvidia_smi(run: Callable[[tuple[str, ...]], ToolResult] = run_tool) -> ToolResult:
    """nvidia-smi's GPU list, asked again without compute_cap when the driver refuses it."""
    smi = run(NVIDIA_SMI_QUERY)
    if smi is not None and smi[0] != 0 and "compute_cap" in smi[1]:
        smi = run(NVIDIA_SMI_QUERY_OLD)
    return smi


def read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def probe_nvidia() -> Nvidia:
    """What the machine itself says about its NVIDIA driver and GPUs (no switches)."""
    return parse_nvidia(query_nvidia_smi(), read_text(PROC_DRIVER_VERSION))


def nvidia(environ: Mapping[str, str] = os.environ) -> Nvidia:
    """The NVIDIA driver to set up for: the switches' when set, else the machine's."""
    if switched_off(environ):
        return Nvidia(problem=f"GPU detection turned off by {NO_DETECTION_ENV}")
    override = environ.get(DRIVER_ENV, "").strip()
    if override and not is_driver_version(override):
        return Nvidia(problem=f"{DRIVER_ENV}={override!r} is not a driver version")
    return Nvidia(override) if override else probe_nvidia()


def amd_gpu(environ: Mapping[str, str] = os.environ) -> bool:
    """AMD's compute driver is loaded (and no switch says otherwise)."""
    if switched_off(environ) or environ.get(DRIVER_ENV, "").strip():
        return False
    return AMD_COMPUTE_DEVICE.exists()


def gpu_vendor(environ: Mapping[str, str] = os.environ) -> str | None:
    """`nvidia` or `amd` when this machine has that GPU driver, else None."""
    if nvidia(environ).driver is not None:
        return "nvidia"
    return "amd" if amd_gpu(environ) else None


def driver_cuda_version() -> str | None:
    """The newest CUDA this machine's NVIDIA driver supports, as nvidia-smi prints it."""
    smi = run_tool(("nvidia-smi",))
    return parse_cuda_version(smi[1]) if smi is not None else None


def clean_environment(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The environment without the variables that point at another environment."""
    return {name: value for name, value in environ.items() if name not in OUTER_ENVIRONMENT}


# ── The project's files ────────────────────────────────────────────────────


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML file's tables; empty when the file is missing or not TOML."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError:
        return {}
    except tomllib.TOMLDecodeError:
        return {}


def manager(pyproject: Mapping[str, Any]) -> str:
    """The tool that manages the environment: "pixi" with a [tool.pixi] table, else "uv"."""
    return "pixi" if "pixi" in pyproject.get("tool", {}) else "uv"


def torch_extras(pyproject: Mapping[str, Any]) -> list[str]:
    """The extras declared in conflict in [tool.uv] (the cpu/<GPU build> pair), if any."""
    conflicts = pyproject.get("tool", {}).get("uv", {}).get("conflicts", [])
    return [item["extra"] for group in conflicts for item in group if "extra" in item]


def canonical_name(name: str) -> str:
    """A package name as the indexes compare it (PEP 503): `Ruamel_YAML` -> `ruamel-yaml`."""
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_versions(lock_text: str) -> dict[str, set[str]]:
    """Every version of every package in a uv.lock, by canonical name."""
    versions: dict[str, set[str]] = {}
    for package in tomllib.loads(lock_text).get("package", []):
        if "version" in package:
            versions.setdefault(canonical_name(package["name"]), set()).add(package["version"])
    return versions
