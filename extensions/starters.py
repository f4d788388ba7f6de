"""Starter code: written once, then the researcher's; an update brings it only with its feature.

The examples a researcher rewrites (a model, a training loop, an example notebook) are not
merged by `copier update`, so template changes to them never conflict with research code:
copier.yml's `_exclude` leaves them out of an update's renders. But an update that turns a
feature on (`-d notebooks=true`, `-d framework=pytorch`) must bring that feature's starter
files, or the project gets the feature's tests without what they test. So during an update
a starter file is left out only where the last answers (the answers file as last committed)
already rendered it, where the project has a file there (never overwritten), or where the
last answers cannot be read (Copier's temporary renders, outside the project's git).
"""

from __future__ import annotations

import functools
import re
import subprocess
from pathlib import Path, PurePath
from typing import Any

import jinja2
import yaml

TEMPLATE_FILES = Path(__file__).resolve().parent.parent / "template"

# Starter files, as paths of the generated project (`*`: the package's folder).
STARTERS: tuple[str, ...] = (
    "src/*/models.py",
    "src/*/training.py",
    "src/*/regression.py",
    "scripts/train_example.py",
    "configs/train_example.toml",
    "notebooks/example.ipynb",
    "tests/test_training.py",
    "tests/test_regression.py",
)

# The first line of every Python file the template owns (every one but the starters): whose
# file it is, at a glance. tests/test_generated_layout.py checks each rendered file's.
TEMPLATE_OWNED = (
    "# Template-owned: `copier update` replaces this file; edits of yours are merged in."
)

_BLOCK = re.compile(r"\{%.*?%\}")


def generated_path(source: str) -> str:
    """A template file's path as STARTERS writes it: conditions dropped, the package as `*`."""
    path = _BLOCK.sub("", source).removesuffix(".jinja")
    return re.sub(r"\{\{\s*package_name\s*\}\}", "*", path)


@functools.cache
def starter_sources() -> dict[str, tuple[str, ...]]:
    """Each starter file -> the template files (relative to template/) that write it."""
    sources: dict[str, list[str]] = {starter: [] for starter in STARTERS}
    for path in sorted(TEMPLATE_FILES.rglob("*")):
        if path.is_file():
            source = path.relative_to(TEMPLATE_FILES).as_posix()
            if (shape := generated_path(source)) in sources:
                sources[shape].append(source)
    return {starter: tuple(found) for starter, found in sources.items()}


def rendered_by(source: str, answers: dict[str, Any]) -> bool:
    """Whether the answers render this template file (Copier skips a path with an empty part);
    True when its name cannot be rendered from the answers alone."""
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined)
    try:
        parts = [
            environment.from_string(part).render(answers)
            for part in source.removesuffix(".jinja").split("/")
        ]
    except jinja2.TemplateError:
        return True
    return all(parts)


def last_answers(project: PurePath, answers_file: PurePath) -> dict[str, Any] | None:
    """The answers as last committed in the project; None outside its git repository."""
    shown = subprocess.run(
        ["git", "show", f"HEAD:./{answers_file.as_posix()}"],
        cwd=str(project),
        capture_output=True,
        text=True,
        check=False,
    )
    if shown.returncode != 0:
        return None
    try:
        answers = yaml.safe_load(shown.stdout)
    except yaml.YAMLError:
        return None
    return answers if isinstance(answers, dict) else None


def starter_exclusions(operation: str, project: PurePath, answers_file: PurePath) -> str:
    """copier.yml `_exclude` lines: the starter files this render leaves out.

    None on `copier copy`. On `copier update`, every starter file, except one the update
    brings: its feature was off in the last answers and the project has no file there.
    """
    if operation != "update":
        return ""
    answers = last_answers(project, answers_file) if Path(project).is_dir() else None
    excluded = []
    for starter, sources in starter_sources().items():
        present = any(Path(project).glob(starter))
        if answers is None or present or any(rendered_by(s, answers) for s in sources):
            excluded.append(starter)
    return "\n".join(excluded)


GLOBALS = {"starter_exclusions": starter_exclusions}
