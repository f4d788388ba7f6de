"""The generated project's machine facts (template/kit/src/research_kit/machine.py, PyTorch projects
only) and project facts (project.py, every project), one place for all.

Both are loaded from the template by their paths, as scripts/setup_env.py and the
template's own tasks and GPU detection load them. The parsers are fed the real tools' recorded
outputs (tests/test_detect.py); the probes run against STAND-IN tools on PATH. That every
user of the rules takes them from this one file is checked at the end.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from conftest import Render
from hypothesis import given
from hypothesis import strategies as st
from packaging.utils import canonicalize_name
from test_detect import (
    PROC_R470_K80,
    PROC_R550_OPEN,
    SMI_H100,
    SMI_NO_DEVICES,
    SMI_NO_DRIVER,
    SMI_OLD_DRIVER_NO_CAP,
    SMI_V100_X4_R580,
)

from extensions import cuda, detect
from extensions.loader import load
from tasks import common

ROOT = Path(__file__).resolve().parent.parent
KIT = ROOT / "template" / "kit" / "src" / "research_kit"
MACHINE = KIT / "{% if framework == 'pytorch' %}machine.py{% endif %}"
PROJECT_FILES = KIT / "project.py"

NO_SWITCHES: dict[str, str] = {}
PYTORCH_INDEX = "https://download.pytorch.org/whl"  # answered, never fetched from here


machine = load(MACHINE, "machine_under_test")
project_files = load(PROJECT_FILES, "project_under_test")


def stand_in_tool(folder: Path, name: str, script: str) -> None:
    """A STAND-IN executable `name` in `folder`, running `script` (Python) with this Python."""
    folder.mkdir(parents=True, exist_ok=True)
    tool = folder / name
    tool.write_text(f"#!{sys.executable}\n# STAND-IN for {name} in the template's tests.\n{script}")
    tool.chmod(0o755)


@pytest.fixture
def no_gpu_here(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """PATH without nvidia-smi, no /proc driver file, no AMD device: a bin folder for stand-ins."""
    bin_folder = tmp_path / "bin"
    bin_folder.mkdir()
    monkeypatch.setenv("PATH", str(bin_folder))
    monkeypatch.setattr(machine, "PROC_DRIVER_VERSION", tmp_path / "no-proc-driver")
    monkeypatch.setattr(machine, "AMD_COMPUTE_DEVICE", tmp_path / "no-kfd")
    for name in (machine.DRIVER_ENV, machine.NO_DETECTION_ENV):
        monkeypatch.delenv(name, raising=False)
    return bin_folder


# ── Parsers ────────────────────────────────────────────────────────────────


def test_nvidia_smi_lists_the_driver_and_each_gpu_with_its_capability() -> None:
    found = machine.parse_nvidia((0, SMI_V100_X4_R580), None)
    assert found == machine.Nvidia("580.95.05", (("Tesla V100-SXM2-32GB", (7, 0)),) * 4)


def test_a_failed_nvidia_smi_falls_back_to_the_proc_driver_and_says_why() -> None:
    output, code = SMI_NO_DEVICES
    found = machine.parse_nvidia((code, output), PROC_R550_OPEN)
    assert found == machine.Nvidia("550.144.03", (), "No devices were found")


def test_no_nvidia_smi_and_no_proc_file_is_no_driver() -> None:
    assert machine.parse_nvidia(None, None) == machine.Nvidia()


def test_broken_driver_is_no_driver_with_nvidia_smis_reason() -> None:
    output, code = SMI_NO_DRIVER
    found = machine.parse_nvidia((code, output), None)
    assert found.driver is None
    assert (
        found.problem
        == "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver"
    )


def test_cuda_version_is_read_from_nvidia_smis_table() -> None:
    header = "| NVIDIA-SMI 580.65.06    Driver Version: 580.65.06    CUDA Version: 13.0     |"
    assert machine.parse_cuda_version(header) == "13.0"
    assert machine.parse_cuda_version(SMI_NO_DRIVER[0]) is None


@given(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}[A-Za-z0-9]", fullmatch=True))
def test_canonical_names_agree_with_packaging(name: str) -> None:
    assert project_files.canonical_name(name) == canonicalize_name(name)


def test_locked_versions_gather_every_version_by_canonical_name() -> None:
    lock = (
        '[[package]]\nname = "Torch"\nversion = "2.13.0+cpu"\n'
        '[[package]]\nname = "torch"\nversion = "2.13.0"\n'
        '[[package]]\nname = "my-project"\nsource = { editable = "." }\n'
    )
    assert project_files.locked_versions(lock) == {"torch": {"2.13.0+cpu", "2.13.0"}}


def test_manager_and_build_extras_come_from_pyproject() -> None:
    uv_project = {"tool": {"uv": {"conflicts": [[{"extra": "cpu"}, {"extra": "cu130"}]]}}}
    assert project_files.manager(uv_project) == "uv"
    assert project_files.torch_extras(uv_project) == ["cpu", "cu130"]
    assert project_files.manager({"tool": {"pixi": {}}}) == "pixi"
    assert project_files.torch_extras({}) == []


def test_unreadable_toml_reads_as_empty(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project\n")
    assert project_files.read_toml(tmp_path / "pyproject.toml") == {}
    assert project_files.read_toml(tmp_path / "missing.toml") == {}


def test_outer_environments_are_left_out() -> None:
    environ = {"VIRTUAL_ENV": "/copier/venv", "CONDA_PREFIX": "/conda", "UV_CACHE_DIR": "/c"}
    assert project_files.clean_environment(environ) == {"UV_CACHE_DIR": "/c"}


# ── Switches ───────────────────────────────────────────────────────────────


@pytest.mark.parametrize("value", ["1", "yes", "TRUE"])
def test_the_off_switch_means_no_gpu(value: str) -> None:
    switches = {machine.NO_DETECTION_ENV: value, machine.DRIVER_ENV: "580.65.06"}
    assert machine.nvidia(switches).driver is None
    assert machine.gpu_vendor(switches) is None


@pytest.mark.parametrize("value", ["", "0", "off", "no"])
def test_a_false_off_switch_is_no_switch(value: str) -> None:
    assert not machine.switched_off({machine.NO_DETECTION_ENV: value})


def test_a_driver_given_is_taken_without_probing() -> None:
    switches = {machine.DRIVER_ENV: " 550.54.14 "}
    assert machine.nvidia(switches) == machine.Nvidia("550.54.14")
    assert machine.gpu_vendor(switches) == "nvidia"


def test_a_driver_given_that_is_no_version_is_no_driver_and_named() -> None:
    found = machine.nvidia({machine.DRIVER_ENV: "latest"})
    assert found.driver is None
    assert found.problem == f"{machine.DRIVER_ENV}='latest' is not a driver version"


# ── Probes, with stand-in tools ────────────────────────────────────────────


def test_this_machine_without_a_gpu_has_no_gpu_vendor(no_gpu_here: Path) -> None:
    assert machine.probe_nvidia() == machine.Nvidia()
    assert machine.gpu_vendor() is None


def test_proc_driver_alone_counts_as_an_nvidia_driver(no_gpu_here: Path, tmp_path: Path) -> None:
    proc = tmp_path / "proc-driver-nvidia-version"
    proc.write_text(PROC_R470_K80)
    machine.PROC_DRIVER_VERSION = proc  # restored by the fixture's monkeypatch
    assert machine.nvidia(NO_SWITCHES).driver == "470.256.02"
    assert machine.gpu_vendor(NO_SWITCHES) == "nvidia"


def test_amd_compute_device_is_an_amd_gpu(no_gpu_here: Path, tmp_path: Path) -> None:
    kfd = tmp_path / "kfd"
    kfd.touch()
    machine.AMD_COMPUTE_DEVICE = kfd  # restored by the fixture's monkeypatch
    assert machine.gpu_vendor(NO_SWITCHES) == "amd"
    assert machine.gpu_vendor({machine.DRIVER_ENV: "580.65.06"}) == "nvidia"


def test_nvidia_smi_is_asked_for_gpus_and_capabilities(no_gpu_here: Path) -> None:
    stand_in_tool(no_gpu_here, "nvidia-smi", f"print({SMI_H100!r}, end='')\n")
    found = machine.probe_nvidia()
    assert found == machine.Nvidia("580.65.06", (("NVIDIA H100 80GB HBM3", (9, 0)),))


def test_an_old_nvidia_smi_is_asked_again_without_compute_cap(no_gpu_here: Path) -> None:
    refusal, code = SMI_OLD_DRIVER_NO_CAP
    stand_in_tool(
        no_gpu_here,
        "nvidia-smi",
        "import sys\n"
        "if any('compute_cap' in a for a in sys.argv):\n"
        f"    print({refusal!r}, end=''); sys.exit({code})\n"
        "print('470.256.02, Tesla K80')\n",
    )
    assert machine.probe_nvidia() == machine.Nvidia("470.256.02", (("Tesla K80", None),))


def test_a_hanging_tool_is_no_answer(no_gpu_here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stand_in_tool(no_gpu_here, "nvidia-smi", "import time\ntime.sleep(30)\n")
    assert machine.run_tool(("nvidia-smi",), timeout=0.5) is None


# ── One place: everyone takes the rules from machine.py ────────────────────


def test_template_detection_uses_machine_pys_parsers_and_switches() -> None:
    assert detect.parse_nvidia_gpus.__code__.co_filename == str(MACHINE)
    assert detect.parse_proc_driver_version.__code__.co_filename == str(MACHINE)
    assert (detect.DRIVER_ENV, detect.NO_DETECTION_ENV) == (
        machine.DRIVER_ENV,
        machine.NO_DETECTION_ENV,
    )
    assert detect.NVIDIA_SMI_QUERY == machine.NVIDIA_SMI_QUERY


def test_no_other_file_reads_the_driver_or_strips_the_environment() -> None:
    """The /proc file and /dev/kfd are read in machine.py only, the outer-environment list is
    project.py's."""
    sources = [
        *ROOT.glob("extensions/*.py"),
        *ROOT.glob("tasks/*.py"),
        *(ROOT / "template").rglob("*.py"),
        *(ROOT / "template").rglob("*.py.jinja"),
    ]
    sources.append(MACHINE)  # its name does not end in .py
    owners = {
        'Path("/proc/driver/nvidia': MACHINE,
        'Path("/dev/kfd")': MACHINE,
        '"UV_RUN_RECURSION_DEPTH"': PROJECT_FILES,
    }
    for needle, owner in owners.items():
        holders = [p.relative_to(ROOT) for p in sources if needle in p.read_text()]
        assert holders == [owner.relative_to(ROOT)], needle


