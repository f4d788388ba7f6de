"""Post-generation task: make the project a git repository, set it up, make the first commit.

Copier runs this with its own interpreter, in the new project, on `copier copy` only.

It always exits 0. Copier deletes a freshly generated project when a task fails, and losing
the render to a network hiccup is worse than any message: a failed step is reported here,
with the command that resumes from it, and the project stays.

The first commit is made when this task created the repository, the set-up finished and git
knows the user's name and e-mail; otherwise the message says how to make it. Copier refuses
to update a project with uncommitted files, so it is what makes `copier update` work at once.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from tasks.common import clean_environment, manager, say

SETUP_SCRIPT = "scripts/setup_env.py"
ANSWERS_FILE = ".copier-answers.yml"
UV_INSTALL_HINT = (
    "Install uv (https://docs.astral.sh/uv/getting-started/installation/):\n"
    "    curl -LsSf https://astral.sh/uv/install.sh | sh      # Linux, macOS\n"
    "    pip install uv                                        # anywhere with pip"
)


def here(project: Path) -> str:
    """The command that enters the project, quoted for the shell (a path may hold spaces)."""
    return f"cd {shlex.quote(str(project))}"


def init_git(project: Path) -> bool:
    """Make the project a git repository; True when this made a new one."""
    git = shutil.which("git")
    if git is None:
        say("==> git not found: skipping 'git init' (copier update needs a git repository).")
        return False
    inside = subprocess.run(
        [git, "rev-parse", "--is-inside-work-tree"],
        cwd=project,
        capture_output=True,
        check=False,
    )
    if inside.returncode == 0:
        say("==> Already inside a git repository: leaving it as it is.")
        return False
    say("==> Initialising a git repository (git init)")
    return subprocess.run([git, "init", "--quiet"], cwd=project, check=False).returncode == 0


def git_output(project: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=project, capture_output=True, text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 else ""


def has_identity(project: Path) -> bool:
    """git knows who commits: user.name and user.email, set in git's config or environment."""
    name = os.environ.get("GIT_AUTHOR_NAME") or git_output(project, "config", "user.name")
    email = os.environ.get("GIT_AUTHOR_EMAIL") or git_output(project, "config", "user.email")
    return bool(name and email)


def commit_message(project: Path) -> str:
    answers = project / ANSWERS_FILE
    text = answers.read_text(encoding="utf-8") if answers.is_file() else ""
    version = re.search(r"^_commit: *(\S+)", text, re.MULTILINE)
    return f"Generated from copier-research {version[1] if version else ''}".rstrip()


def first_commit(project: Path, new_repository: bool) -> None:
    """Commit the set-up project, so that `copier update` (which needs a clean tree) works."""
    message = commit_message(project)
    by_hand = f"git add --all && git commit -m '{message}'"
    if not new_repository:
        if git_output(project, "rev-parse", "--is-inside-work-tree") == "true":
            top = git_output(project, "rev-parse", "--show-toplevel")
            say(
                f"==> Not committed: the project is inside the repository {top}. Commit it there\n"
                f"    when you are ready (copier update needs it committed):\n"
                f"        {here(project)} && {by_hand}"
            )
        return
    if not has_identity(project):
        say(
            "==> Not committed: git does not know who you are yet. Tell it, then commit:\n"
            '        git config --global user.name "Your Name"\n'
            '        git config --global user.email "you@example.org"\n'
            f"        {here(project)} && {by_hand}"
        )
        return
    added = subprocess.run(["git", "add", "--all"], cwd=project, check=False)
    committed = subprocess.run(
        ["git", "commit", "--quiet", "--no-verify", "-m", message], cwd=project, check=False
    )
    if added.returncode or committed.returncode:
        say(f"==> The first commit failed (see above). Make it with:\n        {by_hand}")
    else:
        say(f"==> First commit made ({message}): copier update works from here.")


def set_up(project: Path) -> bool:
    """Run the project's set-up script; True when the environment is ready. Never raises."""
    if manager(project) == "pixi":
        # For pixi the script needs only the standard library, and says itself what to run
        # when pixi is missing or fails.
        say(f"==> Setting up the environment with pixi ({SETUP_SCRIPT})")
        done = subprocess.run(
            [sys.executable, SETUP_SCRIPT], cwd=project, env=clean_environment(), check=False
        )
        return done.returncode == 0

    resume = f"{here(project)} && uv run {SETUP_SCRIPT}"
    uv = shutil.which("uv")
    if uv is None:
        say(f"\n!!  Set-up stopped: 'uv' is not on PATH.\n{UV_INSTALL_HINT}")
        say(f"The project is kept. Then finish the set-up with:\n    {resume}")
        return False

    say(f"==> Setting up the environment ({SETUP_SCRIPT})")
    # The set-up script declares its own dependencies (PEP 723); uv runs it with this
    # interpreter, so it starts even before the project's Python is installed.
    try:
        process = subprocess.run(
            [uv, "run", "--quiet", "--python", sys.executable, SETUP_SCRIPT],
            cwd=project,
            env=clean_environment(),
            check=False,
        )
    except OSError as error:  # a uv that cannot start: broken download, wrong platform
        say(f"\n!!  Set-up stopped: the uv at {uv} cannot start ({error}).")
        say(f"Reinstall it.\n{UV_INSTALL_HINT}")
        say(f"The project is kept. Then finish the set-up with:\n    {resume}")
        return False
    if process.returncode != 0:
        say(f"\nThe project is kept in {project}; only the environment set-up is unfinished.")
        say(
            f"After fixing the problem above, resume with the command it printed, or:\n    {resume}"
        )
    return process.returncode == 0


def main() -> int:
    project = Path.cwd()
    new_repository = init_git(project)
    if set_up(project):
        first_commit(project, new_repository)
        if manager(project) == "uv":  # pixi's set-up says its own next step
            say(f"==> Next: {here(project)} && uv run pytest")
    elif new_repository:
        message = commit_message(project)
        say(f"Once it is set up, commit it: git add --all && git commit -m '{message}'")
    return 0


if __name__ == "__main__":
    sys.exit(main())
