"""Every Jinja filter and global that copier.yml and the templates call, by name.

Each module behind a question lists what it offers Jinja in `FILTERS` (and `GLOBALS`, for
functions called without an argument to filter); they are gathered here, in one table each,
and a name offered twice is an error rather than a silent override. extensions/hooks.py
registers the two tables. What the templates read besides the answers is not a filter: it
is computed by extensions/plan.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from . import (
    accelerators,
    ci,
    compat,
    containers,
    gitconfig,
    naming,
    orcid,
    pixi,
    platforms,
    requirements,
    research,
    slurm,
    starters,
    text,
    torch_index,
    torch_releases,
)

Functions = dict[str, Callable[..., Any]]


def gathered(*tables: Mapping[str, object]) -> Functions:
    """The tables in one; a name in two of them, or not a function, raises ValueError."""
    merged: Functions = {}
    for table in tables:
        for name, function in table.items():
            if name in merged or not callable(function):
                raise ValueError(f"Jinja name {name!r} is offered twice or is not a function")
            merged[name] = function
    return merged


FILTERS = gathered(
    text.FILTERS,
    naming.FILTERS,
    requirements.FILTERS,
    accelerators.FILTERS,
    platforms.FILTERS,
    ci.FILTERS,
    torch_releases.FILTERS,
    torch_index.FILTERS,
    pixi.FILTERS,
    slurm.FILTERS,
    containers.FILTERS,
    orcid.FILTERS,
    research.FILTERS,
    gitconfig.FILTERS,
)
GLOBALS = gathered(
    compat.GLOBALS, accelerators.GLOBALS, platforms.GLOBALS, ci.GLOBALS, starters.GLOBALS
)
