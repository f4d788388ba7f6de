"""Propose a default PyTorch build from the GPUs and drivers this machine has.

The module has three layers, so that everything but the first is tested with recorded
outputs instead of real hardware:

1. the probe boundary, `read_probes()`: reads `/proc/driver/nvidia/version`, runs
   `nvidia-smi`, `rocm_agent_enumerator` (or `rocminfo`), and returns their raw text in a
   `Probes`. It never raises: a missing file or tool, an error or a hang (each command gets
   `PROBE_TIMEOUT_S` seconds) is recorded as `None`;
2. pure parsers, from one tool's raw text to values;
3. the pure decision, `detect(probes)`, which returns a `Detection`: the proposed build
   (a name from `cuda.BUILDS`) and a one-line summary for the question's help.

The order of preference: GPUs that `nvidia-smi` lists, then AMD GPUs, then an NVIDIA driver
with no visible GPU. That driver is trusted (from `/proc` when `nvidia-smi` fails) because
an HPC login node, where `nvidia-smi` prints "No devices were found", usually runs the driver
of the cluster's GPU nodes, where the project will run.

Two environment variables, read by `read_probes()` only, make the result reproducible:

- `COPIER_RESEARCH_DRIVER_VERSION=550.54.14`: take this as the NVIDIA driver version and
  probe nothing (e.g. to prepare a project for a cluster from a laptop);
- `COPIER_RESEARCH_NO_GPU_DETECTION=1`: probe nothing and propose the CPU build.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from . import cuda

# The generated project's machine.py (standard library only), from the template: its parsers,
# its switches and its nvidia-smi query are the ones the generated project's set-up and smoke
# test use, so a machine is judged the same at `copier copy` and after. Only PyTorch projects
# get the file (its name says so); the template's detection uses it whatever the answers.
MACHINE = cuda.MACHINE
machine = cuda.machine

DRIVER_ENV: str = machine.DRIVER_ENV
NO_DETECTION_ENV: str = machine.NO_DETECTION_ENV

PROC_DRIVER_VERSION: Path = machine.PROC_DRIVER_VERSION
ROCM_BIN = Path("/opt/rocm/bin")  # where ROCm installs its tools when they are not on PATH
PROBE_TIMEOUT_S = 5.0

ROCM_BUILD = cuda.ROCM_BUILD.name
ROCM_VERSION = cuda.ROCM_BUILD.rocm

NVIDIA_SMI_QUERY: tuple[str, ...] = machine.NVIDIA_SMI_QUERY
NVIDIA_SMI_QUERY_OLD: tuple[str, ...] = machine.NVIDIA_SMI_QUERY_OLD

# The pure parsers, as machine.py has them.
is_driver_version = machine.is_driver_version
parse_proc_driver_version = machine.parse_proc_driver_version
parse_nvidia_gpus = machine.parse_nvidia_gpus
nvidia_smi_problem = machine.nvidia_smi_problem

_GFX = re.compile(r"gfx[0-9a-f]+")
_ROCMINFO_NAME = re.compile(r"^\s*Name:\s+(gfx[0-9a-f]+)\s*$", re.MULTILINE)
_CPU_AGENT = "gfx000"


def parse_rocm_agents(text: str) -> tuple[str, ...]:
    """The GPU targets `rocm_agent_enumerator` lists (gfx000 is the CPU and is dropped)."""
    lines = (line.strip() for line in text.splitlines())
    return tuple(line for line in lines if _GFX.fullmatch(line) and line != _CPU_AGENT)


def parse_rocminfo(text: str) -> tuple[str, ...]:
    """The GPU targets in `rocminfo`'s agent list (its `Name: gfx...` lines)."""
    return tuple(name for name in _ROCMINFO_NAME.findall(text) if name != _CPU_AGENT)


