"""GPU detection (extensions/detect.py): which PyTorch build is proposed, and why.

The decision is tested at the probe boundary: each test builds the `Probes` a machine would
give, from the outputs the real tools print, and checks what `detect` proposes. The boundary
itself (`read_probes`) is tested on this machine and with fake tools on PATH.
"""

from __future__ import annotations

import os
import shutil
import stat
import sys
from pathlib import Path
from typing import Any

import pytest

from extensions import cuda, detect
from extensions.detect import Probes

# The newest CUDA build: what a driver of the newest branch (R580) is proposed on a GPU it
# has kernels for.
NEWEST_CUDA = next(build for build in reversed(cuda.BUILDS) if build.cuda is not None)

# --- Recorded outputs of the real tools -----------------------------------------------------
# What each tool prints on the kind of machine the constant's name says, in the tool's exact
# format (spacing, punctuation, exit code): `cat /proc/driver/nvidia/version`,
# `nvidia-smi --query-gpu=driver_version,name,compute_cap --format=csv,noheader` (older drivers:
# without compute_cap), `rocm_agent_enumerator`
# and `rocminfo` (trimmed to the agent lines). Build dates, GCC lines and UUIDs vary per machine
# and are not read.

PROC_R580_H100 = (
    "NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.65.06  Sun Jul 27 06:54:38 UTC 2025\n"
    "GCC version:  gcc version 12.2.0 (Debian 12.2.0-14+deb12u1) \n"
)
PROC_R550_OPEN = (
    "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  550.144.03  Release Build  "
    "(dvs-builder@U16-I3-B03-4-3)  Mon Dec 16 22:52:44 UTC 2024\n"
    "GCC version:  gcc version 11.4.0 (Ubuntu 11.4.0-1ubuntu1~22.04) \n"
)
PROC_R580_GH200_OPEN = (
    "NVRM version: NVIDIA UNIX Open Kernel Module for aarch64  580.95.05  Release Build  "
    "(dvs-builder@U22-I3-B17-02-5)  Tue Sep 23 09:55:41 UTC 2025\n"
    "GCC version:  gcc version 11.4.0 (Ubuntu 11.4.0-1ubuntu1~22.04.2) \n"
)
PROC_R470_K80 = (
    "NVRM version: NVIDIA UNIX x86_64 Kernel Module  470.256.02  Thu May  2 14:37:44 UTC 2024\n"
    "GCC version:  gcc version 8.5.0 20210514 (Red Hat 8.5.0-22) (GCC) \n"
)
PROC_TWO_PART_VERSION = (
    "NVRM version: NVIDIA UNIX x86_64 Kernel Module  470.57  Mon Jul 19 20:35:04 UTC 2021\n"
)

SMI_H100 = "580.65.06, NVIDIA H100 80GB HBM3, 9.0\n"
SMI_V100_X4_R580 = "580.95.05, Tesla V100-SXM2-32GB, 7.0\n" * 4  # a Volta cluster, new driver
SMI_P100_R550 = "550.144.03, Tesla P100-PCIE-16GB, 6.0\n"
SMI_B200_R570 = "570.172.08, NVIDIA B200, 10.0\n"
SMI_OLD_DRIVER_NO_CAP = (  # R470 nvidia-smi does not know the compute_cap field
    'Field "compute_cap" is not a valid field to query.\n\n',
    2,
)
SMI_A100_X4 = "550.144.03, NVIDIA A100-SXM4-80GB\n" * 4
SMI_MIXED_WORKSTATION = "550.144.03, NVIDIA RTX A6000\n550.144.03, NVIDIA GeForce RTX 4090\n"
SMI_K80_X2 = "470.256.02, Tesla K80\n" * 2
SMI_NO_DEVICES = ("No devices were found\n", 6)  # an HPC login node: driver, no GPU allocated
SMI_NO_DRIVER = (  # the driver's kernel module is not loaded
    "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. "
    "Make sure that the latest NVIDIA driver is installed and running.\n\n",
    9,
)
SMI_VERSION_MISMATCH = (  # the driver was upgraded, the machine not yet rebooted
    "Failed to initialize NVML: Driver/library version mismatch\nNVML library version: 580.65\n",
    18,
)

