"""Unit tests of the logic behind copier.yml (extensions/)."""

from __future__ import annotations

from pathlib import Path

import pytest

from extensions import compat, cuda, naming, requirements, torch_index


@pytest.mark.parametrize(
    ("project_name", "package_name"),
    [
        ("Protein Folding", "protein_folding"),
        ("my-GPU lab!", "my_gpu_lab"),
        ("  spaced  ", "spaced"),
        ("3D vision", "project_3d_vision"),
    ],
)
def test_package_name_derived_from_project_name(project_name: str, package_name: str) -> None:
    assert naming.package_name_from(project_name) == package_name
    assert naming.package_name_error(package_name) == ""


def test_default_project_name_is_the_destination_folder(tmp_path: Path) -> None:
    assert naming.folder_name(str(tmp_path / "protein-folding")) == "protein-folding"


def test_distribution_name_is_normalised() -> None:
    assert naming.distribution_name("Protein Folding (v2)") == "protein-folding-v2"


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "empty"),
        ("My-Package", "not a valid lowercase Python identifier"),
        ("2fast", "not a valid lowercase Python identifier"),
        ("lambda", "keyword"),
        ("match", "keyword"),
        ("torch", "shadow"),
        ("numpy", "shadow"),
        ("test", "shadow"),
        ("json", "shadow"),
    ],
)
def test_bad_package_names_are_explained(name: str, problem: str) -> None:
    assert problem in naming.package_name_error(name)


@pytest.mark.parametrize("email", ["", "ada@example.org", "a.b+c@uni.ac.uk"])
def test_good_emails_pass(email: str) -> None:
    assert naming.email_error(email) == ""


@pytest.mark.parametrize("email", ["ada", "ada@", "ada@example", "a b@example.org"])
def test_bad_emails_are_explained(email: str) -> None:
    assert "not an email address" in naming.email_error(email)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", []),
        ("transformers, datasets", ["transformers", "datasets"]),
        ("numpy>=2,<3, scipy", ["numpy>=2,<3", "scipy"]),
        ("xarray[io,parallel], einops", ["xarray[io,parallel]", "einops"]),
        ("a; python_version < '3.12', b", ["a; python_version < '3.12'", "b"]),
    ],
)
def test_requirements_split_on_top_level_commas(text: str, expected: list[str]) -> None:
    assert requirements.split_requirements(text) == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("transformers==", "not a valid requirement"),
        ("good, ba d", "not a valid requirement"),
        ("pkg @ https://example.org/pkg.whl", "URL"),
        ("protein-folding", "installs the module"),
    ],
)
def test_bad_requirements_are_explained(text: str, problem: str) -> None:
    assert problem in requirements.requirements_error(text, package_name="protein_folding")


def test_user_requirement_replaces_the_base_one() -> None:
    plan = requirements.project_dependencies("pytorch", "numpy<2.3, einops")
    assert plan == ["torch", "numpy<2.3", "python-dotenv", "einops"]


def test_numpy_only_project_has_no_torch() -> None:
    assert "torch" not in requirements.project_dependencies("none", "")


@pytest.mark.parametrize(
    ("version", "problem"),
    [
        ("3.9", "offers Python 3.11 to 3.14"),
        ("3.10", "offers Python 3.11 to 3.14"),  # end of life since October 2026
        ("3.15", "offers Python 3.11 to 3.14"),
        ("3.1x", "not a Python minor version"),
        ("3.12.1", "not a Python minor version"),
    ],
)
def test_unsupported_python_is_explained(version: str, problem: str) -> None:
    assert problem in compat.python_version_error(version)


@pytest.mark.parametrize("version", compat.PYTHONS)
def test_offered_python_passes(version: str) -> None:
    assert compat.python_version_error(version) == ""


def test_python_is_pinned_to_one_minor() -> None:
    assert compat.requires_python("3.12") == "==3.12.*"


