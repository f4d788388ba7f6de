"""Pinning pyproject.toml to uv.lock (the generated project's set-up: research_kit.setup's
pins, lock and upgrade modules, imported from template/kit/src, which the tasks put on
sys.path)."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
import tomlkit
from packaging.requirements import Requirement
from research_kit.setup import pins, upgrade
from research_kit.setup.lock import pin_pyproject, pins_hold

LOCK = """
version = 1
requires-python = "==3.11.*"

[[package]]
name = "torch"
version = "2.13.0+cpu"

[[package]]
name = "NumPy"
version = "2.4.6"

[[package]]
name = "pytest"
version = "9.2.0"

[[package]]
name = "xarray"
version = "2025.1.0"

[[package]]
name = "demo"
version = "0.1.0"
source = { editable = "." }
"""

PYPROJECT = """\
[project]
name = "demo"
dependencies = [
    "torch",  # the accelerator build comes from the index
    "numpy>=2",
    "xarray[io] ; python_version >= '3.11'",
    "not-locked-anywhere",
    'pytest',
]

[dependency-groups]
dev = ["pytest", { include-group = "docs" }]
docs = []

[tool.uv]
add-bounds = "exact"
"""


def dependencies(text: str) -> list[str]:
    return tomllib.loads(text)["project"]["dependencies"]


def test_bare_dependencies_are_pinned_to_the_lock() -> None:
    pinned = pin_pyproject(PYPROJECT, LOCK)
    assert '"torch==2.13.0",  # the accelerator build comes from the index' in pinned
    assert 'dev = ["pytest==9.2.0", { include-group = "docs" }]' in pinned


def test_pins_are_recorded_as_the_set_ups_own() -> None:
    record = tomllib.loads(pin_pyproject(PYPROJECT, LOCK))["tool"]["setup-env"]
    assert record["pinned"] == {"pytest": "9.2.0", "torch": "2.13.0", "xarray": "2025.1.0"}


def test_before_the_first_set_up_a_pin_is_yours() -> None:
    fresh = PYPROJECT.replace('"numpy>=2"', '"numpy==2.2.0"')  # written before the set-up ran
    assert "numpy==2.2.0" in dependencies(pin_pyproject(fresh, LOCK))


def test_a_range_of_yours_is_kept_as_written() -> None:
    assert "numpy>=2" in dependencies(pin_pyproject(PYPROJECT, LOCK))


@pytest.mark.parametrize(
    "yours",
    [
        pytest.param("numpy==2.3.0", id="pin-not-in-the-record"),
        pytest.param("numpy==2.4.6", id="pin-uv-add-wrote"),
        pytest.param("numpy>=2,<3", id="range"),
        pytest.param("numpy~=2.4", id="compatible-release"),
        pytest.param("numpy==2.*", id="wildcard"),
    ],
)
def test_a_specifier_of_yours_is_never_rewritten(yours: str) -> None:
    recorded = pin_pyproject(PYPROJECT, LOCK)  # the record has no numpy
    text = recorded.replace('"numpy>=2"', json.dumps(yours))
    assert pin_pyproject(text, LOCK) == text


def test_a_pin_equal_to_the_record_is_moved_to_the_lock() -> None:
    pinned = pin_pyproject(PYPROJECT, LOCK)
    newer = pinned.replace("2025.1.0", "2024.6.0")  # pin and record both from an older lock
    assert pin_pyproject(newer, LOCK) == pinned


def test_without_a_record_every_exact_pin_is_taken_as_the_set_ups() -> None:
    """A project set up before pins were recorded: every dependency pinned, no record."""
    pinned = pin_pyproject(PYPROJECT, LOCK)
    legacy = pins.drop_record(pinned).replace('"numpy>=2"', '"numpy==2.2.0"')
    legacy = legacy.replace('"not-locked-anywhere"', '"not-locked-anywhere==1.0"')
    pinned = pin_pyproject(legacy, LOCK)
    assert "numpy==2.4.6" in dependencies(pinned)
    assert tomllib.loads(pinned)["tool"]["setup-env"]["pinned"]["numpy"] == "2.4.6"


def test_extras_markers_and_quotes_survive_pinning_character_for_character() -> None:
    pinned = pin_pyproject(PYPROJECT, LOCK)
    assert "\"xarray[io]==2025.1.0 ; python_version >= '3.11'\"," in pinned
    assert "'pytest==9.2.0'," in pinned


@pytest.mark.parametrize(
    "requirement",
    ["numpy", "xarray[io] ; python_version >= '3.11'", "Torch [opt,cu]", "a.b-c_d;os_name=='nt'"],
)
def test_a_pin_comes_off_exactly_as_it_went_on(requirement: str) -> None:
    pinned = pins.with_pin(requirement, "1.0")
    assert str(Requirement(pinned).specifier) == "==1.0"
    assert pins.without_pin(pinned) == requirement


def test_local_label_is_dropped_so_one_pin_fits_every_platform() -> None:
    assert pins.pinned("torch", {"torch": {"2.13.0+cpu", "2.13.0"}}) == "torch==2.13.0"


def test_group_includes_and_unlocked_packages_are_left_alone() -> None:
    pinned = pin_pyproject(PYPROJECT, LOCK)
    assert '{ include-group = "docs" }' in pinned
    assert '"not-locked-anywhere"' in pinned


def test_pinning_twice_changes_nothing() -> None:
    once = pin_pyproject(PYPROJECT, LOCK)
    assert pin_pyproject(once, LOCK) == once


def test_the_record_comes_off_leaving_the_file_as_it_was() -> None:
    once = pin_pyproject(PYPROJECT, LOCK)
    assert pins.drop_record(once) == pins.drop_record(pins.write_record(once, {}))
    assert "[tool.setup-env" not in pins.drop_record(once)
    assert pins.drop_record(PYPROJECT) == PYPROJECT


def test_two_locked_versions_cannot_be_pinned() -> None:
    with pytest.raises(pins.StepFailed, match="several versions"):
        pins.pinned("numpy", {"numpy": {"2.2.6", "2.4.6"}})


# ── upgrade: what moves and what holds ────────────────────────────────────

TORCH_SOURCES = """
[tool.uv.sources]
torch = [
    { index = "pytorch-cu130", marker = "sys_platform == 'linux'" },
    { index = "pytorch-cpu", marker = "sys_platform != 'linux'" },
]
torchvision = [
    { index = "pytorch-cu130", marker = "sys_platform == 'linux'" },
    { index = "pytorch-cpu", marker = "sys_platform != 'linux'" },
]
triton-rocm = [{ index = "pytorch-cu130" }]
"""


@pytest.fixture
def pinned_project() -> str:
    """Set up (torch, torchvision, xarray, pytest pinned), then `uv add rich==13.0.0`."""
    text = PYPROJECT.replace('    "not-locked-anywhere",\n', '    "torchvision",\n')
    lock = LOCK + '\n[[package]]\nname = "torchvision"\nversion = "0.28.0"\n'
    pinned = pin_pyproject(text, lock)
    return pinned.replace(
        '    "torchvision==0.28.0",\n', '    "torchvision==0.28.0",\n    "rich==13.0.0",\n'
    )


def test_upgrade_of_everything_takes_the_set_ups_pins_off_and_holds_yours(
    pinned_project: str,
) -> None:
    plan = upgrade.upgrade_plan(pinned_project, [])
    assert plan.packages == ()  # uv lock --upgrade
    assert dependencies(plan.pyproject)[:3] == [
        "torch",
        "numpy>=2",
        "xarray[io] ; python_version >= '3.11'",
    ]
    assert plan.held == {"rich": "rich==13.0.0"}


def test_upgrade_of_one_package_takes_only_its_pin_off(pinned_project: str) -> None:
    plan = upgrade.upgrade_plan(pinned_project, ["XArray"])
    assert plan.packages == ("xarray",)
    assert "xarray[io] ; python_version >= '3.11'" in dependencies(plan.pyproject)
    assert "torch==2.13.0" in dependencies(plan.pyproject)


def test_upgrade_of_torch_moves_the_packages_of_its_index_together(pinned_project: str) -> None:
    plan = upgrade.upgrade_plan(pinned_project + TORCH_SOURCES, ["torch"])
    assert plan.packages == ("torch", "torchvision", "triton-rocm")
    assert {"torch", "torchvision"} <= set(dependencies(plan.pyproject))


def test_naming_a_package_you_pinned_moves_it(pinned_project: str) -> None:
    plan = upgrade.upgrade_plan(pinned_project, ["rich"])
    assert "rich" in dependencies(plan.pyproject) and plan.held == {}


def test_upgrade_of_an_unknown_package_is_refused(pinned_project: str) -> None:
    with pytest.raises(pins.InvalidProject, match="not a direct dependency"):
        upgrade.upgrade_plan(pinned_project, ["scipy"])


def test_upgrade_reports_old_new_and_held() -> None:
    lines = upgrade.moves(
        {"numpy": "2.2.0", "rich": "13.0.0", "pytest": "9.2.0"},
        {"numpy": "2.4.6", "rich": "13.0.0", "pytest": "9.2.0"},
        {"rich": "rich==13.0.0"},
    )
    assert lines == [  # one space apart: the upgrade workflow lists the `→` lines as they are
        "    numpy 2.2.0 → 2.4.6",
        "    rich 13.0.0: held by your pin (rich==13.0.0)",
        "    pytest 9.2.0: unchanged (the newest allowed)",
    ]


def test_upgrade_of_one_package_reports_only_it_and_what_moved_with_it() -> None:
    """`upgrade ruff` says nothing of numpy ("unchanged (the newest allowed)" would be false:
    a plain `upgrade` moves it), but names a dependency that moved along with ruff."""
    lines = upgrade.moves(
        {"numpy": "2.2.0", "ruff": "0.9.0", "rich": "13.0.0", "pytest": "9.2.0"},
        {"numpy": "2.2.0", "ruff": "0.15.0", "rich": "13.1.0", "pytest": "9.2.0"},
        {},
        ("ruff",),
    )
    assert lines == [
        "    ruff 0.9.0 → 0.15.0",
        "    rich 13.0.0 → 13.1.0 (not asked: moved with ruff)",
        "    (2 other direct dependencies not asked to move: kept as locked)",
    ]


# ── The record and pyproject.toml, checked before anything is done ────────


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        ('numpy = "banana"', '[tool.setup-env.pinned] numpy = "banana" is not a version'),
        ("numpy = 2", "[tool.setup-env.pinned] numpy = 2 is not a version"),
        ('numpy = ["2.3.0"]', '[tool.setup-env.pinned] numpy = ["2.3.0"] is not a version'),
    ],
)
def test_a_record_value_that_is_not_a_version_is_named(record: str, problem: str) -> None:
    text = f'[project]\nname = "demo"\ndependencies = ["numpy==2.3.0"]\n\n{RECORD_HEAD}{record}\n'
    for parse in (tomllib.loads, tomlkit.parse):  # the set-up and `upgrade` read both
        with pytest.raises(pins.InvalidRecord) as refused:
            pins.record_in(parse(text))
        assert str(refused.value) == f"pyproject.toml: {problem}."
        assert "git checkout -- pyproject.toml" in refused.value.hint


@pytest.mark.parametrize("value", ['"all of them"', "3", "[1, 2]"])
def test_a_record_that_is_not_a_table_is_named(value: str) -> None:
    text = f'[project]\nname = "demo"\n\n[tool.setup-env]\npinned = {value}\n'
    with pytest.raises(pins.InvalidRecord, match=r"\[tool.setup-env.pinned\] is .*, not a"):
        pins.record_in(tomllib.loads(text))
    with pytest.raises(pins.InvalidRecord):
        upgrade.upgrade_plan(text, [])


RECORD_HEAD = "[tool.setup-env.pinned]\n"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('[project\nname = "demo"\n', "pyproject.toml cannot be read: Expected ']'"),
        ('[project]\ndependencies = ["numpy>>2"]\n', '"numpy>>2" is not a requirement'),
        ('[dependency-groups]\ndev = ["pytest", "ruff=="]\n', '"ruff==" is not a requirement'),
    ],
)
def test_a_pyproject_the_set_up_cannot_read_is_named(
    tmp_path: Path, text: str, problem: str
) -> None:
    (tmp_path / "pyproject.toml").write_text(text)
    with pytest.raises(pins.InvalidProject, match=re.escape(problem)):
        pins.check_pyproject(tmp_path / "pyproject.toml")


def test_pins_are_written_into_the_lock_only_where_every_platform_locked_the_pin() -> None:
    """One platform resolved another torchvision (a companion from PyPI on macOS): the lock
    check would pass the written pin, so the set-up leaves the lock to uv."""
    assert pins_hold({"torch": "==2.13.0"}, {"torch": {"2.13.0", "2.13.0+cpu", "2.13.0+cu130"}})
    assert not pins_hold({"torchvision": "==0.28.0"}, {"torchvision": {"0.28.0", "0.29.2"}})
    assert not pins_hold({"numpy": "==2.4.6"}, {})
