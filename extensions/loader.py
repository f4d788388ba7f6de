"""The one place where the template imports a Python file by its path.

Everything else is an ordinary import: extensions/ and tasks/ are packages of the template's
folder (copier.yml runs the tasks through tasks/__main__.py, which puts that folder on
sys.path; the Jinja side, extensions/hooks.py, imports extensions/ under a name of its own,
see there), and so is the generated project's set-up, template/kit/src/research_kit (the
tasks put that folder on sys.path: tasks/__init__.py). Two files cannot be imported
that way, and come through `load`:

- the generated project's `machine.py`, in `template/kit/src/research_kit/`, under a name
  that is a Jinja expression (PyTorch projects only): extensions/detect.py judges a machine
  with its rules, as the generated project's set-up and smoke test do;
- tasks/recovery.py on the Jinja side, where tasks/ is not on sys.path; it registers an exit
  hook, so it is loaded once per process under one name, whichever template version asks.

Standard library only: Copier's interpreter and the update's `uv run --script` helper run it.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing_extensions import Buffer


def module_name(path: Path) -> str:
    """A module name made from the file's path: `copier_research_machine_1a2b3c4d5e6f`.

    During `copier update` the old and the new template are in one process, at two paths:
    each loads its own copy.
    """
    resolved = path.resolve()
    digest = hashlib.sha1(str(resolved).encode()).hexdigest()[:12]
    return f"copier_research_{resolved.stem}_{digest}"


class _UncachedLoader(importlib.machinery.SourceFileLoader):
    """A source loader that writes no __pycache__ beside the file: Copier renders every
    path of the template, and a cache named after machine.py's Jinja-conditioned file name
    is no template it can render ("Unexpected end of template")."""

    def set_data(self, path: str, data: Buffer, *, _mode: int = 0o666) -> None:
        return None


def load(path: Path, name: str | None = None) -> ModuleType:
    """The module in the file at `path`, executed once per process under `name`.

    `name` defaults to `module_name(path)`. The module is in sys.modules before it runs, as
    an imported one is: its dataclasses look their module up there.
    """
    name = name or module_name(path)
    if name in sys.modules:
        return sys.modules[name]
    # A loader given, as the file's name need not end in .py (machine.py's, in the template,
    # ends in the Jinja condition that renders it for PyTorch projects only).
    loader = _UncachedLoader(name, str(path))
    spec = importlib.util.spec_from_file_location(name, path, loader=loader)
    if spec is None or spec.loader is None:
        raise ImportError(f"{path} is not a Python file", path=str(path))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]  # as the import system does: a failed module is not kept
        raise
    return module
