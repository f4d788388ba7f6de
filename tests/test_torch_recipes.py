"""Issue #19: packages that pin torch themselves, and packages that build against it.

The generated README ("Packages built on PyTorch") gives a recipe for each kind; these tests
run the recipes as the README writes them, on real PyPI packages (their real metadata), with
torch from the replica of PyTorch's indexes, at lock level: what the set-up locks and pins,
and checks on every platform, installs nothing of these CUDA packages. One test installs: a
package whose build imports torch, as flash-attn's and deepspeed's do, built against the
locked torch (the real CPU wheel) through the recipe, and not without it.

xformers 0.0.34 requires torch==2.10.0 and 0.0.35 torch>=2.10; vllm 0.33.0 requires
torch==2.14.0 (PyPI, read with `uv` and PyPI's JSON API when these tests were written).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import ALL_PLATFORMS, render, run

from extensions import torch_releases

MOVE_LINE = "uvx --with copier-template-extensions copier update --trust --defaults"
XFORMERS_MARKER = "sys_platform == 'linux' and platform_machine == 'x86_64'"
ALL_LABELS = ", ".join(torch_releases.PLATFORM_LABELS[name] for name in ALL_PLATFORMS)


def readme_section(project: Path) -> str:
    readme = (project / "README.md").read_text()
    section = readme[readme.index("## Packages built on PyTorch") :]
    return section[: section.index("\n## ", 1)]


def project_on_line(root: Path, line: str, index: str, **answers: object) -> Path:
    """A PyTorch CPU project on release line `line`, set up to nothing yet (skip_tasks)."""
    return render(
        root / f"line-{line}", skip_tasks=True, torch_index_url=index, torch_version=line,
        **answers,
    )  # fmt: skip


def set_up_until_verify(project: Path) -> tuple[int, str]:
    done = run(["uv", "run", "scripts/setup_env.py", "--until", "verify"], project)
    return done.returncode, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("requirement", "needed", "line", "to"),
    [
        (f"xformers==0.0.34; {XFORMERS_MARKER}", "torch==2.10.0", "2.13", "2.10"),
        ("vllm==0.33.0; sys_platform == 'linux'", "torch==2.14.0", "2.13", "2.14"),
    ],
)
def test_a_release_made_for_another_torch_line_names_the_command_that_moves_the_line(
    tmp_path: Path,
    stand_in_server: str,
    fresh_uv_cache: Path,
    requirement: str,
    needed: str,
    line: str,
    to: str,
) -> None:
    project = project_on_line(tmp_path, line, stand_in_server)
    assert run(["uv", "add", "--frozen", requirement], project).returncode == 0
    code, output = set_up_until_verify(project)
    assert code == 1
    package = requirement.split(";")[0]
    hint = output[output.index("What to try:") :]
    assert f"{package} needs {needed}, outside this project's PyTorch line {line}" in hint
    assert f"{MOVE_LINE} -d torch_version={to}" in " ".join(hint.split())
    # Where the moved line leads: the same requirement locks there.
    moved = project_on_line(tmp_path, to, stand_in_server)
    added = run(["uv", "add", "--no-sync", requirement], moved)
    assert added.returncode == 0, added.stderr


@pytest.mark.parametrize(
    ("platforms", "command", "checked"),
    [
        (ALL_PLATFORMS, f'uv add "xformers; {XFORMERS_MARKER}"', ALL_LABELS),
        (["linux-x86_64"], "uv add xformers", "Linux x86_64"),  # no marker where it has wheels
    ],
)
def test_xformers_as_the_readme_adds_it_takes_the_release_made_for_the_line(
    tmp_path: Path,
    stand_in_server: str,
    real_torch_line: str,
    fresh_uv_cache: Path,
    platforms: list[str],
    command: str,
    checked: str,
) -> None:
    project = project_on_line(tmp_path, real_torch_line, stand_in_server, platforms=platforms)
    commands = re.findall(r"^uv add .*xformers.*$", readme_section(project), re.MULTILINE)
    assert commands == [command]
    added = run(["uv", "add", "--no-sync", command.split(" ", 2)[2].strip('"')], project)
    assert added.returncode == 0, added.stderr
    code, output = set_up_until_verify(project)
    assert code == 0, output
    assert f"uv.lock installs on {checked}." in output
    pyproject = (project / "pyproject.toml").read_text()
    version = re.search(r'"xformers==([^ ;"]+)', pyproject)
    assert version is not None, pyproject
    lock = (project / "uv.lock").read_text()
    assert f'name = "xformers"\nversion = "{version[1]}"' in lock  # the pin is the lock's


def test_flash_attn_and_deepspeed_lock_with_the_readmes_build_settings(
    tmp_path: Path, stand_in_server: str, real_torch_line: str, fresh_uv_cache: Path
) -> None:
    project = project_on_line(tmp_path, real_torch_line, stand_in_server)
    settings = re.findall(r"```toml\n(.*?)```", readme_section(project), re.DOTALL)
    assert len(settings) == 1 and "match-runtime = true" in settings[0]
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + "\n" + settings[0])
    for package in ("flash-attn", "deepspeed"):
        added = run(["uv", "add", "--no-sync", f"{package}; sys_platform == 'linux'"], project)
        assert added.returncode == 0, added.stderr
    code, output = set_up_until_verify(project)
    assert code == 0, output
    lock = (project / "uv.lock").read_text()
    for package in ("flash-attn", "deepspeed"):
        entry = lock[lock.index(f'name = "{package}"') :]
        entry = entry[: entry.index("\n\n")]
        assert "sdist = " in entry and "wheels = " not in entry  # built at install, from source


# ── The build uses the locked torch ──────────────────────────────────────────

PROBE_PYPROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "torch-probe"
version = "1.0"
requires-python = ">=3.11"
dependencies = ["torch"]
"""
# Like flash-attn's and deepspeed's setup.py: the build itself imports torch.
PROBE_SETUP = """\
from pathlib import Path

import torch
from setuptools import setup

Path("torch_probe.py").write_text(f"BUILT_WITH = {torch.__version__!r}\\n")
setup(py_modules=["torch_probe"])
"""


@pytest.mark.slow
def test_a_package_built_against_torch_gets_the_locked_torch_through_the_recipe(
    tmp_path: Path, stand_in_server: str, real_torch_line: str, fresh_uv_cache: Path
) -> None:
    project = project_on_line(tmp_path, real_torch_line, stand_in_server)
    probe = project / "vendor" / "torch-probe"
    probe.mkdir(parents=True)
    (probe / "pyproject.toml").write_text(PROBE_PYPROJECT)
    (probe / "setup.py").write_text(PROBE_SETUP)
    added = run(["uv", "add", "--no-sync", "./vendor/torch-probe"], project)
    assert added.returncode == 0, added.stderr

    without = run(["uv", "sync"], project)
    assert without.returncode != 0
    assert "No module named 'torch'" in without.stderr

    # The README's recipe, for this package.
    settings = re.findall(r"```toml\n(.*?)```", readme_section(project), re.DOTALL)[0]
    header, flash_attn = settings.splitlines()[:2]
    recipe = f"{header}\n{flash_attn.replace('flash-attn', 'torch-probe', 1)}\n"
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + "\n" + recipe)
    synced = run(["uv", "sync"], project)
    assert synced.returncode == 0, synced.stderr
    built = run(
        ["uv", "run", "--locked", "python", "-c", "import torch_probe, torch; "
         "print(torch_probe.BUILT_WITH, torch.__version__)"], project,
    )  # fmt: skip
    assert built.stdout.split() == [f"{real_torch_line}.0+cpu"] * 2, built.stderr
