"""Every answer that can be wrong is refused at question time, and nothing is written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import copier
import pytest
from conftest import BASE_ANSWERS, TEMPLATE

BAD_ANSWERS = [
    pytest.param({"project_name": "  "}, "project name is empty", id="empty-project-name"),
    pytest.param({"package_name": ""}, "package name is empty", id="empty-package-name"),
    pytest.param({"package_name": "my-pkg"}, "not a valid lowercase", id="package-not-identifier"),
    pytest.param({"package_name": "class"}, "keyword", id="package-keyword"),
    pytest.param({"package_name": "torch"}, "shadow", id="package-shadows-torch"),
    pytest.param({"package_name": "test"}, "shadow", id="package-shadows-test"),
    pytest.param({"author_name": ""}, "author name is empty", id="empty-author"),
    pytest.param({"author_email": "ada.example.org"}, "not an email", id="email-without-at"),
    pytest.param({"python_version": "3.9"}, "supports Python 3.10", id="python-too-old"),
    pytest.param(
        {"framework": "none", "python_version": "3.16"}, "supports Python", id="python-too-new"
    ),
    pytest.param({"extra_dependencies": "numpy>=>2"}, "not a valid requirement", id="bad-req"),
    pytest.param(
        {"extra_dependencies": "protein-folding"}, "same import name", id="req-shadows-package"
    ),
    pytest.param({"torch_index_url": "wheels/here"}, "relative path", id="relative-index"),
    pytest.param({"torch_index_url": "/nonexistent/wheels"}, "holds no wheels", id="empty-index"),
    pytest.param({"accelerator": "cu999"}, "cu999", id="unknown-accelerator"),
    pytest.param(
        {"accelerator": "cu128", "torch_version": "2.13"},
        "torch 2.13 has no cu128 build",
        id="torch-release-without-the-build",
    ),
    pytest.param(
        {"accelerator": "cu132", "torch_version": "2.11"},
        "torch 2.11 has no cu132 build",
        id="build-newer-than-the-release",
    ),
    pytest.param({"torch_version": "2.3"}, "Invalid choice", id="unknown-torch"),
    pytest.param(
        {"include_slurm": True, "slurm_partition": ""},
        "partition is empty",
        id="slurm-empty-partition",
    ),
    pytest.param(
        {"include_slurm": True, "slurm_partition": "gpu a100"},
        "not a SLURM partition",
        id="slurm-space",
    ),
    pytest.param(
        {"include_slurm": True, "slurm_partition": "gpu,"},
        "not a SLURM partition",
        id="slurm-trailing-comma",
    ),
    pytest.param(
        {"include_slurm": True, "slurm_account": "my lab"},
        "not a SLURM account",
        id="slurm-account-space",
    ),
    pytest.param(
        {"include_slurm": True, "slurm_account": "--qos=x"},
        "not a SLURM account",
        id="slurm-account-option",
    ),
    pytest.param({"orcid": "0000-0002-1825"}, "not an ORCID iD", id="orcid-too-short"),
    pytest.param({"orcid": "0000-0002-1825-0098"}, "checksum", id="orcid-bad-checksum"),
    pytest.param({"cooloff_days": -1}, "outside 0 to 90", id="cooloff-negative"),
    pytest.param({"cooloff_days": 365}, "outside 0 to 90", id="cooloff-too-long"),
]


@pytest.mark.parametrize(("answers", "message"), BAD_ANSWERS)
def test_bad_answer_is_refused_and_nothing_written(
    tmp_path: Path, answers: dict[str, Any], message: str
) -> None:
    destination = tmp_path / "project"
    with pytest.raises(ValueError, match=message):
        copier.run_copy(
            str(TEMPLATE),
            str(destination),
            data={**BASE_ANSWERS, **answers},
            defaults=True,
            unsafe=True,
            vcs_ref="HEAD",
            quiet=True,
        )
    assert not destination.exists()
