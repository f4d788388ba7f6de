"""Issue #11's matrix, locked: half a of the cases the template accepts (see
tests/torch_matrix.py). Two modules, so that the two test workers share the work.

Each case renders the project, runs its own set-up up to the per-platform check on the
replica of PyTorch's indexes and a fresh uv cache, and reads back what every platform and
every extra would install.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from torch_matrix import LOCKED, Case

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in LOCKED[0::2]])
def test_every_platform_installs_the_chosen_build_and_release(
    case: Case, lock_and_check_case: Callable[[Case], None]
) -> None:
    lock_and_check_case(case)
