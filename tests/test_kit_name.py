"""kit/'s package is named after the project (`<project>-kit`), never a name PyPI may hold.

Until commit 7be5ec7 every project depended on `research-kit`, built from its kit/ folder
([tool.uv.sources]). PyPI has an unrelated `research-kit` with the same import name,
research_kit: a tool that reads no uv sources (plain `pip install -e .`) installed that one.
Now a resolver without the sources finds nothing under the kit's name and stops, and an update
from a release before the rename moves the project to its own name, keeping the researcher's
dependencies.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from conftest import copier_cli, copy_numpy_project, from_old_release, git, render, run

# The last release whose projects depend on the shared name.
BEFORE = "7be5ec7"


@pytest.mark.parametrize(
    ("project_name", "kit"),
    [("Protein Folding", "protein-folding-kit"), ("Ünïcode Lab 2", "unicode-lab-2-kit")],
)
def test_a_resolver_without_uv_sources_finds_no_kit_on_pypi(
    tmp_path: Path, project_name: str, kit: str
) -> None:
    """What `pip install -e .` would do: resolve the dependencies from PyPI alone. It stops at
    the kit's name, which no package on PyPI has, and installs no stranger in its place."""
    project = render(tmp_path / "project", skip_tasks=True, project_name=project_name,
                     framework="none")  # fmt: skip
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert kit in pyproject["project"]["dependencies"]
    assert pyproject["tool"]["uv"]["sources"][kit] == {"path": "kit", "editable": True}
    assert tomllib.loads((project / "kit/pyproject.toml").read_text())["project"]["name"] == kit
    result = run(["uv", "lock", "--no-sources"], project)
    assert result.returncode != 0, result.stdout + result.stderr
    assert f"{kit} was not found in the package registry" in result.stderr, result.stderr


@pytest.fixture(scope="module")
def updated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A NumPy project from the release before the rename, with `uv add tqdm` committed,
    updated to this working tree: (the project, the update's output)."""
    releases = from_old_release(tmp_path_factory.mktemp("releases"), BEFORE)
    project = copy_numpy_project(releases, tmp_path_factory.mktemp("generated"))
    assert '"research-kit",' in (project / "pyproject.toml").read_text()
    added = run(["uv", "add", "tqdm"], project)
    assert added.returncode == 0, added.stderr
    git("add", "--all", cwd=project)
    git("commit", "-qm", "tqdm", cwd=project)
    code, output = copier_cli("update", "--trust", "--defaults", "-r", "v0.2.0", cwd=project)
    assert code == 0, output
    return project, output


@pytest.mark.slow
def test_the_update_moves_the_project_to_its_own_kit_name(updated: tuple[Path, str]) -> None:
    project, _ = updated
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    dependencies = pyproject["project"]["dependencies"]
    assert "plain-numbers-kit" in dependencies
    assert not [item for item in dependencies if item.startswith("research-kit")]
    assert set(pyproject["tool"]["uv"]["sources"]) == {"plain-numbers-kit"}
    assert [item for item in dependencies if item.startswith("tqdm==")]  # the user's: kept
    locked = {p["name"] for p in tomllib.loads((project / "uv.lock").read_text())["package"]}
    assert "plain-numbers-kit" in locked and "research-kit" not in locked


@pytest.mark.slow
def test_after_the_update_the_environment_holds_the_renamed_kit(
    updated: tuple[Path, str],
) -> None:
    project, _ = updated
    assert run(["uv", "lock", "--check"], project).returncode == 0
    check = (
        "import importlib.metadata as m, research_kit; "
        "print(m.distribution('plain-numbers-kit').version); "
        "print([d.metadata['Name'] for d in m.distributions() if d.metadata['Name'] == "
        "'research-kit'])"
    )
    result = run(["uv", "run", "--locked", "python", "-c", check], project)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1.0.0", "[]"]
