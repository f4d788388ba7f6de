"""The set-up writes its pins into uv.lock itself, as uv would, instead of locking again.

Pinning a bare dependency `==` the version uv.lock holds changes only the project's own entry
in the lock: each pinned requirement records its specifier. The set-up writes that change
(research_kit.setup.lock) and asks `uv lock --check` whether uv takes the lock as current;
anything it cannot tell for certain is locked again by uv. Each case here runs the real set-up
to its pin step, then compares the lock it wrote byte for byte with the one uv writes when it
locks the pinned project again from the same unpinned lock (the set-up's former way).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import render, run

pytestmark = pytest.mark.slow

WRITTEN = "uv.lock records the pins (the versions it had locked)."
NUMPY_ANSWERS = {
    "framework": "none",
    # extras, a marker, and a package also in the dev group (two entries, one pin)
    "extra_dependencies": "rich[jupyter], tqdm ; sys_platform == 'linux', pytest",
}


def set_up_until_pin(project: Path) -> tuple[str, str, str]:
    """(uv.lock before the pins, uv.lock after them, the pin step's output)."""
    locked = run(["uv", "run", "scripts/setup_env.py", "--until", "lock"], project)
    assert locked.returncode == 0, locked.stdout + locked.stderr
    before = (project / "uv.lock").read_text()
    pinned = run(["uv", "run", "scripts/setup_env.py", "--from", "pin", "--until", "pin"], project)
    assert pinned.returncode == 0, pinned.stdout + pinned.stderr
    return before, (project / "uv.lock").read_text(), pinned.stdout


def relocked_by_uv(project: Path, unpinned_lock: str, copy: Path) -> str:
    """What `uv lock` writes for the pinned project, starting from the unpinned lock."""
    shutil.copytree(project, copy, ignore=shutil.ignore_patterns(".venv"))
    (copy / "uv.lock").write_text(unpinned_lock)
    result = run(["uv", "lock"], copy)
    assert result.returncode == 0, result.stderr
    return (copy / "uv.lock").read_text()


def test_numpy_project_pins_are_written_as_uv_writes_them(tmp_path: Path) -> None:
    project = render(tmp_path / "project", skip_tasks=True, **NUMPY_ANSWERS)
    before, after, output = set_up_until_pin(project)
    assert WRITTEN in output
    assert after != before
    assert after == relocked_by_uv(project, before, tmp_path / "by-uv")


def test_pytorch_project_with_an_extra_per_build_is_written_as_uv_writes_it(
    tmp_path: Path, stand_in_index: Path, real_torch_line: str
) -> None:
    """torch in the cpu and cu130 extras, and torchvision: the same name in several entries,
    each with its extra's marker and its index."""
    project = render(
        tmp_path / "project", skip_tasks=True, accelerator="cu130", cpu_extra=True,
        torch_packages=["torchvision"], torch_version=real_torch_line,
        torch_index_url=str(stand_in_index),
    )  # fmt: skip
    before, after, output = set_up_until_pin(project)
    assert WRITTEN in output
    assert after == relocked_by_uv(project, before, tmp_path / "by-uv")


TQDM_WHEEL = (
    "https://files.pythonhosted.org/packages/d0/30/"
    "dc54f88dd4a2b5dc8a0279bdd7270e735851848b762aeb1c1184ed1f6b14/tqdm-4.67.1-py3-none-any.whl"
)


def test_a_lock_entry_the_set_up_cannot_pin_for_certain_is_locked_again_by_uv(
    tmp_path: Path,
) -> None:
    """tqdm from a wheel's URL ([tool.uv.sources]): its entry in the lock carries the URL,
    a shape the set-up does not write (uv records no specifier there), so uv locks."""
    project = render(tmp_path / "project", skip_tasks=True, framework="none")
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text().replace('"numpy",', '"numpy",\n    "tqdm",', 1)
    kit = 'protein-folding-kit = { path = "kit", editable = true }\n'
    text = text.replace(kit, f'{kit}tqdm = {{ url = "{TQDM_WHEEL}" }}\n', 1)
    pyproject.write_text(text)
    _, after, output = set_up_until_pin(project)
    assert WRITTEN not in output
    assert run(["uv", "lock", "--check"], project).returncode == 0
    assert f'{{ name = "tqdm", url = "{TQDM_WHEEL}" }}' in after  # as uv writes it: no specifier