def test_the_tasks_use_machine_pys_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONDA_PREFIX", "/somewhere/conda")
    assert "CONDA_PREFIX" not in common.clean_environment()
    assert common.clean_environment() == project_files.clean_environment(os.environ)


# ── Rendered: one machine module and one build table per PyTorch project ───

GPU_FILES = ("machine.py", "builds.py", "smoke/torch_probe.py")  # PyTorch projects only


@pytest.mark.parametrize("env_manager", ["uv", "pixi"])
def test_every_project_gets_project_py_as_written_and_the_set_up_script(
    rendered: Render, env_manager: str
) -> None:
    project = rendered(
        package_name="lab_tools", env_manager=env_manager, torch_index_url=PYTORCH_INDEX
    )
    assert (project / "kit/src/research_kit/project.py").read_bytes() == PROJECT_FILES.read_bytes()
    assert (project / "kit/src/research_kit/machine.py").read_bytes() == MACHINE.read_bytes()
    assert (project / "scripts/setup_env.py").is_file()  # uv's and pixi's set-up alike
    for name in GPU_FILES:
        assert (project / "kit/src/research_kit" / name).is_file(), name


@pytest.mark.parametrize("env_manager", ["uv", "pixi"])
def test_a_numpy_project_has_no_cuda_table_and_no_gpu_probing(
    rendered: Render, env_manager: str
) -> None:
    project = rendered(package_name="lab_tools", framework="none", env_manager=env_manager)
    assert (project / "kit/src/research_kit/project.py").read_bytes() == PROJECT_FILES.read_bytes()
    for name in GPU_FILES:
        assert not (project / "kit/src/research_kit" / name).exists(), name
    # The package and the kit's modules; kit's set-up (setup/) names torch in its messages.
    kit = project / "kit/src/research_kit"
    package = [
        *(project / "src/lab_tools").rglob("*.py"),
        *kit.glob("*.py"),
        *kit.glob("smoke/*.py"),
    ]
    for needle in ('"nvidia-smi"', "probe_nvidia", "CUDA_BUILDS", "import torch"):
        holders = [p.name for p in package if needle in p.read_text()]
        assert not holders, needle