ROCM_AGENTS_MI250X = "gfx000\ngfx90a\ngfx90a\n"  # one MI250X: two graphics compute dies
ROCM_AGENTS_CPU_ONLY = "gfx000\n"  # ROCm installed, no AMD GPU
ROCMINFO_MI300X = """\
*******
Agent 1
*******
  Name:                    AMD EPYC 9654 96-Core Processor
  Uuid:                    CPU-XX
  Marketing Name:          AMD EPYC 9654 96-Core Processor
  Vendor Name:             CPU
  Device Type:             CPU
*******
Agent 2
*******
  Name:                    gfx942
  Uuid:                    GPU-2ad3c1a3e0a5b2c4
  Marketing Name:          AMD Instinct MI300X
  Vendor Name:             AMD
  Device Type:             GPU
  ISA Info:
    ISA 1
      Name:                    amdgcn-amd-amdhsa--gfx942:sramecc+:xnack-
"""
ROCMINFO_CPU_ONLY = ROCMINFO_MI300X.split("*******\nAgent 2")[0]

ACCELERATORS = {build.name for build in cuda.BUILDS} | {detect.ROCM_BUILD}


def nvidia(proc: str | None = None, smi: tuple[str, int] | None = None, **kw: Any) -> Probes:
    """The probes of a machine with this /proc file and this nvidia-smi (output, exit code)."""
    return Probes(
        proc_driver_version=proc,
        nvidia_smi=None if smi is None else smi[0],
        nvidia_smi_returncode=None if smi is None else smi[1],
        **kw,
    )


# --- Parsers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "version"),
    [
        (PROC_R580_H100, "580.65.06"),
        (PROC_R550_OPEN, "550.144.03"),
        (PROC_R580_GH200_OPEN, "580.95.05"),
        (PROC_R470_K80, "470.256.02"),
        (PROC_TWO_PART_VERSION, "470.57"),
        ("", None),
        ("GCC version:  gcc version 12.2.0\n", None),
    ],
    ids=["proprietary", "open", "open-aarch64", "r470", "two-part", "empty", "no-nvrm-line"],
)
def test_driver_version_is_read_from_proc(text: str, version: str | None) -> None:
    assert detect.parse_proc_driver_version(text) == version


def test_nvidia_smi_rows_give_each_gpus_compute_capability() -> None:
    driver, gpus = detect.parse_nvidia_gpus(SMI_V100_X4_R580 + SMI_H100)
    assert driver == "580.95.05"
    assert gpus[0] == ("Tesla V100-SXM2-32GB", (7, 0)) and gpus[-1][1] == (9, 0)


def test_nvidia_smi_rows_without_compute_capability_still_give_names() -> None:
    assert detect.parse_nvidia_gpus(SMI_K80_X2) == ("470.256.02", (("Tesla K80", None),) * 2)


def test_a_gpu_name_with_a_comma_is_kept_whole() -> None:
    _, gpus = detect.parse_nvidia_gpus("580.65.06, NVIDIA RTX PRO 6000, Server Edition, 12.0\n")
    assert gpus == (("NVIDIA RTX PRO 6000, Server Edition", (12, 0)),)


@pytest.mark.parametrize(
    ("smi", "accelerator"),
    [(SMI_V100_X4_R580, "cu126"), (SMI_P100_R550, "cu126"), (SMI_B200_R570, "cu128")],
    ids=["V100-new-driver", "P100", "B200-R570"],
)
def test_the_gpus_architecture_limits_the_build(smi: str, accelerator: str) -> None:
    assert detect.detect(nvidia(None, (smi, 0))).accelerator == accelerator


def test_an_older_build_for_an_old_gpu_says_why() -> None:
    summary = detect.detect(nvidia(None, (SMI_V100_X4_R580, 0))).summary
    assert f"{NEWEST_CUDA.name} has no kernels for sm_70" in summary
    assert summary.endswith("proposing cu126 (CUDA 12.6).")


