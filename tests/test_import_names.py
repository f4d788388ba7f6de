"""The import-name table behind the package-name check (extensions/data/import_names.json).

tests/test_generated_project.py compares it with real locks and real environments; here,
how it is read and how a wheel's file list becomes import names.
"""

from __future__ import annotations

import pytest

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
