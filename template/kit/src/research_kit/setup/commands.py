# Template-owned: `copier update` replaces this file; edits of yours are merged in.
"""Running uv for a step: its output streamed, and a failure turned into its cause.

Apart from steps.py, as explaining a failure reads the project's platforms and pins
(platform_gaps.py), which import steps.py themselves.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from .platform_gaps import platform_gap
from .steps import (
    DAMAGED_LOCK,
    DAMAGED_LOCK_HINT,
    PROJECT,
    UV_INSTALL_HINT,
    StepFailed,
    failed_build_hint,
    missing_python_hint,
    uv_environment,
)


def run(command: list[str]) -> None:
    """Run a command, streaming its output; on failure raise with the end of its stderr.

    A resolver failure for a package without wheels for one of the project's platforms is
    explained instead: the package, the platform and both ways out (platform_gap).
    """
    env = uv_environment()
    try:
        process = subprocess.Popen(command, cwd=PROJECT, env=env, stderr=subprocess.PIPE, text=True)
    except OSError as error:  # not a program this machine can run
        raise StepFailed(f"{command[0]} cannot start ({error}).", UV_INSTALL_HINT) from error
    said: list[str] = []  # what it printed, the last 500 lines (enough for uv's reasons)
    damaged_lock = False

    def relay() -> None:
        nonlocal damaged_lock
        assert process.stderr is not None
        for line in process.stderr:
            sys.stderr.write(line)
            said[:] = [*said[-499:], line.rstrip()]
            damaged_lock = damaged_lock or DAMAGED_LOCK in line

    reader = threading.Thread(target=relay)
    reader.start()
    code = process.wait()
    reader.join()
    if process.stderr is not None:
        process.stderr.close()
    if code != 0:
        gap = platform_gap("\n".join(said))
        if gap is not None:
            raise StepFailed(*gap)
        shown = " ".join([Path(command[0]).name, *command[1:]])
        output = "\n".join(said)
        hint = (
            DAMAGED_LOCK_HINT
            if damaged_lock
            else missing_python_hint(output) or failed_build_hint(output)
        )
        raise exited(shown, code, said, hint)


def exited(command: str, code: int, said: Sequence[str], hint: str = "") -> StepFailed:
    """The failure of a command that exited with `code`, with the end of what it said."""
    shown = "\n".join(f"    {line}" for line in said[-8:]) or "    (no output)"
    return StepFailed(f"'{command}' exited with {code}:\n{shown}", hint, output="\n".join(said))