def test_nvidia_smi_rows_give_the_driver_and_every_gpu_name() -> None:
    assert detect.parse_nvidia_smi(SMI_MIXED_WORKSTATION) == (
        "550.144.03",
        ("NVIDIA RTX A6000", "NVIDIA GeForce RTX 4090"),
    )


@pytest.mark.parametrize("text", [SMI_NO_DEVICES[0], SMI_NO_DRIVER[0], ""])
def test_nvidia_smi_error_messages_are_not_gpus(text: str) -> None:
    assert detect.parse_nvidia_smi(text) == (None, ())


def test_the_cpu_agent_is_not_an_amd_gpu() -> None:
    assert detect.parse_rocm_agents(ROCM_AGENTS_MI250X) == ("gfx90a", "gfx90a")
    assert detect.parse_rocm_agents(ROCM_AGENTS_CPU_ONLY) == ()


def test_rocminfo_agents_are_read_from_their_name_lines() -> None:
    assert detect.parse_rocminfo(ROCMINFO_MI300X) == ("gfx942",)
    assert detect.parse_rocminfo(ROCMINFO_CPU_ONLY) == ()


# --- Decision: NVIDIA ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("probes", "accelerator", "driver"),
    [
        (nvidia(PROC_R580_H100, (SMI_H100, 0)), NEWEST_CUDA.name, "580.65.06"),
        (
            nvidia(PROC_R580_GH200_OPEN, ("580.95.05, NVIDIA GH200 480GB\n", 0)),
            NEWEST_CUDA.name,
            "580.95.05",
        ),
        (nvidia(PROC_R550_OPEN, (SMI_A100_X4, 0)), "cu128", "550.144.03"),
        (nvidia(PROC_R470_K80, (SMI_K80_X2, 0)), "cpu", "470.256.02"),
        (nvidia(None, (SMI_H100, 0)), NEWEST_CUDA.name, "580.65.06"),  # WSL: no /proc/driver/nvidia
    ],
    ids=["r580-h100", "r580-gh200", "r550-a100", "r470-k80", "smi-without-proc"],
)
def test_the_newest_build_the_driver_runs_is_proposed(
    probes: Probes, accelerator: str, driver: str
) -> None:
    detection = detect.detect(probes)
    assert (detection.accelerator, detection.driver) == (accelerator, driver)


def test_a_detected_gpu_is_summarised_in_one_sentence() -> None:
    detection = detect.detect(nvidia(PROC_R580_H100, (SMI_H100, 0)))
    assert detection.gpus == ("NVIDIA H100 80GB HBM3",)
    assert detection.summary == (
        "Detected NVIDIA driver 580.65.06 (1\u00d7 NVIDIA H100 80GB HBM3): "
        f"proposing {NEWEST_CUDA.name} (CUDA {NEWEST_CUDA.cuda})."
    )


def test_every_gpu_of_a_multi_gpu_machine_is_listed() -> None:
    detection = detect.detect(nvidia(PROC_R550_OPEN, (SMI_A100_X4, 0)))
    assert detection.gpus == ("NVIDIA A100-SXM4-80GB",) * 4
    assert "(4\u00d7 NVIDIA A100-SXM4-80GB)" in detection.summary


def test_different_gpus_are_counted_separately() -> None:
    detection = detect.detect(nvidia(PROC_R550_OPEN, (SMI_MIXED_WORKSTATION, 0)))
    assert detection.gpus == ("NVIDIA RTX A6000", "NVIDIA GeForce RTX 4090")
    assert "1\u00d7 NVIDIA RTX A6000, 1\u00d7 NVIDIA GeForce RTX 4090" in detection.summary


def test_a_driver_too_old_for_any_cuda_build_proposes_cpu_and_says_why() -> None:
    detection = detect.detect(nvidia(PROC_R470_K80, (SMI_K80_X2, 0)))
    assert detection.accelerator == "cpu"
    assert "older than every CUDA build offered needs (\u2265 525.60.13)" in detection.summary
    assert detection.summary.endswith(": proposing cpu.")


