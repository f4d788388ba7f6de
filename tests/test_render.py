"""What the template writes, checked without installing anything (tasks skipped)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import copier
import pytest
import yaml
from conftest import TEMPLATE, Render, with_base

from extensions.tool_versions import UV

FRAMEWORKS = ["pytorch", "none"]


def pyproject(project: Path) -> dict:
    return tomllib.loads((project / "pyproject.toml").read_text())


def assert_valid_pyproject(project: Path) -> None:
    """validate-pyproject accepts the generated pyproject.toml (PEP 621 and the tools it knows)."""
    result = subprocess.run(
        [sys.executable, "-m", "validate_pyproject", str(project / "pyproject.toml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def assert_ruff_clean(project: Path) -> None:
    """The generated project passes its own `ruff check` and `ruff format --check`."""
    for command in (["check", "."], ["format", "--check", "."]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *command], cwd=project, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_pyproject_is_valid(rendered: Render, framework: str) -> None:
    assert_valid_pyproject(rendered(framework=framework))


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_generated_code_is_ruff_clean(rendered: Render, framework: str) -> None:
    assert_ruff_clean(rendered(framework=framework, extra_dependencies="einops"))


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_no_template_syntax_left(rendered: Render, framework: str) -> None:
    project = rendered(framework=framework)
    for path in project.rglob("*"):
        if path.is_file() and ".git" not in path.parts:
            text = re.sub(r"\$\{\{.*?\}\}", "", path.read_text())  # GitHub Actions' ${{ }}
            assert "{{" not in text and "{%" not in text, path


def test_metadata_comes_from_the_answers(rendered: Render) -> None:
    project = rendered(description='Folding "proteins" fast', license="Apache-2.0")
    meta = pyproject(project)["project"]
    assert meta["name"] == "protein-folding"
    assert meta["description"] == 'Folding "proteins" fast'
    assert meta["authors"] == [{"name": "Ada Lovelace", "email": "ada@example.org"}]
    assert meta["license"] == "Apache-2.0"


def test_proprietary_project_has_no_license_and_cannot_be_uploaded(rendered: Render) -> None:
    meta = pyproject(rendered(license="Proprietary"))["project"]
    assert "license" not in meta
    assert "Private :: Do Not Upload" in meta["classifiers"]


def test_python_is_pinned_in_both_places(rendered: Render) -> None:
    project = rendered(python_version="3.12")
    assert (project / ".python-version").read_text().strip() == "3.12"
    assert pyproject(project)["project"]["requires-python"] == "==3.12.*"


def test_build_backend_is_bound_to_the_uv_minor(rendered: Render) -> None:
    assert pyproject(rendered())["build-system"]["requires"] == [UV.build_backend]


def test_dev_group_has_pytest_ruff_and_mypy(rendered: Render) -> None:
    assert pyproject(rendered())["dependency-groups"]["dev"] == ["mypy", "pytest", "ruff"]


def test_torch_is_routed_to_its_index(rendered: Render) -> None:
    """The uv#12774 mistake is an index without a source: ours always has both."""
    config = pyproject(rendered(torch_index_url="https://mirror.lab.org/torch"))["tool"]["uv"]
    assert config["index"] == [
        {"name": "pytorch-cpu", "url": "https://mirror.lab.org/torch/cpu", "explicit": True}
    ]
    assert config["sources"]["torch"] == [{"index": "pytorch-cpu"}]


def test_local_folder_becomes_a_flat_index(rendered: Render, local_torch_index: Path) -> None:
    config = pyproject(rendered(torch_index_url=str(local_torch_index)))["tool"]["uv"]
    assert config["index"][0]["format"] == "flat"
    assert config["index"][0]["url"] == str(local_torch_index / "cpu")


def test_numpy_only_project_has_no_torch_anywhere(rendered: Render) -> None:
    project = rendered(framework="none")
    data = pyproject(project)
    assert "torch" not in data["project"]["dependencies"]
    assert "index" not in data["tool"]["uv"]
    lines = [
        line.strip()
        for folder in ("src", "kit/src")
        for p in (project / folder).rglob("*.py")
        for line in p.read_text().splitlines()
    ]
    assert not [line for line in lines if line.startswith(("import torch", "from torch"))]


@pytest.mark.parametrize(
    ("framework", "present", "absent"),
    [
        ("pytorch", ["models.py", "training.py"], ["regression.py"]),
        ("none", ["regression.py"], ["models.py", "training.py"]),
    ],
)
def test_package_modules_match_the_framework(
    rendered: Render, framework: str, present: list[str], absent: list[str]
) -> None:
    package = rendered(framework=framework) / "src" / "protein_folding"
    for name in ["__init__.py", "py.typed", *present]:
        assert (package / name).is_file(), name
    for name in absent:
        assert not (package / name).exists(), name


def test_answers_file_records_every_answer(rendered: Render) -> None:
    answers = yaml.safe_load((rendered() / ".copier-answers.yml").read_text())
    for question in ("project_name", "package_name", "python_version", "framework", "accelerator"):
        assert question in answers
    assert answers["accelerator"] == "cpu"
    assert "_src_path" in answers and "_commit" in answers