def parse_nvidia_smi(text: str) -> tuple[str | None, tuple[str, ...]]:
    """(driver version, GPU names) from `nvidia-smi --query-gpu=driver_version,name[,...]`."""
    driver, gpus = parse_nvidia_gpus(text)
    return driver, tuple(name for name, _ in gpus)


_TIMES = "\u00d7"  # the multiplication sign of "2\u00d7 NVIDIA H100"


@dataclass(frozen=True)
class Probes:
    """Raw outputs of the probes; `None` means the file or tool was missing or failed to run."""

    proc_driver_version: str | None = None
    nvidia_smi: str | None = None  # stdout and stderr together
    nvidia_smi_returncode: int | None = None
    rocm_agents: str | None = None  # rocm_agent_enumerator's output
    rocminfo: str | None = None  # only read when rocm_agent_enumerator is unavailable
    platform: str = "linux"  # sys.platform of the probed machine
    driver_override: str | None = None  # value of COPIER_RESEARCH_DRIVER_VERSION
    disabled: bool = False  # COPIER_RESEARCH_NO_GPU_DETECTION is set


@dataclass(frozen=True)
class Detection:
    """The proposed build and what it was proposed from."""

    accelerator: str
    driver: str | None
    gpus: tuple[str, ...]
    summary: str
    capabilities: tuple[cuda.Capability, ...] = ()


# --- Probe boundary -------------------------------------------------------------------------


def read_probes() -> Probes:
    """Probe this machine (or read the override variables); never raises."""
    if machine.switched_off():
        return Probes(platform=sys.platform, disabled=True)
    override = os.environ.get(DRIVER_ENV, "").strip()
    if override:
        return Probes(platform=sys.platform, driver_override=override)
    smi = machine.query_nvidia_smi(_run)
    agents = _run(("rocm_agent_enumerator",))
    return Probes(
        proc_driver_version=machine.read_text(PROC_DRIVER_VERSION),
        nvidia_smi=None if smi is None else smi[1],
        nvidia_smi_returncode=None if smi is None else smi[0],
        rocm_agents=_output_if_ok(agents),
        rocminfo=_output_if_ok(_run(("rocminfo",))) if agents is None else None,
        platform=sys.platform,
    )


def detect_local() -> Detection:
    """The detection for this machine: `detect(read_probes())`."""
    return detect(read_probes())


def _find_tool(name: str) -> str | None:
    """The tool's path on PATH, else in ROCM_BIN, else None."""
    return shutil.which(name) or shutil.which(name, path=str(ROCM_BIN))


def _run(command: tuple[str, ...]) -> tuple[int, str] | None:
    """(exit code, stdout and stderr) of a command, or None when missing, failing or hanging."""
    executable = _find_tool(command[0])
    if executable is None:
        return None
    result: tuple[int, str] | None = machine.run_tool((executable, *command[1:]), PROBE_TIMEOUT_S)
    return result


def _output_if_ok(result: tuple[int, str] | None) -> str | None:
    """The output of a command that ran and succeeded, else None."""
    if result is None or result[0] != 0:
        return None
    return result[1]


# --- Pure decision --------------------------------------------------------------------------


def detect(probes: Probes) -> Detection:
    """The build to propose for the probed machine, with a one-line reason."""
    windows = _is_windows(probes.platform)
    if probes.disabled:
        return _cpu(f"GPU detection turned off by {NO_DETECTION_ENV}")
    if probes.driver_override is not None:
        return _from_override(probes.driver_override, windows)
    driver, listed, problem = _nvidia(probes)
    gpus = tuple(name for name, _ in listed)
    capabilities = tuple(sorted({cap for _, cap in listed if cap is not None}))
    amd = _amd(probes)
    if driver and gpus:
        reason = f"Detected NVIDIA driver {driver} ({_count(gpus)})"
        return _for_driver(driver, gpus, reason, windows, capabilities)
    if amd:
        summary = f"Detected AMD GPU ({_count(amd)}): {_proposing(ROCM_BUILD)}"
        return Detection(ROCM_BUILD, None, amd, summary)
    if driver:
        seen = problem or "not available"
        reason = f"NVIDIA driver {driver} found but no GPU is visible here (nvidia-smi: {seen})"
        return _for_driver(driver, (), reason, windows)
    return _cpu("No NVIDIA or AMD GPU detected" + (f" (nvidia-smi: {problem})" if problem else ""))


