"""Each template string compiled once per Jinja environment, not once per render.

Copier renders every question's default, help, `when` and validator, and every templated
file name, with `Environment.from_string`, which compiles the source again on each call:
~1,600 compiles of a few hundred distinct strings per `copier update`, a third of Copier's
own time (docs/benchmarks.md). A compiled template is a code object that Jinja reuses across
renders by design (its bytecode cache does so for templates read from files, not for
strings); the environment's settings never change after Copier creates it, so the same
source always compiles to the same code. Copier creates the environment itself, so the cache
wraps that environment's `compile` method rather than subclassing Environment.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jinja2 import Environment, nodes


def cache_compiles(environment: Environment) -> None:
    """Make `environment.compile` return the code it compiled before for the same source."""
    # Jinja types compile() by `raw` (code, or Python source when raw=True); the cache passes
    # every argument through unchanged, so it returns whichever the caller asked for.
    compile_source: Callable[..., Any] = environment.compile
    compiled: dict[tuple[str, str | None, str | None, bool, bool], Any] = {}

    def cached_compile(
        source: str | nodes.Template,
        name: str | None = None,
        filename: str | None = None,
        raw: bool = False,
        defer_init: bool = False,
    ) -> Any:
        if not isinstance(source, str):  # a parsed node tree: nothing to key on
            return compile_source(source, name, filename, raw, defer_init)
        key = (source, name, filename, raw, defer_init)
        if key not in compiled:
            compiled[key] = compile_source(source, name, filename, raw, defer_init)
        return compiled[key]

    # Assigning to a method is the point: this environment's instance gets the cache.
    environment.compile = cached_compile  # type: ignore[method-assign]
