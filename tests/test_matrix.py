"""The pairwise matrix (tests/matrix.py): that it covers every pair, and its rows that
are rendered or locked, not installed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from matrix import FACTORS, INSTALLABLE_PYTHONS, ROWS, depth, row_id, valid
from pairwise import uncovered_pairs

pytestmark = pytest.mark.slow

SELECTED = [row for row in ROWS if depth(row) != "install"]


def test_the_matrix_covers_every_pair() -> None:
    assert uncovered_pairs(ROWS, FACTORS, valid) == set()
    assert uncovered_pairs(ROWS[:-1], FACTORS, valid)  # each row is needed: the check can fail


def test_the_matrix_installs_real_torch_and_every_offered_python() -> None:
    assert {row["python"] for row in ROWS} == set(FACTORS["python"])
    installs = [row for row in ROWS if depth(row) == "install"]
    assert any(row["framework"] == "pytorch" and row["cpu_extra"] for row in installs)
    assert {row["python"] for row in installs} == set(INSTALLABLE_PYTHONS)


@pytest.mark.parametrize("row", SELECTED, ids=[row_id(row) for row in SELECTED])
def test_row(row: dict[str, Any], check_matrix_row: Callable[[dict[str, Any]], None]) -> None:
    check_matrix_row(row)
