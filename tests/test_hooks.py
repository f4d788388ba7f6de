"""The Jinja side of the template (extensions/hooks.py): one table of filters and globals, and
each template version's own modules when two are in one process (`copier update`)."""

from __future__ import annotations

import ast
import importlib
import shutil
from pathlib import Path

import pytest

from extensions import filters
from extensions.loader import load

ROOT = Path(__file__).resolve().parent.parent


def test_a_name_offered_twice_is_an_error() -> None:
    with pytest.raises(ValueError, match="'shell_quote' is offered twice"):
        filters.gathered({"shell_quote": str}, {"shell_quote": repr})


def test_every_modules_jinja_names_are_registered() -> None:
    """A module's FILTERS or GLOBALS that filters.py does not gather would be unknown to Jinja."""
    for path in sorted((ROOT / "extensions").glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Name) and target.id in ("FILTERS", "GLOBALS"):
                        module = importlib.import_module(f"extensions.{path.stem}")
                        table = getattr(filters, target.id)
                        offered = getattr(module, target.id)
                        assert offered.keys() <= table.keys(), (path.name, target.id)


def test_jinja_is_given_each_name_one_way() -> None:
    """Only hooks.py touches Jinja's tables, and only with filters.py's."""
    for path in sorted((ROOT / "extensions").glob("*.py")):
        text = path.read_text()
        if path.name != "hooks.py":
            assert ".filters.update" not in text and ".globals.update" not in text, path.name
    hooks = (ROOT / "extensions" / "hooks.py").read_text()
    assert hooks.count(".filters.update(") == 1 and hooks.count(".globals.update(") == 1


def template_copy(folder: Path) -> Path:
    """The parts of the template its Jinja extensions read, copied to `folder`."""
    for part in ("extensions", "tasks", "template/src", "template/kit"):
        shutil.copytree(ROOT / part, folder / part, ignore=shutil.ignore_patterns("__pycache__"))
    return folder


def test_two_template_versions_in_one_process_keep_their_own_modules(tmp_path: Path) -> None:
    old = template_copy(tmp_path / "old")
    new = template_copy(tmp_path / "new")
    (new / "extensions" / "compat.py").write_text(
        (new / "extensions" / "compat.py").read_text() + '\nRELEASE = "new"\n'
    )
    # As copier-template-extensions imports them: by path, under one name, one after the other.
    old_hooks = load(old / "extensions" / "hooks.py", "hooks_of_the_old_template")
    new_hooks = load(new / "extensions" / "hooks.py", "hooks_of_the_new_template")
    assert old_hooks.plan is not new_hooks.plan
    assert Path(old_hooks.plan.__file__).is_relative_to(old)
    assert Path(new_hooks.plan.__file__).is_relative_to(new)
    assert not hasattr(old_hooks.plan.compat, "RELEASE")
    assert new_hooks.plan.compat.RELEASE == "new"
    assert (
        old_hooks.plan.accelerators.detect.machine is not new_hooks.plan.accelerators.detect.machine
    )
    # The exit hook that reports an unfinished update is registered once per process.
    assert old_hooks.recovery is new_hooks.recovery
