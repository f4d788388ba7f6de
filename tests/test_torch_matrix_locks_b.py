"""Issue #11's matrix, locked: half b of the cases the template accepts (see
tests/torch_matrix.py). Two modules, so that the two test workers share the work.

Each case renders the project, runs its own set-up up to the per-platform check on the
replica of PyTorch's indexes and a fresh uv cache, and reads back what every platform and
every extra would install.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from torch_matrix import CASES, LOCKABLE, Case, check_case, expected, render_and_lock

pytestmark = pytest.mark.slow

LOCKED = [case for case in CASES if expected(case) is not None and case.python in LOCKABLE]
HALF = [pytest.param(case, id=case.id) for case in LOCKED[1::2]]


@pytest.mark.parametrize("case", HALF)
def test_every_platform_installs_the_chosen_build_and_release(
    case: Case, tmp_path: Path, stand_in_index: Path, fresh_uv_cache: Path
) -> None:
    project = render_and_lock(case, tmp_path / "project", torch_index_url=str(stand_in_index))
    check_case(case, project)
