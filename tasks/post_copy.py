"""Post-generation task: make the fresh project a git repository and set up its environment.

Copier runs this with its own interpreter, in the new project, on `copier copy` only.

It always exits 0. Copier deletes a freshly generated project when a task fails, and losing
the render to a network hiccup is worse than any message: a failed step is reported here,
with the command that resumes from it, and the project stays.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pixi_setup  # beside this file: a pixi project is set up by pixi, not uv
from common import clean_environment, say

SETUP_SCRIPT = "scripts/setup_env.py"
UV_INSTALL_HINT = (
    "Install uv (https://docs.astral.sh/uv/getting-started/installation/):\n"
    "    curl -LsSf https://astral.sh/uv/install.sh | sh      # Linux, macOS\n"
    "    pip install uv                                        # anywhere with pip"
)


def init_git(project: Path) -> None:
    git = shutil.which("git")
    if git is None:
        say("==> git not found: skipping 'git init' (copier update needs a git repository).")
        return
    inside = subprocess.run(
        [git, "rev-parse", "--is-inside-work-tree"],
        cwd=project,
        capture_output=True,
        check=False,
    )
    if inside.returncode == 0:
        say("==> Already inside a git repository: leaving it as it is.")
        return
    say("==> Initialising a git repository (git init)")
    subprocess.run([git, "init", "--quiet"], cwd=project, check=False)


def main() -> int:
    project = Path.cwd()
    resume = f"cd {project} && uv run {SETUP_SCRIPT}"
    init_git(project)
    if pixi_setup.pixi_table(project) is not None:
        return pixi_setup.main(project)

    uv = shutil.which("uv")
    if uv is None:
        say(f"\n!!  Set-up stopped: 'uv' is not on PATH.\n{UV_INSTALL_HINT}")
        say(f"The project is kept. Then finish the set-up with:\n    {resume}")
        return 0

    say(f"==> Setting up the environment ({SETUP_SCRIPT})")
    # The set-up script declares its own dependencies (PEP 723); uv runs it with this
    # interpreter, so it starts even before the project's Python is installed.
    process = subprocess.run(
        [uv, "run", "--quiet", "--python", sys.executable, SETUP_SCRIPT],
        cwd=project,
        env=clean_environment(),
        check=False,
    )
    if process.returncode != 0:
        say(f"\nThe project is kept in {project}; only the environment set-up is unfinished.")
        say(
            f"After fixing the problem above, resume with the command it printed, or:\n    {resume}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
