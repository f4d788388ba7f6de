"""The pieces `copier update` runs in a project: the set-up's pins hidden from the merge and put
back, dependency lists merged one dependency at a time, staging in a sub-project, the restore
command at an unfinished update, answers renamed, conflicts found. The whole update is tested
in test_update*.py."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest
from conftest import TEMPLATE, Render, git, run
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.requirements import Requirement
from research_kit.setup import pins  # template/kit/src: the tasks put it on sys.path
from research_kit.setup.lock import pin_pyproject

from tasks import (
    dependency_merge,  # run through `uv run --script`; tomlkit is here too
    recovery,
)
from tasks.conflicts import conflicted_files
from tasks.post_update import merge_file as line_merge
from tasks.post_update import remove_stale_locks, restore_pins
from tasks.pre_update import UpdateRefused, check_clean, stage
from tasks.pyproject_text import dependency_lists, hidden_quickly
from tasks.rename_answer import rename_answer

# ── Hiding the set-up's pins from the merge, and putting them back ────────

SET_UP = """\
[project]
name = "demo"
# Pinned to uv.lock.
dependencies = [
    "numpy",
    "einops>=0.8",
    "rich==14.0.0",
    "scipy ; sys_platform == 'linux'",
]

[project.optional-dependencies]
plots = ['matplotlib']

[dependency-groups]
dev = [
    "pytest",
    { include-group = "lint" },
]
lint = ["ruff"]

