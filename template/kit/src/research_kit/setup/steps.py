# Template-owned: `copier update` replaces this file; edits of yours are merged in.
"""The set-up's machinery: the project's root, its failures, the project's own modules, uv,
and the steps, run in order, a failure reported with what to try and where to resume.

Standard library only at import: a pixi project's set-up runs it with a plain `python`.
"""

from __future__ import annotations

import importlib
import re
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import unquote, urlsplit

# kit/src/research_kit/setup/steps.py: the project is four folders up.
PROJECT = Path(__file__).resolve().parents[4]


class StepFailed(Exception):
    """A step failed; the message says why, `hint` what to try when the step's own hint
    does not fit the cause, and `resume` the step to resume from when it is not this one.
    Raised where the failure happens; run_steps reports it (`reported`), or cli.main does."""

    def __init__(self, message: str, hint: str = "", resume: str = "", output: str = "") -> None:
        super().__init__(message)
        self.hint = hint
        self.resume = resume
        self.output = output  # what the failed command wrote to stderr (its last 500 lines)
        self.reported = False  # run_steps has said which step failed, and what to try


def load_module(name: str) -> ModuleType:
    """research_kit.<name>, a module of the standard library only: project (what the project's
    files say), machine (the GPU drivers; PyTorch projects only), platforms (the platforms a
    lock can target), exits (the exit statuses of the project's commands). Imported by name,
    as machine.py exists in PyTorch projects only.
    """
    try:
        return importlib.import_module(f"research_kit.{name}")
    except ModuleNotFoundError as error:
        if error.name != f"research_kit.{name}":
            raise
        raise StepFailed(
            f"kit/src/research_kit/{name}.py is missing. Restore it from git "
            "(git checkout -- kit), or run `copier update` to have the template write it again."
        ) from None


RESUME = "uv run scripts/setup_env.py --from {step}"


class InvalidProject(ValueError):
    """A wrong input, found before anything changed: pyproject.toml cannot be set up as it
    is, or a command asks for what cannot be done. The message names the problem (one line),
    `hint` (if any) says how to repair it; cli.main exits with the usage status."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


class InvalidRecord(InvalidProject):
    """[tool.setup-env.pinned] is not a table of versions."""


PLATFORMS_UPDATE = (
    'uvx --with copier-template-extensions copier update --trust --defaults -d "platforms=[...]"'
)


DAMAGED_LOCK = "Failed to parse `uv.lock`"
DAMAGED_LOCK_HINT = (
    "uv.lock is damaged (cut short, or edited by hand). Restore it with "
    "'git checkout uv.lock', or delete it to lock afresh."
)
UV_INSTALL_HINT = "Reinstall uv: https://docs.astral.sh/uv/getting-started/installation/"
# uv found no interpreter for the project's Python (.python-version), and may not or could
# not download one (UV_PYTHON_DOWNLOADS=never, or no way to GitHub, as on many clusters).
# A pyenv shim for that version answers "command not found" when uv asks it.
_NO_PYTHON = re.compile(
    r"No interpreter found for Python (?P<wanted>[0-9][^\s]*) in"
    r"|Failed to download `[^`]*python-build-standalone[^`]*/cpython-(?P<download>\d+\.\d+)"
    r"|Failed to inspect Python interpreter from search path at `[^`]*python(?P<shim>\d+\.\d+)`"
)
PYTHON_UPDATE = (
    "uvx --with copier-template-extensions copier update --trust --defaults -d python_version=X.Y"
)


def missing_python_hint(output: str) -> str:
    """What to do when uv needs a Python this machine lacks and cannot download ("" when
    that is not what failed): make one visible to uv, or move the project to another."""
    found = _NO_PYTHON.search(" ".join(output.split()))  # uv wraps long lines where it likes
    if found is None:
        return ""
    version = found["wanted"] or found["download"] or found["shim"]
    return (
        f"uv needs Python {version} (.python-version) and finds none on this machine, and "
        "could not download one. Make it visible to uv (on a cluster often "
        f"`module load python/{version}`; or pyenv, the system's packages, or `uv python "
        f"install {version}` where downloads work), or move the project to a Python this "
        f"machine has (`uv python list --only-installed`): {PYTHON_UPDATE}"
    )


_FAILED_BUILD = re.compile(r"Failed to build `(?P<name>[^` ]+)(?: @ (?P<where>[^`]+))?`")


def failed_build_hint(output: str) -> str:
    """What to do when uv could not build a package ("" when that is not what failed): one
    of the project's own folders (kit/, the project) or a source distribution from an index."""
    found = _FAILED_BUILD.search(" ".join(output.split()))  # uv wraps long lines where it likes
    if found is None:
        return ""
    name, where = found["name"], found["where"] or ""
    if where.startswith("file://"):
        folder = Path(unquote(urlsplit(where).path))
        inside = folder.is_relative_to(PROJECT)
        shown = folder.relative_to(PROJECT).as_posix() if inside else str(folder)
        return (
            f"uv could not build {name} from the folder {shown}: the cause above names what "
            "is wrong there (often its pyproject.toml); `git diff` shows what changed."
        )
    return (
        f"uv could not build {name} from its source (no wheel of it fits this machine): the "
        "cause above names what the build lacks, often a compiler or a system library. "
        "Install that, or pin a version of it that has a wheel for this platform."
    )


