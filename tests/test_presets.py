"""A lab preset (Copier's --data-file) answers the lab's questions for every new project."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from conftest import TEMPLATE, run

EXAMPLE = TEMPLATE / "presets" / "lab.example.yml"


def preset() -> dict[str, object]:
    return yaml.safe_load(EXAMPLE.read_text())


def test_every_key_of_the_example_preset_is_a_question() -> None:
    config = yaml.safe_load((TEMPLATE / "copier.yml").read_text())
    questions = {key for key in config if not key.startswith("_")}
    assert set(preset()) - questions == set()


@pytest.fixture(scope="module")
def from_preset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project generated with the example preset through Copier's command line."""
    folder = tmp_path_factory.mktemp("preset")
    result = run(
        [
            sys.executable, "-m", "copier", "copy", "--trust", "--defaults", "--skip-tasks",
            "--vcs-ref", "HEAD", "--data-file", str(EXAMPLE),
            "--data", "project_name=Protein Folding", "--data", "author_name=Ada Lovelace",
            str(TEMPLATE), str(folder / "project"),
        ],
        folder,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return folder / "project"


def test_preset_answers_are_recorded_for_updates(from_preset: Path) -> None:
    answers = yaml.safe_load((from_preset / ".copier-answers.yml").read_text())
    assert {key: answers[key] for key in preset()} == preset()


def test_preset_shapes_the_generated_pyproject(from_preset: Path) -> None:
    pyproject = tomllib.loads((from_preset / "pyproject.toml").read_text())
    assert pyproject["project"]["license"] == preset()["license"]
    assert pyproject["project"]["requires-python"] == f"=={preset()['python_version']}.*"
    index_urls = [index["url"] for index in pyproject["tool"]["uv"]["index"]]
    assert f"{preset()['torch_index_url']}/{preset()['accelerator']}" in index_urls
