"""The tests' replica of PyTorch's indexes (tests/replica.py) has the real indexes' shape.

What the real indexes hold is recorded in extensions/pytorch_indexes.toml; these tests check
that the replica built from it looks, to uv, like download.pytorch.org: the files, their
tags, their metadata, and how uv resolves them.
"""

from __future__ import annotations

import os
import re
import subprocess
import tomllib
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

import pytest
import replica
from conftest import run
from packaging.requirements import Requirement

from extensions import pytorch_facts
from extensions.pytorch_facts import Wheel
from tools.refresh_pytorch_facts import filenames, parse_filename

MACOS = pytorch_facts.platform_named("macos-arm64")
FACTS = pytorch_facts.load()


def newest_torch(index: str, platform: str = "linux-x86_64") -> str:
    """The newest torch the facts hold on `index` for `platform` and Python 3.12 (the
    hand-written projects' Python): what a lock against the replica must take."""
    newest = FACTS.newest(index, "torch", platform, "3.12")
    assert newest is not None, (index, platform)
    return newest


def names(pytorch_replica: replica.Replica, index: str, project: str = "torch") -> list[str]:
    prefix = project.replace("-", "_") + "-"
    return [p.name for p in pytorch_replica.files(index) if p.name.startswith(prefix)]


def public_versions(pytorch_replica: replica.Replica, index: str, project: str) -> list[str]:
    found = {
        parsed.version
        for n in names(pytorch_replica, index, project)
        if (parsed := parse_filename(n))
    }
    return sorted(found, key=lambda v: tuple(int(part) for part in v.split(".")))


def metadata(path: Path) -> str:
    with zipfile.ZipFile(path) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return archive.read(name).decode()


def requires(path: Path) -> list[str]:
    prefix = "Requires-Dist: "
    return [
        line.removeprefix(prefix) for line in metadata(path).splitlines() if line.startswith(prefix)
    ]


# ── Files and tags ─────────────────────────────────────────────────────────


def test_cpu_index_labels_linux_and_windows_wheels_cpu(pytorch_replica: replica.Replica) -> None:
    release = [n for n in names(pytorch_replica, "cpu") if n.startswith("torch-2.13.0")]
    labelled = {n.split("-", 4)[-1] for n in release if "+cpu" in n}
    assert {"manylinux_2_28_x86_64.whl", "manylinux_2_28_aarch64.whl", "win_amd64.whl"} == labelled


def test_cpu_index_serves_macos_unlabelled(pytorch_replica: replica.Replica) -> None:
    release = [n for n in names(pytorch_replica, "cpu") if n.startswith("torch-2.13.0")]
    macos = [n for n in release if "macosx" in n]
    assert macos
    assert all(n.startswith("torch-2.13.0-cp") for n in macos)  # no local label
    assert not [n for n in release if "+cpu" in n and "macosx" in n]


@pytest.mark.parametrize(
    ("version", "tags"),
    [
        ("2.9.1", "cp311-none-macosx_11_0_arm64"),
        ("2.10.0", "cp311-none-macosx_11_0_arm64"),
        ("2.11.0", "cp311-cp311-macosx_11_0_arm64"),
        ("2.12.0", "cp311-cp311-macosx_14_0_arm64"),
        ("2.15.0", "cp311-cp311-macosx_14_0_arm64"),
    ],
)
def test_macos_tags_follow_the_real_history(
    pytorch_replica: replica.Replica, version: str, tags: str
) -> None:
    macos = [n for n in names(pytorch_replica, "cpu") if n.startswith(f"torch-{version}-cp311-")]
    assert macos == [f"torch-{version}-{tags}.whl"]


def test_rocm_index_has_linux_x86_64_wheels_only(pytorch_replica: replica.Replica) -> None:
    platforms = {
        n.removesuffix(".whl").rsplit("-", 1)[-1] for n in names(pytorch_replica, "rocm7.2")
    }
    assert platforms == {"manylinux_2_28_x86_64"}


def test_cu129_index_has_no_windows_wheels(pytorch_replica: replica.Replica) -> None:
    assert not [n for n in names(pytorch_replica, "cu129") if "win_amd64" in n]


