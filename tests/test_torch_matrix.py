"""Issue #11's matrix at question time (tests/torch_matrix.py has the cases and the spec).

Every case is asked through copier's real API: the ones no release can serve are refused
with the reason, before anything is written; tests/test_torch_matrix_locks_*.py lock the
others and read what each platform would install.
"""

from __future__ import annotations

from pathlib import Path

import copier
import pytest
from conftest import TEMPLATE
from torch_matrix import CASES, PACKAGE_SETS, Case, expected

from extensions import compat, cuda, torch_releases

REFUSED = [pytest.param(case, id=case.id) for case in CASES if expected(case) is None]
ACCEPTED = [pytest.param(case, id=case.id) for case in CASES if expected(case) is not None]


def test_the_matrix_covers_every_offered_combination() -> None:
    routed = len(cuda.BUILDS)  # one routed variant per build, one two-build per GPU build
    two_builds = sum(build.is_gpu for build in cuda.BUILDS)
    assert len(CASES) == (routed + two_builds) * len(PACKAGE_SETS) * len(compat.PYTHONS)
    assert REFUSED and ACCEPTED


@pytest.mark.parametrize("case", REFUSED)
def test_a_combination_no_release_serves_is_refused_when_asked(case: Case, tmp_path: Path) -> None:
    destination = tmp_path / "project"
    with pytest.raises(ValueError, match=r"No PyTorch release has|PyTorch publishes no"):
        copier.run_copy(
            str(TEMPLATE),
            str(destination),
            data=case.answers,
            defaults=True,
            unsafe=True,
            vcs_ref="HEAD",
            quiet=True,
            skip_tasks=True,
        )
    assert not destination.exists()


@pytest.mark.parametrize("case", ACCEPTED)
def test_the_template_chooses_the_line_the_facts_allow(case: Case) -> None:
    """The template's choice (extensions/torch_releases.py) agrees with this file's spec."""
    want = expected(case)
    assert want is not None
    choice = torch_releases.choose(
        case.accelerator, case.packages, case.python, cpu_extra=case.cpu_extra
    )
    assert choice.line == want.line


def test_cu132_with_torchaudio_is_refused_naming_the_missing_build() -> None:
    with pytest.raises(torch_releases.NoRelease, match="no cu132 build of torchaudio"):
        torch_releases.choose("cu132", ["torchaudio"], "3.12")
