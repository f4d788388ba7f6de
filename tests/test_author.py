"""Who the project says wrote it: a name that is the author's, one plain email address.

The author lands in LICENSE (the copyright holder), CITATION.cff and the package metadata
(`Author-email: Name <email>` in the wheel). Without a git identity the name used to become
the login name (`root`), silently; an email such as `<a@b.com>` or `Ada <a@b.com>` went
into `Author-email: root <<a@b.com>>`. And a refused answer given with `-d` printed forty
lines of Copier's traceback with the template's message last (extensions/refusals.py).
"""

from __future__ import annotations

import email.utils
import os
import re
import sys
import tomllib
import zipfile
from email.headerregistry import Address
from email.parser import Parser
from pathlib import Path

import copier
import pytest
import yaml
from conftest import BASE_ANSWERS, TEMPLATE, render, run, set_environment
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_help import ANSWERS, rendered_help

from extensions import naming, text

# CITATION.cff's schema (1.2.0) for `email`.
CFF_EMAIL = r"^[\S]+@[\S]+\.[\S]{2,}$"

# ── The email: one plain address ───────────────────────────────────────────────

LOCAL = st.text(st.sampled_from([*"abcXYZ019.!#$%&'*+/=?^_`{|}~-"]), min_size=1, max_size=8)
DOMAIN = st.lists(
    st.text(st.sampled_from([*"abz09-é"]), min_size=1, max_size=6), min_size=1, max_size=3
).map(".".join)
TLD = st.sampled_from(["org", "uk", "de", "x", "c0m", ""])
HOSTILE = st.sampled_from(
    ["", " ", "<", ">", ",", ";", '"', "Ada ", "Ada Lovelace <", ">, b@c.org", "@", ".", "\u00a0",
     "(work)", "mailto:", "\\", "é"]
)  # fmt: skip


@st.composite
def addresses(draw: st.DrawFn) -> str:
    """Address-shaped text, often wrapped in what a hostile or careless user adds."""
    core = f"{draw(LOCAL)}@{draw(DOMAIN)}.{draw(TLD)}"
    wrap = st.one_of(st.just(""), HOSTILE)
    return f"{draw(wrap)}{core}{draw(wrap)}"


# Addresses the question takes, as varied as it allows (for the renders).
PLAIN = st.tuples(
    st.from_regex(r"[a-z0-9!#$%&'*+/=?^_`{|}~-]{1,6}(\.[a-z0-9'+_-]{1,4})?", fullmatch=True),
    st.from_regex(r"([a-zé0-9]([a-z0-9-]{0,4}[a-z0-9])?\.){1,3}[a-z]{2,4}", fullmatch=True),
).map("@".join)


@settings(max_examples=400, deadline=None)
@given(value=addresses())
def test_an_accepted_email_is_one_plain_address_wherever_it_lands(value: str) -> None:
    if naming.email_error(value):
        assert not (value.count("@") == 1 and naming._ADDRESS.fullmatch(value))
        return
    # One addr-spec, as Python's email package parses it (no name, no second address) ...
    assert Address(addr_spec=value).addr_spec == value
    # ... which the wheel's `Author-email: Name <email>` gives back exactly ...
    assert email.utils.getaddresses([f"Ada Lovelace <{value}>"]) == [("Ada Lovelace", value)]
    # ... and which pyproject.toml and CITATION.cff read back as written, CFF's pattern too.
    assert tomllib.loads(f"email = {text.quoted(value)}")["email"] == value
    assert yaml.safe_load(f"email: {text.quoted(value)}")["email"] == value
    assert re.fullmatch(CFF_EMAIL, value)


@pytest.mark.parametrize(
    ("value", "fix"),
    [
        ("<ada@example.org>", "(e.g. 'ada@example.org')"),
        ("Ada Lovelace <ada@example.org>", "the name comes from author_name"),
        ("ada@example.org, bob@example.org", "one address alone"),
        ("ada@example.org;bob@example.org", "one address alone"),
        ('"Ada" ada@example.org', "one address alone"),
        ("adé@example.org", "ASCII"),
    ],
)
def test_a_name_brackets_or_a_second_address_are_refused_with_the_fix(value: str, fix: str) -> None:
    assert fix in naming.email_error(value)


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(value=PLAIN.filter(lambda value: naming.email_error(value) == ""))
def test_an_accepted_email_reads_back_from_pyproject_and_citation(
    tmp_path_factory: pytest.TempPathFactory, value: str
) -> None:
    project = render(
        tmp_path_factory.mktemp("email") / "project", skip_tasks=True, framework="none",
        author_email=value,
    )  # fmt: skip
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["authors"] == [{"name": "Ada Lovelace", "email": value}]
    citation = yaml.safe_load((project / "CITATION.cff").read_text(encoding="utf-8"))
    assert citation["authors"][0]["email"] == value


