"""The torch release matrix and the routing plan, as plain functions."""

from __future__ import annotations

import pytest

from extensions import accelerators, torch_index, torch_releases


def test_cu128_stops_at_torch_2_11() -> None:
    release = torch_releases.newest_release("cu128", "3.12")
    assert release is not None and release.version == "2.11"


def test_newest_release_of_a_current_build_is_the_newest_row() -> None:
    release = torch_releases.newest_release("cu130", "3.12")
    assert release == torch_releases.RELEASES[-1]


def test_python_outside_every_release_of_a_build_is_refused() -> None:
    message = torch_releases.torch_python_error("3.15", "cu128")
    assert "torch 2.9 to 2.11" in message and "3.10 to 3.14" in message


def test_supported_python_is_accepted() -> None:
    assert torch_releases.torch_python_error("3.10", "rocm7.2") == ""


def test_torch_version_must_support_python() -> None:
    assert "supports Python 3.10 to 3.14" in accelerators.torch_version_error(
        "2.12", "cu130", "3.15"
    )


@pytest.mark.parametrize("version", ["", "newest"])
def test_newest_leaves_torch_unconstrained_until_the_lock(version: str) -> None:
    assert accelerators.torch_requirement(version) == "torch"


def test_a_release_line_constrains_torch_to_its_patches() -> None:
    assert accelerators.torch_requirement("2.11") == "torch==2.11.*"


def test_extra_names_are_normalised_like_pep_685() -> None:
    assert torch_index.extra_name("rocm7.2") == "rocm7-2"


def test_user_requirement_for_torch_wins_over_the_template() -> None:
    context = {
        "framework": "pytorch",
        "accelerator": "cu126",
        "torch_index_url": "https://mirror.example/whl",
        "dependencies": ["torch>=2.12", "numpy", "torchvision"],
        "torch_packages": [],
    }
    derived = accelerators.derive(context)
    assert derived["dependencies"] == ["torch>=2.12", "torchvision", "numpy"]
    assert set(derived["torch_plan"].sources) == {"torch", "torchvision"}


def test_mirror_url_serves_every_build_under_it() -> None:
    plan = torch_index.torch_plan("https://mirror.example/whl/", "cu130")
    assert [index.url for index in plan.indexes] == [
        "https://mirror.example/whl/cu130",
        "https://mirror.example/whl/cpu",
    ]
