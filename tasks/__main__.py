"""Run one task the way copier.yml does: `python <template>/tasks <task> [arguments]`.

Python runs this file with this folder first on sys.path. The template's folder takes its
place, so that a task imports the others and extensions/ as the packages they are
(`from tasks.common import say`), as the tests and fleet.py import them. Copier runs each
task with its own interpreter, in the project's folder (the template may be anywhere, a
temporary clone included); the task reads its arguments from sys.argv[1:], as if run alone.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
MAIN = 'if __name__ == "__main__":'


def tasks() -> list[str]:
    """The modules of this folder that run as a task: those with a `__main__` block."""
    return sorted(p.stem for p in HERE.glob("[!_]*.py") if MAIN in p.read_text(encoding="utf-8"))


def main() -> None:
    sys.path[0] = str(HERE.parent)
    if len(sys.argv) < 2 or sys.argv[1] not in tasks():
        sys.exit(f"usage: python {HERE} TASK [arguments]; TASK is one of: {', '.join(tasks())}")
    task = sys.argv.pop(1)
    runpy.run_module(f"tasks.{task}", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
