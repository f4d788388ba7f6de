"""Jinja side of the template: filters for copier.yml and the derived render context.

copier-template-extensions loads this file by path, outside any package, so the sibling
modules are imported here as a package named after this folder's location. Two versions of
the template in one process (as during `copier update`) therefore never share modules.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from copier_template_extensions import ContextHook
from jinja2 import Environment
from jinja2.ext import Extension

_HERE = Path(__file__).resolve().parent


def _extensions_package() -> str:
    name = "copier_research_ext_" + hashlib.sha1(str(_HERE).encode()).hexdigest()[:12]
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, _HERE / "__init__.py", submodule_search_locations=[str(_HERE)]
        )
        assert spec is not None and spec.loader is not None
        package = importlib.util.module_from_spec(spec)
        sys.modules[name] = package
        spec.loader.exec_module(package)
    return name


def _module(name: str) -> ModuleType:
    return importlib.import_module(f"{_extensions_package()}.{name}")


def _recovery() -> ModuleType:
    """tasks/recovery.py, loaded once per process whichever template version asks first."""
    name = "copier_research_recovery"
    if name not in sys.modules:
        path = _HERE.parent / "tasks" / "recovery.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


naming = _module("naming")
compat = _module("compat")
requirements = _module("requirements")
torch_index = _module("torch_index")
gitconfig = _module("gitconfig")
text = _module("text")
torch_releases = _module("torch_releases")
plan = _module("plan")

# Modules whose validators and defaults copier.yml calls: each may define
#   FILTERS: dict[str, Callable]   -- Jinja filters for copier.yml (validators, defaults)
#   GLOBALS: dict[str, Callable]   -- Jinja globals for copier.yml
# What the templates read is computed by extensions/plan.py, in the order it documents.
QUESTION_MODULES: tuple[str, ...] = (
    "text",
    "accelerators",
    "platforms",
    "ci",
    "slurm",
    "containers",
    "pixi",
    "orcid",
    "research",
    "starters",
)


def cache_compiles(environment: Environment) -> None:
    """Compile each template string once per Jinja environment, not once per render.

    Copier renders every question's default, help, `when` and validator, and every templated
    file name, with `from_string`, which compiles the source again on each call: ~1,600
    compiles of a few hundred distinct strings per `copier update`, a third of its own time.
    A compiled template is a code object that Jinja reuses across renders by design (its
    bytecode cache does so for files); the environment's settings never change after Copier
    creates it, so the same source always compiles to the same code.
    """
    compile_source = environment.compile
    compiled: dict[tuple[str, str | None, str | None, bool, bool], Any] = {}

    def cached_compile(
        source: Any,
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

    environment.compile = cached_compile  # type: ignore[method-assign]


def answer_error(value: str, question: str) -> str:
    """The free-text check alone, for questions with no other rule (the description)."""
    return text.text_error(question, value)


class ResearchFilters(Extension):
    """Filters and globals used by copier.yml's defaults and validators."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        cache_compiles(environment)
        _module("refusals").install()  # a refused `-d` answer: one line, not a traceback
        environment.filters.update(
            folder_name=naming.folder_name,
            package_name_from=naming.package_name_from,
            project_name_error=naming.project_name_error,
            package_name_error=naming.package_name_error,
            email_error=naming.email_error,
            author_name_error=naming.author_name_error,
            answer_error=answer_error,
            requirements_error=requirements.requirements_error,
            index_url_error=torch_index.index_url_error,
            mirror_credential_variables=torch_index.mirror_credential_variables,
            git_config=gitconfig.git_config,
            git_config_source=gitconfig.git_config_source,
            extra_name=torch_releases.extra_name,
        )
        environment.globals.update(
            python_range=compat.python_range,
        )
        for feature in (_module(name) for name in QUESTION_MODULES):
            environment.filters.update(getattr(feature, "FILTERS", {}))
            environment.globals.update(getattr(feature, "GLOBALS", {}))


class DerivedContext(ContextHook):
    """The render plan (extensions/plan.py) put into the context, field by field.

    Copier builds a fresh context for every path and file it renders, hundreds per project
    (three renders per update): the plan is made once per set of answers and reused.
    """

    _last: tuple[str, dict[str, Any]] | None = None

    def hook(self, context: dict[str, Any]) -> None:
        if context.get("_copier_phase") == "migrate":
            # An update is about to change the project: if Copier's process ends before the
            # update finishes (Ctrl-C), its exit hook prints the command that restores it.
            _recovery().watch(str(context["_copier_conf"]["dst_path"]))
        if context.get("_copier_phase") not in ("render", "tasks"):
            return  # while prompting, the answers this needs are not all known yet
        answers = sorted((k, v) for k, v in context.items() if not k.startswith("_"))
        key = repr((str(context["_copier_conf"]["dst_path"]), context["_copier_phase"], answers))
        if self._last is None or self._last[0] != key:
            self._last = (key, self.values(context))
        context.update(self._last[1])

    @staticmethod
    def values(context: dict[str, Any]) -> dict[str, Any]:
        """What the templates read besides the answers: the plan's fields by name."""
        values: dict[str, Any] = plan.make_plan(plan.Answers.from_context(context)).context()
        values["update_restore_command"] = _recovery().RESTORE
        return values
