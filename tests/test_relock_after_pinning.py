"""Issue #11, item 1: never trust a lock that was not checked on every platform.

uv can fold one platform into another's fork when it re-locks after the pins are written:
the project the template wrote before this fix (torch routed by `sys_platform` only, no
`environments`), on PyTorch's real index layout (the replica, served as PEP 503 pages, on a
fresh uv cache), re-locked with `--offline`, gives Windows the macOS wheel of torch, and
`uv lock --check` still passes. The template now defends in three ways, each tested here:
the re-lock is online; `environments` and `required-environments` make such a re-lock fail
instead of folding; and the set-up checks, platform by platform, that the lock installs,
re-locks once if it does not, and stops naming the platform if that does not help.
"""

from __future__ import annotations

import importlib
import os
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from conftest import import_kit, render, run

from extensions import pytorch_facts
from extensions.loader import load

PLATFORMS = {platform.name: platform for platform in pytorch_facts.PLATFORMS}
FOUR_PLATFORMS = "\n".join(f'    "{p.marker}",' for p in pytorch_facts.PLATFORMS)

# The ROCm project of the template before this fix, reduced to what the fold needs.
OLD_PYPROJECT = """\
[project]
name = "fold"
version = "0.1.0"
requires-python = "==3.11.*"
dependencies = ["numpy", "torch==2.13.*", "triton-rocm; sys_platform == 'linux'"]
{uv_table}
[[tool.uv.index]]
name = "pytorch-rocm7.2"
url = "{url}/rocm7.2"
explicit = true

[[tool.uv.index]]
name = "pytorch-cpu"
url = "{url}/cpu"
explicit = true

[tool.uv.sources]
torch = [
    {{ index = "pytorch-rocm7.2", marker = "sys_platform == 'linux'" }},
    {{ index = "pytorch-cpu", marker = "sys_platform != 'linux'" }},
]
triton-rocm = [{{ index = "pytorch-rocm7.2", marker = "sys_platform == 'linux'" }}]
"""
WITH_ENVIRONMENTS = f"""
[tool.uv]
environments = [
{FOUR_PLATFORMS}
]
required-environments = [
{FOUR_PLATFORMS}
]
"""


TEMPLATE = Path(__file__).resolve().parent.parent / "template"
TEMPLATE_MODULES = TEMPLATE / "kit" / "src" / "research_kit"