def test_the_rendered_build_table_is_the_templates(rendered: Render) -> None:
    """builds.py holds the table only; machine.py's rule, applied to it, is the template's."""
    project = rendered(package_name="lab_tools")
    source = (project / "kit/src/research_kit/builds.py").read_text()
    assert "def " not in source  # no rule of its own
    table: dict[str, object] = {}
    exec(
        source.replace("from .machine import CudaBuild", ""),
        {"CudaBuild": machine.CudaBuild},
        table,
    )
    builds = table["CUDA_BUILDS"]
    assert builds == cuda.CUDA_TABLE
    assert list(builds) == [b.name for b in cuda.BUILDS if b.cuda]  # oldest first
    for driver in ("470.256.02", "525.60.13", "560.35.03", "580.65.06"):
        for gpus in ((), ((7, 0),), ((9, 0),), ((12, 0),)):
            expected = cuda.newest_build_for(driver, gpus).name
            assert machine.newest_build_for(builds, driver, gpus) == expected, (driver, gpus)


@pytest.mark.parametrize("build", [b for b in cuda.BUILDS if b.is_gpu], ids=lambda b: b.name)
def test_each_gpu_build_of_the_table_is_chosen_for_its_vendors_driver(build: cuda.Build) -> None:
    """machine.py's rule (which extra a GPU driver takes) holds for every build the template
    offers: a CUDA build for an NVIDIA driver, a ROCm build for an AMD one, cpu otherwise."""
    vendor, other = ("nvidia", "amd") if build.cuda else ("amd", "nvidia")
    extras = ["cpu", build.name]
    assert machine.extra_for_gpu(extras, vendor) == build.name
    assert machine.extra_for_gpu(extras, other) == "cpu"
    assert machine.extra_for_gpu(extras, None) == "cpu"
