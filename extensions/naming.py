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


# An import statement's first module, as the template's Python files (and a notebook's JSON
# source lines) write it: `import a, b as c`, `from a.b import c`; relative imports and
# `{{ package_name }}` do not start with a letter, so they are not read.
_IMPORT = re.compile(
    r'^\s*"?(?:from\s+([A-Za-z_]\w*)[\w.]*\s+import\b|import\s+([A-Za-z_][\w., ]*))', re.M
)
# The inline script metadata (PEP 723) of a script run with `uv run`: its own dependencies.
_SCRIPT_DEPENDENCIES = re.compile(r"^# dependencies = \[(.*)\]$", re.M)


@functools.cache
def project_imports() -> dict[str, str]:
    """Modules the generated project's own code imports (lowercase) -> the first file that does.

    Read from every Python file and notebook the template writes (scripts, the package, the
    tests, the set-up's kit/), and from the dependencies the scripts declare inline
    (scripts/setup_env.py runs the kit with tomlkit, packaging and python-dotenv, which the
    project itself does not install):
    a package of such a name would stand in for that module under mypy and pytest.
    """
    found: dict[str, str] = {}
    for path in sorted(TEMPLATE_FILES.rglob("*")):
        name = _JINJA.sub("", path.name).removesuffix(".jinja")
        if not name.endswith((".py", ".ipynb")) or not path.is_file():
            continue
        where = "/".join(
            _JINJA.sub("", part).removesuffix(".jinja")
            for part in path.relative_to(TEMPLATE_FILES).parts
        ).replace("{{package_name}}", "<package>")
        source = path.read_text(encoding="utf-8")
        modules = []
        for match in _IMPORT.finditer(source):
            if match[1]:
                modules.append(match[1])
            else:
                parts = [part.split() for part in match[2].split(",")]
                modules += [words[0].split(".")[0] for words in parts if words]
        for listed in _SCRIPT_DEPENDENCIES.findall(source):
            for requirement in re.findall(r'"([^"]+)"', listed):
                distribution = re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0]
                modules += import_names.table().modules_of(distribution)
        for module in modules:
            if module.isidentifier() and module != "__future__":
                # Lowercase: on macOS and Windows `tensorboardx/` would shadow tensorboardX.
                found.setdefault(module.lower(), where)
    return found


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


def kit_distribution(project_name: str) -> str:
    """The distribution name of the project's kit/ ("Protein Folding" -> "protein-folding-kit").

    The project installs it from its folder ([tool.uv.sources]). The name is the project's own,
    not one name for every project: a tool that reads no uv sources (plain `pip install -e .`)
    then finds no such package on PyPI and stops, where a shared name such as "research-kit"
    (a different package on PyPI, with the same import name) would be installed in its place.
    """
    return f"{distribution_name(project_name)}-kit"


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
    if where := project_imports().get(module.lower()):
        return f"the module '{module}' that the project's own {where} imports"
    return ""


# One plain address (RFC 5322's addr-spec without its quoted and bracketed forms): the local
# part is dot-separated runs of ASCII letters, digits and !#$%&'*+/=?^_`{|}~- ; the domain is
# dot-separated labels of letters (non-ASCII ones too: internationalised domains), digits and
# inner hyphens, ending in a top-level domain of at least two letters.
_LOCAL_CHARACTERS = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_LABEL = r"[^\W_](?:(?:[^\W_]|-)*[^\W_])?"
_ADDRESS = re.compile(
    rf"{_LOCAL_CHARACTERS}+(?:\.{_LOCAL_CHARACTERS}+)*@(?:{_LABEL}\.)+[^\W\d_]{{2,}}"
)


def email_error(email: str) -> str:
    """Empty when `email` is one plain address (or empty), else what is wrong and the fix.

    The package metadata writes `Author-email: <name> <<email>>` and CITATION.cff an
    `email:` field: a name, angle brackets or a second address in the answer would end up
    inside them.
    """
    if not email:
        return ""
    if problem := text.text_error("author_email", email):
        return problem
    if "<" in email or ">" in email:
        inside = re.search(r"<([^<>]*)>", email)
        address = inside[1].strip() if inside else "name@domain.tld"
        return (
            f"'{email}' is not an email address alone: give the address without a name or "
            f"angle brackets (e.g. '{address}'); the name comes from author_name."
        )
    if email.count("@") > 1 or re.search(r"[,;\s]", email):
        return (
            f"'{email}' is not an email address: give one address alone "
            "(name@domain.tld), without spaces, commas or semicolons."
        )
    if not email.split("@")[0].isascii():
        return (
            f"'{email}' has non-ASCII letters before the '@', which package metadata cannot "
            "carry. Give an address in ASCII, or leave it empty to skip."
        )
    if not _ADDRESS.fullmatch(email):
        return (
            f"'{email}' is not an email address (expected name@domain.tld). Leave it empty to skip."
        )
    return ""


def author_name_error(author_name: str) -> str:
    if problem := text.text_error("author_name", author_name):
        return problem
    if not author_name.strip():
        return (
            "The author name is empty (it goes into LICENSE, CITATION.cff and the package "
            "metadata). Type your name, or give it: -d author_name='Ada Lovelace'; "
            "`git config --global user.name` makes it the default."
        )
    return ""


FILTERS = {
    "folder_name": folder_name,
    "package_name_from": package_name_from,
    "project_name_error": project_name_error,
    "package_name_error": package_name_error,
    "email_error": email_error,
    "author_name_error": author_name_error,
}
