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
import sys
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

from .. import machine
from ..config import find_project_root


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
    locked = machine.locked_versions(lock_file.read_text())
    for dist in importlib.metadata.distributions():
        name, version = machine.canonical_name(dist.metadata["Name"]), dist.version
        if name not in locked:
            facts.drift.append(f"{name}: installed {version}, not in uv.lock")
        elif version not in locked[name]:
            wanted = " or ".join(sorted(locked[name]))
            facts.drift.append(f"{name}: installed {version}, locked {wanted}")
    facts.drift.sort()


def _project(facts: Facts, root: Path | None) -> None:
    """Which tool manages the environment, and whether torch is one of its dependencies."""
    if root is None:
        return
    config = machine.read_toml(root / "pyproject.toml")
    project = config.get("project", {})
    requirements = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    facts.torch_expected = any(re.match(r"torch\b(?!-)", r) for r in requirements)
    facts.torch_extras = machine.torch_extras(config)
    facts.manager = machine.manager(config)
    if facts.manager == "pixi":
        facts.torch_expected = facts.torch_expected or "pytorch" in str(config["tool"]["pixi"])


def _env_file(facts: Facts, root: Path | None) -> None:
    if root is not None and (root / ".env").is_file():
        facts.env_file = str(root / ".env")
        facts.env_keys = sorted(k for k in dotenv_values(root / ".env") if k in os.environ)


def _driver(facts: Facts) -> None:
    """What the machine says, whatever the set-up switches in machine.py say."""
    nvidia = machine.probe_nvidia()
    facts.driver = nvidia.driver
    facts.driver_note = nvidia.problem
    facts.gpu_capabilities = [cap for _, cap in nvidia.gpus if cap is not None]
    if nvidia.driver is not None:
        facts.driver_cuda = machine.driver_cuda_version()


def _toolchain(facts: Facts) -> None:
    facts.cuda_home = os.environ.get("CUDA_HOME") or os.environ.get("CUDA_PATH")
    nvcc = shutil.which("nvcc")
    if nvcc is None and facts.cuda_home and (Path(facts.cuda_home) / "bin" / "nvcc").is_file():
        nvcc = str(Path(facts.cuda_home) / "bin" / "nvcc")
    result = machine.run_tool((nvcc, "--version")) if nvcc else None
    if result is not None and (match := re.search(r"release (\d+\.\d+)", result[1])):
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
