# Template-owned: `copier update` replaces this file; edits of yours are merged in.
"""Exit statuses of the project's commands: one table for all of them (README, "Exit statuses").

The set-up (scripts/setup_env.py), the run scripts, scripts/compare_runs.py and
scripts/sweep.py exit with one of these. A wrong input stops a command before it does
anything, with one line naming the problem and one saying what to try: never a traceback.
Standard library only: the set-up loads this file before the environment exists.
"""

from __future__ import annotations

import sys
from enum import IntEnum
from typing import NoReturn


class Exit(IntEnum):
    """What a command's exit status means."""

    OK = 0  # done; compare_runs.py: the two runs agree
    FAILED = 1  # a step, a check or a run failed; compare_runs.py: the runs differ
    USAGE = 2  # a wrong input (command line, settings, a file it reads): nothing was done
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)


# What Python counts as a line break (str.splitlines): shown escaped, so that a refusal
# stays one line whatever a name in it holds (a path given as "\n", say).
_LINE_BREAKS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"
_ESCAPED = str.maketrans({c: c.encode("unicode_escape").decode() for c in _LINE_BREAKS})


class Refused(SystemExit):
    """A wrong input: exits with Exit.USAGE; `refuse()` printed why."""

    def __init__(self, problem: str, hint: str) -> None:
        super().__init__(Exit.USAGE)
        self.problem = problem.translate(_ESCAPED)
        self.hint = hint.translate(_ESCAPED)

    def __str__(self) -> str:
        return message(self.problem, self.hint)


def message(problem: str, hint: str) -> str:
    """The two lines a refusal prints: the problem, then what to try."""
    return f"!!  {problem}\n    What to try: {hint}"


def refuse(problem: str, hint: str) -> NoReturn:
    """Print `problem` and `hint` on stderr and stop with Exit.USAGE (as argparse does)."""
    refused = Refused(problem, hint)
    print(refused, file=sys.stderr)
    raise refused
