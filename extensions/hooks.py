"""The template's two Jinja extensions, as copier.yml's `_jinja_extensions` names them.

- `ResearchFilters` gives Jinja the filters and globals that copier.yml and the templates
  call (extensions/filters.py), caches compiles (extensions/compile_cache.py), and has a
  refused `-d` answer printed as one line (extensions/refusals.py).
- `DerivedContext` puts the render plan (extensions/plan.py) into Copier's context: it turns
  Copier's context into `plan.Answers`, and the plan's fields into context values.

copier-template-extensions imports this file by its path, outside any package. The modules
beside it are imported as a package named after this folder's path: during `copier update`
the old and the new template render in one process, and each keeps its own modules (a
question renamed between the two versions is read by each under its own name). That package
is named here, not by extensions/loader.py, because the loader is one of its modules.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from copier_template_extensions import ContextHook
from jinja2 import Environment
from jinja2.ext import Extension

_HERE = Path(__file__).resolve().parent


def _package() -> str:
    """This folder, imported as a package named after its path (once per process)."""
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


if TYPE_CHECKING:  # as a reader and a type checker see them
    from tasks import recovery

    from . import compile_cache, filters, loader, plan, refusals
else:  # the same modules, from this template version's package
    compile_cache, filters, loader, plan, refusals = (
        importlib.import_module(f"{_package()}.{name}")
        for name in ("compile_cache", "filters", "loader", "plan", "refusals")
    )
    # recovery.py registers an exit hook: one copy per process, whichever version asks.
    recovery = loader.load(_HERE.parent / "tasks" / "recovery.py", "copier_research_recovery")


class ResearchFilters(Extension):
    """The filters and globals of extensions/filters.py, and the compile cache."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        compile_cache.cache_compiles(environment)
        refusals.install()  # a refused `-d` answer: one line, not a traceback
        environment.filters.update(filters.FILTERS)
        environment.globals.update(filters.GLOBALS)


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
            recovery.watch(str(context["_copier_conf"]["dst_path"]))
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
        values = plan.make_plan(plan.Answers.from_context(context)).context()
        values["update_restore_command"] = recovery.RESTORE
        return values