@pytest.mark.parametrize(
    ("proc", "accelerator"),
    [(PROC_R550_OPEN, "cu128"), (PROC_R580_H100, NEWEST_CUDA.name)],
    ids=["r550", "r580"],
)
def test_login_node_without_gpu_proposes_the_build_for_its_driver(
    proc: str, accelerator: str
) -> None:
    detection = detect.detect(nvidia(proc, SMI_NO_DEVICES))
    assert detection.accelerator == accelerator
    assert detection.gpus == ()


def test_login_node_summary_names_the_driver_and_nvidia_smis_message() -> None:
    detection = detect.detect(nvidia(PROC_R550_OPEN, SMI_NO_DEVICES))
    assert detection.driver == "550.144.03"
    assert detection.summary == (
        "NVIDIA driver 550.144.03 found but no GPU is visible here "
        "(nvidia-smi: No devices were found): proposing cu128 (CUDA 12.8)."
    )


def test_nvidia_smi_that_cannot_reach_the_driver_proposes_cpu() -> None:
    detection = detect.detect(nvidia(None, SMI_NO_DRIVER))
    assert detection.accelerator == "cpu"
    assert detection.summary == (
        "No NVIDIA or AMD GPU detected (nvidia-smi: NVIDIA-SMI has failed because it couldn't "
        "communicate with the NVIDIA driver): proposing cpu."
    )


@pytest.mark.parametrize(
    "smi", [SMI_NO_DRIVER, SMI_VERSION_MISMATCH, None], ids=["no-driver", "mismatch", "missing"]
)
def test_a_failing_or_missing_nvidia_smi_falls_back_to_the_proc_driver(
    smi: tuple[str, int] | None,
) -> None:
    detection = detect.detect(nvidia(PROC_R550_OPEN, smi))
    assert (detection.accelerator, detection.driver) == ("cu128", "550.144.03")


def test_a_missing_nvidia_smi_is_named_in_the_summary() -> None:
    summary = detect.detect(nvidia(PROC_R550_OPEN, None)).summary
    assert "(nvidia-smi: not available)" in summary


def test_nothing_found_proposes_cpu() -> None:
    detection = detect.detect(Probes())
    assert detection == detect.Detection(
        "cpu", None, (), "No NVIDIA or AMD GPU detected: proposing cpu."
    )


@pytest.mark.parametrize(
    ("platform", "accelerator"), [("linux", "cu128"), ("win32", "cpu")], ids=["linux", "windows"]
)
def test_windows_driver_floors_apply_on_windows(platform: str, accelerator: str) -> None:
    # 527.41 is above the Linux floor of CUDA 12.x (525.60.13), below the Windows one (528.33).
    probes = nvidia(None, ("527.41, NVIDIA GeForce RTX 3080\n", 0), platform=platform)
    assert detect.detect(probes).accelerator == accelerator


# --- Decision: AMD ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("probes", "accelerator", "gpus"),
    [
        (Probes(rocm_agents=ROCM_AGENTS_MI250X), detect.ROCM_BUILD, ("gfx90a", "gfx90a")),
        (Probes(rocm_agents=ROCM_AGENTS_CPU_ONLY), "cpu", ()),
        (Probes(rocminfo=ROCMINFO_MI300X), detect.ROCM_BUILD, ("gfx942",)),
        (Probes(rocminfo=ROCMINFO_CPU_ONLY), "cpu", ()),
    ],
    ids=["mi250x", "enumerator-cpu-only", "rocminfo-mi300x", "rocminfo-cpu-only"],
)
def test_an_amd_gpu_proposes_the_rocm_build(
    probes: Probes, accelerator: str, gpus: tuple[str, ...]
) -> None:
    detection = detect.detect(probes)
    assert (detection.accelerator, detection.gpus) == (accelerator, gpus)


def test_an_amd_gpu_is_summarised_in_one_sentence() -> None:
    assert detect.detect(Probes(rocm_agents=ROCM_AGENTS_MI250X)).summary == (
        "Detected AMD GPU (2\u00d7 gfx90a): proposing rocm7.2 (ROCm 7.2)."
    )


