"""tools/refresh_pytorch_facts.py: the facts file, rebuilt from the indexes' own listings.

Run on recorded listings (tests/data/listings: excerpts of PyTorch's PEP 503 pages and of
PyPI's JSON API, see SOURCE there), and on complete listings written from the committed facts.
"""

from __future__ import annotations

import functools
import json
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest

from extensions import pytorch_facts
from extensions.pytorch_facts import PROJECTS, Facts, Wheel
from tools import refresh_pytorch_facts as tool

LISTINGS = Path(__file__).parent / "data" / "listings"
# The facts file as committed when the excerpts were recorded (a frozen copy, so that a
# refresh of extensions/pytorch_indexes.toml changes no test here).
SNAPSHOT = Path(__file__).parent / "data" / "pytorch_indexes-2026-12-01.toml"
COMMITTED = pytorch_facts.read(SNAPSHOT)
COMMITTED_TEXT = SNAPSHOT.read_text()
# The releases the recorded excerpts hold (tests/data/listings/SOURCE).
COVERED = {
    "torch": {"2.9.1", "2.11.0", "2.13.0", "2.15.0"},
    "torchvision": {"0.28.0", "0.29.2"},
    "torchaudio": {"2.11.0", "2.11.1"},
    "triton-rocm": {"3.7.1"},
}


@functools.cache
def from_excerpts() -> Facts:
    listings = tool.RecordedListings(LISTINGS)
    return tool.read_facts(listings, COMMITTED.indexes(), COMMITTED, COMMITTED.checked)


def write_listings(folder: Path, facts: Facts, extra: Iterable[Wheel] = ()) -> Path:
    """Complete listings of `facts` (plus `extra` wheels), laid out like the real URLs."""
    wheels = [*facts.wheels(), *extra]
    for index in dict.fromkeys(w.index for w in wheels):
        for project in PROJECTS:
            names = [w.filename for w in wheels if (w.index, w.project) == (index, project)]
            if names:
                page = folder / "download.pytorch.org" / "whl" / index / project / "index.html"
                page.parent.mkdir(parents=True)
                page.write_text(tool.listing_page(index, project, names))
    for project in PROJECTS:
        releases: dict[str, list[dict[str, str]]] = {}
        for wheel in wheels:
            if wheel.project == project and wheel.requires_python:
                releases.setdefault(wheel.public_version, []).append(
                    {"filename": wheel.filename, "requires_python": wheel.requires_python}
                )
        answer = folder / "pypi.org" / "pypi" / project / "json"
        answer.parent.mkdir(parents=True)
        answer.write_text(json.dumps({"info": {"name": project}, "releases": releases}))
    (folder / "SOURCE").write_text(facts.source)
    return folder


@pytest.fixture
def facts_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "pytorch_indexes.toml"
    shutil.copyfile(SNAPSHOT, copy)
    return copy


# ── Reduction of recorded listings ─────────────────────────────────────────


@pytest.mark.parametrize("index", COMMITTED.indexes())
@pytest.mark.parametrize("project", PROJECTS)
def test_recorded_excerpts_reduce_to_the_committed_wheels(index: str, project: str) -> None:
    expected = {w for w in COMMITTED.wheels(index, project) if w.public_version in COVERED[project]}
    assert set(from_excerpts().wheels(index, project)) == expected


def test_releases_older_than_the_facts_keep_are_left_out() -> None:
    assert "2.8.0" not in from_excerpts().all_versions("torch")  # on the recorded cpu page


def test_requires_python_comes_from_pypi() -> None:
    assert from_excerpts().requires_python("cpu", "torch", "2.15.0") == ">=3.11"


def test_a_page_lists_file_names_with_the_plus_decoded_and_no_fragment() -> None:
    page = '<a href="/whl/cpu/torch-2.13.0%2Bcpu-cp311-cp311-win_amd64.whl#sha256=ab">x</a>'
    assert tool.filenames(page) == ["torch-2.13.0+cpu-cp311-cp311-win_amd64.whl"]


def test_a_build_tag_marks_the_same_wheel_uploaded_again() -> None:
    again = tool.parse_filename("torch-2.10.0-2-cp310-none-macosx_11_0_arm64.whl")
    assert again == tool.parse_filename("torch-2.10.0-cp310-none-macosx_11_0_arm64.whl")


# ── Rewriting the file ─────────────────────────────────────────────────────


def test_the_committed_file_is_the_tools_own_output() -> None:
    assert tool.dump(pytorch_facts.load()) == pytorch_facts.FACTS_FILE.read_text()
    assert tool.dump(COMMITTED) == COMMITTED_TEXT


def test_unchanged_listings_leave_the_file_byte_for_byte(tmp_path: Path, facts_copy: Path) -> None:
    listings = tool.RecordedListings(write_listings(tmp_path / "listings", COMMITTED))
    outcome = tool.refresh(listings, facts_copy, today=COMMITTED.checked)
    assert outcome.code == 0
    assert "No change" in outcome.messages[0]
    assert facts_copy.read_text() == COMMITTED_TEXT


NEW_RELEASE = [
    Wheel("cu130", "torch", "2.15.1+cu130", f"cp3{minor}", f"cp3{minor}", platform, ">=3.11")
    for minor in (11, 12, 13, 14)
    for platform in ("manylinux_2_28_x86_64", "manylinux_2_28_aarch64", "win_amd64")
]


def test_a_new_release_is_written_and_reported(tmp_path: Path, facts_copy: Path) -> None:
    listings = write_listings(tmp_path / "listings", COMMITTED, NEW_RELEASE)
    outcome = tool.refresh(tool.RecordedListings(listings), facts_copy, today="2026-12-24")
    assert outcome.code == 0
    assert "  cu130 torch: + 2.15.1" in outcome.messages
    refreshed = pytorch_facts.read(facts_copy)
    assert refreshed.newest("cu130", "torch", "linux-aarch64", "3.12") == "2.15.1"
    assert refreshed.checked == "2026-12-24"
    assert refreshed.notes == COMMITTED.notes  # kept for a person to review


def test_check_reports_a_stale_file_and_leaves_it(tmp_path: Path, facts_copy: Path) -> None:
    listings = write_listings(tmp_path / "listings", COMMITTED, NEW_RELEASE)
    outcome = tool.refresh(tool.RecordedListings(listings), facts_copy, check=True)
    assert outcome.code == 1
    assert "  cu130 torch: + 2.15.1" in outcome.messages
    assert facts_copy.read_text() == COMMITTED_TEXT


def test_an_index_without_listings_changes_nothing(facts_copy: Path) -> None:
    listings = tool.RecordedListings(LISTINGS)
    outcome = tool.refresh(listings, facts_copy, add_indexes=["cu134"])
    assert outcome.code == 2
    assert "cu134" in outcome.messages[0]
    assert facts_copy.read_text() == COMMITTED_TEXT


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_unreachable_indexes_are_named_and_change_nothing(facts_copy: Path) -> None:
    base = f"http://127.0.0.1:{_closed_port()}"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.refresh_pytorch_facts",
            "--facts",
            str(facts_copy),
            "--pytorch-url",
            f"{base}/whl",
            "--pypi-url",
            f"{base}/pypi",
        ],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert f"Cannot read the listings: {base}/" in result.stderr
    assert "Nothing changed" in result.stderr
    assert facts_copy.read_text() == COMMITTED_TEXT
