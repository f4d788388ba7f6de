"""The benchmark's arithmetic: summaries of timings, step durations, inode-aware disk use.

Times themselves are never asserted (the benchmark reports them); these check the helpers.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from benchmarks import disk, machine, report
from benchmarks.paths import dependencies_of, without_folder
from benchmarks.process import step_durations, step_title
from benchmarks.scenarios import relock_seconds, rotated
from benchmarks.stats import ratios, summarize


def test_summary_is_median_min_max_and_count() -> None:
    summary = summarize([3.0, 1.0, 2.0, 10.0])
    assert (summary.median, summary.min, summary.max, summary.n) == (2.5, 1.0, 10.0, 4)


def test_summary_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError, match="no measurements"):
        summarize([])


def test_ratios_pair_runs_in_order() -> None:
    assert ratios([2.0, 3.0], [1.0, 2.0]) == [2.0, 1.5]


def test_ratios_refuse_unpaired_runs() -> None:
    with pytest.raises(ValueError, match="paired"):
        ratios([1.0], [1.0, 2.0])


@pytest.mark.parametrize(
    ("line", "title"),
    [
        (" > Running task 1 of 1: ['python', 'tasks/post_copy.py']\n", "Running task"),
        (
            "==> [2/5] Resolving and locking dependencies (uv lock)\n",
            "Resolving and locking dependencies (uv lock)",
        ),
        (
            "==> Initialising a git repository (git init)\n",
            "Initialising a git repository (git init)",
        ),
        ("PASS  torch        torch 2.13.0+cpu\n", None),
    ],
)
def test_step_lines_are_recognised(line: str, title: str | None) -> None:
    assert step_title(line) == title


def test_step_durations_run_from_each_step_line_to_the_next() -> None:
    steps = [(1.0, "lock"), (1.5, "sync"), (4.0, "check")]
    durations = step_durations(steps, total=5.0, first="start-up")
    assert durations == {"start-up": 1.0, "lock": 0.5, "sync": 2.5, "check": 1.0}


def test_each_round_starts_with_the_next_path(tmp_path: Path) -> None:
    order: list[str] = []

    def path(name: str):
        return lambda folder: (order.append(name), (1.0, {}))[1]

    results = rotated(3, {name: path(name) for name in "abc"}, tmp_path)

    assert "".join(order) == "abc" + "bca" + "cab"
    assert {name: len(runs) for name, runs in results.items()} == {"a": 3, "b": 3, "c": 3}


def test_an_updates_relock_runs_from_its_line_to_environment_ready() -> None:
    steps = [
        (2.0, "Taking the set-up's == pins out of the merge (in git's index only)"),
        (5.0, "Re-locking after the update (uv run scripts/setup_env.py --from lock)"),
        (6.0, "Resolving and locking dependencies (uv lock)"),
        (9.5, "Environment ready: uv run pytest runs the tests."),
    ]
    assert relock_seconds(steps, total=10.0) == 4.5


def test_an_update_without_a_relock_line_spent_nothing_relocking() -> None:
    assert (
        relock_seconds(
            [(2.0, "Taking the set-up's == pins out of the merge (in git's index only)")], total=4.0
        )
        == 0.0
    )


def _file(path: Path, size: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    return path


def _allocated(*paths: Path) -> int:
    return sum(os.lstat(p).st_blocks * 512 for p in paths)


def test_files_hardlinked_from_a_cache_cost_later_projects_nothing(tmp_path: Path) -> None:
    cache_file = _file(tmp_path / "cache" / "torch.so", 64_000)
    projects = [tmp_path / f"project-{n}" for n in (1, 2)]
    for project in projects:
        (project / "venv").mkdir(parents=True)
        os.link(cache_file, project / "venv" / "torch.so")
    private = _file(projects[1] / "venv" / "__pycache__" / "mod.pyc", 9_000)

    first, second = disk.account(projects)

    linked = _allocated(cache_file)
    assert first.shared_outside == second.shared_outside == linked
    assert first.total == linked + _allocated(projects[0], projects[0] / "venv")
    own = [projects[1], projects[1] / "venv", private.parent, private]
    assert second.added == _allocated(*own)


def test_a_projects_own_bytes_are_split_into_bytecode_directories_and_other(
    tmp_path: Path,
) -> None:
    project = tmp_path / "project"
    compiled = _file(project / "venv" / "torch" / "__pycache__" / "nn.cpython-311.pyc", 12_000)
    record = _file(project / "venv" / "torch-2.13.0.dist-info" / "RECORD", 5_000)
    folders = [project, project / "venv", project / "venv" / "torch", record.parent]

    (usage,) = disk.account([project])

    assert usage.added_by_kind == {
        "bytecode": _allocated(compiled.parent, compiled),
        "directories": _allocated(*folders),
        "other": _allocated(record),
    }
    assert sum(usage.added_by_kind.values()) == usage.added


def test_a_file_hardlinked_between_projects_only_counts_in_the_first(tmp_path: Path) -> None:
    first_copy = _file(tmp_path / "a" / "data.bin", 32_000)
    (tmp_path / "b").mkdir()
    os.link(first_copy, tmp_path / "b" / "data.bin")

    a, b = disk.account([tmp_path / "a", tmp_path / "b"])

    assert a.added == a.total == _allocated(tmp_path / "a", first_copy)
    assert a.shared_outside == b.shared_outside == 0
    assert b.added == _allocated(tmp_path / "b")


def test_linked_share_is_the_hardlinked_part_of_the_file_bytes(tmp_path: Path) -> None:
    cache_file = _file(tmp_path / "cache" / "big", 40_960)
    (tmp_path / "venv").mkdir()
    os.link(cache_file, tmp_path / "venv" / "big")
    own = _file(tmp_path / "venv" / "own", 40_960)
    expected = _allocated(cache_file) / (_allocated(cache_file) + _allocated(own))
    assert disk.linked_share(tmp_path / "venv") == pytest.approx(expected)


def test_results_block_of_the_docs_page_is_replaced_and_the_rest_kept() -> None:
    page = f"# Title\n\nProse.\n\n{report.DOCS_START}\nold\n{report.DOCS_END}\n\nMore prose.\n"
    updated = report.replace_block(page, "| new | table |")
    assert updated == (
        f"# Title\n\nProse.\n\n{report.DOCS_START}\n\n| new | table |\n\n"
        f"{report.DOCS_END}\n\nMore prose.\n"
    )


def test_a_docs_page_without_the_block_is_an_error() -> None:
    with pytest.raises(ValueError, match="benchmark-results"):
        report.replace_block("# No block here\n", "| table |")


def test_steps_that_name_the_project_folder_are_one_step_across_runs(tmp_path: Path) -> None:
    durations = [
        step_durations(
            without_folder([(1.0, f"Next: cd {folder} && uv run pytest")], folder), 1.5, "start"
        )
        for folder in (tmp_path / "template-1", tmp_path / "template-2")
    ]
    assert [list(d) for d in durations] == [["start", "Next: cd <project> && uv run pytest"]] * 2


def test_by_hand_adds_the_projects_dependencies_but_not_its_own_folders(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "folding"\nversion = "0.1.0"\n'
        'dependencies = ["numpy==2.4.6", "folding-kit", "torch[opt-einsum]==2.13.0"]\n'
        '[dependency-groups]\ndev = ["pytest==9.2.0"]\n'
        '[tool.uv.sources]\nfolding-kit = { path = "kit", editable = true }\n'
        'torch = [{ index = "pytorch-cpu" }]\n'
    )
    dependencies = dependencies_of(tmp_path)
    assert dependencies.project == ["numpy", "torch[opt-einsum]"]
    assert dependencies.dev == ["pytest"]


def test_the_cost_of_creating_a_file_is_measured_and_leaves_nothing(tmp_path: Path) -> None:
    assert machine.file_creation_ms(tmp_path, count=20) > 0
    assert list(tmp_path.iterdir()) == []


def test_the_files_a_clone_writes_are_the_tracked_ones(tmp_path: Path) -> None:
    for name in ("a.txt", "sub/b.txt", "untracked.txt"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(name)
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["git", "add", "a.txt", "sub/b.txt"], cwd=tmp_path, check=True)
    assert machine.tracked_files(tmp_path) == 2
