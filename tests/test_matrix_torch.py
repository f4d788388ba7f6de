"""The pairwise matrix's real PyTorch installs (tests/matrix.py), apart from the other rows
so that pytest-xdist runs them beside those."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from matrix import ROWS, depth, row_id

pytestmark = pytest.mark.slow

SELECTED = [row for row in ROWS if depth(row) == "install" and row["framework"] == "pytorch"]


@pytest.mark.parametrize("row", SELECTED, ids=[row_id(row) for row in SELECTED])
def test_row(row: dict[str, Any], check_matrix_row: Callable[[dict[str, Any]], None]) -> None:
    check_matrix_row(row)
