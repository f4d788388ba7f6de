"""Judging the facts: each check is a pure function from `Facts` to a `Check`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..builds import min_driver, newest_build_for, version_tuple
from .facts import Facts

PASS, WARN, FAIL, SKIP = "PASS", "WARN", "FAIL", "SKIP"
# Largest relative error a matmul may show against the float64 CPU reference.
TOLERANCE = {"fp32": 1e-4, "tf32": 5e-3, "bf16": 5e-2}
UPDATE_HINT = "uvx --with copier-template-extensions copier update --trust --defaults"
# The commands each check's remedy names, by the tool that manages the environment.
COMMANDS = {
    "uv": {
        "run": "uv run scripts/smoke_test.py",
        "lock": "uv lock",
        "sync": "uv sync --locked",
        "recreate": "rm -rf .venv && uv sync --locked",
    },
    "pixi": {
        "run": "pixi run smoke",
        "lock": "pixi lock",
        "sync": "pixi install --locked",
        "recreate": "rm -rf .pixi && pixi install --locked",
    },
}


@dataclass
class Check:
    name: str
    status: str
    summary: str
    remedy: str = ""


def command(facts: Facts, action: str) -> str:
    """The command for `action` in this project; with build extras, it names them."""
    text = COMMANDS[facts.manager][action]
    if facts.torch_extras and action in ("sync", "recreate"):
        text += " --extra " + " (or --extra ".join(facts.torch_extras) + ")"
    return text


def interpreter(facts: Facts) -> Check:
    name = "interpreter"
    if not facts.in_project_env:
        return Check(
            name, FAIL, f"{facts.executable} is not the project's environment",
            f"Run it in the environment: {command(facts, 'run')}",
        )  # fmt: skip
    expected = facts.expected_python
    if expected and not facts.python.startswith(f"{expected}."):
        return Check(
            name, FAIL, f"Python {facts.python}, but .python-version says {expected}",
            f"Recreate the environment: {command(facts, 'recreate')}",
        )  # fmt: skip
    return Check(name, PASS, f"Python {facts.python} in the project environment")


def lock(facts: Facts) -> Check:
    if not facts.lock_found:
        lock_file = "pixi.lock" if facts.manager == "pixi" else "uv.lock"
        remedy = f"Create it: {command(facts, 'lock')}"
        return Check("lock", WARN, f"no {lock_file} found", remedy)
    if facts.drift:
        return Check(
            "lock", FAIL, "installed packages differ from uv.lock: " + "; ".join(facts.drift),
            f"Restore the locked environment: {command(facts, 'sync')}",
        )  # fmt: skip
    return Check("lock", PASS, "installed packages match uv.lock")


def env_file(facts: Facts) -> Check:
    if facts.env_file is None:
        return Check("env", WARN, "no .env file", "Create it: cp .env.example .env")
    keys = ", ".join(facts.env_keys) or "none"
    return Check("env", PASS, f".env loaded; keys set: {keys}")


def torch_build(facts: Facts) -> Check:
    if facts.torch_version is None:
        if not facts.torch_expected:
            return Check("torch", SKIP, "this project does not use PyTorch")
        return Check(
            "torch", FAIL, f"torch does not import ({facts.torch_error})",
            f"Reinstall the locked environment: {command(facts, 'sync')}",
        )  # fmt: skip
    if facts.torch_hip:
        build = f"ROCm/HIP {facts.torch_hip}"
    elif facts.torch_cuda:
        build = f"CUDA {facts.torch_cuda}, cuDNN {facts.cudnn or '-'}"
    else:
        build = "CPU-only build"
    return Check("torch", PASS, f"torch {facts.torch_version} ({build})")


def driver(facts: Facts) -> Check:
    if facts.torch_version is None or facts.torch_hip:
        return Check("driver", SKIP, "no NVIDIA build of torch to check a driver against")
    if facts.driver is None:
        if facts.torch_cuda:
            return Check(
                "driver", WARN, f"torch is built for CUDA {facts.torch_cuda}, but no NVIDIA "
                "driver is installed here (fine on a laptop generating for a cluster)",
                "Run this on the GPU machine, or choose accelerator=cpu for this one",
            )  # fmt: skip
        return Check("driver", SKIP, "no NVIDIA driver on this machine")
    supports = f" (supports CUDA up to {facts.driver_cuda})" if facts.driver_cuda else ""
    if not facts.torch_cuda:
        return Check(
            "driver", WARN, f"NVIDIA driver {facts.driver}{supports}, but torch is a CPU build",
            f"Use the GPU: {UPDATE_HINT} -d accelerator={_build_for_this_machine(facts)}",
        )  # fmt: skip
    windows = facts.platform.startswith("win")
    needed = min_driver(facts.torch_cuda, windows)
    if needed and version_tuple(facts.driver) < version_tuple(needed):
        fits = _build_for_this_machine(facts)
        return Check(
            "driver", FAIL, f"driver {facts.driver} is older than CUDA {facts.torch_cuda} "
            f"needs (>= {needed})",
            f"Update the NVIDIA driver, or switch to a build it runs: {UPDATE_HINT} "
            f"-d accelerator={fits}",
        )  # fmt: skip
    return Check("driver", PASS, f"driver {facts.driver}{supports} runs CUDA {facts.torch_cuda}")


def devices(facts: Facts) -> Check:
    if facts.torch_version is None:
        return Check("devices", SKIP, "no torch")
    if not facts.devices:
        note = f" ({facts.driver_note})" if facts.driver_note else ""
        if facts.torch_cuda or facts.torch_hip:
            return Check(
                "devices", WARN, f"no GPU visible to torch{note}",
                "On a cluster, request a GPU (e.g. srun --gres=gpu:1); check CUDA_VISIBLE_DEVICES",
            )  # fmt: skip
        return Check("devices", SKIP, "CPU build: no GPU devices to check")
    described, unsupported = [], []
    for device in facts.devices:
        major, minor = device.capability
        described.append(f"{device.index}: {device.name} sm_{major}{minor} {device.memory_gib} GiB")
        if not _arch_supported(device.capability, facts.arch_list):
            unsupported.append(f"{device.name} (sm_{major}{minor})")
    if unsupported:
        fits = _build_for_this_machine(facts)
        remedy = (
            f"Switch to a build with kernels for this GPU: {UPDATE_HINT} -d accelerator={fits}"
            if fits != "cpu"
            else "No CUDA build of this template runs this GPU with this driver"
        )
        return Check(
            "devices", FAIL, f"this torch build has no kernels for {', '.join(unsupported)}; "
            f"it supports {' '.join(facts.arch_list)}",
            remedy,
        )  # fmt: skip
    return Check("devices", PASS, f"{len(facts.devices)} GPU(s): " + "; ".join(described))


def _build_for_this_machine(facts: Facts) -> str:
    """The newest CUDA build this machine's driver and GPUs run (cpu when none)."""
    gpus = [device.capability for device in facts.devices] or facts.gpu_capabilities
    windows = facts.platform.startswith("win")
    return newest_build_for(facts.driver or "0", gpus, windows)


