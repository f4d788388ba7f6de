"""Hostile free text through every format it lands in (hypothesis).

Every free-text answer is generated from quotes, backslashes, `\"\"\"`, shell and Markdown
syntax, Jinja, Apptainer section names, non-ASCII look-alikes, wide characters and
joiners; each carries a marker word, so the test can tell where it landed. Answers the
questions refuse never get here (tests/test_validators.py covers refusals; the property
at the end checks that every line break and control character is refused). For each
accepted set of answers the template is rendered with copier (tasks skipped), and:

- every file parses as its format (TOML, YAML, Python, shell, .env, Dockerfile, Apptainer,
  Markdown), and reads back the answer where it quotes it;
- each answer's marker appears only in the files that answer belongs in;
- with an environment shared across examples (the real CPU torch and the dev tools,
  installed once), the project passes its own ruff check and ruff format --check and, in
  fewer examples (mypy and importing torch take seconds), strict mypy, and pytest collects
  its tests.

The renders use PyTorch with SLURM and both container recipes, so every file that quotes
an answer is rendered.
"""

from __future__ import annotations

import ast
import functools
import io
import json
import os
import string
import subprocess
import tempfile
import tomllib
import unicodedata
from pathlib import Path
from typing import Any

import copier
import pytest
import yaml
from conftest import TEMPLATE, with_base
from dockerfile_parse import DockerfileParser
from dotenv.parser import parse_stream
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from packaging.requirements import Requirement
from spython.main.parse.parsers import SingularityParser

from extensions import naming, orcid, requirements, research, slurm, text, torch_index

# Bounded: each example renders a project (about a second); the slow checks run fewer.
RENDER_EXAMPLES = int(os.environ.get("ANSWERS_RENDER_EXAMPLES", "25"))
CHECK_EXAMPLES = int(os.environ.get("ANSWERS_CHECK_EXAMPLES", "4"))
SETTINGS = {
    "deadline": None,
    "derandomize": bool(os.environ.get("CI")),  # CI replays the same examples every run
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
}

# Look-alikes are written as escapes here: this file's own ruff would flag them.
HOSTILE_CHARACTERS = [
    *"\"'\\`$#%{}[]<>|&;*_~!=-+.,:()@/?^ ",
    "é", "ü", "ß", "\u2019", "\u201c", "\u03b1", "\u00d7", "\u2013", "中", "文", "🧬",
    "\u200d", "\u00a0", "\u3000",
]  # fmt: skip
HOSTILE_FRAGMENTS = [
    '"""', "'''", "${HOME}", "$(id)", "`id`", "%post", "%help", "{{ x }}", "{% raw %}",
    "# noqa", "# type: ignore", "\\n", "--", "<script>", "[x](y)", "__", "1.", "- ", "> ",
    "&amp;", "UV_INDEX_URL=x", "\\", "#SBATCH --qos=x", "\\u00e9",
]  # fmt: skip

# A word only the answer carries, to find where it landed (case-sensitive: the derived
# names, lowercased, are not the answer).
MARKERS = {
    "project_name": "QzXname",
    "description": "QzXdesc",
    "author_name": "QzXauth",
    "author_email": "QzXmail",
    "torch_index_url": "QzXurl",
    "extra_dependencies": "QzXreq",
    "slurm_partition": "QzXpart",
    "slurm_account": "QzXacct",
}
# The files each answer belongs in (the answers file records every answer).
ALLOWED = {
    "project_name": {
        "README.md", "CITATION.cff", "src/{package}/__init__.py", ".env.example", "Dockerfile",
        "apptainer.def", "scripts/slurm/train-single-node.sbatch",
        "scripts/slurm/train-multi-node.sbatch", "scripts/slurm/sweep.sbatch", "AGENTS.md",
        ".devcontainer/devcontainer.json", ".devcontainer/Dockerfile",
    },
    "description": {
        "README.md", "CITATION.cff", "src/{package}/__init__.py", "pyproject.toml",
        "apptainer.def",
    },
    "author_name": {"CITATION.cff", "pyproject.toml", "LICENSE"},
    "author_email": {"CITATION.cff", "pyproject.toml"},
    "torch_index_url": {"pyproject.toml", "README.md"},
    "extra_dependencies": {"pyproject.toml"},
    "slurm_partition": {
        "README.md", "scripts/slurm/train-single-node.sbatch",
        "scripts/slurm/train-multi-node.sbatch", "scripts/slurm/sweep.sbatch",
    },
    "slurm_account": {
        "README.md", "scripts/slurm/train-single-node.sbatch",
        "scripts/slurm/train-multi-node.sbatch", "scripts/slurm/sweep.sbatch",
    },
}  # fmt: skip
ANSWERS_FILE = ".copier-answers.yml"