def test_an_amd_gpu_wins_over_an_nvidia_driver_without_gpu() -> None:
    probes = nvidia(PROC_R550_OPEN, SMI_NO_DEVICES, rocm_agents=ROCM_AGENTS_MI250X)
    assert detect.detect(probes).accelerator == detect.ROCM_BUILD


# --- Decision: overrides ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "accelerator"),
    [("550.54.14", "cu128"), ("580.65.06", NEWEST_CUDA.name), ("580", "cu128"), ("470.57", "cpu")],
)
def test_the_driver_override_decides_alone(version: str, accelerator: str) -> None:
    probes = nvidia(PROC_R580_H100, (SMI_H100, 0), driver_override=version)
    detection = detect.detect(probes)
    assert (detection.accelerator, detection.driver) == (accelerator, version)
    assert f"NVIDIA driver {version} set by {detect.DRIVER_ENV}" in detection.summary


def test_a_malformed_driver_override_proposes_cpu_and_says_why() -> None:
    detection = detect.detect(Probes(driver_override="latest"))
    assert detection.accelerator == "cpu"
    assert "COPIER_RESEARCH_DRIVER_VERSION='latest' is not a driver version" in detection.summary


def test_turned_off_detection_proposes_cpu_and_says_so() -> None:
    probes = nvidia(PROC_R580_H100, (SMI_H100, 0), disabled=True)
    assert detect.detect(probes).summary == (
        "GPU detection turned off by COPIER_RESEARCH_NO_GPU_DETECTION: proposing cpu."
    )


# --- Probe boundary --------------------------------------------------------------------------


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No override variable is set."""
    monkeypatch.delenv(detect.DRIVER_ENV, raising=False)
    monkeypatch.delenv(detect.NO_DETECTION_ENV, raising=False)


@pytest.fixture
def machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_env: None) -> Path:
    """A machine with no GPU tool and no driver; returns the one folder on its PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setattr(detect, "ROCM_BIN", tmp_path / "opt-rocm-bin")
    monkeypatch.setattr(detect, "PROC_DRIVER_VERSION", tmp_path / "proc-driver-nvidia-version")
    return bin_dir


def install_tool(folder: Path, name: str, body: str) -> Path:
    """A fake tool: a POSIX shell script named `name` in `folder`."""
    folder.mkdir(exist_ok=True)
    tool = folder / name
    tool.write_text(f"#!/bin/sh\n{body}\n")
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    return tool


def prints(text: str, exit_code: int = 0) -> str:
    """The body of a fake tool that prints `text` (no single quote in it) and exits."""
    assert "'" not in text
    return f"printf '%s' '{text}'\nexit {exit_code}"


posix_only = pytest.mark.skipif(sys.platform == "win32", reason="fake tools are shell scripts")


def test_read_probes_on_this_machine_never_raises(clean_env: None) -> None:
    detection = detect.detect(detect.read_probes())
    assert detection.accelerator in ACCELERATORS
    assert detection.summary


@pytest.mark.no_gpu
def test_this_machine_without_gpu_proposes_cpu(clean_env: None) -> None:
    assert detect.detect(detect.read_probes()).accelerator == "cpu"


@posix_only
def test_a_machine_without_driver_or_tools_gives_empty_probes(machine: Path) -> None:
    assert detect.read_probes() == Probes(platform=sys.platform)


@posix_only
def test_nvidia_smi_is_asked_for_driver_and_names(machine: Path) -> None:
    query = " ".join(detect.NVIDIA_SMI_QUERY[1:])
    body = f'[ "$*" = "{query}" ] || exit 2\n' + prints(SMI_H100)
    install_tool(machine, "nvidia-smi", body)
    probes = detect.read_probes()
    assert (probes.nvidia_smi, probes.nvidia_smi_returncode) == (SMI_H100, 0)
    assert detect.detect(probes).accelerator == NEWEST_CUDA.name


@posix_only
def test_an_old_nvidia_smi_is_asked_again_without_compute_capability(machine: Path) -> None:
    new_query = " ".join(detect.NVIDIA_SMI_QUERY[1:])
    body = f'[ "$*" = "{new_query}" ] && {{ {prints(*SMI_OLD_DRIVER_NO_CAP)}; }}\n'
    install_tool(machine, "nvidia-smi", body + prints(SMI_K80_X2))
    probes = detect.read_probes()
    assert (probes.nvidia_smi, probes.nvidia_smi_returncode) == (SMI_K80_X2, 0)