def test_env_example_documents_each_variable(rendered: Render) -> None:
    lines = (rendered() / ".env.example").read_text().splitlines()
    for number, line in enumerate(lines):
        if line and not line.startswith("#"):
            assert lines[number - 1].startswith("#"), f"undocumented: {line}"
    assert any(line.startswith("DATA_DIR=") for line in lines)
    assert any(line.startswith("HF_HOME=") for line in lines)
    assert any("UV_CACHE_DIR" in line for line in lines)


def test_gitignore_keeps_env_out_but_not_its_example(rendered: Render) -> None:
    ignored = (rendered() / ".gitignore").read_text().splitlines()
    assert ".env" in ignored
    assert ".env.example" not in ignored


def test_dependencies_are_in_name_order_as_uv_add_keeps_them(rendered: Render) -> None:
    """uv add inserts into a sorted list in order, so merges of template and user additions
    touch different lines."""
    dependencies = pyproject(rendered(extra_dependencies="Pandas, einops"))["project"][
        "dependencies"
    ]
    names = [item.split("=")[0].split(">")[0].lower() for item in dependencies]
    assert names == sorted(names)
    assert "einops" in names and "pandas" in names


def test_longest_answers_keep_the_project_ruff_clean(rendered: Render) -> None:
    """Every limit at once: the generated code still fits its 100 columns and its format."""
    project = rendered(
        project_name="P" * 63 + "x",
        package_name="a" * 32,
        description=" ".join(["word"] * 59) + " end",  # 300 characters
        include_slurm=True,
        extra_dependencies="einops",
    )
    assert len((project / ".copier-answers.yml").read_text()) > 0
    assert_ruff_clean(project)


@pytest.mark.parametrize(("package_name", "module_name"), [("folding", "folding"), ("", None)])
def test_a_package_name_unlike_the_project_is_given_to_the_build_backend(
    rendered: Render, package_name: str, module_name: str | None
) -> None:
    answers = {"package_name": package_name} if package_name else {}
    backend = pyproject(rendered(**answers))["tool"]["uv"].get("build-backend", {})
    assert backend.get("module-name") == module_name


def test_template_code_writes_no_parenthesised_except_tuple() -> None:
    """`except (A, B):` is reformatted by ruff for Python 3.14 (PEP 758: `except A, B:`) and
    kept for older targets, so no form of it is format-clean for every offered Python."""
    template = Path(__file__).resolve().parent.parent / "template"
    offenders = [
        path.name
        for path in template.rglob("*")
        if path.suffix in {".py", ".jinja"}
        and re.search(r"^\s*except \([^)]*,[^)]*\):", path.read_text(), re.MULTILINE)
    ]
    assert offenders == []


def test_python_caches_in_the_template_folder_stay_out_of_the_project(tmp_path: Path) -> None:
    """A template folder that is no git clone (a copy, a download) may hold the caches of
    the modules its extensions and tasks import; copier.yml's `_exclude` replaces Copier's
    defaults, so it names them itself."""
    template = tmp_path / "template"
    template.mkdir()
    for part in ("copier.yml", "extensions", "tasks", "template"):
        source = TEMPLATE / part
        if source.is_dir():
            shutil.copytree(source, template / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, template / part)
    cache = template / "template" / "kit" / "src" / "research_kit" / "__pycache__"
    cache.mkdir()
    (cache / "runs.cpython-311.pyc").write_bytes(b"\x00")
    (template / "template" / "kit" / "src" / "research_kit" / "stale.pyc").write_bytes(b"\x00")
    project = tmp_path / "project"
    copier.run_copy(
        str(template), str(project), data=with_base({}), defaults=True, unsafe=True,
        quiet=True, skip_tasks=True,
    )  # fmt: skip
    assert (project / "kit" / "src" / "research_kit" / "runs.py").is_file()
    assert [*project.rglob("__pycache__"), *project.rglob("*.pyc")] == []


@pytest.mark.parametrize("framework", ["pytorch", "none"])
def test_a_python_that_writes_bytecode_renders_the_template(tmp_path: Path, framework: str) -> None:
    """On a workstation Python writes __pycache__ (this sandbox and CI set
    PYTHONDONTWRITEBYTECODE). The template's own imports of kit/ modules (machine.py's
    Jinja-conditioned file name, loaded while Copier renders) must leave no cache in the
    template for Copier to render: such a cache ended every `copier copy`."""
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    project = tmp_path / "project"
    result = subprocess.run(
        [sys.executable, "-m", "copier", "copy", "--trust", "--defaults", "--skip-tasks",
         "--vcs-ref", "HEAD", "-d", "author_name=Ada", "-d", "author_email=ada@example.org",
         "-d", f"framework={framework}", str(TEMPLATE), str(project)],
        env=environment, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert [*project.rglob("__pycache__"), *project.rglob("*.pyc")] == []
