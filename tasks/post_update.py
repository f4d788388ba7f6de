"""After an update: settle pyproject.toml, stop at conflicts, re-lock only when needed.

Copier runs this (the last `_migrations` step, stage "after") once per `copier update`, in the
real project, after it has merged the new template version in. A `_tasks` entry would not do:
during an update Copier runs tasks in its temporary renders and in the project *before* the
merge, when pyproject.toml is the bare new template without the user's dependencies.

    python tasks/post_update.py ENV_MANAGER      # uv or pixi

In order:
1. pyproject.toml in conflict: Copier's line merge left markers. Its dependency lists are
   merged again per dependency (dependency_merge.py) from the three versions Copier recorded
   in the index (1: old release, 2: the project as pre_update.py staged it, 3: new release),
   and `git merge-file` runs again, so only real conflicts stay (both sides changed one
   dependency differently, or a line outside the lists).
2. The index is restored (pre_update.py staged pyproject.toml there).
3. Conflicts left: reported, nothing re-locked (uv would read the markers); exit status 1.
4. The set-up's pins are put back from the record (a project without a record: where the
   release changed a dependency it pins, a conflict). If nothing uv.lock depends on changed
   and the project itself is in order (every locked dependency pinned, `uv lock --check`),
   that is all: the lock, the environment and its check stand. Otherwise the set-up
   re-locks, re-pins, re-installs and checks (`scripts/setup_env.py --from lock`).
5. pyproject.toml and the answers file get back the CRLF line endings they had, if they
   had them.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from packaging.requirements import Requirement  # Copier depends on it
from packaging.utils import canonicalize_name

from tasks import recovery
from tasks.common import clean_environment, say
from tasks.conflicts import conflicted_files, git, unmerged_files
from tasks.newlines import keep as keep_line_endings
from tasks.post_copy import ANSWERS_FILE, SETUP_SCRIPT, UV_INSTALL_HINT
from tasks.pre_update import PYPROJECT, UpdateRefused, call_helper
from tasks.pyproject_text import RECORD_HEADER, dependency_lists, lock_inputs

RELOCK = f"uv run {SETUP_SCRIPT} --from lock"
# Lock files written by the environment managers a project did not choose.
STALE_LOCKS: dict[str, tuple[str, ...]] = {"uv": ("pixi.lock",), "pixi": ("uv.lock",)}
LABELS = ("before updating", "last update", "after updating")  # Copier's conflict labels


def report_conflicts(project: Path, files: list[str], dependencies: list[str]) -> None:
    listed = "\n".join(f"    {name}" for name in files)
    say(f"\n!!  The update conflicts with your changes in:\n{listed}")
    if dependencies:
        both = "\n".join(f"        {name}" for name in dependencies)
        say(f"    Dependencies you and the new release both changed:\n{both}")
    say(
        "    Each conflict sits between '<<<<<<< before updating' (yours) and\n"
        "    '>>>>>>> after updating' (the template's); a .rej file holds a rejected change.\n"
        "    The environment was NOT re-locked: uv would read the conflict markers.\n"
        "    Edit each file to keep what you want, then:\n"
        f"        git add <the files>  &&  {RELOCK}\n"
        f"    Or give the update up, {recovery.restore_hint(project)}"
    )


def stage_text(project: Path, stage: int) -> str | None:
    shown = git(project, "show", f":{stage}:./{PYPROJECT}")
    return shown.stdout if shown.returncode == 0 else None


def remerge_pyproject(project: Path) -> list[str]:
    """Merge pyproject.toml again, dependency by dependency; the dependencies in conflict."""
    versions = [stage_text(project, stage) for stage in (1, 2, 3)]
    if None in versions:
        return []  # added or deleted on one side: the line merge is all there is
    base, ours, theirs = (text or "" for text in versions)
    merged = call_helper({"action": "merge", "base": base, "ours": ours, "theirs": theirs})
    conflicts, text = merge_file(str(merged["ours"]), str(merged["base"]), str(merged["theirs"]))
    (project / PYPROJECT).write_text(text, encoding="utf-8")
    if conflicts == 0:
        say("==> pyproject.toml: merged dependency by dependency; no conflict left there")
        git(project, "reset", "--quiet", "--", PYPROJECT)  # resolved
    return [str(name) for name in merged["conflicts"]]  # type: ignore[attr-defined]


def remove_stale_locks(project: Path, env_manager: str) -> None:
    for name in STALE_LOCKS.get(env_manager, ()):
        if (project / name).exists():
            say(f"==> Removing {name}: this project now uses {env_manager}")
            (project / name).unlink()


def head_text(project: Path, path: str) -> str | None:
    shown = git(project, "show", f"HEAD:./{path}")
    return shown.stdout if shown.returncode == 0 else None


def merge_file(ours: str, base: str, theirs: str) -> tuple[int, str]:
    """git merge-file of three texts: (the number of conflicts, the merged text)."""
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for name, text in (("ours", ours), ("base", base), ("theirs", theirs)):
            path = Path(folder) / name
            path.write_text(text, encoding="utf-8")
            paths.append(str(path))
        labels = [option for label in LABELS for option in ("-L", label)]
        result = git(Path(folder), "merge-file", "-p", *labels, *paths)
    if result.returncode > 127:  # -1: git could not merge at all
        raise UpdateRefused(f"git merge-file failed: {result.stderr.strip()}")
    return result.returncode, result.stdout


class PinsInConflict(Exception):
    """The release changed dependencies the project pins `==` without a record of whose pins
    they are: conflicts, written into pyproject.toml (the list names them)."""

    def __init__(self, dependencies: list[str]) -> None:
        super().__init__(", ".join(dependencies))
        self.dependencies = dependencies


def legacy_merge(project: Path, staged: str, head: str, merged: str) -> str:
    """A project set up before pins were recorded: its == pins back where the release left
    the dependency alone; where it changed one, a conflict (the pin may be the user's).

    pre_update.py took every == pin off for the merge (the set-up then pinned them all), so
    the merge let the release change a pinned dependency unseen. Merged again per dependency
    from what pre_update.py staged (base), the project as committed (ours: the pins) and
    the merge's result (theirs: the release's changes).
    """
    result = call_helper({"action": "merge", "base": staged, "ours": head, "theirs": merged})
    conflicts, text = merge_file(str(result["ours"]), str(result["base"]), str(result["theirs"]))
    if conflicts:
        (project / PYPROJECT).write_text(text, encoding="utf-8")
        raise PinsInConflict([str(name) for name in result["conflicts"]])  # type: ignore[attr-defined]
    return text


def restore_pins(project: Path, staged: str | None) -> bool:
    """Put the set-up's pins back, or leave them to the re-lock; True when it must re-lock.

    Whether to re-lock is decided with the pins off on both sides: the merged file against
    what pre_update.py staged. Unchanged: the pins come back as a line merge of the merged
    file with the change from the staged file to the last commit (pins off -> on); where the
    release changed a line right next to a pin, dependency_merge.py does it with tomlkit.
    Changed: the pins stay off for the set-up to pin again, and an empty record marks that
    every `==` pin left is the user's. A project without a record (set up before pins were
    recorded) gets its pins back first, merged per dependency (legacy_merge), and recorded
    as the set-up's; then the same two paths.
    """
    head = head_text(project, PYPROJECT)
    pyproject = project / PYPROJECT
    if head is None or staged is None or not pyproject.is_file():
        return True
    merged = pyproject.read_text(encoding="utf-8")
    legacy = staged != head and RECORD_HEADER not in head
    if legacy:  # the pins back now, and recorded as the set-up's (the set-up re-pins them)
        merged = legacy_merge(project, staged, head, merged)
        merged = str(call_helper({"action": "restore", "merged": merged, "head": head})["pinned"])
        staged = head
    same_python = head_text(project, ".python-version") == _read(project / ".python-version")
    has_lock = (project / "uv.lock").is_file()
    if not (same_python and has_lock and lock_inputs(merged) == lock_inputs(staged)):
        if RECORD_HEADER not in merged:
            merged = merged.rstrip("\n") + f"\n\n{RECORD_HEADER}\n"
        pyproject.write_text(merged, encoding="utf-8")
        return True
    conflicts, pinned = (0, merged) if staged == head else merge_file(merged, staged, head)
    if conflicts:
        pinned = str(call_helper({"action": "restore", "merged": merged, "head": head})["pinned"])
    pyproject.write_text(pinned, encoding="utf-8")
    return False


def needs_relock(project: Path) -> bool:
    """The project's own state asks for the re-lock, whatever the update changed: a
    dependency uv.lock holds is still without its pin (a set-up that stopped before pinning,
    committed as it was), or uv.lock does not match pyproject.toml (`uv lock --check`)."""
    pyproject = tomllib.loads((project / PYPROJECT).read_text(encoding="utf-8"))
    lock = tomllib.loads((project / "uv.lock").read_text(encoding="utf-8"))
    locked = {
        canonicalize_name(str(p.get("name", "")))
        for p in lock.get("package", [])
        if "editable" not in p.get("source", {})  # kit/ and the project: never pinned
    }
    bare = sorted(
        {
            canonicalize_name(requirement.name)
            for items in dependency_lists(pyproject)
            for item in items
            if isinstance(item, str)
            and not (requirement := Requirement(item)).specifier
            and not requirement.url
            and canonicalize_name(requirement.name) in locked
        }
    )
    if bare:
        say(
            f"==> The update changed no dependency, but {', '.join(bare)} "
            f"{'has' if len(bare) == 1 else 'have'} no pin yet (an earlier set-up stopped "
            "before pinning): re-locking."
        )
        return True
    problem = lock_problem(project)
    if problem:
        say(f"==> The update changed no dependency, but {problem}: re-locking.")
    return bool(problem)


def lock_problem(project: Path) -> str:
    """Why uv.lock cannot stand as it is ("" when `uv lock --check` passes)."""
    uv = shutil.which("uv")
    if uv is None:
        return "uv is not on PATH, so uv.lock cannot be checked"
    for network in (["--offline"], []):  # offline first: no index is asked when it passes
        try:
            checked = subprocess.run(
                [uv, "lock", "--check", "--quiet", *network],
                cwd=project,
                env=clean_environment(),
                capture_output=True,
                text=True,
                check=False,
            )
        except OSError as error:
            return f"the uv at {uv} cannot start ({error}), so uv.lock cannot be checked"
        if checked.returncode == 0:
            return ""
    return "uv.lock does not match pyproject.toml (uv lock --check)"


def _read(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.is_file() else None


def relock(project: Path) -> int:
    uv = shutil.which("uv")
    if uv is None:
        say(
            f"\n!!  Re-locking skipped: 'uv' is not on PATH.\n{UV_INSTALL_HINT}\nThen run: {RELOCK}"
        )
        return 1
    say(f"==> Re-locking after the update ({RELOCK}: lock, pin, verify, sync, check)")
    try:
        process = subprocess.run(
            [uv, "run", "--quiet", "--python", sys.executable, SETUP_SCRIPT, "--from", "lock"],
            cwd=project,
            env=clean_environment(),
            check=False,
        )
    except OSError as error:  # a uv that cannot start: a broken download, another platform
        say(
            f"\n!!  Re-locking skipped: the uv at {uv} cannot start ({error}).\n"
            f"{UV_INSTALL_HINT}\n"
            "The update is merged; only the environment is not rebuilt yet. Then run:\n"
            f"    {RELOCK}"
        )
        return 1
    if process.returncode != 0:
        say(
            "\nThe update is merged; only the environment is not rebuilt yet (see above).\n"
            f"    Or give the update up, {recovery.restore_hint(project)}"
        )
    return process.returncode


def settle(project: Path, env_manager: str) -> int:
    dependencies: list[str] = []
    staged = stage_text(project, 0)  # what pre_update.py staged: the set-up's pins off
    if PYPROJECT in unmerged_files(project):
        staged = stage_text(project, 2)  # Copier moved it to "ours"
        dependencies = remerge_pyproject(project)
    conflicted = conflicted_files(project)
    if PYPROJECT not in conflicted:
        git(project, "reset", "--quiet", "--", PYPROJECT)  # undo pre_update.py's staging
    if conflicted:
        report_conflicts(project, conflicted, dependencies)
        return 1
    remove_stale_locks(project, env_manager)
    if not (project / SETUP_SCRIPT).is_file():
        by_hand = "pixi lock && pixi install" if env_manager == "pixi" else "uv lock && uv sync"
        say(f"==> {SETUP_SCRIPT} is gone: re-lock by hand ({by_hand}).")
        return 0
    if env_manager == "pixi":
        say(f"==> Re-locking after the update (python {SETUP_SCRIPT}: pixi lock, pixi install)")
        command = [sys.executable, SETUP_SCRIPT]
        subprocess.run(command, cwd=project, env=clean_environment(), check=False)
        return 0  # the script said what to run if it failed; the update itself is done
    try:
        relock_needed = restore_pins(project, staged)
    except PinsInConflict as error:
        report_conflicts(project, [PYPROJECT], error.dependencies)
        say(
            "    This project has no record of the set-up's pins ([tool.setup-env.pinned]),\n"
            "    so a pin the release changes may be yours: keep your side or take the\n"
            "    release's."
        )
        return 1
    if not relock_needed and not needs_relock(project):
        say(
            "==> Dependencies unchanged by the update: uv.lock, the environment and its check\n"
            "    stand as they were (nothing to re-lock). Update finished."
        )
        return 0
    return relock(project)


def main(argv: list[str]) -> int:
    project = Path.cwd()
    env_manager = argv[0] if argv else "uv"
    try:
        status = settle(project, env_manager)
    except (UpdateRefused, OSError, ValueError) as error:  # ValueError: TOML, a requirement
        say(f"\n!!  The update could not settle pyproject.toml: {error}")
        say(f"    To put the project back, {recovery.restore_hint(project)}")
        status = 1
    except KeyboardInterrupt:
        return 130  # the marker stays: Copier's exit hook names the restore command
    keep_line_endings(project, (PYPROJECT, ANSWERS_FILE))  # CRLF files stay CRLF
    recovery.end(project)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
