"""Choosing the PyTorch release (extensions/torch_releases.py) as plain functions.

These tests feed `choose` a small, hand-written world with the same gaps as PyTorch's real
indexes (cu128 stops at 2.11, ROCm serves Linux x86_64 only, torchaudio has no cu132 build,
torchvision none for 2.15); the real facts file is used by tests/test_torch_matrix.py.
"""

from __future__ import annotations

from typing import ClassVar

import pytest

from extensions import torch_index, torch_releases
from extensions.torch_releases import NoRelease, choose

ALL = ("linux-x86_64", "linux-aarch64", "windows-x86_64", "macos-arm64")
CUDA = ALL[:3]
PYTHONS = ("3.11", "3.12", "3.13", "3.14")


class World:
    """The queries of `pytorch_facts.Facts` that choosing a release asks, over a small table:
    {(index, project): {version: (platforms, pythons)}}."""

    companions: ClassVar[dict[str, dict[str, str]]] = {  # as in the real facts
        "2.11": {"torchvision": "0.26", "torchaudio": "2.11"},
        "2.13": {"torchvision": "0.28", "torchaudio": "2.11"},
        "2.14": {"torchvision": "0.29", "torchaudio": "2.11"},
        "2.15": {"torchaudio": "2.11"},
    }

    folder = ""  # PyTorch's indexes, not a local wheel folder

    def __init__(self, table: dict[tuple[str, str], dict[str, tuple[tuple[str, ...], ...]]]):
        self.table = table

    def where(self, index: str) -> str:
        return f"the {index} index"

    def indexes(self) -> tuple[str, ...]:
        return tuple(sorted({index for index, _ in self.table}))

    def all_versions(self, project: str, index: str | None = None) -> list[str]:
        return [
            version
            for (where, name), releases in self.table.items()
            if name == project and index in (None, where)
            for version in releases
        ]

    def platforms(self, index: str, project: str, version: str) -> set[str]:
        return set(self.table.get((index, project), {}).get(version, ((), ()))[0])

    def versions(self, index: str, project: str, platform: str, python: str) -> list[str]:
        releases = self.table.get((index, project), {})
        return [
            version
            for version, (platforms, pythons) in releases.items()
            if platform in platforms and python in pythons
        ]


def releases(versions: str, platforms: tuple[str, ...], pythons: tuple[str, ...] = PYTHONS):
    return {version: (platforms, pythons) for version in versions.split()}


WORLD = World(
    {
        ("cpu", "torch"): {
            **releases("2.11.0 2.13.0 2.14.1", ALL),
            **releases("2.15.0", ALL, PYTHONS[:3]),  # no 3.14 wheel in this world
        },
        ("cu128", "torch"): releases("2.10.0 2.11.0", CUDA),
        ("cu130", "torch"): releases("2.11.0 2.13.0 2.14.1 2.15.0", CUDA),
        ("cu132", "torch"): releases("2.13.0 2.14.1", CUDA),
        ("rocm7.2", "torch"): releases("2.11.0 2.13.0 2.14.1", ("linux-x86_64",)),
        ("cpu", "torchvision"): releases("0.26.0 0.28.0 0.29.1", ALL),
        ("cu128", "torchvision"): releases("0.26.0", CUDA),
        ("cu130", "torchvision"): releases("0.26.0 0.28.0 0.29.1", CUDA),
        ("cu132", "torchvision"): releases("0.28.0 0.29.1", CUDA),
        ("rocm7.2", "torchvision"): releases("0.29.1", ("linux-x86_64",)),
        ("cpu", "torchaudio"): releases("2.11.0", ALL),
        ("cu130", "torchaudio"): releases("2.11.0", CUDA),
        ("cu128", "torchaudio"): releases("2.11.0", CUDA),
        ("rocm7.2", "torchaudio"): releases("2.11.0", ("linux-x86_64",)),
    }
)


def line(accelerator: str, *packages: str, python: str = "3.12", **options: object) -> str:
    return choose(accelerator, packages, python, facts=WORLD, **options).line  # type: ignore[arg-type]


def test_newest_is_the_newest_line_every_routed_index_has() -> None:
    assert line("cu130") == "2.15"


def test_a_build_that_stops_early_holds_the_cpu_index_back_too() -> None:
    assert line("cu128") == "2.11"


def test_rocm_and_cpu_meet_at_the_newest_rocm_line() -> None:
    assert line("rocm7.2") == "2.14"


def test_the_cpu_extra_and_the_gpu_extra_get_the_same_line() -> None:
    assert line("cu128", cpu_extra=True) == "2.11"