def _arch_supported(capability: tuple[int, int], arch_list: list[str]) -> bool:
    """True when torch ships kernels for this GPU, or PTX it can compile for it."""
    major, minor = capability
    if not arch_list or f"sm_{major}{minor}" in arch_list:
        return True
    ptx = [a for a in arch_list if a.startswith("compute_")]
    return any(int(a.removeprefix("compute_").rstrip("a")) <= major * 10 + minor for a in ptx)


def compute(facts: Facts) -> Check:
    if facts.torch_version is None:
        return Check("compute", SKIP, "no torch")
    if facts.compute_error:
        return Check(
            "compute", FAIL, f"a computation failed: {facts.compute_error}",
            "Check the driver and the device (nvidia-smi); run again with a free GPU",
        )  # fmt: skip
    wrong = [
        f"{key} error {error:.1e}"
        for key, error in facts.compute.items()
        if error > TOLERANCE[key.split()[-1]]
    ]
    if wrong:
        return Check(
            "compute", FAIL, "results differ from the CPU reference: " + ", ".join(wrong),
            "Faulty GPU or driver: report the device to your admins",
        )  # fmt: skip
    if facts.train_step_ok is False:
        return Check("compute", FAIL, "a forward/backward step gave bad gradients", "")
    done = ", ".join(facts.compute) or "CPU only"
    return Check("compute", PASS, f"matmul matches the CPU reference ({done}); train step ok")


def multi_gpu(facts: Facts) -> Check:
    if len(facts.devices) < 2:
        return Check("multi-gpu", SKIP, "fewer than 2 GPUs")
    if not facts.nccl_available:
        return Check("multi-gpu", WARN, "NCCL is not available in this torch build", "")
    if facts.all_reduce is None:
        return Check("multi-gpu", SKIP, "NCCL available; all-reduce skipped (--quick)")
    if facts.all_reduce != "ok":
        return Check(
            "multi-gpu", FAIL, f"2-process NCCL all-reduce failed: {facts.all_reduce}",
            "Try NCCL_P2P_DISABLE=1, and NCCL_DEBUG=INFO to see why",
        )  # fmt: skip
    return Check("multi-gpu", PASS, "2-process NCCL all-reduce ok")


def toolchain(facts: Facts) -> Check:
    if facts.nvcc is None and facts.cuda_home is None:
        return Check("toolchain", SKIP, "no nvcc or CUDA_HOME (only needed to build extensions)")
    if facts.nvcc is None:
        return Check("toolchain", WARN, f"CUDA_HOME={facts.cuda_home} but no nvcc in it", "")
    home = f", CUDA_HOME={facts.cuda_home}" if facts.cuda_home else ", CUDA_HOME unset"
    if facts.torch_cuda and facts.nvcc.split(".")[0] != facts.torch_cuda.split(".")[0]:
        return Check(
            "toolchain", WARN, f"nvcc {facts.nvcc} but torch is built for CUDA {facts.torch_cuda}"
            f"{home}",
            "Extensions built with this nvcc may not load: use a matching CUDA toolkit",
        )  # fmt: skip
    return Check("toolchain", PASS, f"nvcc {facts.nvcc}{home}")


def apple(facts: Facts) -> Check:
    if not facts.platform.startswith("darwin"):
        return Check("mps", SKIP, "not macOS")
    if not facts.mps_available:
        return Check("mps", WARN, "MPS is not available", "Needs Apple silicon and macOS >= 12.3")
    return Check("mps", PASS, "MPS available; matmul checked under 'compute'")


CHECKS: tuple[Callable[[Facts], Check], ...] = (
    interpreter, lock, env_file, torch_build, driver, devices, compute, multi_gpu, toolchain, apple,
)  # fmt: skip


def run_checks(facts: Facts) -> list[Check]:
    return [check(facts) for check in CHECKS]


def gpu_usable(facts: Facts, results: list[Check]) -> bool:
    accelerated = bool(facts.devices) or (facts.mps_available and "mps fp32" in facts.compute)
    return accelerated and all(c.status != FAIL for c in results)


def exit_code(results: list[Check], usable: bool, require_gpu: bool) -> int:
    """0 usable (or no GPU and none required), 1 a check failed, 2 a GPU required but none."""
    if any(c.status == FAIL for c in results):
        return 1
    if require_gpu and not usable:
        return 2
    return 0