def _nvidia(
    probes: Probes,
) -> tuple[str | None, tuple[tuple[str, cuda.Capability | None], ...], str | None]:
    """The NVIDIA driver (nvidia-smi's, else /proc's), the GPUs nvidia-smi lists, and why
    it lists none (None when it did not run or listed some)."""
    smi = None
    if probes.nvidia_smi is not None:
        smi = (probes.nvidia_smi_returncode, probes.nvidia_smi)
    found = machine.parse_nvidia(smi, probes.proc_driver_version)
    return found.driver, found.gpus, found.problem


def _amd(probes: Probes) -> tuple[str, ...]:
    """The AMD GPU targets found by rocm_agent_enumerator, else by rocminfo."""
    if probes.rocm_agents is not None:
        return parse_rocm_agents(probes.rocm_agents)
    if probes.rocminfo is not None:
        return parse_rocminfo(probes.rocminfo)
    return ()


def _from_override(value: str, windows: bool) -> Detection:
    """The detection for a driver version given by COPIER_RESEARCH_DRIVER_VERSION."""
    if not is_driver_version(value):
        return _cpu(f"{DRIVER_ENV}={value!r} is not a driver version (like 550.54.14)")
    return _for_driver(value, (), f"NVIDIA driver {value} set by {DRIVER_ENV}", windows)


def _for_driver(
    driver: str,
    gpus: tuple[str, ...],
    reason: str,
    windows: bool,
    capabilities: tuple[cuda.Capability, ...] = (),
) -> Detection:
    """The newest build the driver and the GPUs run, the reason, and why older when it is."""
    build = cuda.newest_build_for(driver, capabilities, windows)
    by_driver = cuda.newest_build_for(driver, (), windows)
    why = _too_old(build, windows)
    if build != by_driver:
        missing = [cuda.capability_text(c) for c in capabilities if not by_driver.runs_gpu(c)]
        why = f"; {by_driver.name} has no kernels for {', '.join(missing)}"
    summary = f"{reason}{why}: {_proposing(build.name)}"
    return Detection(build.name, driver, gpus, summary, capabilities)


def _cpu(reason: str) -> Detection:
    """The CPU build, for the reason given."""
    return Detection("cpu", None, (), f"{reason}: {_proposing('cpu')}")


def _is_windows(platform: str) -> bool:
    """True for a `sys.platform` value of Windows (its driver floors differ)."""
    return platform in ("win32", "cygwin")


def _count(names: tuple[str, ...]) -> str:
    """Each distinct name after its count and a multiplication sign, in first-seen order."""
    return ", ".join(f"{count}{_TIMES} {name}" for name, count in Counter(names).items())


def _too_old(build: cuda.Build, windows: bool) -> str:
    """A clause saying the driver runs no CUDA build, when `build` is the CPU fallback."""
    if build.cuda is not None:
        return ""
    oldest = next(b for b in cuda.BUILDS if b.cuda is not None)
    floor = oldest.min_driver_windows if windows else oldest.min_driver_linux
    return f", older than every CUDA build offered needs (≥ {floor})"


def _proposing(accelerator: str) -> str:
    """`proposing cu132 (CUDA 13.2).`, `proposing rocm7.2 (ROCm 7.2).` or `proposing cpu.`"""
    if accelerator == ROCM_BUILD:
        return f"proposing {accelerator} (ROCm {ROCM_VERSION})."
    build = cuda.BUILDS_BY_NAME[accelerator]
    return f"proposing {accelerator} (CUDA {build.cuda})." if build.cuda else "proposing cpu."