@posix_only
def test_login_node_nvidia_smi_is_read_with_its_exit_code(machine: Path) -> None:
    install_tool(machine, "nvidia-smi", prints(*SMI_NO_DEVICES))
    detect.PROC_DRIVER_VERSION.write_text(PROC_R550_OPEN)
    probes = detect.read_probes()
    assert (probes.nvidia_smi, probes.nvidia_smi_returncode) == SMI_NO_DEVICES
    assert probes.proc_driver_version == PROC_R550_OPEN
    assert detect.detect(probes).accelerator == "cu128"


@pytest.mark.parametrize(
    "hang",
    ["exec {sleep} 30", "{sleep} 3"],  # the second leaves a child holding nvidia-smi's output
    ids=["tool-hangs", "tool-child-hangs"],
)
@posix_only
def test_a_hanging_nvidia_smi_is_given_up_after_the_timeout(
    machine: Path, monkeypatch: pytest.MonkeyPatch, hang: str
) -> None:
    sleep = shutil.which("sleep", path=os.defpath) or "/bin/sleep"
    install_tool(machine, "nvidia-smi", hang.format(sleep=sleep))
    monkeypatch.setattr(detect, "PROBE_TIMEOUT_S", 0.5)
    probes = detect.read_probes()
    # A tool that ran to its end would have answered "" (exit 0): None means it was given up.
    assert probes.nvidia_smi is None
    assert detect.detect(probes).accelerator == "cpu"


@posix_only
def test_rocm_tools_are_found_in_opt_rocm_bin(machine: Path) -> None:
    install_tool(detect.ROCM_BIN, "rocm_agent_enumerator", prints(ROCM_AGENTS_MI250X))
    probes = detect.read_probes()
    assert probes.rocm_agents == ROCM_AGENTS_MI250X
    assert detect.detect(probes).accelerator == detect.ROCM_BUILD


@posix_only
def test_a_failing_rocm_agent_enumerator_is_ignored(machine: Path) -> None:
    install_tool(machine, "rocm_agent_enumerator", "echo 'hsa_init failed' >&2\nexit 1")
    assert detect.read_probes().rocm_agents is None


@posix_only
def test_rocminfo_is_read_only_without_rocm_agent_enumerator(machine: Path) -> None:
    install_tool(machine, "rocminfo", prints(ROCMINFO_MI300X))
    assert detect.read_probes().rocminfo == ROCMINFO_MI300X
    install_tool(machine, "rocm_agent_enumerator", prints(ROCM_AGENTS_CPU_ONLY))
    probes = detect.read_probes()
    assert (probes.rocm_agents, probes.rocminfo) == (ROCM_AGENTS_CPU_ONLY, None)


@posix_only
def test_the_driver_override_skips_every_probe(
    machine: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ran = tmp_path / "nvidia-smi-ran"
    install_tool(machine, "nvidia-smi", f": > {ran}\n" + prints(SMI_H100))
    monkeypatch.setenv(detect.DRIVER_ENV, " 550.54.14 ")
    probes = detect.read_probes()
    assert probes == Probes(platform=sys.platform, driver_override="550.54.14")
    assert detect.detect(probes).accelerator == "cu128"
    assert not ran.exists()


@pytest.mark.parametrize(("value", "disabled"), [("1", True), ("yes", True), ("0", False)])
@posix_only
def test_the_no_detection_variable_turns_probing_off(
    machine: Path, monkeypatch: pytest.MonkeyPatch, value: str, disabled: bool
) -> None:
    install_tool(machine, "nvidia-smi", prints(SMI_H100))
    monkeypatch.setenv(detect.NO_DETECTION_ENV, value)
    probes = detect.read_probes()
    assert probes.disabled is disabled
    assert detect.detect(probes).accelerator == ("cpu" if disabled else NEWEST_CUDA.name)