[tool.demo]
note = "numpy==2.4.6"
"""
LOCK = "".join(
    f'[[package]]\nname = "{name}"\nversion = "{version}"\n\n'
    for name, version in [
        ("numpy", "2.4.6"),
        ("einops", "0.8.1"),
        ("rich", "14.0.0"),
        ("scipy", "1.16.0"),
        ("matplotlib", "3.10.0"),
        ("pytest", "9.2.0"),
        ("ruff", "0.17.5"),
    ]
)


@pytest.fixture
def set_up() -> str:
    """SET_UP as the set-up leaves it: bare dependencies pinned and recorded."""
    return pin_pyproject(SET_UP, LOCK)


def test_hiding_takes_off_exactly_the_set_ups_pins_and_record(set_up: str) -> None:
    assert dependency_merge.hide(set_up) == SET_UP


def test_hiding_keeps_your_pin_even_at_the_recorded_version(set_up: str) -> None:
    yours = set_up.replace('"einops>=0.8"', '"einops==0.8.1"')  # not in the record
    assert '"einops==0.8.1"' in dependency_merge.hide(yours)


def test_hiding_without_a_record_takes_off_every_exact_pin(set_up: str) -> None:
    legacy = pins.drop_record(set_up)  # as the set-up left it before pins were recorded
    assert dependency_merge.hide(legacy) == SET_UP.replace('"rich==14.0.0"', '"rich"')


def test_before_the_first_set_up_no_pin_is_the_set_ups() -> None:
    assert dependency_merge.hide(SET_UP) == SET_UP


def test_restoring_after_an_unchanged_merge_gives_the_file_back(set_up: str) -> None:
    assert dependency_merge.restore(dependency_merge.hide(set_up), set_up) == set_up


@pytest.fixture
def committed(tmp_path: Path, set_up: str) -> tuple[Path, str]:
    """A project committed with its pins, and pyproject.toml staged with them off."""
    for name, text in [
        ("pyproject.toml", set_up),
        ("uv.lock", LOCK),
        (".python-version", "3.11\n"),
    ]:
        (tmp_path / name).write_text(text)
    git("init", "-q", cwd=tmp_path)
    git("add", "--all", cwd=tmp_path)
    git("commit", "-qm", "set up", cwd=tmp_path)
    return tmp_path, dependency_merge.hide(set_up)


def test_a_merge_without_dependency_changes_gets_its_pins_back(committed, set_up: str) -> None:
    project, hidden = committed
    release = hidden.replace("# Pinned to uv.lock.", "# Pinned == to uv.lock.")
    (project / "pyproject.toml").write_text(release)
    assert restore_pins(project, hidden) is False  # no re-lock
    assert (project / "pyproject.toml").read_text() == set_up.replace(
        "# Pinned to uv.lock.", "# Pinned == to uv.lock."
    )


def test_a_merge_with_a_new_dependency_leaves_the_pins_to_the_relock(committed) -> None:
    project, hidden = committed
    release = hidden.replace('    "numpy",\n', '    "numpy",\n    "tqdm",\n')
    (project / "pyproject.toml").write_text(release)
    assert restore_pins(project, hidden) is True
    written = (project / "pyproject.toml").read_text()
    assert written == release.rstrip("\n") + "\n\n[tool.setup-env.pinned]\n"  # all bare
    assert pins.yours(written) == ["einops>=0.8", "rich==14.0.0"]


# The same, with the standard library alone (the common case, without a `uv run`)


@pytest.fixture
def plain(set_up: str) -> str:
    """set_up without the one string that repeats a pin outside the dependency lists."""
    return set_up.replace('note = "numpy==2.4.6"', 'note = "see README"')


def test_quick_hiding_gives_what_tomlkit_gives(plain: str) -> None:
    assert hidden_quickly(plain) == dependency_merge.hide(plain)


def test_quick_hiding_of_a_generated_project_gives_its_render_back(rendered: Render) -> None:
    render = (
        rendered(framework="none", extra_dependencies="attrs>=23") / "pyproject.toml"
    ).read_text()
    names = [
        Requirement(item).name
        for items in dependency_lists(tomllib.loads(render))
        for item in items
    ]
    lock = "".join(
        f'[[package]]\nname = "{name}"\nversion = "1.2.{i}"\n\n' for i, name in enumerate(names)
    )
    pinned = pin_pyproject(render, lock)
    assert pinned != render
    assert hidden_quickly(pinned) == render


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(
            lambda t: t.replace('"numpy==2.4.6",', '"numpy == 2.4.6",'), id="pin-respaced"
        ),
        pytest.param(lambda t: t, id="pin-repeated-outside-the-lists"),
        pytest.param(lambda t: t + "\n[tool.later]\nx = 1\n", id="record-not-last"),
        pytest.param(lambda t: pins.drop_record(t), id="set-up-before-the-record"),
    ],
)
def test_quick_hiding_leaves_the_unusual_to_tomlkit(set_up: str, change) -> None:
    assert hidden_quickly(change(set_up)) is None


def test_pins_come_back_around_a_template_change_by_a_line_merge(plain: str) -> None:
    hidden = dependency_merge.hide(plain)
    merged = hidden.replace("# Pinned to uv.lock.", "# Pinned == to uv.lock.")  # the release
    conflicts, restored = line_merge(merged, hidden, plain)
    assert (conflicts, restored) == (
        0,
        plain.replace("# Pinned to uv.lock.", "# Pinned == to uv.lock."),
    )


# ── Merging dependency lists, one dependency at a time ─────────────────────


@pytest.mark.parametrize(
    ("base", "ours", "theirs", "merged"),
    [
        pytest.param(["a"], ["a", "r==1"], ["a", "t"], ["a", "r==1", "t"], id="both-add"),
        pytest.param(["a", "b"], ["a==1", "b"], ["a", "b", "c"], ["a==1", "b", "c"], id="pin-kept"),
        pytest.param(["a", "b"], ["a", "b"], ["b"], ["b"], id="template-drops"),
        pytest.param(["a", "b"], ["b"], ["a", "b", "c"], ["b", "c"], id="you-drop"),
        pytest.param(["a"], ["a>=1,<2"], ["a", "z"], ["a>=1,<2", "z"], id="range-kept"),
        pytest.param(
            ["a"], ["a; os_name == 'nt'"], ["a", "b"], ["a; os_name == 'nt'", "b"], id="marker"
        ),
        pytest.param(["b"], ["b", "z==1"], ["a", "b"], ["a", "b", "z==1"], id="sorted-insert"),
        pytest.param(["a"], ["a", "t"], ["a", "t"], ["a", "t"], id="same-addition"),
    ],
)
def test_lists_merge_per_dependency(
    base: list[str], ours: list[str], theirs: list[str], merged: list[str]
) -> None:
    entries = dependency_merge.merge_entries(base, ours, theirs)
    assert entries is not None
    assert not any(entry.conflict for entry in entries)
    assert [entry.ours for entry in entries] == merged


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        pytest.param(["a==1"], ["a>=2"], id="both-change"),
        pytest.param(["a==1"], [], id="you-pin-template-drops"),
        pytest.param([], ["a[x]"], id="you-drop-template-changes"),
    ],
)
def test_a_dependency_both_sides_changed_is_a_conflict(ours: list[str], theirs: list[str]) -> None:
    entries = dependency_merge.merge_entries(["a"], ours, theirs)
    assert entries is not None
    (entry,) = entries
    assert entry.conflict
    assert (entry.ours, entry.theirs) == ((ours or [None])[0], (theirs or [None])[0])


BASE = SET_UP.replace('    "rich==14.0.0",\n', "").replace('    "einops>=0.8",\n', "")
THEIRS = BASE.replace("# Pinned to uv.lock.", "# Pinned == to uv.lock.").replace(
    '    "numpy",\n', '    "numpy",\n    "tqdm",\n'
)


def merge_file(merged: dict[str, str], tmp_path: Path) -> tuple[int, str]:
    for side in ("ours", "base", "theirs"):
        (tmp_path / side).write_text(merged[side])
    result = run(["git", "merge-file", "-p", "ours", "base", "theirs"], tmp_path)
    return result.returncode, result.stdout


def test_merged_lists_leave_git_merge_file_no_conflict(tmp_path: Path) -> None:
    merged = dependency_merge.merge(BASE, SET_UP, THEIRS)
    assert merged["conflicts"] == []
    expected = SET_UP.replace("# Pinned to uv.lock.", "# Pinned == to uv.lock.")
    expected = expected.replace("'linux'\",\n", '\'linux\'",\n    "tqdm",\n')  # name order
    assert merge_file(merged, tmp_path) == (0, expected)


def test_a_real_conflict_is_marked_on_its_own_line(tmp_path: Path) -> None:
    ours = SET_UP.replace('    "numpy",\n', '    "numpy==2.3.0",\n')
    theirs = THEIRS.replace('    "numpy",\n', '    "numpy>=2.4",\n')
    merged = dependency_merge.merge(BASE, ours, theirs)
    assert merged["conflicts"] == ["project.dependencies: numpy"]
    conflicts, text = merge_file(merged, tmp_path)
    assert conflicts == 1
    assert '<<<<<<< ours\n    "numpy==2.3.0",\n=======\n    "numpy>=2.4",\n>>>>>>> theirs\n' in text
    assert '    "tqdm",\n' in text and "# Pinned == to uv.lock." in text


# ── Comments in the lists: each stays with its dependency ─────────────────


def project_with(entries: str) -> str:
    return f'[project]\nname = "demo"\ndependencies = [\n{entries}]\n\n[tool.demo]\nx = 1\n'


def merged_text(base: str, ours: str, theirs: str) -> tuple[int, str, list[str]]:
    """merge() and then the line merge, as post_update.py runs them."""
    merged = dependency_merge.merge(project_with(base), project_with(ours), project_with(theirs))
    conflicts, text = line_merge(merged["ours"], merged["base"], merged["theirs"])
    return conflicts, text, merged["conflicts"]


def test_an_inline_comment_stays_when_the_release_changes_its_dependency() -> None:
    conflicts, text, _ = merged_text(
        '    "numpy",\n    "pandas",\n',
        '    "numpy",\n    "pandas",  # tables, see methods.md\n',
        '    "numpy",\n    "pandas>=2",\n',
    )
    assert conflicts == 0
    assert '    "pandas>=2",  # tables, see methods.md\n' in text


def test_a_comment_above_stays_above_when_the_release_adds_before_it() -> None:
    conflicts, text, _ = merged_text(
        '    "b",\n',
        '    # why b: the paper\'s figures\n    "b",\n',
        '    "a",\n    "b",\n',
    )
    assert conflicts == 0
    assert '    "a",\n    # why b: the paper\'s figures\n    "b",\n' in text


def test_a_commented_dependency_the_release_drops_is_a_conflict() -> None:
    conflicts, text, listed = merged_text(
        '    "numpy",\n    "scipy",\n',
        '    "numpy",\n    # scipy: for the ODE solver\n    "scipy",\n',
        '    "numpy",\n',
    )
    assert conflicts == 1 and listed == ["project.dependencies: scipy"]
    ours = text.split("<<<<<<< before updating\n")[1].split("=======")[0]
    assert ours == '    # scipy: for the ODE solver\n    "scipy",\n'


def test_hiding_and_restoring_pins_keep_their_comments(set_up: str) -> None:
    commented = set_up.replace('"numpy==2.4.6",', '"numpy==2.4.6",  # the lock\'s')
    hidden = dependency_merge.hide(commented)
    assert '    "numpy",  # the lock\'s\n' in hidden
    assert dependency_merge.restore(hidden, commented) == commented


NAMES = list("abcdefg")


@st.composite
def three_lists(draw: st.DrawFn) -> tuple[list[str], list[list[str]], list[list[str]]]:
    """A release's list (base), the user's (ours: annotated, pinned, added to, trimmed) and
    the next release's (theirs: added to, trimmed, specifiers changed), ours and theirs as
    lines of text per dependency.

    Each user comment names its dependency (`# above b 0`, `# why b`), so where it lands says
    whether it stayed with it.
    """
    base = draw(st.lists(st.sampled_from(NAMES), unique=True, max_size=5))
    new = st.lists(st.sampled_from([n for n in NAMES if n not in base]), unique=True, max_size=2)
    ours = []
    for name in [n for n in base if draw(st.integers(0, 5))] + draw(new):
        lines = [f"# above {name} {i}" for i in range(draw(st.integers(0, 2)))]
        if lines and draw(st.booleans()):
            lines.append("")  # a blank line between the comments and their dependency
        spec = draw(st.sampled_from(["", "", "==1.0", ">=2"]))
        inline = f"  # why {name}" if draw(st.booleans()) else ""
        lines.append(f'"{name}{spec}",{inline}')
        ours.append(lines)
    theirs_names = sorted([n for n in base if draw(st.integers(0, 4))] + draw(new))
    theirs = [[f'"{n}{draw(st.sampled_from(["", "", "<9"]))}",'] for n in theirs_names]
    return base, ours, theirs


def list_text(entries: list[list[str]]) -> str:
    return "".join(f"    {line}\n" if line else "\n" for lines in entries for line in lines)


@settings(max_examples=150, deadline=None)
@given(lists=three_lists())
def test_every_comment_stays_with_its_dependency(lists) -> None:
    base, ours, theirs = lists
    base_text = "".join(f'    "{name}",\n' for name in base)
    conflicts, text, _ = merged_text(base_text, list_text(ours), list_text(theirs))
    lines = text.splitlines()
    comments = [line[line.index("#") :] for entry in ours for line in entry if "#" in line]
    for comment in comments:  # none lost, none doubled
        found = sum(line.endswith(comment) for line in lines)
        assert found == 1 or (conflicts and found == 2), (comment, text)  # on both sides
    if conflicts:
        return
    tomllib.loads(text)
    for index, line in enumerate(lines):
        if "# above " in line:  # above its dependency, with only its own comments between
            name = line.split("# above ")[1].split()[0]
            below = next(x for x in lines[index + 1 :] if x.strip() and "# above" not in x)
            assert below.strip().startswith(f'"{name}'), (name, text)
        if "# why " in line:  # on its dependency's line
            assert line.strip().startswith(f'"{line.split("# why ")[1]}'), (line, text)


# ── Staging in the project's own folder ────────────────────────────────────


@pytest.mark.parametrize(
    "root_pyproject", [True, False], ids=["root-pyproject", "no-root-pyproject"]
)
def test_staging_in_a_sub_project_touches_only_its_pyproject(
    tmp_path: Path, root_pyproject: bool
) -> None:
    git("init", "-q", cwd=tmp_path)
    sub = tmp_path / "projects" / "sub"
    sub.mkdir(parents=True)
    (sub / "pyproject.toml").write_text(SET_UP)
    if root_pyproject:
        (tmp_path / "pyproject.toml").write_text("[project]\nname = 'lab'\n")
    git("add", "--all", cwd=tmp_path)
    git("commit", "-qm", "lab", cwd=tmp_path)
    root_index = git("ls-files", "--stage", "pyproject.toml", cwd=tmp_path)

    stage(sub, "staged\n")

    assert git("show", ":projects/sub/pyproject.toml", cwd=tmp_path) == "staged\n"
    assert git("ls-files", "--stage", "pyproject.toml", cwd=tmp_path) == root_index
    assert (sub / "pyproject.toml").read_text() == SET_UP  # the working tree is left alone


def test_an_untracked_file_stops_the_update_before_it_starts(tmp_path: Path) -> None:
    git("init", "-q", cwd=tmp_path)
    (tmp_path / "notes.txt").write_text("not committed\n")
    with pytest.raises(UpdateRefused, match=r"notes\.txt"):
        check_clean(tmp_path)


def test_an_unfinished_update_is_reported_at_exit(tmp_path: Path) -> None:
    git("init", "-q", cwd=tmp_path)
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); from tasks import recovery;"
        "from pathlib import Path; recovery.watch(Path.cwd()); recovery.begin(Path.cwd())"
    )
    result = run([sys.executable, "-c", script, str(TEMPLATE)], tmp_path)
    assert f"run in {tmp_path}:\n        {recovery.RESTORE}" in result.stderr


def test_a_finished_update_is_not_reported(tmp_path: Path) -> None:
    git("init", "-q", cwd=tmp_path)
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); from tasks import recovery;"
        "from pathlib import Path; recovery.watch(Path.cwd()); recovery.begin(Path.cwd());"
        "recovery.end(Path.cwd())"
    )
    result = run([sys.executable, "-c", script, str(TEMPLATE)], tmp_path)
    assert result.stderr == ""


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        pytest.param({"old": "a", "x": 1}, {"new": "a", "x": 1}, id="renamed"),
        pytest.param({"old": "a", "new": "b"}, {"new": "b"}, id="new-answer-wins"),
        pytest.param({"x": 1}, {"x": 1}, id="nothing-to-rename"),
    ],
)
def test_rename_answer(answers: dict, expected: dict) -> None:
    assert rename_answer(answers, "old", "new") == expected


def test_a_task_runs_as_copier_runs_it(tmp_path: Path) -> None:
    """`python <template>/tasks <task> ...` in the project's folder, with Copier's Python:
    the task imports the template's packages and reads its own arguments."""
    (tmp_path / ".copier-answers.yml").write_text("_commit: v0.1.0\nold: kept\n")
    command = [sys.executable, str(TEMPLATE / "tasks"), "rename_answer"]
    result = run([*command, ".copier-answers.yml", "old", "new"], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "new: kept" in (tmp_path / ".copier-answers.yml").read_text()


def test_an_unknown_task_names_the_tasks(tmp_path: Path) -> None:
    result = run([sys.executable, str(TEMPLATE / "tasks"), "post_cpy"], tmp_path)
    assert result.returncode == 1
    assert (
        "TASK is one of: dependency_merge, kept_files, post_copy, post_update, pre_update, "
        "rename_answer" in (result.stderr)
    )


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    git("init", "-q", cwd=tmp_path)
    (tmp_path / "clean.txt").write_text("nothing to see\n")
    (tmp_path / "marked.txt").write_text(
        "a\n<<<<<<< before updating\nmine\n=======\ntheirs\n>>>>>>> after updating\n"
    )
    (tmp_path / "quoted.md").write_text("Search for `<<<<<<< before updating` to find them.\n")
    git("add", "--all", cwd=tmp_path)
    git("commit", "-qm", "state after an update", cwd=tmp_path)
    (tmp_path / "pyproject.toml.rej").write_text("a rejected hunk\n")
    return tmp_path


def test_conflicted_files_lists_marked_files_and_rejects(repository: Path) -> None:
    assert conflicted_files(repository) == ["marked.txt", "pyproject.toml.rej"]


@pytest.mark.parametrize(
    ("env_manager", "stale", "kept"),
    [("uv", "pixi.lock", "uv.lock"), ("pixi", "uv.lock", "pixi.lock")],
)
def test_switching_environment_manager_removes_the_other_lock(
    tmp_path: Path, env_manager: str, stale: str, kept: str
) -> None:
    for name in (stale, kept):
        (tmp_path / name).write_text("# a lock\n")
    remove_stale_locks(tmp_path, env_manager)
    assert not (tmp_path / stale).exists()
    assert (tmp_path / kept).exists()
