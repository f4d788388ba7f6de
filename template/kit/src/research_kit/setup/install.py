# Template-owned: `copier update` replaces this file; edits of yours are merged in.
"""The install and its check: the build extra chosen for this machine (TORCH_EXTRA, else its
GPU driver), `uv sync --locked`, the smoke test, and the project's own checks started."""

from __future__ import annotations

import os
import subprocess
import tomllib

from dotenv import dotenv_values

from .commands import exited, run
from .steps import PROJECT, StepFailed, load_module, lock_text, read_pyproject, uv, uv_environment


def torch_extras(pyproject_text: str) -> list[str]:
    """The build extras (cpu and the GPU build), as project.py reads them."""
    extras: list[str] = load_module("project").torch_extras(tomllib.loads(pyproject_text))
    return extras


def choose_extra(extras: list[str], requested: str, gpu: str | None) -> str:
    """TORCH_EXTRA when set, else the build for this machine's GPU driver (`gpu`), else cpu."""
    if requested:
        if requested not in extras:
            raise StepFailed(
                f"TORCH_EXTRA={requested} is not one of this project's builds "
                f"({', '.join(extras)}). Fix it in .env."
            )
        return requested
    extra: str = load_module("machine").extra_for_gpu(extras, gpu)  # a PyTorch project's
    return extra


def sync() -> None:
    lock_text()  # there is one
    extra = chosen_extra()
    run([uv(), "sync", "--locked", *(["--extra", extra] if extra else [])])


def chosen_extra() -> str | None:
    """The build extra to install here (None: the project has one build), said why."""
    extras = torch_extras(read_pyproject())
    if not extras:
        return None
    requested = os.environ.get("TORCH_EXTRA") or dotenv_values(PROJECT / ".env").get("TORCH_EXTRA")
    gpu: str | None = load_module("machine").gpu_vendor()
    extra = choose_extra(extras, requested or "", gpu)
    if requested:
        why = "TORCH_EXTRA"
    elif gpu is None:
        why = "no GPU driver found"
    else:
        why = f"{'an NVIDIA' if gpu == 'nvidia' else 'an AMD'} GPU driver is present"
    print(f"    PyTorch build: extra '{extra}' ({why}; TORCH_EXTRA in .env chooses).")
    return extra


CHECKED_TOOLS = ("pytest", "ruff", "mypy")  # the project's own checks (README, "Checks")


def check() -> None:
    """The smoke test (one PyTorch import, in one process), and each of the project's own
    checks must at least start. The tools start beside the smoke test: they are independent
    of it, and its first import of PyTorch keeps one core busy."""
    lock_text()  # there is one
    env = uv_environment()
    starts = [
        subprocess.Popen(
            [uv(), "run", "--locked", tool, "--version"],
            cwd=PROJECT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for tool in CHECKED_TOOLS
    ]
    try:
        run([uv(), "run", "--locked", "scripts/smoke_test.py", "--quick"])
    finally:
        said = [process.communicate()[0] for process in starts]
    for tool, process, output in zip(CHECKED_TOOLS, starts, said, strict=True):
        print(output, end="", flush=True)
        if process.returncode != 0:
            command = f"uv run --locked {tool} --version"
            raise exited(command, process.returncode, output.splitlines())
