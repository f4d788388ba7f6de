"""Each template source compiled once per process, however many renders ask for it.

Copier renders every question's default, help, `when` and validator, and every templated
file name, with `Environment.from_string`, which compiles the source again on each call, and
it renders the template two or three times per `copier update` (and once per project in a
test run), each time in a new Jinja environment over a new clone of the template. A compiled
template is a code object that Jinja reuses across renders by design; two environments compile
the same source to the same code when everything compiling reads is the same:

- the syntax: delimiters, whitespace handling and newline settings (the lexer's settings),
  and the extensions, which add tags;
- the code generator's settings (optimized, finalize, is_async) and the autoescape decision;
- the filters and tests themselves: the optimizer calls them on constant arguments at
  compile time. Each is identified by its file's content and its qualified name, so the same
  filters.py in two clones of one release counts as the same, and a release that changed it
  does not.

The code keeps the file name it was compiled under (tracebacks name the file); a hit for
another file (the same file in another clone) gets its own copy relabelled with that name.
Copier creates the environments itself, so the cache wraps each one's `compile` method; the
store is process-wide, found in sys.modules, so that every template version's copy of this
module uses one store.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import os
import sys
import types
from collections.abc import Callable, Hashable, Mapping
from typing import Any

from jinja2 import Environment, nodes

_STORE = "copier_research_compile_store"  # one per process, whichever template version asks


def _store() -> dict[Hashable, Any]:
    holder = sys.modules.get(_STORE)
    if holder is None:
        holder = sys.modules[_STORE] = types.ModuleType(_STORE)
    compiled: dict[Hashable, Any] = holder.__dict__.setdefault("compiled", {})
    return compiled


def _file_digest(path: str) -> str:
    """The file's content, as a digest read once per version of the file."""
    status = os.stat(path)
    return _content_digest(path, status.st_mtime_ns, status.st_size)


@functools.cache
def _content_digest(path: str, modified: int, size: int) -> str:
    with open(path, "rb") as file:
        return hashlib.sha1(file.read()).hexdigest()


def _callable_identity(function: Any) -> Hashable:
    """What a filter or test is: its qualified name and its file's content (a partial: what
    it wraps, and its arguments), else itself."""
    if isinstance(function, functools.partial):
        arguments = [*function.args, *sorted(function.keywords.items())]
        return ("partial", _callable_identity(function.func), _argument_identity(arguments))
    try:
        path = inspect.getsourcefile(function)
        if path is not None:
            return (getattr(function, "__qualname__", repr(function)), _file_digest(path))
    except (OSError, TypeError):  # built in, or a partial: no file to read
        pass
    return id(function)


def _argument_identity(value: Any) -> Hashable:
    """A partial's argument: a function as `_callable_identity` sees it, else its repr."""
    if isinstance(value, (list, tuple)):
        return tuple(_argument_identity(item) for item in value)
    return _callable_identity(value) if callable(value) else repr(value)


def _callables(table: Mapping[str, Any]) -> Hashable:
    return tuple(sorted((name, _callable_identity(f)) for name, f in table.items()))


def _settings(environment: Environment) -> Hashable:
    """Everything besides the source that decides what `environment.compile` makes."""
    lexer = (
        environment.block_start_string,
        environment.block_end_string,
        environment.variable_start_string,
        environment.variable_end_string,
        environment.comment_start_string,
        environment.comment_end_string,
        environment.line_statement_prefix,
        environment.line_comment_prefix,
        environment.trim_blocks,
        environment.lstrip_blocks,
        environment.newline_sequence,
        environment.keep_trailing_newline,
    )
    extensions = tuple(sorted(environment.extensions))
    autoescape = _callable_identity(environment.autoescape)
    finalize = None if environment.finalize is None else _callable_identity(environment.finalize)
    generator = (environment.optimized, environment.is_async, autoescape, finalize)
    return (
        lexer,
        extensions,
        generator,
        _callables(environment.filters),
        _callables(environment.tests),
    )


def _relabelled(code: Any, filename: str) -> Any:
    """`code` (and the code objects inside it) as compiled under `filename`."""
    if not isinstance(code, types.CodeType) or code.co_filename == filename:
        return code
    consts = tuple(_relabelled(const, filename) for const in code.co_consts)
    return code.replace(co_filename=filename, co_consts=consts)


def cache_compiles(environment: Environment) -> None:
    """Make `environment.compile` return the code compiled before for the same source and
    settings, in this environment or another."""
    compile_source: Callable[..., Any] = environment.compile
    store = _store()
    # The settings for the filters and tests last seen (by identity): read at each compile,
    # since Copier and the extensions add filters after the environment is made.
    known: dict[tuple[tuple[str | int, ...], ...], Hashable] = {}

    def settings() -> Hashable:
        seen = tuple(
            (*table, *map(id, table.values())) for table in (environment.filters, environment.tests)
        )
        if seen not in known:
            known.clear()
            known[seen] = _settings(environment)
        return known[seen]

    def cached_compile(
        source: str | nodes.Template,
        name: str | None = None,
        filename: str | None = None,
        raw: bool = False,
        defer_init: bool = False,
    ) -> Any:
        if not isinstance(source, str):  # a parsed node tree: nothing to key on
            return compile_source(source, name, filename, raw, defer_init)
        key = (settings(), source, name, raw, defer_init)
        if key not in store:
            store[key] = compile_source(source, name, filename, raw, defer_init)
        return _relabelled(store[key], filename or "<template>")

    # Assigning to a method is the point: this environment's instance gets the cache.
    environment.compile = cached_compile  # type: ignore[method-assign]