# ── Strategies ───────────────────────────────────────────────────────────────

hostile = st.lists(
    st.one_of(
        st.sampled_from(HOSTILE_CHARACTERS),
        st.sampled_from(HOSTILE_FRAGMENTS),
        st.text(string.ascii_letters, min_size=1, max_size=6),
    ),
    max_size=8,
).map("".join)


def around(marker: str, limit: int) -> st.SearchStrategy[str]:
    """Hostile text on both sides of `marker`, at most `limit` characters."""
    return st.tuples(hostile, hostile).map(lambda pair: f"{pair[0]} {marker} {pair[1]}"[:limit])


def accepted(strategy: st.SearchStrategy[str], check: Any) -> st.SearchStrategy[str]:
    return strategy.filter(lambda value: check(value) == "")


def requirement_text() -> st.SearchStrategy[str]:
    """A few PEP 508 requirements with extras, specifiers and markers, quotes of both kinds."""
    name = st.sampled_from(["rich", "einops", "QzXreq-tools", "xarray", "Pint"])
    extras = st.lists(st.sampled_from(["io", "parallel", "all"]), max_size=2, unique=True)
    spec = st.sampled_from(["", ">=1", ">=2,<4", "~=1.2", "!=1.5.*"])
    marker = st.sampled_from(
        ["", "; sys_platform == 'linux'", '; python_version >= "3.10"',
         "; platform_machine != \"arm64\" and os_name == 'posix'"]
    )  # fmt: skip
    one = st.tuples(name, extras, spec, marker).map(
        lambda t: f"{t[0]}{'[' + ','.join(t[1]) + ']' if t[1] else ''}{t[2]}{t[3]}"
    )
    return st.lists(one, max_size=3, unique_by=lambda r: Requirement(r).name.lower()).map(", ".join)


PACKAGE = st.from_regex(r"[a-z][a-z0-9_]{0,31}", fullmatch=True).filter(
    lambda name: naming.package_name_error(name) == ""
)
SLURM_NAME = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,10}", fullmatch=True)


@st.composite
def answers(draw: st.DrawFn) -> dict[str, Any]:
    project_name = draw(accepted(around(MARKERS["project_name"], 64), naming.project_name_error))
    url_path = draw(st.from_regex(r"[A-Za-z0-9._~!$&'()*+,;=:@%-]{0,12}", fullmatch=True))
    index_url = f"https://mirror.example.org/{url_path}/{MARKERS['torch_index_url']}/whl"
    assume(torch_index.index_url_error(index_url, "cpu") == "")
    package = draw(PACKAGE)
    return {
        "project_name": project_name,
        "package_name": package,
        "description": draw(
            accepted(
                around(MARKERS["description"], 300), lambda v: text.text_error("description", v)
            )
        ),
        "author_name": draw(
            accepted(around(MARKERS["author_name"], 100), naming.author_name_error)
        ),
        "author_email": draw(
            st.sampled_from(["", f"{MARKERS['author_email']}+x@uni.example.ac.uk"])
        ),
        "orcid": draw(
            st.sampled_from(["", "0000-0002-1825-0097", "orcid.org/0000-0002-1694-233x"])
        ),
        "torch_index_url": index_url,
        "extra_dependencies": draw(requirement_text()),
        "slurm_partition": draw(
            st.lists(SLURM_NAME, min_size=0, max_size=2).map(
                lambda names: ",".join([*names, MARKERS["slurm_partition"]])
            )
        ),
        "slurm_account": draw(SLURM_NAME.map(lambda name: f"{MARKERS['slurm_account']}{name}")),
        "framework": "pytorch",
        "include_slurm": True,
        "container": "both",
        "notebooks": True,
        "devcontainer": True,
        "agents_md": True,
        "accelerator": "cpu",
        "python_version": "3.11",
    }


def render(destination: Path, values: dict[str, Any]) -> Path:
    copier.run_copy(
        str(TEMPLATE), str(destination), data=with_base(values), defaults=True,
        unsafe=True, vcs_ref="HEAD", quiet=True, skip_tasks=True,
    )  # fmt: skip
    return destination


# ── What each format must read back ─────────────────────────────────────────


def words(value: str) -> str:
    return " ".join(value.split())


def files_of(project: Path) -> dict[str, Path]:
    return {
        str(path.relative_to(project)): path
        for path in project.rglob("*")
        if path.is_file() and ".git" not in path.parts
    }


