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
  does not. A filter that reads the machine (git's config) takes the context, which Jinja
  never calls while compiling (extensions/gitconfig.py).

The code keeps the file name it was compiled under (tracebacks name the file); a hit for
another file (the same file in another clone) gets its own copy relabelled with that name.
Copier creates the environments itself, so the cache wraps each one's `compile` method; the
store is process-wide, found in sys.modules, so that every template version's copy of this
module uses one store.

The code is also kept on disk, as Python keeps bytecode in __pycache__, so that the next
process (the next `copier copy` or `copier update`) does not compile it again: a folder per
set of settings (in effect, per template release), a file per source, named by SHA-256, in
the user's cache folder (platformdirs, which Copier depends on; COPIER_RESEARCH_CACHE_DIR
chooses another, an empty value turns it off). The key on disk is the same key, plus what
only a process fixes: the Python (its bytecode tag) and Jinja's version. It is written only
when every part of it names its object by content or by module and name, never by its place
in memory. A file that cannot be read or written is passed over: the source is compiled, as
without a cache. A settings folder nothing was written into for UNUSED_DAYS goes when a new
one is made, so the cache holds the releases in use.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import inspect
import marshal
import os
import shutil
import sys
import tempfile
import time
import types
from collections.abc import Callable, Hashable, Mapping
from pathlib import Path
from typing import Any

import jinja2
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


class _InMemory(int):
    """An identity by place in memory (id()): good within one process, never written to disk."""


def _callable_identity(function: Any) -> Hashable:
    """What a filter or test is: its qualified name and its file's content (a partial: what
    it wraps, and its arguments); built in (C, or a frozen module of Python's): its module
    and name, fixed by the Python and the package's version; not callable: its repr; else
    itself."""
    if not callable(function):
        return ("value", repr(function))
    if isinstance(function, functools.partial):
        arguments = [*function.args, *sorted(function.keywords.items())]
        return ("partial", _callable_identity(function.func), _argument_identity(arguments))
    try:
        path = inspect.getsourcefile(function)
        if path is not None:
            return (getattr(function, "__qualname__", repr(function)), _file_digest(path))
    except (OSError, TypeError):  # built in, or a partial: no file to read
        pass
    module, name = getattr(function, "__module__", None), getattr(function, "__qualname__", None)
    if isinstance(module, str) and isinstance(name, str) and "<" not in name:
        package = sys.modules.get(module.split(".")[0])
        return ("built-in", module, name, str(getattr(package, "__version__", "")))
    return _InMemory(id(function))


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
    extensions = tuple(
        (name, _callable_identity(type(extension)))
        for name, extension in sorted(environment.extensions.items())
    )
    autoescape = _callable_identity(environment.autoescape)
    finalize = None if environment.finalize is None else _callable_identity(environment.finalize)
    generator = (environment.optimized, environment.is_async, autoescape, finalize)
    kind = (
        _callable_identity(type(environment)),
        environment.sandboxed,
        _callable_identity(environment.code_generator_class),
    )
    return (
        kind,
        lexer,
        extensions,
        generator,
        _callables(environment.filters),
        _callables(environment.tests),
    )


def _in_memory_only(identity: Hashable) -> bool:
    """Whether some part of `identity` is a place in memory."""
    if isinstance(identity, _InMemory):
        return True
    return isinstance(identity, tuple) and any(_in_memory_only(part) for part in identity)


# ── On disk ─────────────────────────────────────────────────────────────────

CACHE_DIR_VARIABLE = "COPIER_RESEARCH_CACHE_DIR"
_MAGIC = importlib.util.MAGIC_NUMBER  # marshal's format is the Python's


def cache_folder() -> Path | None:
    """Where compiled code is kept for this Python and Jinja; None: not on disk."""
    chosen = os.environ.get(CACHE_DIR_VARIABLE)
    if chosen == "":
        return None
    if chosen is None:
        from platformdirs import user_cache_dir  # Copier's dependency

        chosen = user_cache_dir("copier-research", appauthor=False)
    tag = sys.implementation.cache_tag or "python"
    return Path(chosen) / "jinja" / f"{tag}-jinja{jinja2.__version__}"


def _digest(value: Hashable) -> str:
    return hashlib.sha256(repr(value).encode("utf-8", "surrogatepass")).hexdigest()


def _read(folder: Path, name: str) -> Any:
    """The code kept as `name`, or None."""
    try:
        data = (folder / name).read_bytes()
        if data[: len(_MAGIC)] == _MAGIC:
            return marshal.loads(data[len(_MAGIC) :])
    except (OSError, ValueError, EOFError, TypeError):
        pass
    return None


# A folder of settings (a template release, with its filters) that no process has added to
# for this long is removed when another is made: the cache holds the releases in use.
UNUSED_DAYS = 60


def _prune(folders: Path, made: Path) -> None:
    """Remove the settings folders beside `made` that nothing was written into lately."""
    oldest = time.time() - UNUSED_DAYS * 24 * 3600
    try:
        for entry in os.scandir(folders):
            if entry.is_dir() and entry.path != str(made) and entry.stat().st_mtime < oldest:
                shutil.rmtree(entry.path, ignore_errors=True)
    except OSError:
        pass


def _write(folder: Path, name: str, code: Any) -> None:
    """Keep `code` as `name`: written whole or not at all (another process may read it)."""
    try:
        if not folder.is_dir():
            folder.mkdir(parents=True, exist_ok=True)
            _prune(folder.parent, folder)
        handle, scratch = tempfile.mkstemp(dir=folder, prefix=f".{name}.")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(_MAGIC + marshal.dumps(code))
            os.replace(scratch, folder / name)
        except BaseException:
            Path(scratch).unlink(missing_ok=True)
            raise
    except (OSError, ValueError):
        pass


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
    folder = cache_folder()
    # The settings for the filters and tests last seen (by identity): read at each compile,
    # since Copier and the extensions add filters after the environment is made. With them,
    # their digest for the file names on disk (None: they are kept in memory only).
    known: dict[tuple[tuple[str | int, ...], ...], tuple[Hashable, str | None]] = {}

    def settings() -> tuple[Hashable, str | None]:
        seen = tuple(
            (*table, *map(id, table.values())) for table in (environment.filters, environment.tests)
        )
        if seen not in known:
            known.clear()
            made = _settings(environment)
            known[seen] = (made, None if _in_memory_only(made) else _digest(made))
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
        made, digest = settings()
        key = (made, source, name, raw, defer_init)
        if key not in store:
            disk = folder / digest[:24] if folder is not None and digest is not None else None
            disk_name = _digest((source, name, raw, defer_init)) if disk else ""
            code = _read(disk, disk_name) if disk else None
            if code is None:
                code = compile_source(source, name, filename, raw, defer_init)
                if disk:
                    _write(disk, disk_name, code)
            store[key] = code
        return _relabelled(store[key], filename or "<template>")

    # Assigning to a method is the point: this environment's instance gets the cache.
    environment.compile = cached_compile  # type: ignore[method-assign]