def test_indexes_have_different_newest_releases(pytorch_replica: replica.Replica) -> None:
    newest = {i: public_versions(pytorch_replica, i, "torch")[-1] for i in FACTS.indexes()}
    assert newest == {index: FACTS.all_versions("torch", index)[-1] for index in FACTS.indexes()}
    assert len(set(newest.values())) > 1


def test_every_build_has_several_releases(pytorch_replica: replica.Replica) -> None:
    for index in pytorch_replica.facts.indexes():
        assert len(public_versions(pytorch_replica, index, "torch")) >= 2, index


def test_torch_215_needs_python_311(pytorch_replica: replica.Replica) -> None:
    release = [n for n in names(pytorch_replica, "cpu") if n.startswith("torch-2.15.0+cpu-")]
    assert "Requires-Python: >=3.11" in metadata(pytorch_replica.folder("cpu") / release[0])
    assert not [n for n in release if "-cp310-" in n]


def test_triton_rocm_is_on_the_rocm_index_only(pytorch_replica: replica.Replica) -> None:
    holders = {
        i for i in pytorch_replica.facts.indexes() if names(pytorch_replica, i, "triton-rocm")
    }
    assert holders == {"rocm7.2"}


def test_companions_end_where_the_real_ones_do(pytorch_replica: replica.Replica) -> None:
    assert public_versions(pytorch_replica, "cpu", "torchvision")[-1] == "0.29.2"
    assert public_versions(pytorch_replica, "cpu", "torchaudio")[-1] == "2.11.1"
    assert not names(pytorch_replica, "cu132", "torchaudio")


def test_wheel_tags_inside_match_the_filename(pytorch_replica: replica.Replica) -> None:
    for path in pytorch_replica.files("cu130")[:50]:
        with zipfile.ZipFile(path) as archive:
            wheel = next(n for n in archive.namelist() if n.endswith(".dist-info/WHEEL"))
            tag = re.search(r"^Tag: (.+)$", archive.read(wheel).decode(), re.MULTILINE)
        assert tag is not None
        assert path.name.endswith(f"-{tag[1]}.whl")


# ── Metadata ───────────────────────────────────────────────────────────────


def _wheel(replica_: replica.Replica, index: str, name: str) -> Path:
    path = replica_.folder(index) / name
    assert path.is_file(), name
    return path


def test_cuda_torch_requires_pypi_cuda_libraries_on_linux(pytorch_replica: replica.Replica) -> None:
    wheel = _wheel(
        pytorch_replica, "cu130", "torch-2.13.0+cu130-cp312-cp312-manylinux_2_28_x86_64.whl"
    )
    gpu = [
        Requirement(r)
        for r in requires(wheel)
        if r.startswith(("nvidia-", "cuda-toolkit", "triton"))
    ]
    assert {r.name for r in gpu} >= {
        "cuda-toolkit",
        "nvidia-cudnn-cu13",
        "nvidia-nccl-cu13",
        "triton",
    }
    assert all('platform_system == "Linux"' in str(r.marker) for r in gpu)
    assert all(str(r.specifier).startswith("==") for r in gpu)


def test_rocm_torch_requires_its_triton_on_linux(pytorch_replica: replica.Replica) -> None:
    wheel = _wheel(
        pytorch_replica, "rocm7.2", "torch-2.13.0+rocm7.2-cp312-cp312-manylinux_2_28_x86_64.whl"
    )
    assert 'triton-rocm==3.7.1; platform_system == "Linux"' in requires(wheel)
    assert not [r for r in requires(wheel) if r.startswith(("nvidia-", "cuda-", "triton=="))]


@pytest.mark.parametrize(("version", "torch"), [("0.28.0", "==2.13.0"), ("0.29.1", ">=2.14.0")])
def test_torchvision_requires_the_torch_it_declares(
    pytorch_replica: replica.Replica, version: str, torch: str
) -> None:
    wheel = _wheel(
        pytorch_replica,
        "cu130",
        f"torchvision-{version}+cu130-cp312-cp312-manylinux_2_28_x86_64.whl",
    )
    (requirement,) = [Requirement(r) for r in requires(wheel) if r.startswith("torch")]
    assert str(requirement.specifier) == torch