def check_formats(project: Path, values: dict[str, Any]) -> None:
    package = values["package_name"]
    for name, path in files_of(project).items():
        content = path.read_text(encoding="utf-8")
        if name.endswith(".toml"):
            tomllib.loads(content)
        elif name.endswith((".yml", ".yaml", ".cff")):
            yaml.safe_load(content)
        elif name.endswith((".json", ".ipynb")):
            json.loads(content)
        elif name.endswith(".py"):
            ast.parse(content, filename=name)
        elif name.endswith((".sh", ".sbatch")):
            result = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
            assert result.returncode == 0, (name, result.stderr)

    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    meta = pyproject["project"]
    assert meta["description"] == values["description"]
    author = meta["authors"][0]
    assert author["name"] == values["author_name"]
    assert author.get("email", "") == values["author_email"]
    listed = {Requirement(item).name.lower(): Requirement(item) for item in meta["dependencies"]}
    constraints = pyproject["tool"]["uv"].get("constraint-dependencies", [])
    bounds = {Requirement(item).name.lower(): Requirement(item) for item in constraints}
    for item in requirements.split_requirements(values["extra_dependencies"]):
        wanted = Requirement(item)
        written = listed[wanted.name.lower()]  # the bound goes to the constraints
        assert (written.extras, written.marker) == (wanted.extras, wanted.marker)
        if wanted.specifier:
            assert bounds[wanted.name.lower()].specifier == wanted.specifier
    assert pyproject["tool"]["uv"]["index"][0]["url"] == values["torch_index_url"] + "/cpu"
    if naming.default_module_name(values["project_name"]) != package:
        assert pyproject["tool"]["uv"]["build-backend"]["module-name"] == package

    cff = yaml.safe_load((project / "CITATION.cff").read_text())
    assert cff["title"] == values["project_name"]
    assert cff.get("abstract", "") == (
        values["description"] if values["description"].strip() else ""
    )

    recorded = yaml.safe_load((project / ANSWERS_FILE).read_text())
    for question in MARKERS:
        assert recorded[question] == values[question], question

    docstring = ast.get_docstring(ast.parse((project / f"src/{package}/__init__.py").read_text()))
    assert docstring is not None
    assert words(docstring) == words(f"{values['project_name']} {values['description']}")

    assert env_keys(project) == reference_env_keys()  # nothing injected, nothing lost

    devcontainer = json.loads((project / ".devcontainer/devcontainer.json").read_text())
    assert devcontainer["name"] == values["project_name"]

    for job in ("train-single-node", "train-multi-node", "sweep"):
        lines = (project / f"scripts/slurm/{job}.sbatch").read_text().splitlines()
        options = [line.split("=")[0] for line in lines if line.startswith("#SBATCH")]
        assert options[:3] == ["#SBATCH --job-name", "#SBATCH --partition", "#SBATCH --account"]
        assert f"#SBATCH --partition={values['slurm_partition']}" in lines
        assert f"#SBATCH --account={values['slurm_account']}" in lines

    instructions = [
        i["instruction"] for i in DockerfileParser(str(project / "Dockerfile")).structure
    ]
    assert instructions.count("FROM") == 3 and instructions[0] == "COMMENT"
    recipe = SingularityParser(str(project / "apptainer.def")).recipe
    assert set(recipe) == {"build", "final"}

    tokens = MarkdownIt("commonmark").parse((project / "README.md").read_text())
    heading = next(i for i, t in enumerate(tokens) if t.type == "heading_open")
    assert tokens[heading].tag == "h1"
    assert words(inline_text(tokens[heading + 1])) == words(values["project_name"])
    paragraph = next(i for i, t in enumerate(tokens) if t.type == "paragraph_open")
    if values["description"].strip():
        assert words(inline_text(tokens[paragraph + 1])) == words(values["description"])


def env_keys(project: Path) -> list[str]:
    """The variables .env.example sets, as python-dotenv reads them (no line in error)."""
    bindings = list(parse_stream(io.StringIO((project / ".env.example").read_text())))
    assert not [b for b in bindings if b.error]
    return [b.key for b in bindings if b.key]


@functools.cache
def reference_env_keys() -> list[str]:
    """The variables of .env.example for plain answers in the same configuration."""
    with tempfile.TemporaryDirectory() as folder:
        plain = {"framework": "pytorch", "include_slurm": True, "container": "both",
                 "notebooks": True, "devcontainer": True, "agents_md": True,
                 "accelerator": "cpu", "python_version": "3.11",
                 "torch_index_url": "https://mirror.example.org/whl"}  # fmt: skip
        return env_keys(render(Path(folder) / "project", plain))


