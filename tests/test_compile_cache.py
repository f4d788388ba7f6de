"""Each template string is compiled once per Jinja environment (extensions/compile_cache.py).

Copier compiles every templated question field and file name again on each render; the
template caches the compiled code per environment. Caching must never change what renders.
"""

from __future__ import annotations

import pytest
from jinja2 import Environment, TemplateSyntaxError

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