def uv_environment() -> dict[str, str]:
    """The environment uv runs in: uv's own settings from .env, then this process's, which win.

    uv reads no .env itself; a setting such as UV_CACHE_DIR (the cache on the project's file
    system, on a cluster) written there still applies to the set-up. What points uv at this
    script's own environment is left out.
    """
    from dotenv import dotenv_values  # `uv run` installs it (the launcher's header)

    settings = dotenv_values(PROJECT / ".env") if (PROJECT / ".env").is_file() else {}
    from_file = {k: v for k, v in settings.items() if k.startswith("UV_") and v}
    outside: dict[str, str] = load_module("project").clean_environment()
    return from_file | outside


def platform_table() -> list[Any]:
    """The platforms a lock can be made for (kit/src/research_kit/platforms.py, the template's)."""
    return list(load_module("platforms").PLATFORMS)


def uv() -> str:
    path = shutil.which("uv")
    if path is None:
        raise StepFailed("uv is not on PATH. Install it: https://docs.astral.sh/uv/")
    return path


def create_env_file() -> None:
    env_file, example = PROJECT / ".env", PROJECT / ".env.example"
    if env_file.exists():
        print("    .env exists: kept as it is.")
    elif example.exists():
        shutil.copyfile(example, env_file)
        print("    created .env from .env.example (git-ignored; edit it for this machine).")


def lock_text() -> str:
    """uv.lock's text; a StepFailed that resumes from 'lock' when there is none yet."""
    path = PROJECT / "uv.lock"
    if not path.is_file():
        raise StepFailed(
            "there is no uv.lock yet: the 'lock' step writes it.",
            "Run the set-up from the 'lock' step.",
            resume="lock",
        )
    return path.read_text(encoding="utf-8")


def read_pyproject() -> str:
    """pyproject.toml's text."""
    return (PROJECT / "pyproject.toml").read_text(encoding="utf-8")


@dataclass(frozen=True)
class Step:
    name: str
    title: str
    action: Callable[[], None]
    hint: str


def run_steps(
    todo: Sequence[Step],
    *,
    resumable: bool = True,
    resume_command: Callable[[str], str] | None = None,
) -> None:
    """Run the steps in order; at a failure, say which step, why and what to try, then raise
    it on (reported) for cli.main to exit with.

    `resume_command` gives the command that resumes at a step (default: RESUME's).
    """
    command = resume_command or (lambda name: RESUME.format(step=name))
    for number, step in enumerate(todo, start=1):
        print(f"==> [{number}/{len(todo)}] {step.title}", flush=True)
        try:
            step.action()
        except (StepFailed, OSError) as error:
            failure = error if isinstance(error, StepFailed) else StepFailed(str(error))
            print(f"\n!!  Set-up failed at step '{step.name}': {failure}", file=sys.stderr)
            print(f"    What to try: {failure.hint or step.hint}", file=sys.stderr)
            if resumable:
                resume = command(failure.resume or step.name)
                print(f"    Then resume with: {resume}", file=sys.stderr)
            failure.reported = True
            raise failure from None if failure is error else error
        except KeyboardInterrupt:
            print(f"\n!!  Interrupted at step '{step.name}'.", file=sys.stderr)
            if resumable:
                print(f"    Resume with: {command(step.name)}", file=sys.stderr)
            raise
