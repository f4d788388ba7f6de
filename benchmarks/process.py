"""Run a command the way a user would, and time it: wall clock, plus when each step began."""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tasks.common import UV_RUN_ENVIRONMENT

# Lines that start a step: copier's task line, the template's "==> ..." progress lines.
STEP_LINE = re.compile(r"^\s*(?:> (Running task)\b.*|==> (?:\[\d+/\d+\] )?(.+?)\s*)$")


class CommandFailed(Exception):
    """A measured command failed; the message names it and its log."""


@dataclass(frozen=True)
class Timed:
    seconds: float
    steps: list[tuple[float, str]]  # (seconds since start, step title), in order
    output: str


def user_environment(*, keep_no_bytecode: bool = False, **overrides: str) -> dict[str, str]:
    """This process's environment as a user's shell would have it.

    `uv run` puts its virtual environment first on PATH and sets VIRTUAL_ENV; both go.
    PYTHONDONTWRITEBYTECODE (set in some sandboxes, rare on a workstation) makes every
    Python start-up recompile every module it imports; it goes too unless `keep_no_bytecode`.
    """
    env = dict(os.environ)
    venv = env.get("VIRTUAL_ENV")
    for name in UV_RUN_ENVIRONMENT:  # what the caller's `uv run` adds; a shell has none
        env.pop(name, None)
    if venv:
        bin_dir = str(Path(venv) / "bin")
        env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if p != bin_dir)
    if not keep_no_bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONUNBUFFERED"] = "1"  # lines arrive when printed, so step times are right
    env.update(overrides)
    return env


def step_title(line: str) -> str | None:
    match = STEP_LINE.match(line)
    if match is None:
        return None
    return match.group(1) or match.group(2)


def timed(command: Sequence[str], cwd: Path, env: dict[str, str], log: Path) -> Timed:
    """Run `command`; the time is taken when the process exits, its output is kept in `log`."""
    start = time.perf_counter()
    process = subprocess.Popen(
        list(command),
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    )
    lines: list[str] = []
    steps: list[tuple[float, str]] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            now = time.perf_counter() - start
            lines.append(f"{now:8.3f}  {line}")
            title = step_title(line)
            if title is not None:
                steps.append((now, title))

    reader = threading.Thread(target=read)
    reader.start()
    code = process.wait()
    seconds = time.perf_counter() - start
    reader.join()
    log.parent.mkdir(parents=True, exist_ok=True)
    output = "".join(lines)
    log.write_text(f"$ {' '.join(command)}\n# cwd: {cwd}\n{output}")
    if code != 0:
        raise CommandFailed(f"'{' '.join(command)}' exited with {code}; its output is in {log}")
    return Timed(seconds, steps, output)


def step_durations(steps: list[tuple[float, str]], total: float, first: str) -> dict[str, float]:
    """How long each step took: from its line to the next step's line (the last: to the end).

    The time before the first step line is named `first`.
    """
    durations: dict[str, float] = {}
    marks = [(0.0, first), *steps, (total, "")]
    for (begin, title), (end, _) in itertools.pairwise(marks):
        durations[title] = durations.get(title, 0.0) + end - begin
    return durations