def setup_env_of(project: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The template's set-up (research_kit.setup.verify and the modules it imports), working
    on `project`: a folder of an old template's, without kit/, so the
    template's own project.py and its kin stand in for the project's."""
    template = TEMPLATE
    verify = import_kit(template, "research_kit.setup.verify", monkeypatch)
    for path in (template / "kit" / "src" / "research_kit" / "setup").glob("[!_]*.py"):
        module = importlib.import_module(f"research_kit.setup.{path.stem}")
        monkeypatch.setattr(module, "PROJECT", project, raising=False)
        if hasattr(module, "load_module"):
            monkeypatch.setattr(module, "load_module", template_module)
    return verify


def template_module(name: str) -> ModuleType:
    return load(TEMPLATE_MODULES / f"{name}.py")


def installs_on(project: Path, platform: str) -> tuple[bool, str]:
    """Whether `uv sync --locked` would succeed on `platform`; uv's words either way."""
    target = PLATFORMS[platform]
    result = run(
        ["uv", "sync", "--locked", "--dry-run", "--python-platform", target.uv_python_platform],
        project,
        env={**os.environ, **dict(target.uv_environment)},
    )
    return result.returncode == 0, result.stderr


def pinned_then_relocked(folder: Path, url: str, uv_table: str) -> tuple[Path, int]:
    """Lock, pin numpy and torch `==` the lock as the set-up did, re-lock offline."""
    folder.mkdir(parents=True)
    pyproject = folder / "pyproject.toml"
    pyproject.write_text(OLD_PYPROJECT.format(url=url, uv_table=uv_table))
    locked = run(["uv", "lock"], folder)
    assert locked.returncode == 0, locked.stderr
    versions = template_module("project").locked_versions((folder / "uv.lock").read_text())
    numpy = min(versions["numpy"])
    pins = f'"numpy=={numpy}", "torch==2.13.0"'
    pyproject.write_text(pyproject.read_text().replace('"numpy", "torch==2.13.*"', pins))
    return folder, run(["uv", "lock", "--offline"], folder).returncode


@pytest.fixture(scope="module")
def folded(
    tmp_path_factory: pytest.TempPathFactory, stand_in_server: str, fresh_uv_cache: Path
) -> Path:
    project, code = pinned_then_relocked(
        tmp_path_factory.mktemp("fold") / "old-template", stand_in_server, ""
    )
    assert code == 0
    return project


def test_offline_relock_gives_windows_the_macos_wheel(folded: Path) -> None:
    installs, output = installs_on(folded, "windows-x86_64")
    assert not installs
    assert "only has wheels for the following platform: `macosx_14_0_arm64`" in output


def test_offline_relock_still_passes_the_lock_check(folded: Path) -> None:
    assert run(["uv", "lock", "--check"], folded).returncode == 0


def test_required_environments_refuse_that_routing_when_locking(
    tmp_path: Path, stand_in_server: str, fresh_uv_cache: Path
) -> None:
    """Item 5: the old routing sends Linux aarch64 to the x86_64-only ROCm index; with the
    project's platforms declared, `uv lock` itself fails, not a colleague's `uv sync`."""
    project = tmp_path / "project"
    project.mkdir()
    text = OLD_PYPROJECT.format(url=stand_in_server, uv_table=WITH_ENVIRONMENTS)
    (project / "pyproject.toml").write_text(text)
    result = run(["uv", "lock"], project)
    assert result.returncode != 0
    assert "aarch64" in result.stderr


def test_the_set_up_check_finds_the_folded_platform_and_relocks_it(
    folded: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project = Path(shutil.copytree(folded, tmp_path / "folded"))
    verify = setup_env_of(project, monkeypatch)
    # The old project declares no platforms, and has no table of them (src/): the table's.
    for module in (verify, importlib.import_module("research_kit.setup.platform_gaps")):
        monkeypatch.setattr(module, "target_platforms", lambda _text: list(pytorch_facts.PLATFORMS))
    monkeypatch.setattr(verify, "unchecked_markers", lambda _text: [])
    with pytest.raises(verify.StepFailed) as failed:
        verify.verify()
    said = capsys.readouterr().out
    assert "does not install on:" in said and "Windows x86_64: " in said  # found
    assert installs_on(project, "windows-x86_64")[0]  # and mended by the online re-lock
    # The old routing's other fault (item 5) no re-lock can mend: the set-up stops on it.
    assert "Linux aarch64: " in str(failed.value)
    assert "Windows" not in str(failed.value)


# ── A lock no re-lock can fix: the set-up stops at its check and names the platform ──────


@pytest.fixture
def macos_15_only(tmp_path: Path) -> Iterator[Path]:
    """A flat index with a STAND-IN package whose macOS wheel needs macOS 15.

    uv's required-environments accept it (they look at the platform, not its version), so
    only the set-up's per-platform check, which targets macOS 14 like PyTorch, can catch it.
    """
    folder = tmp_path / "wheels"
    folder.mkdir()
    for tag in (
        "manylinux_2_28_x86_64",
        "manylinux_2_28_aarch64",
        "win_amd64",
        "macosx_15_0_arm64",
    ):
        with zipfile.ZipFile(folder / f"macos15only-1.0-py3-none-{tag}.whl", "w") as wheel:
            info = "macos15only-1.0.dist-info"
            wheel.writestr("macos15only/__init__.py", "raise ImportError('stand-in')\n")
            wheel.writestr(
                f"{info}/METADATA", "Metadata-Version: 2.1\nName: macos15only\nVersion: 1.0\n"
            )
            wheel.writestr(
                f"{info}/WHEEL",
                f"Wheel-Version: 1.0\nRoot-Is-Purelib: false\nTag: py3-none-{tag}\n",
            )
            wheel.writestr(f"{info}/RECORD", "")
    yield folder


def test_a_platform_the_lock_cannot_serve_stops_the_set_up_naming_it(
    tmp_path: Path, macos_15_only: Path
) -> None:
    project = render(tmp_path / "project", skip_tasks=True, framework="none")
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text().replace('"numpy",', '"macos15only",\n    "numpy",', 1)
    kit = 'protein-folding-kit = { path = "kit", editable = true }\n'
    text = text.replace(kit, f'{kit}macos15only = {{ index = "odd" }}\n', 1)
    text += (
        f'\n[[tool.uv.index]]\nname = "odd"\nurl = "{macos_15_only}"\nformat = "flat"\n'
        "explicit = true\n"
    )
    pyproject.write_text(text)
    result = run(["uv", "run", "scripts/setup_env.py", "--until", "verify"], project)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Set-up failed at step 'verify'" in result.stderr
    assert "macos15only has no wheels for macOS arm64" in result.stderr, result.stderr
    # Both fixes are named: the marker, and fewer platforms.
    assert 'uv remove --frozen macos15only && uv add "macos15only; sys_platform' in result.stderr
    assert '-d "platforms=[linux-x86_64, linux-aarch64]"' in result.stderr