def test_every_release_in_the_facts_has_its_requires_dist() -> None:
    for wheel in pytorch_facts.load().wheels():
        replica.requires_dist(wheel)  # raises LookupError naming a release the data lacks


def test_cpu_stand_ins_require_what_the_real_cpu_wheel_requires(torch_wheel: Path) -> None:
    stand_in = Wheel(
        "cpu", "torch", "2.13.0+cpu", "cp312", "cp312", "manylinux_2_28_x86_64", ">=3.10"
    )
    assert replica.requires_dist(stand_in) == requires(torch_wheel)


# ── Only the real wheel imports ────────────────────────────────────────────


def test_the_real_wheel_sits_in_its_slot(
    pytorch_replica: replica.Replica, torch_wheel: Path
) -> None:
    slot = pytorch_replica.folder("cpu") / torch_wheel.name
    assert slot.is_symlink()
    assert slot.resolve() == torch_wheel.resolve()


def test_every_other_wheel_is_a_stand_in(
    pytorch_replica: replica.Replica, torch_wheel: Path
) -> None:
    for index in pytorch_replica.facts.indexes():
        for path in pytorch_replica.files(index):
            if path.name == torch_wheel.name:
                continue
            assert not path.is_symlink(), path
            assert replica.STAND_IN in metadata(path), path


def test_an_installed_stand_in_refuses_to_import_and_says_why(
    pytorch_replica: replica.Replica, tmp_path: Path
) -> None:
    wheel = _wheel(
        pytorch_replica, "cu130", "torch-2.13.0+cu130-cp311-cp311-manylinux_2_28_x86_64.whl"
    )
    assert run(["uv", "venv", "--python", "3.11", "venv"], tmp_path).returncode == 0
    python = str(tmp_path / "venv" / "bin" / "python")
    installed = run(["uv", "pip", "install", "--python", python, "--no-deps", str(wheel)], tmp_path)
    assert installed.returncode == 0, installed.stderr
    imported = run([python, "-c", "import torch"], tmp_path)
    assert imported.returncode != 0
    assert "ImportError: torch 2.13.0+cu130: stand-in" in imported.stderr


@pytest.mark.slow
def test_the_real_wheel_installs_and_imports(
    pytorch_replica: replica.Replica, torch_wheel: Path, tmp_path: Path
) -> None:
    assert run(["uv", "venv", "--python", "3.11", "venv"], tmp_path).returncode == 0
    python = str(tmp_path / "venv" / "bin" / "python")
    wheel = pytorch_replica.folder("cpu") / torch_wheel.name
    installed = run(["uv", "pip", "install", "--python", python, str(wheel)], tmp_path)
    assert installed.returncode == 0, installed.stderr
    version = run([python, "-c", "import torch; print(torch.__version__)"], tmp_path)
    assert version.stdout.strip() == "2.13.0+cpu", version.stderr


# ── The PEP 503 index ──────────────────────────────────────────────────────


def test_served_index_lists_the_folders_wheels(
    pytorch_replica: replica.Replica, stand_in_server: str
) -> None:
    with urllib.request.urlopen(f"{stand_in_server}/cu130/torch/") as response:
        listed = filenames(response.read().decode())
    assert sorted(listed) == names(pytorch_replica, "cu130")


def test_served_index_serves_core_metadata(
    pytorch_replica: replica.Replica, stand_in_server: str
) -> None:
    name = "torch-2.14.1+rocm7.2-cp312-cp312-manylinux_2_28_x86_64.whl"
    with urllib.request.urlopen(
        f"{stand_in_server}/rocm7.2/torch/{name.replace('+', '%2B')}.metadata"
    ) as response:
        assert response.read().decode() == metadata(pytorch_replica.folder("rocm7.2") / name)


# ── How uv resolves it ─────────────────────────────────────────────────────


