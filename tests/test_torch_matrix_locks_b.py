"""Issue #11's matrix, locked: the other half of the cases (see test_torch_matrix_locks_a.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from torch_matrix import LOCKED, Case

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in LOCKED[1::2]])
def test_every_platform_installs_the_chosen_build_and_release(
    case: Case, lock_and_check_case: Callable[[Case], None]
) -> None:
    lock_and_check_case(case)
