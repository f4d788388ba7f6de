"""Names derived from the answers, and the checks that keep them importable and installable."""

from __future__ import annotations

import functools
import keyword
import re
import unicodedata
from pathlib import Path

from . import import_names, text

TEMPLATE_FILES = Path(__file__).resolve().parent.parent / "template"

# Folder and module names of the project itself (beyond its scripts and tests, read from
# the template below): a package of that name would be shadowed by, or shadow, them.
LAYOUT_NAMES = frozenset({"test", "tests", "scripts", "src", "setup", "site", "conftest"})

_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")
_JINJA = re.compile(r"\{%.*?%\}")


@functools.cache
def project_module_names() -> frozenset[str]:
    """Module names of the generated scripts and tests (`smoke_test`, `test_config`, ...).

    mypy checks scripts/ and tests/ with the package, and pytest imports each test file by
    its name: a package called `smoke_test` or `test_config` would collide with one.
    """
    names = set(LAYOUT_NAMES)
    for folder in ("scripts", "tests"):
        for path in (TEMPLATE_FILES / folder).rglob("*"):
            name = _JINJA.sub("", path.name).removesuffix(".jinja")
            if name.endswith(".py"):
                names.add(name.removesuffix(".py"))
    return frozenset(names)


def _ascii_folded(name: str) -> str:
    """Accents dropped ("Café" -> "Cafe"), so a name keeps its letters in ASCII."""
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def folder_name(path: str) -> str:
    """The name of the destination folder, the natural default project name."""
    return Path(path).resolve().name


def package_name_from(project_name: str) -> str:
    """The default import name of a project ("My GPU Lab" -> "my_gpu_lab")."""
    folded = _ascii_folded(project_name.strip())
    name = re.sub(r"[^0-9a-zA-Z]+", "_", folded).strip("_").lower()
    if name and name[0].isdigit():
        name = f"project_{name}"
    return name[: text.MAX_LENGTH["package_name"]].rstrip("_")


def distribution_name(project_name: str) -> str:
    """The PyPI-style name of the project ("Protein Folding" -> "protein-folding")."""
    return re.sub(r"[^a-z0-9]+", "-", _ascii_folded(project_name).lower()).strip("-")


def default_module_name(project_name: str) -> str:
    """The module uv_build looks for when not told: the distribution name with '_'."""
    return distribution_name(project_name).replace("-", "_")


def project_name_error(project_name: str) -> str:
    if problem := text.text_error("project_name", project_name):
        return problem
    if not project_name.strip():
        return "The project name is empty. Type a name, e.g. 'protein-folding'."
    distribution = distribution_name(project_name)
    if not re.search(r"[a-z]", distribution):
        return (
            f"'{project_name}' has no Latin letter in it, which the package metadata needs "
            "(its name on PyPI). Add one, e.g. 'protein-folding'."
        )
    table = import_names.table()
    if distribution in table.distributions:
        return (
            f"'{project_name}' would be named '{distribution}' on PyPI, like the package "
            f"'{distribution}' that the project installs; uv cannot install a project that "
            f"depends on its namesake. Try '{project_name} study' or another name."
        )
    return ""


def package_name_error(package_name: str) -> str:
    """Empty when `package_name` is a safe import name, else what is wrong and how to fix it."""
    if not package_name:
        return (
            "The package name is empty. Use lowercase letters, digits and '_', e.g. 'my_project'."
        )
    if problem := text.text_error("package_name", package_name):
        return problem
    if not _IDENTIFIER.fullmatch(package_name):
        suggestion = package_name_from(package_name) or "my_project"
        return (
            f"'{package_name}' is not a valid lowercase Python identifier "
            f"(letters, digits and '_', not starting with a digit). Try '{suggestion}'."
        )
    if keyword.iskeyword(package_name) or keyword.issoftkeyword(package_name):
        return f"'{package_name}' is a Python keyword. Try '{package_name}_lib'."
    if reason := shadowed(package_name):
        return (
            f"'{package_name}' would shadow {reason}. Try '{package_name}_research' "
            "or another name."
        )
    return ""


def shadowed(module: str) -> str:
    """What a top-level package named `module` would shadow in the project, or ""."""
    table = import_names.table()
    if module in project_module_names():
        return f"the project's own '{module}' (a folder, script or test module)"
    if module in table.stdlib:
        return f"the standard library's module '{module}'"
    if owners := table.owners(module):
        return (
            f"the module '{module}' of {', '.join(owners)}, which the project installs "
            "(its dependencies, or the tools it runs: pytest, ruff, mypy)"
        )
    return ""


def email_error(email: str) -> str:
    if not email:
        return ""
    if problem := text.text_error("author_email", email):
        return problem
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        return (
            f"'{email}' is not an email address (expected name@domain.tld). Leave it empty to skip."
        )
    return ""


def author_name_error(author_name: str) -> str:
    if problem := text.text_error("author_name", author_name):
        return problem
    if not author_name.strip():
        return "The author name is empty. Type your name."
    return ""


FILTERS = {
    "folder_name": folder_name,
    "package_name_from": package_name_from,
    "project_name_error": project_name_error,
    "package_name_error": package_name_error,
    "email_error": email_error,
    "author_name_error": author_name_error,
}
