"""Secrets never reach a committed file.

A lab mirror that asks for credentials: the URL with the credentials in it is refused when
asked (tests/test_validators.py); the credentials go in .env under the variables uv reads,
and the set-up uses them. Afterwards no tracked file of the project holds them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import replica
from conftest import git, render, run

from extensions import torch_index

pytestmark = pytest.mark.slow

USER, TOKEN = "ada-lab", "s3cr3t-T0KEN-4f9d"


@pytest.fixture(scope="module")
def private_mirror(pytorch_replica: replica.Replica) -> Iterator[str]:
    """PyTorch's indexes (the replica) as a mirror that answers only with USER and TOKEN."""
    with replica.serve(pytorch_replica, credentials=(USER, TOKEN)) as url:
        yield url


def tracked_files_holding(project: Path, *secrets: str) -> list[str]:
    git("add", "-A", cwd=project)  # everything git would commit, .gitignore applied
    tracked = git("ls-files", cwd=project).splitlines()
    return [
        name
        for name in tracked
        if (project / name).is_file()
        and any(secret.encode() in (project / name).read_bytes() for secret in secrets)
    ]


def test_mirror_credentials_from_env_reach_uv_but_no_tracked_file(
    tmp_path: Path, private_mirror: str
) -> None:
    project = render(tmp_path / "project", torch_index_url=private_mirror, torch_version="2.13")
    assert not (project / ".venv").exists()  # the mirror refused the set-up without them
    variables = torch_index.credential_variables(private_mirror, "cpu")
    example = (project / ".env.example").read_text()
    assert all(f"# {variable}=" in example for variable in variables)

    # What the .env.example comment tells the user to do: fill in the two variables.
    env = project / ".env"
    env.write_text(
        env.read_text() + f"UV_INDEX_PYTORCH_CPU_USERNAME={USER}\n"
        f"UV_INDEX_PYTORCH_CPU_PASSWORD={TOKEN}\n"
    )
    result = run(["uv", "run", "scripts/setup_env.py", "--from", "lock"], project)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "==> Environment ready" in result.stdout
    assert tracked_files_holding(project, TOKEN, USER) == []
    assert ".env" not in git("ls-files", cwd=project).splitlines()


def test_the_check_finds_a_secret_in_a_tracked_file(tmp_path: Path) -> None:
    """The grep above can fail: a token written into a tracked file is found."""
    project = render(tmp_path / "project", skip_tasks=True, framework="none")
    git("init", "-q", cwd=project)
    (project / "README.md").write_text(f"https://{USER}:{TOKEN}@mirror.example.org/whl\n")
    assert tracked_files_holding(project, TOKEN) == ["README.md"]