def check_places(project: Path, values: dict[str, Any]) -> None:
    package = values["package_name"]
    for question, marker in MARKERS.items():
        if marker not in values[question]:
            continue  # e.g. no email, or no extra requirement drawn with the marker
        found = {
            name
            for name, path in files_of(project).items()
            if marker in path.read_text(encoding="utf-8")
        }
        allowed = {place.format(package=package) for place in ALLOWED[question]} | {ANSWERS_FILE}
        assert found <= allowed, (question, sorted(found - allowed))
        assert found, question  # the check above can fail: the answer is somewhere


def inline_text(token: Any) -> str:
    """The literal text of an inline Markdown token; markup (emphasis, links, HTML) is lost."""
    return "".join(child.content for child in token.children or [] if child.type == "text")


# ── The properties ──────────────────────────────────────────────────────────


# What a rendered project (PyTorch, notebooks) installs, torch aside: from extensions/.
SHARED_PACKAGES = sorted(
    {
        *requirements.BASE_DEPENDENCIES["pytorch"],
        *requirements.DEV_DEPENDENCIES,
        *research.RUN_DEPENDENCIES,
        *research.NOTEBOOK_DEV_DEPENDENCIES,
    }
    - {"torch"}
)


@pytest.fixture(scope="module")
def shared_environment(tmp_path_factory: pytest.TempPathFactory, torch_wheel: Path) -> Path:
    """One environment for every example: the real CPU torch and the project's dev tools."""
    venv = tmp_path_factory.mktemp("shared") / "venv"
    for command in (
        ["uv", "venv", "--quiet", "--python", "3.11", str(venv)],
        ["uv", "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"),
         str(torch_wheel), *SHARED_PACKAGES],
    ):  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
    return venv


def project_check(venv: Path, project: Path, *args: str, **env: str) -> None:
    """Run one of the project's own checks with the shared environment's tools."""
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-m", *args],
        cwd=project,
        env={**os.environ, "PYTHONPATH": "src:kit/src", **env},  # the packages, as if installed
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, (args, result.stdout + result.stderr)


@pytest.mark.slow
@settings(max_examples=RENDER_EXAMPLES, **SETTINGS)
@given(values=answers())
def test_hostile_answers_render_every_format_and_stay_in_place(
    values: dict[str, Any], shared_environment: Path
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        project = render(Path(folder) / "project", values)
        check_formats(project, values)
        check_places(project, values)
        project_check(shared_environment, project, "ruff", "check", ".")
        project_check(shared_environment, project, "ruff", "format", "--check", ".")


@pytest.mark.slow
@settings(max_examples=CHECK_EXAMPLES, **SETTINGS)
@given(values=answers())
def test_hostile_answers_keep_types_and_test_collection_green(
    values: dict[str, Any], shared_environment: Path, mypy_cache: Path
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        project = render(Path(folder) / "project", values)
        # The worker's cache: torch's stubs, checked once.
        project_check(shared_environment, project, "mypy", MYPY_CACHE_DIR=str(mypy_cache))
        project_check(
            shared_environment, project, "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"
        )


REFUSED_CHARACTERS = st.characters(categories=["Cc", "Cf", "Zl", "Zp", "Co", "Cn"]).filter(
    lambda char: char not in "\u200c\u200d"
)
CHECKS = {
    "project_name": naming.project_name_error,
    "package_name": naming.package_name_error,
    "description": lambda value: text.text_error("description", value),
    "author_name": naming.author_name_error,
    "author_email": naming.email_error,
    "orcid": orcid.orcid_error,
    "extra_dependencies": requirements.requirements_error,
    "torch_index_url": lambda value: torch_index.index_url_error(value, "cpu"),
    "slurm_partition": slurm.slurm_partition_error,
    "slurm_account": slurm.slurm_account_error,
}


@settings(max_examples=200, deadline=None)
@given(
    question=st.sampled_from(sorted(CHECKS)),
    before=st.text(string.ascii_letters, max_size=5),
    char=REFUSED_CHARACTERS,
    after=st.text(string.ascii_letters, max_size=5),
)
def test_line_breaks_and_control_characters_are_refused(
    question: str, before: str, char: str, after: str
) -> None:
    value = {
        "author_email": f"ada{before}@example.org{char}{after}",
        "torch_index_url": f"https://mirror.example.org/{before}{char}{after}",
        "orcid": f"0000-0002-1825-0097{char}",
    }.get(question, f"Folding{before}{char}{after}")
    assert CHECKS[question](value), (question, unicodedata.name(char, hex(ord(char))))
