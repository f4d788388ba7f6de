"""Names derived from the answers, and the checks that keep them importable."""

from __future__ import annotations

import keyword
import re
import sys
from pathlib import Path

from packaging.utils import canonicalize_name

# Import names a project package must never take: they are what the generated project
# itself imports or runs, so a package of that name would shadow them.
RESERVED_IMPORT_NAMES = frozenset(
    {
        "torch", "torchvision", "torchaudio", "numpy", "dotenv", "pytest", "ruff",
        "test", "tests", "scripts", "src", "setup", "site", "conftest",
    }
)  # fmt: skip

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


def folder_name(path: str) -> str:
    """The name of the destination folder, the natural default project name."""
    return Path(path).resolve().name


def package_name_from(project_name: str) -> str:
    """The default import name of a project ("My GPU Lab" -> "my_gpu_lab")."""
    name = re.sub(r"[^0-9a-zA-Z]+", "_", project_name.strip()).strip("_").lower()
    if name and name[0].isdigit():
        name = f"project_{name}"
    return name


def distribution_name(project_name: str) -> str:
    """The PyPI-style name of the project ("Protein Folding" -> "protein-folding")."""
    return re.sub(r"[^a-z0-9]+", "-", project_name.lower()).strip("-")


def distribution_import_name(requirement_name: str) -> str:
    """Best guess of the module a distribution installs ("python-dotenv" -> "python_dotenv")."""
    return canonicalize_name(requirement_name).replace("-", "_")


def project_name_error(project_name: str) -> str:
    if not project_name.strip():
        return "The project name is empty. Type a name, e.g. 'protein-folding'."
    if not re.search(r"[A-Za-z]", project_name):
        return f"'{project_name}' has no letter in it. Use a name such as 'protein-folding'."
    return ""


def package_name_error(package_name: str) -> str:
    """Empty when `package_name` is a safe import name, else what is wrong and how to fix it."""
    if not package_name:
        return (
            "The package name is empty. Use lowercase letters, digits and '_', e.g. 'my_project'."
        )
    if not _IDENTIFIER.match(package_name):
        suggestion = package_name_from(package_name) or "my_project"
        return (
            f"'{package_name}' is not a valid lowercase Python identifier "
            f"(letters, digits and '_', not starting with a digit). Try '{suggestion}'."
        )
    if keyword.iskeyword(package_name) or keyword.issoftkeyword(package_name):
        return f"'{package_name}' is a Python keyword. Try '{package_name}_lib'."
    if package_name in RESERVED_IMPORT_NAMES or package_name in sys.stdlib_module_names:
        return (
            f"'{package_name}' would shadow the module '{package_name}' that the project "
            f"imports. Try '{package_name}_research' or another name."
        )
    return ""


def email_error(email: str) -> str:
    if not email:
        return ""
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        return (
            f"'{email}' is not an email address (expected name@domain.tld). Leave it empty to skip."
        )
    return ""
