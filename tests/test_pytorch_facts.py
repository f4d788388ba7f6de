"""The PyTorch index facts (extensions/pytorch_facts.py over pytorch_indexes.toml)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from packaging.markers import Marker

from extensions import cuda, pytorch_facts
from extensions.pytorch_facts import PLATFORMS, Wheel

# The queries are checked on the facts as of 2026-12-01 (a frozen copy in tests/data), so a
# refresh of extensions/pytorch_indexes.toml changes no test here; the tests that read the
# committed file itself say so.
FACTS = pytorch_facts.read(Path(__file__).parent / "data" / "pytorch_indexes-2026-12-01.toml")
COMMITTED = pytorch_facts.load()
COMMITTED_TEXT = pytorch_facts.FACTS_FILE.read_text(encoding="utf-8")
ALL = {platform.name for platform in PLATFORMS}
LINUX = {"linux-x86_64", "linux-aarch64"}


# ── Platforms ──────────────────────────────────────────────────────────────


def test_the_four_platforms_in_their_order() -> None:
    assert [p.name for p in PLATFORMS] == [
        "linux-x86_64",
        "linux-aarch64",
        "windows-x86_64",
        "macos-arm64",
    ]


@pytest.mark.parametrize("platform", PLATFORMS, ids=lambda p: p.name)
def test_each_marker_selects_its_own_platform_only(platform: pytorch_facts.Platform) -> None:
    for other in PLATFORMS:
        environment = {"sys_platform": other.sys_platform, "platform_machine": other.machine}
        assert Marker(platform.marker).evaluate(environment) is (other is platform), other.name


@pytest.mark.parametrize(
    ("platform", "uv_python_platform"),
    [
        ("linux-x86_64", "x86_64-manylinux_2_28"),
        ("linux-aarch64", "aarch64-manylinux_2_28"),
        ("windows-x86_64", "x86_64-pc-windows-msvc"),
        ("macos-arm64", "aarch64-apple-darwin"),
    ],
)
def test_uv_target_of_each_platform(platform: str, uv_python_platform: str) -> None:
    assert pytorch_facts.platform_named(platform).uv_python_platform == uv_python_platform


def test_macos_target_is_the_macos_14_that_new_torch_wheels_need() -> None:
    macos = pytorch_facts.platform_named("macos-arm64")
    assert dict(macos.uv_environment) == {"MACOSX_DEPLOYMENT_TARGET": "14.0"}


@pytest.mark.parametrize(
    ("tag", "accepted_on"),
    [
        ("manylinux_2_28_x86_64", {"linux-x86_64"}),
        ("manylinux_2_28_aarch64", {"linux-aarch64"}),
        ("manylinux2014_x86_64", {"linux-x86_64"}),
        ("manylinux_2_34_x86_64", set()),  # newer glibc than the target's 2.28
        ("linux_x86_64", {"linux-x86_64"}),
        ("win_amd64", {"windows-x86_64"}),
        ("win_arm64", set()),
        ("macosx_11_0_arm64", {"macos-arm64"}),
        ("macosx_14_0_arm64", {"macos-arm64"}),
        ("macosx_15_0_arm64", set()),  # newer than macOS 14
        ("macosx_11_0_x86_64", set()),  # Intel Macs are not a target
        ("macosx_11_0_universal2", {"macos-arm64"}),
        ("manylinux_2_27_x86_64.manylinux_2_28_x86_64", {"linux-x86_64"}),
        ("any", ALL),
    ],
)
def test_platform_tags_each_platform_accepts(tag: str, accepted_on: set[str]) -> None:
    assert {p.name for p in PLATFORMS if p.accepts(tag)} == accepted_on


def test_an_unknown_platform_name_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match="linux-x86_64, linux-aarch64"):
        pytorch_facts.platform_named("linux-riscv64")


# ── Python tags ────────────────────────────────────────────────────────────


def _wheel(python: str, abi: str, requires_python: str = "") -> Wheel:
    return Wheel(
        "cpu", "torch", "2.13.0+cpu", python, abi, "manylinux_2_28_x86_64", requires_python
    )


@pytest.mark.parametrize(
    ("python", "abi", "interpreter", "installs"),
    [
        ("cp312", "cp312", "3.12", True),
        ("cp312", "cp312", "3.11", False),
        ("cp313", "cp313t", "3.13", False),  # free-threaded build: not for a regular Python
        ("cp311", "none", "3.11", True),
        ("cp312", "abi3", "3.13", True),
        ("cp312", "abi3", "3.11", False),
        ("py3", "none", "3.14", True),
    ],
)
def test_python_and_abi_tags_a_regular_cpython_takes(
    python: str, abi: str, interpreter: str, installs: bool
) -> None:
    assert _wheel(python, abi).installs_on("linux-x86_64", interpreter) is installs


def test_requires_python_excludes_a_wheel_its_tags_would_allow() -> None:
    assert not _wheel("py3", "none", ">=3.11").installs_on("linux-x86_64", "3.10")


def test_filename_of_a_wheel() -> None:
    wheel = Wheel("rocm7.2", "triton-rocm", "3.7.1", "cp312", "cp312", "manylinux_2_28_x86_64", "")
    assert wheel.filename == "triton_rocm-3.7.1-cp312-cp312-manylinux_2_28_x86_64.whl"


# ── Queries on the facts ───────────────────────────────────────────────────


def test_indexes_in_file_order() -> None:
    headers = re.findall(r'^\[indexes\."?([^"\]]+)"?\]$', COMMITTED_TEXT, flags=re.MULTILINE)
    assert COMMITTED.indexes() == tuple(headers)
    assert COMMITTED.indexes()[0] == "cpu"


def test_every_offered_build_has_an_index_in_the_committed_file() -> None:
    assert {build.name for build in cuda.BUILDS} <= set(COMMITTED.indexes())


def test_versions_are_public_and_ascending() -> None:
    assert FACTS.versions("cpu", "torch", "linux-x86_64", "3.12") == [
        "2.9.0",
        "2.9.1",
        "2.10.0",
        "2.11.0",
        "2.12.0",
        "2.12.1",
        "2.13.0",
        "2.14.0",
        "2.14.1",
        "2.15.0",
    ]


def test_versions_leave_out_releases_without_a_wheel_for_the_python() -> None:
    assert "2.15.0" not in FACTS.versions("cpu", "torch", "linux-x86_64", "3.10")


@pytest.mark.parametrize(
    ("index", "newest"),
    [
        ("cpu", "2.15.0"),
        ("cu126", "2.14.1"),
        ("cu128", "2.11.0"),
        ("cu129", "2.13.0"),
        ("cu130", "2.15.0"),
        ("cu132", "2.14.1"),
        ("rocm7.2", "2.14.1"),
    ],
)
def test_newest_torch_differs_between_indexes(index: str, newest: str) -> None:
    assert FACTS.newest(index, "torch", "linux-x86_64", "3.12") == newest


def test_newest_is_none_where_an_index_has_no_wheel() -> None:
    assert FACTS.newest("rocm7.2", "torch", "macos-arm64", "3.12") is None


@pytest.mark.parametrize(
    ("index", "project", "version", "platforms"),
    [
        ("cpu", "torch", "2.13.0", ALL),
        ("cu130", "torch", "2.13.0", ALL - {"macos-arm64"}),
        ("cu129", "torch", "2.13.0", LINUX),
        ("rocm7.2", "torch", "2.13.0", {"linux-x86_64"}),
        ("rocm7.2", "triton-rocm", "3.7.1", {"linux-x86_64"}),
        ("cu132", "torch", "2.15.0", set()),
    ],
)
def test_platforms_of_a_release(
    index: str, project: str, version: str, platforms: set[str]
) -> None:
    assert FACTS.platforms(index, project, version) == platforms


@pytest.mark.parametrize(
    ("platform", "versions"),
    [
        ("linux-x86_64", {"2.13.0+cpu"}),
        ("windows-x86_64", {"2.13.0+cpu"}),
        ("macos-arm64", {"2.13.0"}),
    ],
)
def test_cpu_index_labels_every_platform_but_macos(platform: str, versions: set[str]) -> None:
    assert FACTS.local_versions("cpu", "torch", "2.13.0", platform) == versions


def test_pythons_of_a_release() -> None:
    assert FACTS.pythons("cpu", "torch", "2.15.0") == ["3.11", "3.12", "3.13", "3.14", "3.15"]


def test_python_315_wheels_of_2_13_are_linux_only() -> None:
    assert "3.15" in FACTS.pythons("cpu", "torch", "2.13.0", "linux-x86_64")
    assert "3.15" not in FACTS.pythons("cpu", "torch", "2.13.0", "macos-arm64")


def test_requires_python_of_a_release() -> None:
    assert FACTS.requires_python("cu130", "torch", "2.15.0+cu130") == ">=3.11"


def test_requires_python_of_a_missing_release_names_it() -> None:
    with pytest.raises(LookupError, match=r"torch 2\.15\.0 is not on the rocm7\.2 index"):
        FACTS.requires_python("rocm7.2", "torch", "2.15.0")


def test_all_versions_of_a_project_across_indexes() -> None:
    assert FACTS.all_versions("triton-rocm") == ["3.6.0", "3.7.0", "3.7.1", "3.8.0"]


def test_facts_record_when_they_were_read() -> None:
    assert FACTS.checked == "2026-12-01"


def test_load_reads_the_file_once() -> None:
    assert pytorch_facts.load() is pytorch_facts.load()


# ── Bad files are refused with the place named ─────────────────────────────


def _document(**entry: object) -> dict[str, object]:
    base: dict[str, object] = {
        "versions": ["2.13.0"],
        "python": ["cp312"],
        "platforms": ["win_amd64"],
    }
    return {"indexes": {"cpu": {"torch": [{**base, **entry}]}}}


def test_an_unknown_abi_form_is_refused() -> None:
    with pytest.raises(ValueError, match=r"indexes\.cpu\.torch: abi 'cp3'"):
        pytorch_facts.parse(_document(abi="cp3"))


def test_an_unknown_project_is_refused() -> None:
    with pytest.raises(ValueError, match=r"indexes\.cpu\.jax: unknown project"):
        pytorch_facts.parse({"indexes": {"cpu": {"jax": []}}})


def test_a_version_list_of_the_wrong_type_is_refused() -> None:
    with pytest.raises(ValueError, match="expected a list of strings"):
        pytorch_facts.parse(_document(versions="2.13.0"))
