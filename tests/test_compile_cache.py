"""Each template source is compiled once per process (extensions/compile_cache.py).

Copier compiles every templated question field and file name again on each render, and
renders in a new environment over a new clone of the template each time (two or three times
per update); the template caches the compiled code across environments whose compiling is
the same. Caching must never change what renders, nor which file a traceback names.
"""

from __future__ import annotations

import traceback
from pathlib import Path

import pytest
from jinja2 import Environment, FileSystemLoader, TemplateSyntaxError

from extensions import compile_cache


def cached_environment(**settings: str) -> Environment:
    environment = Environment(**settings)
    compile_cache.cache_compiles(environment)
    return environment


def test_the_same_source_is_compiled_once() -> None:
    environment = cached_environment()
    assert environment.compile("{{ x }}") is environment.compile("{{ x }}")


def test_a_cached_template_renders_each_context_on_its_own() -> None:
    environment = cached_environment()
    assert environment.from_string("{{ x }}").render(x=1) == "1"
    assert environment.from_string("{{ x }}").render(x=2) == "2"


def test_environments_with_other_settings_do_not_share_code() -> None:
    default = cached_environment()
    brackets = cached_environment(variable_start_string="[[", variable_end_string="]]")
    assert default.from_string("[[ x ]]").render(x=1) == "[[ x ]]"
    assert brackets.from_string("[[ x ]]").render(x=1) == "1"


def test_a_syntax_error_is_raised_every_time() -> None:
    environment = cached_environment()
    for _ in range(2):
        with pytest.raises(TemplateSyntaxError):
            environment.compile("{{ x ")


def test_environments_alike_share_the_compiled_code() -> None:
    first, second = cached_environment(), cached_environment()
    assert first.compile("{{ y }} and {{ z }}") is second.compile("{{ y }} and {{ z }}")


def shout(text: str) -> str:
    return text.upper() + "!"


def whisper(text: str) -> str:
    return text.lower() + "..."


def test_environments_whose_filters_differ_do_not_share_folded_constants() -> None:
    # The optimizer calls a filter on constant arguments while compiling: the code holds
    # its result, so a filter of another name or file must compile the source again.
    loud, quiet = cached_environment(), cached_environment()
    loud.filters["tone"] = shout
    quiet.filters["tone"] = whisper
    assert loud.from_string('{{ "Hi" | tone }}').render() == "HI!"
    assert quiet.from_string('{{ "Hi" | tone }}').render() == "hi..."


def test_a_file_compiled_before_in_another_folder_names_its_own_file(tmp_path: Path) -> None:
    folders = [tmp_path / "clone-1", tmp_path / "clone-2"]
    for folder in folders:
        folder.mkdir()
        (folder / "README.md.jinja").write_text("line one\n{{ missing.attribute }}\n")
    for folder in folders:
        environment = Environment(loader=FileSystemLoader(folder))
        compile_cache.cache_compiles(environment)
        template = environment.get_template("README.md.jinja")
        with pytest.raises(Exception) as raised:
            template.render()
        frames = traceback.extract_tb(raised.value.__traceback__)
        template_frames = [(f.filename, f.lineno) for f in frames if f.filename.endswith(".jinja")]
        assert template_frames == [(str(folder / "README.md.jinja"), 2)]
