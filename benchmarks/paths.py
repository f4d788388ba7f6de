"""The two ways to the same project: this template, and the same steps typed by hand with uv.

Both use the same Python, the same PyTorch index (a local folder of wheels) and the same
direct dependencies, read from the project the template generated.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from research_kit.setup.pins import local_packages

from .process import Timed, step_durations, timed

PYTHON = "3.11"  # the real CPU torch wheel is built for CPython 3.11
COPIER = ("uvx", "--with", "copier-template-extensions", "copier")  # as the README says
TORCH_CHECK = "import torch; print(torch.ones(2, 2).sum().item())"


@dataclass(frozen=True)
class Setup:
    """What every run shares: the released template, the torch index, the environment."""

    template: Path  # a git repository with the tags fixtures.RELEASES
    torch_index: Path  # <folder>/<build>/torch-*.whl, the real CPU wheel in cpu/
    torch_line: str  # the real wheel's release line (the project asks for it)
    env: dict[str, str]
    logs: Path
    copier: tuple[str, ...] = COPIER


def answers(setup: Setup) -> list[str]:
    data = {
        "accelerator": "cpu",  # not the build detected on this machine: the wheel we have
        "python_version": PYTHON,
        "torch_index_url": str(setup.torch_index),
        "torch_version": setup.torch_line,
        "author_name": "Bench Mark",
        "author_email": "bench@example.org",
    }
    return [arg for key, value in data.items() for arg in ("-d", f"{key}={value}")]


def copier_copy(setup: Setup, destination: Path, *extra: str, tag: str | None = None) -> Timed:
    """`copier copy --trust --defaults` of the newest release (or `tag`) into `destination`."""
    ref = ("-r", tag) if tag else ()
    command = [
        *setup.copier,
        "copy",
        "--trust",
        "--defaults",
        *ref,
        *extra,
        *answers(setup),
        str(setup.template),
        str(destination),
    ]
    log = setup.logs / f"{destination.name}.log"
    result = timed(command, destination.parent, setup.env, log)
    if "--skip-tasks" not in extra and "Environment ready" not in result.output:
        raise RuntimeError(f"the set-up did not finish in {destination}; see {log}")
    return result


PROJECT = "<project>"  # a step's title names the project's folder as this


def without_folder(steps: list[tuple[float, str]], folder: Path) -> list[tuple[float, str]]:
    """Step lines with the project's folder named PROJECT: the last lines name it, and each
    run makes a new folder, so that otherwise every run would add a step of its own."""
    return [(time, title.replace(str(folder), PROJECT)) for time, title in steps]


def template_end_to_end(setup: Setup, destination: Path) -> tuple[float, dict[str, float]]:
    result = copier_copy(setup, destination)
    lines = without_folder(result.steps, destination)
    steps = step_durations(lines, result.seconds, first="copier start-up and render")
    return result.seconds, steps


@dataclass(frozen=True)
class Dependencies:
    project: list[str]
    dev: list[str]


def dependencies_of(project: Path) -> Dependencies:
    """The direct dependencies of a generated project, without their pins, and without the
    packages built from the project's own folders (kit/'s <project>-kit), as the set-up
    finds them: by hand there is no such folder to install."""
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    local = local_packages(pyproject)

    def names(requirements: list[str]) -> list[str]:
        parsed = [Requirement(r) for r in requirements]
        return [
            p.name + (f"[{','.join(sorted(p.extras))}]" if p.extras else "")
            for p in parsed
            if canonicalize_name(p.name) not in local
        ]

    return Dependencies(
        project=names(pyproject["project"]["dependencies"]),
        dev=names(pyproject["dependency-groups"]["dev"]),
    )


def torch_index_table(torch_index: Path, torch_line: str) -> str:
    """The index a user copies into pyproject.toml, as the template writes it."""
    return (
        "\n[[tool.uv.index]]\n"
        'name = "pytorch-cpu"\n'
        f'url = "{torch_index / "cpu"}"\n'
        'format = "flat"\n'
        "explicit = true\n\n"
        "[tool.uv.sources]\n"
        'torch = [{ index = "pytorch-cpu" }]\n\n'
        "[tool.uv]\n"
        f'constraint-dependencies = ["torch=={torch_line}.*"]\n'
    )


def by_hand_end_to_end(
    setup: Setup, destination: Path, dependencies: Dependencies
) -> tuple[float, dict[str, float]]:
    """uv init --package; the torch index; uv add --bounds exact (project, then dev); one import."""
    name = destination.name
    logs = setup.logs / name
    steps: dict[str, float] = {}

    def step(title: str, command: list[str], cwd: Path) -> None:
        steps[title] = timed(command, cwd, setup.env, logs / f"{len(steps)}.log").seconds

    step(
        "uv init --package",
        ["uv", "init", "--package", "--python", PYTHON, "--name", name, str(destination)],
        destination.parent,
    )
    with (destination / "pyproject.toml").open("a") as pyproject:
        pyproject.write(torch_index_table(setup.torch_index, setup.torch_line))
    step(
        "uv add --bounds exact",
        ["uv", "add", "--bounds", "exact", *dependencies.project],
        destination,
    )
    step(
        "uv add --dev --bounds exact",
        ["uv", "add", "--dev", "--bounds", "exact", *dependencies.dev],
        destination,
    )
    step("uv run python -c 'import torch'", ["uv", "run", "python", "-c", TORCH_CHECK], destination)
    return sum(steps.values()), steps