def test_the_wheel_names_the_author_once_with_the_address(tmp_path: Path) -> None:
    address = "o'brien+lab@uni.example.ac.uk"
    project = render(tmp_path / "project", skip_tasks=True, framework="none", author_email=address)
    built = run(["uv", "build", "--wheel", "--quiet", "--out-dir", str(tmp_path / "dist")], project)
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(archive.read(name).decode())
    assert metadata["Author-email"] == f"Ada Lovelace <{address}>"
    assert email.utils.getaddresses([metadata["Author-email"]]) == [("Ada Lovelace", address)]


# ── The name: never a login name nobody chose ─────────────────────────────────


@pytest.fixture
def no_git_identity(tmp_path: Path):
    """A git configuration without user.name and user.email, as on a fresh cluster account."""
    empty = tmp_path / "gitconfig"
    empty.write_text("")
    saved = os.environ["GIT_CONFIG_GLOBAL"]
    set_environment(GIT_CONFIG_GLOBAL=str(empty))
    try:
        yield
    finally:
        set_environment(GIT_CONFIG_GLOBAL=saved)


def without_author() -> dict[str, str]:
    return {k: v for k, v in BASE_ANSWERS.items() if not k.startswith("author_")}


def test_without_a_git_identity_the_author_is_asked_not_taken_from_the_login(
    tmp_path: Path, no_git_identity: None
) -> None:
    destination = tmp_path / "project"
    with pytest.raises(ValueError, match=r"author name is empty.*-d author_name="):
        copier.run_copy(
            str(TEMPLATE), str(destination), data={**without_author(), "framework": "none"},
            defaults=True, unsafe=True, vcs_ref="HEAD", quiet=True, skip_tasks=True,
        )  # fmt: skip
    assert not destination.exists()


def test_the_question_says_where_its_default_comes_from(
    tmp_path: Path, no_git_identity: None
) -> None:
    helps = rendered_help(tmp_path, ANSWERS)
    assert "no default: git config user.name is not set here" in helps["author_name"][0]
    assert "no default: git config user.email is not set here" in helps["author_email"][0]


def test_with_a_git_identity_it_is_the_default_and_the_help_says_so(tmp_path: Path) -> None:
    helps = rendered_help(tmp_path, ANSWERS)
    assert "(default: git config user.name)" in helps["author_name"][0]
    project = tmp_path / "project"
    copier.run_copy(
        str(TEMPLATE), str(project), data={**without_author(), "framework": "none"},
        defaults=True, unsafe=True, vcs_ref="HEAD", quiet=True, skip_tasks=True,
    )  # fmt: skip
    # The suite's own git identity (tests/conftest.py).
    assert "Copier Research Tests" in (project / "LICENSE").read_text(encoding="utf-8")


# ── A refused answer on Copier's command line ─────────────────────────────────


def copier_cli(*args: str, cwd: Path) -> tuple[int, str, str]:
    environment = os.environ | {"PYTHONWARNINGS": "ignore"}  # -r HEAD of a dirty clone warns
    done = run([sys.executable, "-m", "copier", *args], cwd, env=environment)
    return done.returncode, done.stdout, done.stderr


@pytest.mark.parametrize(
    ("answer", "line"),
    [  # and package_name, below: the README's example
        (
            "author_email=Ada <ada@example.org>",
            "Answer refused for 'author_email': 'Ada <ada@example.org>' is not an email "
            "address alone: give the address without a name or angle brackets (e.g. "
            "'ada@example.org'); the name comes from author_name.",
        ),
    ],
)
def test_a_refused_answer_is_one_line_on_copiers_command_line(
    tmp_path: Path, answer: str, line: str
) -> None:
    destination = tmp_path / "project"
    code, _, stderr = copier_cli(
        "copy", "--trust", "--defaults", "-r", "HEAD", "-d", "project_name=Protein Folding",
        "-d", "author_name=Ada", "-d", answer, str(TEMPLATE), str(destination), cwd=tmp_path,
    )  # fmt: skip
    assert code == 1
    assert stderr.strip().splitlines() == [line]  # no traceback
    assert not destination.exists()


def test_the_readme_shows_a_refusal_as_copier_prints_it(tmp_path: Path) -> None:
    readme = (TEMPLATE / "README.md").read_text(encoding="utf-8")
    shown = readme.split("<!-- refusal -->")[1]
    command = next(line for line in shown.splitlines() if line.startswith("$ copier copy"))
    printed = shown.split(command, 1)[1].strip().splitlines()[0]
    answer = command.split(" -d ")[1].split()[0]
    code, _, stderr = copier_cli(
        "copy", "--trust", "--defaults", "-r", "HEAD", "-d", "author_name=Ada", "-d", answer,
        str(TEMPLATE), str(tmp_path / "my-project"), cwd=tmp_path,
    )  # fmt: skip
    assert code == 1
    assert stderr.strip() == printed
