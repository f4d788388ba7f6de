"""Set-up of a freshly generated pixi project: `.env`, then `pixi lock` and `pixi install`.

post_copy.py hands over to this module (after `git init`) when the generated pyproject.toml
has a `[tool.pixi]` table; the uv set-up, which would build a second environment beside
pixi's, is then skipped. Like post_copy.py it never fails the generation: without pixi, or
when a step fails, it says what to run and the project stays.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path

from common import clean_environment, say

PIXI_INSTALL_HINT = (
    "Install pixi (https://pixi.sh/latest/installation/), then open a new shell:\n"
    "    curl -fsSL https://pixi.sh/install.sh | sh      # Linux, macOS\n"
    "    brew install pixi                                # Homebrew"
)
# The same switches as the template's GPU detection (extensions/detect.py).
DRIVER_ENV = "COPIER_RESEARCH_DRIVER_VERSION"
NO_DETECTION_ENV = "COPIER_RESEARCH_NO_GPU_DETECTION"
PROC_DRIVER_VERSION = Path("/proc/driver/nvidia/version")
OVERRIDE_ENV = "CONDA_OVERRIDE_CUDA"
MANIFEST = "pyproject.toml"


def pixi_table(project: Path) -> dict | None:
    """The `[tool.pixi]` table of the project's pyproject.toml, if it has one."""
    try:
        data = tomllib.loads((project / MANIFEST).read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return None
    return data.get("tool", {}).get("pixi")


def declared_cuda(pixi: dict) -> str | None:
    """The CUDA version the manifest's CUDA platform declares (`cuda = "12"`), if any."""
    for platform in pixi.get("workspace", {}).get("platforms", []):
        if isinstance(platform, dict) and isinstance(platform.get("cuda"), str):
            return platform["cuda"]
    return None


def nvidia_driver_found(environ: dict[str, str]) -> bool:
    if environ.get(NO_DETECTION_ENV, "").strip().lower() not in ("", "0", "false", "no", "off"):
        return False
    if environ.get(DRIVER_ENV, "").strip():
        return True
    return PROC_DRIVER_VERSION.is_file() or shutil.which("nvidia-smi") is not None


def create_env_file(project: Path) -> None:
    env_file, example = project / ".env", project / ".env.example"
    if env_file.exists() or not example.is_file():
        return
    say("==> Creating .env from .env.example (machine-local settings; git-ignored)")
    shutil.copyfile(example, env_file)


def here(project: Path) -> str:
    """The command that enters the project, quoted for the shell (a path may hold spaces)."""
    return f"cd {shlex.quote(str(project))}"


def run_step(step: str, args: list[str], project: Path, env: dict[str, str]) -> bool:
    """Run `pixi <args>` on the project's manifest; on failure, say how to resume."""
    shown = " ".join(["pixi", *args])
    say(f"==> {step} ({shown})")
    pixi = shutil.which("pixi", path=env.get("PATH")) or "pixi"
    command = [pixi, *args, "--manifest-path", str(project / MANIFEST)]
    try:
        process = subprocess.run(command, cwd=project, env=env, check=False)
    except OSError as error:  # a pixi that cannot start
        failure = f"the pixi at {pixi} cannot start ({error}); reinstall it"
    else:
        if process.returncode == 0:
            return True
        failure = f"`{shown}` exited with {process.returncode}"
    say(f"\n!!  Set-up failed at step '{step}': {failure}.")
    say(f"The project is kept in {project}; only the environment is unfinished.")
    say(f"After fixing the problem above, resume with:\n    {here(project)} && {shown}")
    return False


def override_hint(cuda: str) -> str:
    return (
        f"This machine shows no NVIDIA driver, so pixi installs the CPU platform here. To "
        f"install the CUDA one anyway (e.g. on a login node, for the GPU nodes):\n"
        f"    {OVERRIDE_ENV}={cuda} pixi install"
    )


def main(project: Path) -> int:
    pixi_manifest = pixi_table(project) or {}
    create_env_file(project)
    env = clean_environment()
    cuda = declared_cuda(pixi_manifest)
    without_driver = cuda is not None and not nvidia_driver_found(env)

    if shutil.which("pixi") is None:
        say("\n!!  pixi is not on PATH, so the environment is not installed yet.")
        say(PIXI_INSTALL_HINT)
        say(
            f"The project is kept, and its manifest is ready ({MANIFEST}, [tool.pixi]). "
            f"Then install the environment with:\n    {here(project)} && pixi install"
        )
        if without_driver:
            say(override_hint(cuda))
        return 0

    lock_env = dict(env)
    if without_driver and OVERRIDE_ENV not in env:
        # Solving needs no GPU, but pixi checks the CUDA platform's packages against the
        # machine; the override stands in for the driver of the GPU machines.
        lock_env[OVERRIDE_ENV] = cuda
        say(f"==> No NVIDIA driver here: solving with {OVERRIDE_ENV}={cuda} for the CUDA platform")
    if not run_step("Solving every platform into pixi.lock", ["lock"], project, lock_env):
        return 0
    if not run_step("Installing this machine's platform", ["install", "--locked"], project, env):
        return 0
    say(f"==> Environment ready. Next: {here(project)} && pixi run test")
    if without_driver and OVERRIDE_ENV not in env:
        say(override_hint(cuda))
    return 0
