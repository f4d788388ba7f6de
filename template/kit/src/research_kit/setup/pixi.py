# Template-owned: `copier update` replaces this file; edits of yours are merged in.
"""A pixi project's set-up: pixi locks and installs it; this writes .env, runs `pixi lock`
and `pixi install --locked`, and says what to run when pixi is missing or fails.

Standard library only: any Python 3.11 or newer runs it (`python scripts/setup_env.py`).
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from collections.abc import Mapping
from typing import Any

from .steps import PROJECT, StepFailed, create_env_file, load_module

PIXI_INSTALL_HINT = (
    "Install pixi (https://pixi.sh/latest/installation/), then open a new shell:\n"
    "    curl -fsSL https://pixi.sh/install.sh | sh      # Linux, macOS\n"
    "    brew install pixi                                # Homebrew"
)
CUDA_OVERRIDE = "CONDA_OVERRIDE_CUDA"  # pixi's stand-in for the driver of the GPU machines


def declared_cuda(pixi: Mapping[str, Any]) -> str | None:
    """The CUDA version the manifest's CUDA platform declares (`cuda = "12"`), if any."""
    for platform in pixi.get("workspace", {}).get("platforms", []):
        if isinstance(platform, dict) and isinstance(platform.get("cuda"), str):
            return str(platform["cuda"])
    return None


def here() -> str:
    """The command that enters the project, quoted for the shell (a path may hold spaces)."""
    return f"cd {shlex.quote(str(PROJECT))}"


def run_pixi(step: str, args: list[str], env: dict[str, str]) -> None:
    """Run `pixi <args>` on the project's manifest; a failure says how to resume."""
    shown = " ".join(["pixi", *args])
    print(f"==> {step} ({shown})", flush=True)
    pixi = shutil.which("pixi", path=env.get("PATH")) or "pixi"
    command = [pixi, *args, "--manifest-path", str(PROJECT / "pyproject.toml")]
    try:
        code = subprocess.run(command, cwd=PROJECT, env=env, check=False).returncode
    except OSError as error:  # a pixi that cannot start
        failure = f"the pixi at {pixi} cannot start ({error}); reinstall it"
    else:
        if code == 0:
            return
        failure = f"`{shown}` exited with {code}"
    raise StepFailed(
        f"Set-up failed at step '{step}': {failure}.",
        f"The project is kept in {PROJECT}; only the environment is unfinished.\n"
        f"After fixing the problem above, resume with:\n    {here()} && {shown}",
    )


def override_hint(cuda: str) -> str:
    return (
        f"This machine shows no NVIDIA driver, so pixi installs the CPU platform here. To "
        f"install the CUDA one anyway (e.g. on a login node, for the GPU nodes):\n"
        f"    {CUDA_OVERRIDE}={cuda} pixi install"
    )


def set_up_pixi(pixi_table: Mapping[str, Any]) -> None:
    print("==> Creating .env from .env.example", flush=True)
    create_env_file()
    env: dict[str, str] = load_module("project").clean_environment()
    cuda = declared_cuda(pixi_table)
    # The CUDA platform's version, when this machine has no NVIDIA driver to install it for.
    no_driver = cuda is not None and load_module("machine").nvidia().driver is None
    cuda_without_driver = cuda if no_driver else None
    if shutil.which("pixi") is None:
        raise StepFailed(
            "pixi is not on PATH, so the environment is not installed yet.",
            f"{PIXI_INSTALL_HINT}\nThe project is kept, and its manifest is ready "
            "(pyproject.toml, [tool.pixi]). Then install the environment with:\n"
            f"    {here()} && pixi install"
            + (f"\n{override_hint(cuda_without_driver)}" if cuda_without_driver else ""),
        )
    lock_env = dict(env)
    if cuda_without_driver and CUDA_OVERRIDE not in env:
        # Solving needs no GPU, but pixi checks the CUDA platform's packages against the
        # machine; the override stands in for the driver of the GPU machines.
        lock_env[CUDA_OVERRIDE] = cuda_without_driver
        print(f"==> No NVIDIA driver here: solving with {CUDA_OVERRIDE}={cuda_without_driver}")
    run_pixi("Solving every platform into pixi.lock", ["lock"], lock_env)
    run_pixi("Installing this machine's platform", ["install", "--locked"], env)
    print(f"==> Environment ready. Next: {here()} && pixi run test", flush=True)
    if cuda_without_driver and CUDA_OVERRIDE not in env:
        print(override_hint(cuda_without_driver))
