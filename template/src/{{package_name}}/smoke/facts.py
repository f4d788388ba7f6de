"""The probe boundary: everything the smoke test learns from the machine, as plain data.

`gather()` is the only place that touches the interpreter, files, tools and devices; every
judgement is made later from the `Facts` it returns. A `Facts` round-trips through JSON, so
a run recorded on one machine can be judged again anywhere (that is how the tests work).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import platform
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

from ..config import find_project_root

TOOL_TIMEOUT_S = 10.0


@dataclass
class Device:
    index: int
    name: str
    capability: tuple[int, int]
    memory_gib: float


@dataclass
class Facts:
    platform: str = ""
    python: str = ""
    executable: str = ""
    expected_python: str | None = None  # from .python-version
    in_project_env: bool = False
    manager: str = "uv"  # "pixi" when pyproject.toml has [tool.pixi]
    torch_extras: list[str] = field(default_factory=list)  # cpu + GPU build, as uv extras
    lock_found: bool = False
    drift: list[str] = field(default_factory=list)  # "name: installed X, locked Y"
    env_file: str | None = None
    env_keys: list[str] = field(default_factory=list)
    torch_expected: bool = False  # torch is a dependency in pyproject.toml
    torch_version: str | None = None
    torch_error: str | None = None
    torch_cuda: str | None = None  # torch.version.cuda: CUDA the build targets
    torch_hip: str | None = None
    cudnn: int | None = None
    arch_list: list[str] = field(default_factory=list)
    driver: str | None = None
    driver_cuda: str | None = None  # newest CUDA the driver supports (nvidia-smi)
    driver_note: str | None = None  # what the driver probe said when it found no GPU
    gpu_capabilities: list[tuple[int, int]] = field(default_factory=list)  # from nvidia-smi
    cuda_available: bool = False
    devices: list[Device] = field(default_factory=list)
    compute: dict[str, float] = field(default_factory=dict)  # "cuda:0 fp32" -> max abs error
    compute_error: str | None = None
    train_step_ok: bool | None = None
    nccl_available: bool | None = None
    all_reduce: str | None = None  # "ok", an error, or None when not run
    mps_available: bool = False
    nvcc: str | None = None
    cuda_home: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Facts:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["devices"] = [
            Device(**{**d, "capability": tuple(d["capability"])}) for d in data.get("devices", [])
        ]
        values["gpu_capabilities"] = [tuple(c) for c in data.get("gpu_capabilities", [])]
        return cls(**values)


def _run(command: list[str]) -> subprocess.CompletedProcess[str] | None:
    if shutil.which(command[0]) is None:
        return None
    try:
        return subprocess.run(
            command, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S, check=False
        )
    except OSError:  # it cannot start
        return None
    except subprocess.TimeoutExpired:  # it hangs
        return None


def _interpreter(facts: Facts, root: Path | None) -> None:
    facts.platform = f"{sys.platform} {platform.machine()}"
    facts.python = platform.python_version()
    facts.executable = sys.executable
    if root is None:
        return
    facts.in_project_env = Path(sys.prefix).resolve() == (root / ".venv").resolve() or (
        Path(sys.prefix).resolve().is_relative_to(root / ".pixi")
    )
    version_file = root / ".python-version"
    if version_file.is_file():
        facts.expected_python = version_file.read_text().strip()


def _lock_drift(facts: Facts, root: Path | None) -> None:
    if root is None:
        return
    if facts.manager == "pixi":  # `pixi install --locked` checks pixi.lock itself
        facts.lock_found = (root / "pixi.lock").is_file()
        return
    lock_file = root / "uv.lock"
    if not lock_file.is_file():
        return
    facts.lock_found = True
    locked: dict[str, set[str]] = {}
    for package in tomllib.loads(lock_file.read_text()).get("package", []):
        if "version" in package:
            locked.setdefault(_canonical(package["name"]), set()).add(package["version"])
    for dist in importlib.metadata.distributions():
        name, version = _canonical(dist.metadata["Name"]), dist.version
        if name not in locked:
            facts.drift.append(f"{name}: installed {version}, not in uv.lock")
        elif version not in locked[name]:
            wanted = " or ".join(sorted(locked[name]))
            facts.drift.append(f"{name}: installed {version}, locked {wanted}")
    facts.drift.sort()


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _project(facts: Facts, root: Path | None) -> None:
    """Which tool manages the environment, and whether torch is one of its dependencies."""
    pyproject = None if root is None else root / "pyproject.toml"
    if pyproject is None or not pyproject.is_file():
        return
    config = tomllib.loads(pyproject.read_text())
    project = config.get("project", {})
    requirements = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    facts.torch_expected = any(re.match(r"torch\b(?!-)", r) for r in requirements)
    conflicts = config.get("tool", {}).get("uv", {}).get("conflicts", [])
    facts.torch_extras = [item["extra"] for group in conflicts for item in group if "extra" in item]
    pixi = config.get("tool", {}).get("pixi")
    if pixi is not None:
        facts.manager = "pixi"
        facts.torch_expected = facts.torch_expected or "pytorch" in str(pixi)


def _env_file(facts: Facts, root: Path | None) -> None:
    if root is not None and (root / ".env").is_file():
        facts.env_file = str(root / ".env")
        facts.env_keys = sorted(k for k in dotenv_values(root / ".env") if k in os.environ)


def _driver(facts: Facts) -> None:
    smi = _run(["nvidia-smi"])
    if smi is not None:
        if match := re.search(r"Driver Version:\s*([\d.]+)", smi.stdout):
            facts.driver = match.group(1)
        if match := re.search(r"CUDA Version:\s*([\d.]+)", smi.stdout):
            facts.driver_cuda = match.group(1)
        if smi.returncode != 0:
            facts.driver_note = (smi.stdout + smi.stderr).strip().splitlines()[0][:200]
    if facts.driver is not None:
        caps = _run(["nvidia-smi", "--query-gpu=compute_cap", "--format=csv,noheader"])
        found = re.findall(r"^\s*(\d+)\.(\d+)\s*$", caps.stdout, re.M) if caps else []
        facts.gpu_capabilities = [(int(major), int(minor)) for major, minor in found]
    proc = Path("/proc/driver/nvidia/version")
    if facts.driver is None and proc.is_file():
        match = re.search(r"Kernel Module.*?\s(\d+\.\d+(?:\.\d+)?)\s", proc.read_text())
        facts.driver = match.group(1) if match else None


def _toolchain(facts: Facts) -> None:
    facts.cuda_home = os.environ.get("CUDA_HOME") or os.environ.get("CUDA_PATH")
    nvcc = shutil.which("nvcc")
    if nvcc is None and facts.cuda_home and (Path(facts.cuda_home) / "bin" / "nvcc").is_file():
        nvcc = str(Path(facts.cuda_home) / "bin" / "nvcc")
    result = _run([nvcc, "--version"]) if nvcc else None
    if result is not None and (match := re.search(r"release (\d+\.\d+)", result.stdout)):
        facts.nvcc = match.group(1)


def gather(quick: bool = False) -> Facts:
    """Probe this machine. `quick` skips the multi-process all-reduce."""
    facts = Facts()
    root = find_project_root()
    _interpreter(facts, root)
    _project(facts, root)
    _lock_drift(facts, root)
    _env_file(facts, root)
    _driver(facts)
    _toolchain(facts)
    try:  # by name: torch_probe.py exists in PyTorch projects only
        torch_probe = importlib.import_module(".torch_probe", __package__)
    except ImportError as error:  # no torch in this environment, or a broken install
        facts.torch_error = f"{type(error).__name__}: {error}"
        return facts
    torch_probe.probe(facts, quick=quick)
    return facts