def test_the_python_decides_too() -> None:
    assert line("cu130", python="3.14") == "2.14"  # 2.15 has no 3.14 wheel for macOS here


def test_torchvision_holds_torch_at_the_line_it_was_made_for() -> None:
    choice = choose("cu130", ["torchvision"], "3.12", facts=WORLD)
    assert (choice.line, dict(choice.companions)) == ("2.14", {"torchvision": "0.29"})
    assert choice.constraints == ("torch==2.14.*", "torchvision==0.29.*")


def test_a_release_line_can_be_asked_for() -> None:
    assert line("cu130", torch_version="2.13") == "2.13"


def test_a_line_the_build_never_published_is_refused_with_the_reason() -> None:
    with pytest.raises(NoRelease, match=r"no cu128 build of torch 2\.13"):
        line("cu128", torch_version="2.13")


def test_torchaudio_on_cu132_is_refused_with_the_reason() -> None:
    with pytest.raises(NoRelease, match=r"no cu132 build of torchaudio 2\.11"):
        line("cu132", "torchaudio")


def test_an_unknown_line_is_refused() -> None:
    with pytest.raises(NoRelease, match=r"torch 2\.8 is not a release line"):
        line("cpu", torch_version="2.8")


def test_rocm_sends_every_other_platform_to_the_cpu_index() -> None:
    (variant,) = torch_releases.variants("rocm7.2")
    assert variant.platforms_of("rocm7.2") == ("linux-x86_64",)
    assert variant.platforms_of("cpu") == ("linux-aarch64", "windows-x86_64", "macos-arm64")


def test_a_cuda_build_serves_linux_and_windows_and_the_cpu_index_macos() -> None:
    (variant,) = torch_releases.variants("cu130")
    assert variant.platforms_of("cpu") == ("macos-arm64",)


def test_both_extras_install_on_every_platform() -> None:
    cpu, gpu = torch_releases.variants("cu130", cpu_extra=True)
    assert (cpu.extra, gpu.extra) == ("cpu", "cu130")
    assert set(cpu.routes) == set(gpu.routes) == set(ALL)
    assert gpu.routes["macos-arm64"] == "cpu"


def test_extra_names_are_normalised_like_pep_685() -> None:
    assert torch_releases.extra_name("rocm7.2") == "rocm7-2"


# ── The plan written to pyproject.toml ─────────────────────────────────────────────────


def plan(accelerator: str, *packages: str, **options: object) -> torch_index.TorchPlan:
    choice = choose(accelerator, packages, "3.12", facts=WORLD, **options)  # type: ignore[arg-type]
    return torch_index.torch_plan("https://download.pytorch.org/whl", choice)


def test_rocm_routes_by_machine_not_only_by_system() -> None:
    sources = plan("rocm7.2").sources["torch"]
    rocm = "sys_platform == 'linux' and platform_machine == 'x86_64'"
    assert [(s.index, s.marker) for s in sources] == [
        ("pytorch-rocm7.2", rocm),
        (
            "pytorch-cpu",
            "(sys_platform == 'linux' and platform_machine == 'aarch64') or "
            "sys_platform == 'win32' or sys_platform == 'darwin'",
        ),
    ]


def test_rocms_triton_is_a_dependency_on_the_rocm_platform_only() -> None:
    rocm_plan = plan("rocm7.2")
    marker = "sys_platform == 'linux' and platform_machine == 'x86_64'"
    assert f"triton-rocm; {marker}" in rocm_plan.dependencies
    assert [s.index for s in rocm_plan.sources["triton-rocm"]] == ["pytorch-rocm7.2"]


def test_requirements_are_bare_and_the_lines_are_constraints() -> None:
    cuda_plan = plan("cu130", "torchvision")
    assert cuda_plan.dependencies == ("torch", "torchvision")
    assert cuda_plan.constraints == ("torch==2.14.*", "torchvision==0.29.*")


def test_the_gpu_extra_takes_the_cpu_index_on_macos() -> None:
    sources = plan("cu130", cpu_extra=True).sources["torch"]
    assert [(s.index, s.extra, s.marker) for s in sources] == [
        ("pytorch-cpu", "cpu", None),
        ("pytorch-cu130", "cu130", "sys_platform == 'linux' or sys_platform == 'win32'"),
        ("pytorch-cpu", "cu130", "sys_platform == 'darwin'"),
    ]


def test_every_routed_package_has_a_source_for_every_index_it_uses() -> None:
    rocm_plan = plan("rocm7.2", "torchvision", cpu_extra=True)
    for name in ("torch", "torchvision"):
        assert {s.index for s in rocm_plan.sources[name]} == {i.name for i in rocm_plan.indexes}