def routed_project(folder: Path, index_url: str, *, flat: bool = False) -> Path:
    """A small hand-written project: torch from one PyTorch index, all else from PyPI."""
    folder.mkdir()
    (folder / "pyproject.toml").write_text(
        '[project]\nname = "demo"\nversion = "0.1.0"\nrequires-python = "==3.12.*"\n'
        'dependencies = ["torch"]\n\n'
        "[tool.uv]\npackage = false\n\n"
        f'[[tool.uv.index]]\nname = "pytorch"\nurl = "{index_url}"\nexplicit = true\n'
        + ('format = "flat"\n' if flat else "")
        + '\n[tool.uv.sources]\ntorch = { index = "pytorch" }\n'
    )
    result = run(["uv", "lock"], folder)
    assert result.returncode == 0, result.stderr
    return folder


def locked(project: Path) -> dict[str, dict[str, Any]]:
    lock = tomllib.loads((project / "uv.lock").read_text())
    return {f"{p['name']} {p['version']}": p for p in lock["package"]}


def dry_run(
    project: Path, platform: pytorch_facts.Platform, **environment: str
) -> subprocess.CompletedProcess[str]:
    command = [
        "uv",
        "sync",
        "--locked",
        "--dry-run",
        "--python-platform",
        platform.uv_python_platform,
    ]
    return run(command, project, env={**os.environ, **environment})


@pytest.fixture(scope="module")
def cu130_project(
    tmp_path_factory: pytest.TempPathFactory, stand_in_server: str, fresh_uv_cache: Path
) -> Path:
    return routed_project(tmp_path_factory.mktemp("cu130") / "demo", f"{stand_in_server}/cu130")


def test_locks_use_the_modules_fresh_uv_cache(cu130_project: Path, fresh_uv_cache: Path) -> None:
    assert os.environ["UV_CACHE_DIR"] == str(fresh_uv_cache)
    assert any(fresh_uv_cache.iterdir())


def test_plain_lock_takes_torch_from_the_cu130_index(cu130_project: Path) -> None:
    torch = locked(cu130_project)[f"torch {newest_torch('cu130')}+cu130"]
    assert torch["source"]["registry"].endswith("/cu130")


def test_plain_lock_resolves_the_cuda_libraries_from_pypi(cu130_project: Path) -> None:
    packages = locked(cu130_project)
    cuda = {
        k: p for k, p in packages.items() if k.startswith(("nvidia-", "cuda-toolkit", "triton "))
    }
    assert {k.split()[0] for k in cuda} >= {
        "cuda-toolkit",
        "nvidia-cudnn-cu13",
        "nvidia-nccl-cu13",
        "triton",
    }
    assert {p["source"]["registry"] for p in cuda.values()} == {"https://pypi.org/simple"}


def test_cuda_libraries_install_on_linux_only(cu130_project: Path) -> None:
    linux = dry_run(cu130_project, pytorch_facts.platform_named("linux-x86_64"))
    windows = dry_run(cu130_project, pytorch_facts.platform_named("windows-x86_64"))
    assert " + nvidia-cudnn-cu13==" in linux.stderr, linux.stderr
    assert f" + torch=={newest_torch('cu130', 'windows-x86_64')}+cu130" in windows.stderr
    assert "nvidia-" not in windows.stderr


@pytest.fixture(scope="module")
def cpu_project(
    tmp_path_factory: pytest.TempPathFactory, stand_in_index: Path, fresh_uv_cache: Path
) -> Path:
    return routed_project(
        tmp_path_factory.mktemp("cpu") / "demo", str(stand_in_index / "cpu"), flat=True
    )


def test_cpu_lock_holds_two_torch_entries(cpu_project: Path) -> None:
    assert {k for k in locked(cpu_project) if k.startswith("torch ")} == {
        f"torch {newest_torch('cpu', 'macos-arm64')}",  # PyPI's own file, unlabelled
        f"torch {newest_torch('cpu')}+cpu",
    }


def test_uv_assumes_a_macos_older_than_the_new_torch_wheels_need(cpu_project: Path) -> None:
    result = dry_run(cpu_project, MACOS)
    assert result.returncode != 0
    assert "only has wheels for the following platform: `macosx_14_0_arm64`" in result.stderr


def test_the_macos_platform_sets_the_deployment_target_its_wheels_need(cpu_project: Path) -> None:
    result = dry_run(cpu_project, MACOS, **dict(MACOS.uv_environment))
    assert result.returncode == 0, result.stderr
    assert f" + torch=={newest_torch('cpu', 'macos-arm64')}\n" in result.stderr
