"""How the set-up script runs uv: the settings it passes, and the offline re-lock.

The pins are recorded with a second, offline `uv lock` (the first lock has just put every
index page it needs in uv's cache); resuming with `--from pin` after the cache was cleaned
must still work. uv's own settings written in .env (UV_CACHE_DIR on a cluster) apply to
every uv command of the set-up, and the shell's settings win over them.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest
from conftest import Render, import_kit, run


def setup_script(project: Path, monkeypatch: pytest.MonkeyPatch, module: str) -> ModuleType:
    """A module of the generated project's set-up (research_kit.setup.<module>), imported
    from where it was written (kit/src)."""
    return import_kit(project, f"research_kit.setup.{module}", monkeypatch)


def write_env_file(project: Path, text: str) -> None:
    (project / ".env").write_text(text)


def test_uv_settings_in_the_env_file_reach_the_setups_uv_commands(
    rendered: Render, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = rendered(framework="none")
    write_env_file(project, "UV_CACHE_DIR=/scratch/uv-cache\nDATA_DIR=/data\n")
    monkeypatch.delenv("UV_CACHE_DIR", raising=False)
    monkeypatch.delenv("DATA_DIR", raising=False)

    environment = setup_script(project, monkeypatch, "steps").uv_environment()

    assert environment["UV_CACHE_DIR"] == "/scratch/uv-cache"
    assert "DATA_DIR" not in environment  # the project's settings are for its code, not uv


def test_the_shells_uv_settings_win_over_the_env_file(
    rendered: Render, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = rendered(framework="none")
    write_env_file(project, "UV_CACHE_DIR=/scratch/uv-cache\n")
    monkeypatch.setenv("UV_CACHE_DIR", "/from/the/shell")

    environment = setup_script(project, monkeypatch, "steps").uv_environment()

    assert environment["UV_CACHE_DIR"] == "/from/the/shell"


@pytest.mark.slow
def test_pins_are_recorded_when_the_cache_cannot_serve_an_offline_lock(
    rendered: Render, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = rendered(framework="none", python_version="3.11")
    assert run(["uv", "lock"], project).returncode == 0
    empty_cache = tmp_path / "empty-cache"
    write_env_file(project, f"UV_CACHE_DIR={empty_cache}\n")  # as a cluster user would
    monkeypatch.delenv("UV_CACHE_DIR", raising=False)

    setup_script(project, monkeypatch, "lock").pin()

    assert '"numpy==' in (project / "pyproject.toml").read_text()
    assert any(empty_cache.iterdir())  # the online lock filled the cache named in .env
    check = run(["uv", "lock", "--check"], project)
    assert check.returncode == 0, check.stderr


# ── Which PyTorch build the sync installs ──────────────────────────────────


@pytest.mark.parametrize(
    ("extras", "gpu", "installed"),
    [
        (["cpu", "cu130"], "nvidia", "cu130"),
        (["cpu", "cu130"], "amd", "cpu"),  # a CUDA build does not run on an AMD GPU
        (["cpu", "cu130"], None, "cpu"),
        (["cpu", "rocm7.2"], "amd", "rocm7.2"),
        (["cpu", "rocm7.2"], "nvidia", "cpu"),
    ],
)
def test_the_sync_installs_the_build_for_this_machines_gpu_driver(
    rendered: Render,
    monkeypatch: pytest.MonkeyPatch,
    extras: list[str],
    gpu: str | None,
    installed: str,
) -> None:
    script = setup_script(rendered(), monkeypatch, "install")
    assert script.choose_extra(extras, "", gpu) == installed


def test_torch_extra_in_the_env_file_chooses_the_build(
    rendered: Render, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = setup_script(rendered(), monkeypatch, "install")
    assert script.choose_extra(["cpu", "cu130"], "cpu", "nvidia") == "cpu"
    with pytest.raises(script.StepFailed, match="TORCH_EXTRA=cu126 is not one of"):
        script.choose_extra(["cpu", "cu130"], "cu126", "nvidia")


def test_the_set_up_reads_the_driver_through_the_projects_machine_module(
    rendered: Render, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The switch the machine module honours decides the build: no rule of the script's own."""
    project = rendered(package_name="lab_tools")
    script = setup_script(project, monkeypatch, "install")
    machine, project_files = script.load_module("machine"), script.load_module("project")
    assert Path(machine.__file__) == project / "kit" / "src" / "research_kit" / "machine.py"
    assert Path(project_files.__file__) == project / "kit" / "src" / "research_kit" / "project.py"
    monkeypatch.setenv("COPIER_RESEARCH_DRIVER_VERSION", "580.65.06")
    monkeypatch.delenv("COPIER_RESEARCH_NO_GPU_DETECTION", raising=False)
    assert machine.gpu_vendor() == "nvidia"
