"""After an update: stop at conflicts; otherwise re-lock, re-pin and re-install the project.

Copier runs this (the last `_migrations` step, stage "after") once per `copier update`, in the
real project, after it has merged the new template version in. A `_tasks` entry would not do:
during an update Copier runs tasks in its temporary renders and in the project *before* the
merge, when pyproject.toml is the bare new template without the user's dependencies.

    python tasks/post_update.py ENV_MANAGER      # uv or pixi

Exit status 1 (Copier then reports the update as failed) when the merge left conflicts or
the environment could not be rebuilt; the message says which files or which step, and what
to run once fixed. The merged files stay as they are either way.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pixi_setup
from common import clean_environment, say
from conflicts import conflicted_files, git
from post_copy import SETUP_SCRIPT, UV_INSTALL_HINT
from pre_update import PYPROJECT

RELOCK = f"uv run {SETUP_SCRIPT} --from lock"
# Lock files written by the environment managers a project did not choose.
STALE_LOCKS: dict[str, tuple[str, ...]] = {"uv": ("pixi.lock",), "pixi": ("uv.lock",)}


def report_conflicts(files: list[str]) -> None:
    listed = "\n".join(f"    {name}" for name in files)
    say(f"\n!!  The update conflicts with your changes in:\n{listed}")
    say(
        "    Each conflict sits between '<<<<<<< before updating' (yours) and\n"
        "    '>>>>>>> after updating' (the template's); a .rej file holds a rejected change.\n"
        "    The environment was NOT re-locked: uv would read the conflict markers.\n"
        "    Edit each file to keep what you want, then:\n"
        f"        git add <the files>  &&  {RELOCK}"
    )


def remove_stale_locks(project: Path, env_manager: str) -> None:
    for name in STALE_LOCKS.get(env_manager, ()):
        if (project / name).exists():
            say(f"==> Removing {name}: this project now uses {env_manager}")
            (project / name).unlink()


def relock(project: Path) -> int:
    uv = shutil.which("uv")
    if uv is None:
        say(
            f"\n!!  Re-locking skipped: 'uv' is not on PATH.\n{UV_INSTALL_HINT}\nThen run: {RELOCK}"
        )
        return 1
    say(f"==> Re-locking after the update ({RELOCK}: lock, pin, sync, check)")
    process = subprocess.run(
        [uv, "run", "--quiet", "--python", sys.executable, SETUP_SCRIPT, "--from", "lock"],
        cwd=project,
        env=clean_environment(),
        check=False,
    )
    if process.returncode != 0:
        say("\nThe update is merged; only the environment is not rebuilt yet (see above).")
    return process.returncode


def main(argv: list[str]) -> int:
    project = Path.cwd()
    env_manager = argv[0] if argv else "uv"
    conflicted = conflicted_files(project)
    if PYPROJECT not in conflicted:
        git(project, "reset", "--quiet", "--", PYPROJECT)  # undo pre_update.py's staging
    if conflicted:
        report_conflicts(conflicted)
        return 1
    remove_stale_locks(project, env_manager)
    if env_manager == "pixi":
        say("==> Re-locking after the update (pixi lock, pixi install)")
        return pixi_setup.main(project)
    if not (project / SETUP_SCRIPT).is_file():
        say(f"==> {SETUP_SCRIPT} is gone: re-lock by hand (uv lock && uv sync).")
        return 0
    return relock(project)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
