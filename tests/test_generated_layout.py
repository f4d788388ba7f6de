"""Whose file it is, and how the generated package's modules import each other.

Every Python file the template owns opens with starters.TEMPLATE_OWNED (its first line says
that `copier update` replaces it); the starter files (extensions/starters.py: the
researcher's from the first copy) do not. The package's modules import each other without a
cycle, lazy imports inside functions included (the smoke test's facts and torch probe used
to import each other, one of them from inside a function). Several answer sets, rendered
without tasks.
"""

from __future__ import annotations

import ast
import fnmatch
from pathlib import Path

import pytest
from conftest import render

from extensions import starters

ANSWER_SETS = {
    "pytorch": {},
    "pytorch-slurm-mlflow-notebooks": {
        "include_slurm": True,
        "tracker": "mlflow",
        "notebooks": True,
        "package_name": "lab_tools",
    },
    "numpy-pixi-tensorboard": {
        "framework": "none",
        "env_manager": "pixi",
        "tracker": "tensorboard",
    },
    "numpy": {"framework": "none", "project_name": "Plain Numbers"},
}


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("layouts")
    return {
        name: render(root / name, skip_tasks=True, **answers)
        for name, answers in ANSWER_SETS.items()
    }


def python_files(project: Path) -> list[str]:
    return sorted(p.relative_to(project).as_posix() for p in project.rglob("*.py"))


def is_starter(path: str) -> bool:
    return any(fnmatch.fnmatch(path, pattern) for pattern in starters.STARTERS)


@pytest.mark.parametrize("answers", ANSWER_SETS)
def test_every_python_file_says_whose_it_is_on_its_first_line(
    projects: dict[str, Path], answers: str
) -> None:
    project = projects[answers]
    owned, theirs = [], []
    for path in python_files(project):
        first = (project / path).read_text(encoding="utf-8").split("\n", 1)[0]
        (theirs if is_starter(path) else owned).append((path, first))
    assert owned and theirs
    assert [path for path, first in owned if first != starters.TEMPLATE_OWNED] == []
    assert [path for path, first in theirs if "Template-owned" in first] == []


def imported_by_name(node: ast.AST) -> str | None:
    """The relative module name an `importlib.import_module(".name", __package__)` call
    imports (an import a reader and a type checker do not see), else None."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "import_module"
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
        and node.args[0].value.startswith(".")
    ):
        return node.args[0].value
    return None


def package_imports(package: Path) -> dict[str, set[str]]:
    """Each module of the package (dotted, from the package's parent) -> the package's
    modules it imports, at any depth of its code."""
    modules = {
        ".".join(p.relative_to(package.parent).with_suffix("").parts).removesuffix(".__init__"): p
        for p in package.rglob("*.py")
    }
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        here = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parent = here.split(".")[: len(here.split(".")) - node.level + 1]
                    base = ".".join([*parent, *([base] if base else [])])
                targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
            elif dynamic := imported_by_name(node):  # importlib.import_module(".x", __package__)
                level = len(dynamic) - len(dynamic.lstrip("."))
                parent = here.split(".")[: len(here.split(".")) - level + 1]
                targets = [".".join([*parent, dynamic.lstrip(".")])]
            found |= {target for target in targets if target in modules and target != name}
        graph[name] = found
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles of a graph, each as the path that closes it."""
    found, done = [], set()

    def visit(node: str, path: list[str]) -> None:
        if node in path:
            found.append([*path[path.index(node) :], node])
            return
        if node in done:
            return
        for target in sorted(graph[node]):
            visit(target, [*path, node])
        done.add(node)

    for node in sorted(graph):
        visit(node, [])
    return found


def test_the_cycle_check_finds_a_lazy_cycle(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "smoke").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "smoke" / "__init__.py").write_text("")
    (package / "smoke" / "facts.py").write_text("def gather():\n    from . import probe\n")
    (package / "smoke" / "probe.py").write_text("from .facts import gather\n")
    assert cycles(package_imports(package)) == [
        ["pkg.smoke.facts", "pkg.smoke.probe", "pkg.smoke.facts"]
    ]
    hidden = (
        'import importlib\n\ndef gather():\n    importlib.import_module(".probe", __package__)\n'
    )
    (package / "smoke" / "facts.py").write_text(hidden)
    assert cycles(package_imports(package)) == [
        ["pkg.smoke.facts", "pkg.smoke.probe", "pkg.smoke.facts"]
    ]


@pytest.mark.parametrize("answers", ANSWER_SETS)
def test_the_kit_imports_without_a_cycle(projects: dict[str, Path], answers: str) -> None:
    package = projects[answers] / "kit" / "src" / "research_kit"
    graph = package_imports(package)
    assert any(graph.values())  # the check sees the imports
    assert cycles(graph) == []


@pytest.mark.parametrize("answers", ["pytorch", "numpy"])
def test_a_runs_provenance_does_not_run_the_smoke_tests_probe(
    projects: dict[str, Path], answers: str
) -> None:
    package = projects[answers] / "kit" / "src" / "research_kit"
    name = package.name
    imported = package_imports(package)[f"{name}.provenance"]
    assert f"{name}.smoke.cli" not in imported  # where the full probe is gathered
    source = (package / "provenance.py").read_text(encoding="utf-8")
    assert "probe(" not in source and "gather(" not in source


# ── Size: the researcher's side is short, the machinery stays in kit/ ──────

# Python lines under src/ and scripts/ (the researcher's package and the commands), at most.
RESEARCHERS_SIDE = {"numpy": 1_000, "pytorch": 1_500}
# kit/src at most: today's size (NumPy 5,086 lines, PyTorch 5,681) and about 5 % more, so that
# the machinery cannot silently grow back.
KIT_CEILING = {"numpy": 5_350, "pytorch": 5_950}


def python_lines(*folders: Path) -> int:
    return sum(
        len(path.read_text(encoding="utf-8").splitlines())
        for folder in folders
        for path in folder.rglob("*.py")
    )


@pytest.mark.parametrize("answers", RESEARCHERS_SIDE)
def test_the_researchers_side_of_the_project_is_short(
    projects: dict[str, Path], answers: str
) -> None:
    project = projects[answers]
    assert python_lines(project / "src", project / "scripts") <= RESEARCHERS_SIDE[answers]


@pytest.mark.parametrize("answers", KIT_CEILING)
def test_the_machinery_in_kit_does_not_grow_back(projects: dict[str, Path], answers: str) -> None:
    assert python_lines(projects[answers] / "kit" / "src") <= KIT_CEILING[answers]


@pytest.mark.parametrize("answers", ANSWER_SETS)
def test_the_package_holds_science_only(projects: dict[str, Path], answers: str) -> None:
    """No machinery module in the researcher's package: it is all in kit/."""
    (package,) = [p.parent for p in (projects[answers] / "src").glob("*/__init__.py")]
    modules = {path.name for path in package.rglob("*.py")}
    assert modules <= {"__init__.py", "models.py", "training.py", "regression.py"}