def test_remote_index_is_base_plus_accelerator() -> None:
    index = torch_index.torch_index("https://mirror.lab.org/pytorch/", "cpu")
    assert index == torch_index.TorchIndex(
        "pytorch-cpu", "https://mirror.lab.org/pytorch/cpu", False
    )


def test_local_folder_is_a_flat_index(tmp_path: Path) -> None:
    index = torch_index.torch_index(str(tmp_path), "cpu")
    assert index.flat
    assert index.url == str(tmp_path / "cpu")


def test_file_url_is_a_local_folder(tmp_path: Path) -> None:
    assert torch_index.torch_index(f"file://{tmp_path}", "cpu").flat


def test_local_folder_without_wheels_is_explained(tmp_path: Path) -> None:
    (tmp_path / "cpu").mkdir()
    assert "holds no wheels" in torch_index.index_url_error(str(tmp_path), "cpu")


def test_local_folder_with_wheels_passes(tmp_path: Path) -> None:
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "torch-2.13.0+cpu-cp311-cp311-linux_x86_64.whl").touch()
    assert torch_index.index_url_error(str(tmp_path), "cpu") == ""


@pytest.mark.parametrize(
    ("url", "problem"),
    [("", "empty"), ("relative/wheels", "relative path"), ("ftp://host/whl", "neither")],
)
def test_bad_index_urls_are_explained(url: str, problem: str) -> None:
    assert problem in torch_index.index_url_error(url, "cpu")


# The newest CUDA build: a new driver runs it, and it has kernels (or PTX) for new GPUs.
NEWEST_CUDA = next(build.name for build in reversed(cuda.BUILDS) if build.cuda is not None)


@pytest.mark.parametrize(
    ("driver", "build"),
    [
        ("580.65.06", NEWEST_CUDA),
        ("590.10", NEWEST_CUDA),
        ("580.10", "cu128"),  # an R580 driver older than CUDA 13's floor (580.65.06)
        ("570.124.06", "cu128"),
        ("550.54.14", "cu128"),
        ("525.60.13", "cu128"),
        ("525.60.12", "cpu"),
        ("470.82.01", "cpu"),
    ],
)
def test_newest_build_for_driver(driver: str, build: str) -> None:
    assert cuda.newest_build_for(driver).name == build


@pytest.mark.parametrize(
    ("gpu", "build"),
    [
        ((6, 0), "cu126"),  # P100: only CUDA 12.6 keeps Pascal
        ((7, 0), "cu126"),  # V100: CUDA 12.8 and 13 start at Turing
        ((7, 5), NEWEST_CUDA),
        ((9, 0), NEWEST_CUDA),
        ((12, 0), NEWEST_CUDA),  # Blackwell: CUDA 13 (kernels and PTX)
    ],
)
def test_newest_build_for_a_new_driver_depends_on_the_gpu(gpu: tuple[int, int], build: str) -> None:
    assert cuda.newest_build_for("580.65.06", (gpu,)).name == build


def test_a_blackwell_gpu_never_gets_cuda_12_6() -> None:
    assert cuda.newest_build_for("560.35.03", ((10, 0),)).name == "cu128"


def test_one_old_gpu_in_the_machine_decides_for_all() -> None:
    assert cuda.newest_build_for("580.65.06", ((9, 0), (7, 0))).name == "cu126"


def test_build_labels_name_the_driver() -> None:
    assert cuda.BUILDS_BY_NAME["cu130"].label == "CUDA 13.0 — NVIDIA driver ≥ 580.65.06"
    assert cuda.BUILDS_BY_NAME["cpu"].label.startswith("CPU only")


def test_requirements_sort_by_normalised_name() -> None:
    assert requirements.sorted_requirements(["torch", "Pandas>=2", "einops", "python_dotenv"]) == [
        "einops",
        "Pandas>=2",
        "python_dotenv",
        "torch",
    ]
