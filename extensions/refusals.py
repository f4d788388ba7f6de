"""A refused answer on Copier's command line: one line naming the problem and the fix.

Copier (9.19) checks an answer given with `-d`/`--data-file` by raising a ValueError,
"Validation error for question 'NAME': <the validator's message>", which its command line
does not catch: Python prints about forty lines of traceback with the template's message
last. Copier offers no setting for this, so the template's Jinja extension, which Copier
loads into its own process before it checks any answer, installs a `sys.excepthook` that
prints that one error as a single line. Only an exception nothing caught reaches the hook:
Copier's Python API (fleet.py, the tests) still raises the ValueError, and every other error
keeps its traceback (but one: the TypeError Copier raises for a bare value given to a question
of several answers, `-d platforms=linux-x86_64`, which is told to write a bracketed list).
Python exits with status 1, as Copier does for its own user errors; a
copy leaves no folder behind (Copier removes the one it created).
"""

from __future__ import annotations

import re
import sys
from types import TracebackType

PREFIX = "Validation error for question "
# What Copier raises (a TypeError) for a question of several answers (`platforms`,
# `torch_packages`) given one bare value with `-d`: it reads only a YAML list there.
NOT_A_LIST = re.compile(r"Not a YAML list: (?P<value>.*)")
_INSTALLED = "_copier_research_refusals"


def refusal_line(message: str) -> str | None:
    """The line to print for Copier's validation error; None for any other message."""
    if found := NOT_A_LIST.fullmatch(message):
        return (
            f"Answer refused: {found['value']} is not a list, and a question of several "
            "answers (platforms, torch_packages) takes one in brackets, e.g. "
            '-d "platforms=[linux-x86_64, macos-arm64]" or -d "platforms=[linux-x86_64]".'
        )
    if not message.startswith(PREFIX):
        return None
    question, _, reason = message.removeprefix(PREFIX).partition(": ")
    return f"Answer refused for {question}: {reason.strip()}"


def install() -> None:
    """Print a refused answer as one line when nothing catches it (once per process)."""
    previous = sys.excepthook
    if getattr(previous, _INSTALLED, False):
        return

    def hook(kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
        refused = isinstance(error, ValueError) or (
            isinstance(error, TypeError) and NOT_A_LIST.fullmatch(str(error)) is not None
        )
        line = refusal_line(str(error)) if refused else None
        if line is None:
            previous(kind, error, trace)
        else:
            print(line, file=sys.stderr, flush=True)

    setattr(hook, _INSTALLED, True)
    sys.excepthook = hook
