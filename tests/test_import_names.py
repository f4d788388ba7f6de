"""The import-name table behind the package-name check (extensions/data/import_names.json).

tests/test_generated_project.py compares it with real locks and real environments; here,
how it is read and how a wheel's file list becomes import names.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from conftest import render

from extensions import import_names, naming
from tools.import_names import top_level_names


def test_wheel_files_become_top_level_import_names() -> None:
    files = [
        "numpy/__init__.py", "numpy.libs/libgfortran.so", "numpy-2.4.6.dist-info/RECORD",
        "six.py", "_cffi_backend.cpython-311-x86_64-linux-gnu.so", "distutils-precedence.pth",
        "numpy-2.4.6.data/scripts/f2py",
    ]  # fmt: skip
    assert top_level_names(files) == {"numpy", "six", "_cffi_backend"}


@pytest.mark.parametrize(
    ("module", "owner"),
    [("dotenv", "python-dotenv"), ("mypy", "mypy"), ("_pytest", "pytest"), ("PIL", "pillow"),
     ("sympy", "sympy"), ("nvidia", "nvidia-cublas"), ("triton", "triton")],
)  # fmt: skip
def test_the_table_knows_who_installs_a_module(module: str, owner: str) -> None:
    assert owner in import_names.table().owners(module)


def test_stdlib_names_of_every_offered_python_are_known() -> None:
    stdlib = import_names.table().stdlib
    assert {"tomllib", "distutils", "asyncio"} <= stdlib  # 3.11+, up to 3.11, all


def test_a_distribution_the_table_lacks_is_guessed_from_its_name() -> None:
    assert import_names.table().modules_of("Some-Package") == ("some_package",)


def test_package_name_check_uses_the_table() -> None:
    assert "python-dotenv" in naming.package_name_error("dotenv")
    assert naming.package_name_error("folding") == ""


# Variants that between them render every module the template can write (each tracker, SLURM,
# notebooks, both frameworks).
IMPORT_VARIANTS = {
    "torch-slurm-notebooks-wandb": {
        "include_slurm": True, "notebooks": True, "tracker": "wandb", "container": "both",
    },
    "torch-tensorboard": {"tracker": "tensorboard"},
    "numpy-mlflow-notebooks": {"framework": "none", "tracker": "mlflow", "notebooks": True},
}  # fmt: skip


def imported_modules(project: Path) -> dict[str, str]:
    """Top-level modules of every absolute import in the project's Python files and notebooks."""
    found: dict[str, str] = {}
    for path in sorted(project.rglob("*")):
        if path.suffix == ".py":
            sources = [path.read_text(encoding="utf-8")]
        elif path.suffix == ".ipynb":
            cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
            sources = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
        else:
            continue
        for source in sources:
            for node in ast.walk(ast.parse(source)):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    found.setdefault(name.split(".")[0], str(path.relative_to(project)))
    return found


def test_every_module_the_generated_code_imports_is_refused_as_package_name(
    tmp_path: Path,
) -> None:
    """A package named like a module that the project's own scripts, package or tests import
    (tomlkit: scripts/setup_env.py) would stand in for it under mypy; the check reads the
    template, this test reads what it renders."""
    imported: dict[str, str] = {}
    for name, answers in IMPORT_VARIANTS.items():
        project = render(tmp_path / name, skip_tasks=True, **answers)
        imported |= imported_modules(project)
    imported.pop("protein_folding")
    imported.pop("__future__")
    assert "tomlkit" in imported and "tensorboardX" in imported  # the derivation can fail
    accepted = {
        module: where
        for module, where in imported.items()
        if naming.package_name_error(module.lower()) == ""
    }
    assert accepted == {}
