"""The pairwise matrix's real PyTorch installs (tests/matrix.py), apart from the other rows
so that pytest-xdist runs them beside those."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from matrix import ROWS, check_row, depth, row_id

pytestmark = pytest.mark.slow

SELECTED = [row for row in ROWS if depth(row) == "install" and row["framework"] == "pytorch"]


@pytest.fixture(scope="module")
def mypy_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One mypy cache for the module's rows: torch's stubs, linked from uv's cache, checked once."""
    return tmp_path_factory.mktemp("mypy-cache")


@pytest.mark.parametrize("row", SELECTED, ids=[row_id(row) for row in SELECTED])
def test_row(
    row: dict[str, Any],
    tmp_path: Path,
    mypy_cache: Path,
    request: pytest.FixtureRequest,
    capfd: pytest.CaptureFixture[str],
) -> None:
    uses_index = row["framework"] == "pytorch" and row["env_manager"] == "uv"
    index = request.getfixturevalue("stand_in_server") if uses_index else ""
    check_row(row, tmp_path / "protein-folding", index, mypy_cache, capfd)
