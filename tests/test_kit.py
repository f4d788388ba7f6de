"""kit/: the template-owned package the generated project's set-up lives in.

Its modules import nothing but the standard library and what scripts/setup_env.py's header
declares (the wheelhouse carries that header's packages, and nothing else, for the set-up to
start on a node without network), and the modules a pixi project's plain `python` runs import
no third-party package at all. The update imports the pin rules as a module.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

import pytest
from conftest import TEMPLATE, import_kit

from tasks import dependency_merge

KIT = TEMPLATE / "template" / "kit" / "src" / "research_kit"
LAUNCHER = TEMPLATE / "template" / "scripts" / "setup_env.py"
# The import name of each distribution the launcher's header may name.
IMPORT_NAMES = {"tomlkit": "tomlkit", "packaging": "packaging", "python-dotenv": "dotenv"}
# What `python scripts/setup_env.py` runs for a pixi project, before any uv step.
PIXI_PATH = ("__init__.py", "setup/__init__.py", "setup/steps.py", "setup/pixi.py", "setup/cli.py")


def imports(path: Path, *, top_level_only: bool = False) -> set[str]:
    """The absolute top-level modules a file imports (inside functions too, unless asked)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"__future__"}


def header_imports() -> set[str]:
    header = re.search(r"^# /// script\n((?:#.*\n)*?)# ///$", LAUNCHER.read_text(), re.M)
    assert header is not None
    metadata = tomllib.loads("".join(line[2:] + "\n" for line in header[1].splitlines()))
    names = [re.split(r"[<>=!~ \[;]", item, maxsplit=1)[0] for item in metadata["dependencies"]]
    return {IMPORT_NAMES[name] for name in names}


def test_the_kit_imports_only_what_the_launcher_declares() -> None:
    modules = sorted(KIT.rglob("*.py"))
    assert len(modules) > 5
    used = set().union(*(imports(path) for path in modules))
    assert used == header_imports()  # each declared package used, none undeclared


def test_what_a_pixi_project_runs_imports_no_third_party_package_at_import() -> None:
    assert {name: imports(KIT / name, top_level_only=True) for name in PIXI_PATH} == {
        name: set() for name in PIXI_PATH
    }


def test_the_update_imports_the_pin_rules_as_a_module_of_the_template_kit() -> None:
    assert dependency_merge.pins.__name__ == "research_kit.setup.pins"
    assert Path(dependency_merge.pins.__file__) == KIT / "setup" / "pins.py"


UV_ERRORS = Path(__file__).parent / "data" / "uv-errors"
NO_PYTHON = ("lock-python-download.txt", "lock-python-never.txt", "lock-python-pyenv.txt")


@pytest.mark.parametrize("recorded", NO_PYTHON)
def test_a_python_uv_cannot_find_or_download_is_named_with_both_ways_out(
    recorded: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    steps = import_kit(TEMPLATE / "template", "research_kit.setup.steps", monkeypatch)
    hint = steps.missing_python_hint((UV_ERRORS / recorded).read_text(encoding="utf-8"))
    assert "uv needs Python 3.12" in hint
    assert "module load python/3.12" in hint  # make it visible to uv
    assert "-d python_version=X.Y" in hint  # or move the project


def test_other_uv_failures_get_no_python_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    steps = import_kit(TEMPLATE / "template", "research_kit.setup.steps", monkeypatch)
    others = sorted(set(UV_ERRORS.glob("*.txt")) - {UV_ERRORS / name for name in NO_PYTHON})
    assert others
    for recorded in others:
        assert steps.missing_python_hint(recorded.read_text(encoding="utf-8")) == "", recorded


def test_a_source_uv_cannot_build_is_named_with_what_the_build_lacks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    steps = import_kit(TEMPLATE / "template", "research_kit.setup.steps", monkeypatch)
    said = (UV_ERRORS / "sync-sdist-build.txt").read_text(encoding="utf-8")
    hint = steps.failed_build_hint(said)
    assert hint.startswith("uv could not build broken==1.0 from its source")
    assert "often a compiler or a system library" in hint


def test_other_uv_failures_get_no_build_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    steps = import_kit(TEMPLATE / "template", "research_kit.setup.steps", monkeypatch)
    others = sorted(set(UV_ERRORS.glob("*.txt")) - {UV_ERRORS / "sync-sdist-build.txt"})
    for recorded in others:
        assert steps.failed_build_hint(recorded.read_text(encoding="utf-8")) == "", recorded


def test_a_python_uv_cannot_find_is_named_where_uv_wrapped_its_words(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # uv wraps a long line (a long path) at its terminal's width, as CI's run showed.
    steps = import_kit(TEMPLATE / "template", "research_kit.setup.steps", monkeypatch)
    said = (UV_ERRORS / "lock-python-pyenv.txt").read_text(encoding="utf-8")
    wrapped = said.replace("search path at `", "search path at\n       `", 1)
    assert wrapped != said
    assert "uv needs Python 3.12" in steps.missing_python_hint(wrapped)
