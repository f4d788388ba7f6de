"""The suite's own rules, checked: it writes only into its temporary folders, never asserts
a wall-clock time (benchmarks/ measures), and registers imported files in one place."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest
from conftest import LONGEST_MODULES, USER_HOME, run, session_root

TESTS = Path(__file__).resolve().parent
TIME_CALLS = {"monotonic", "perf_counter", "time", "process_time", "monotonic_ns", "time_ns"}


def test_processes_get_a_home_and_a_uv_cache_of_the_sessions(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    """~/.cache (uv's cache, a downloaded torch wheel, pre-commit's, wandb's) is the suite's."""
    root = session_root(tmp_path_factory)
    home = Path(os.environ["HOME"])
    assert home != USER_HOME and home.is_relative_to(root), home
    assert Path.home() == home
    said = run(["uv", "cache", "dir"], tmp_path)
    assert said.returncode == 0, said.stderr
    assert Path(said.stdout.strip()).is_relative_to(root), said.stdout
    assert not {"XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME"} & set(os.environ)


def time_calls(node: ast.AST) -> bool:
    """Whether `node` calls time.monotonic() and the like (or a name imported from time)."""
    for call in ast.walk(node):
        if isinstance(call, ast.Call):
            function = call.func
            name = function.attr if isinstance(function, ast.Attribute) else None
            name = function.id if isinstance(function, ast.Name) else name
            if name in TIME_CALLS:
                return True
    return False


def timed_asserts(source: str) -> list[int]:
    """Lines of asserts on an elapsed time: `time.monotonic() - started < 2.5`, or a name
    assigned such a difference. (A deadline that stops a wait, `now < deadline`, is none.)"""
    tree = ast.parse(source)
    elapsed = {
        target.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        and any(
            isinstance(part, ast.BinOp) and isinstance(part.op, ast.Sub) and time_calls(part)
            for part in ast.walk(node.value)
        )
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Assert):
            continue
        differences = [
            part
            for part in ast.walk(node.test)
            if isinstance(part, ast.BinOp) and isinstance(part.op, ast.Sub) and time_calls(part)
        ]
        names = {part.id for part in ast.walk(node.test) if isinstance(part, ast.Name)}
        if differences or names & elapsed:
            lines.append(node.lineno)
    return lines


def test_the_checker_finds_a_timed_assert() -> None:
    assert timed_asserts(
        "started = time.monotonic()\nwork()\nassert time.monotonic() - started < 2.5\n"
    )
    assert timed_asserts("s = perf_counter()\nspent = perf_counter() - s\nassert spent < 1\n")
    assert not timed_asserts(
        "deadline = time.monotonic() + 5\nassert time.monotonic() < deadline\n"
    )


@pytest.mark.parametrize("module", sorted(TESTS.glob("*.py")), ids=lambda path: path.name)
def test_no_test_asserts_a_wall_clock_time(module: Path) -> None:
    """Times depend on the machine and its load: benchmarks/ measures them."""
    assert timed_asserts(module.read_text()) == [], f"{module.name}: an assert on a time"


def test_only_conftest_registers_imported_files() -> None:
    """conftest.import_file is the one place: a copy per test, gone when the test ends."""
    registering = [
        path.name
        for path in sorted(TESTS.glob("*.py"))
        if path.name not in ("conftest.py", Path(__file__).name)
        and "sys.modules" in path.read_text()
    ]
    assert registering == []


def test_the_matrix_narrows_only_the_sweep_and_skips_only_a_locked_rerun() -> None:
    """tests/matrix.py runs the README's sweep as one array task (its last combination) and
    `uv run --locked X` right after `uv run X` as the lock's check: nothing else changes."""
    from matrix import as_run, one_combination

    sweep = "uv run scripts/sweep.py scripts/train_example.py lr=0.1,0.01 seed=0,1,2"
    assert one_combination(sweep) == {"SLURM_ARRAY_TASK_ID": "5"}
    assert one_combination(f"{sweep} --list") == {}
    assert one_combination("uv run scripts/train_example.py --seed 3 --lr 0.05") == {}
    smoke = as_run("uv run scripts/smoke_test.py")
    assert as_run("uv run --locked python scripts/smoke_test.py") == smoke
    assert as_run("uv run --locked pytest") == as_run("uv run pytest") != smoke
    assert as_run("uv run --locked mypy") != as_run("uv run --locked pytest")


def test_the_longest_first_order_names_modules_that_exist() -> None:
    """A renamed module would silently drop out of the order."""
    tests = Path(__file__).parent
    assert [name for name in LONGEST_MODULES if not (tests / name).is_file()] == []
    assert len(set(LONGEST_MODULES)) == len(LONGEST_MODULES)
