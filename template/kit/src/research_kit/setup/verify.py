# Template-owned: `copier update` replaces this file; edits of yours are merged in.
"""The lock checked on every platform the project targets: `uv sync --locked --dry-run` for
each platform (and build extra), before anything is installed."""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from .commands import run
from .install import torch_extras
from .lock import pin
from .platform_gaps import platform_gap, target_platforms, unchecked_markers
from .steps import PROJECT, StepFailed, lock_text, read_pyproject, uv, uv_environment


def install_problem(python: str, platform: Any, extra: str | None) -> str:
    """What `uv sync --locked --dry-run` says against installing uv.lock on `platform`."""
    command = [uv(), "sync", "--locked", "--dry-run", "--quiet"] + (
        ["--python", python] if python else []
    )
    command += ["--python-platform", platform.uv_python_platform]
    command += ["--extra", extra] if extra else []
    # e.g. PyTorch's macOS wheels (torch 2.12 and later) need macOS 14: uv must assume it.
    environment = uv_environment() | dict(platform.uv_environment)
    done = subprocess.run(command, cwd=PROJECT, env=environment, capture_output=True, text=True)
    if done.returncode == 0:
        return ""
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    return "\n".join(lines) or f"exited with {done.returncode}"


@dataclass(frozen=True)
class LockProblem:
    platform: Any
    extra: str | None
    said: str  # uv's words

    def __str__(self) -> str:
        lines = self.said.splitlines()
        where = f"{self.platform.label}{f' (extra {self.extra})' if self.extra else ''}"
        return f"{where}: {' '.join(lines[:2])}"


def lock_problems() -> list[LockProblem]:
    """Each platform (and build extra) uv.lock would not install on, with uv's reason."""
    text = read_pyproject()
    # The project's interpreter, found once (each dry run would look for it again).
    interpreter = subprocess.run(
        [uv(), "python", "find"], cwd=PROJECT, env=uv_environment(), capture_output=True, text=True
    )
    python = interpreter.stdout.strip() if interpreter.returncode == 0 else ""
    extras: list[str | None] = [*torch_extras(text)] or [None]
    cases = [(platform, extra) for platform in target_platforms(text) for extra in extras]
    with ThreadPoolExecutor(max_workers=4) as pool:
        problems = list(pool.map(lambda case: install_problem(python, *case), cases))
    return [
        LockProblem(platform, extra, problem)
        for (platform, extra), problem in zip(cases, problems, strict=True)
        if problem
    ]


def verify() -> None:
    """Prove that uv.lock installs on every platform the project targets, before using it.

    A lock can pass `uv lock --check` and still hold, for one platform, a wheel of another
    (uv was seen folding platform forks when re-locking from a warm cache): such a lock is
    made again from the indexes once, and if it still fails, the set-up stops here, naming
    the package and the platform when one lacks wheels there.
    """
    lock_text()  # there is one
    for text in unchecked_markers(read_pyproject()):
        print(f"    not checked: required-environments names {text!r}, not a platform it knows.")
    problems = lock_problems()
    if not problems:
        targets = target_platforms(read_pyproject())
        print(f"    uv.lock installs on {', '.join(p.label for p in targets)}.")
        return
    listed = "".join(f"\n      {problem}" for problem in problems)
    print(f"    uv.lock does not install on:{listed}\n    Locking again from the indexes.")
    run([uv(), "lock", "--refresh"])
    pin()
    problems = lock_problems()
    for problem in problems:
        gap = platform_gap(problem.said, problem.platform)
        if gap is not None:
            raise StepFailed(*gap)
    if problems:
        listed = "".join(f"\n      {problem}" for problem in problems)
        raise StepFailed(f"uv.lock does not install on:{listed}")
