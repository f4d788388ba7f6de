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
4. The set-up's pins are put back from the record. If nothing uv.lock depends on changed,
   that is all: the lock, the environment and its check stand. Otherwise the set-up re-locks,
   re-pins, re-installs and checks (`scripts/setup_env.py --from lock`).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tasks import recovery
from tasks.common import clean_environment, say
from tasks.conflicts import conflicted_files, git, unmerged_files
from tasks.post_copy import SETUP_SCRIPT, UV_INSTALL_HINT
from tasks.pre_update import PYPROJECT, UpdateRefused, call_helper
from tasks.pyproject_text import RECORD_HEADER, lock_inputs

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


def restore_pins(project: Path, staged: str | None) -> bool:
    """Put the set-up's pins back, or leave them to the re-lock; True when it must re-lock.

    Whether to re-lock is decided with the pins off on both sides: the merged file against
    what pre_update.py staged. Unchanged: the pins come back as a line merge of the merged
    file with the change from the staged file to the last commit (pins off -> on); where the
    release changed a line right next to a pin, or the project has no record of its pins yet,
    dependency_merge.py does it with tomlkit. Changed: the pins stay off for the set-up to
    pin again, and an empty record marks that every `==` pin left is the user's.
    """
    head = head_text(project, PYPROJECT)
    pyproject = project / PYPROJECT
    if head is None or staged is None or not pyproject.is_file():
        return True
    merged = pyproject.read_text(encoding="utf-8")
    same_python = head_text(project, ".python-version") == _read(project / ".python-version")
    has_lock = (project / "uv.lock").is_file()
    if not (same_python and has_lock and lock_inputs(merged) == lock_inputs(staged)):
        if RECORD_HEADER not in merged:
            merged = merged.rstrip("\n") + f"\n\n{RECORD_HEADER}\n"
        pyproject.write_text(merged, encoding="utf-8")
        return True
    conflicts, pinned = (0, merged) if staged == head else merge_file(merged, staged, head)
    if conflicts or (staged != head and RECORD_HEADER not in head):
        pinned = str(call_helper({"action": "restore", "merged": merged, "head": head})["pinned"])
    pyproject.write_text(pinned, encoding="utf-8")
    return False


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
    process = subprocess.run(
        [uv, "run", "--quiet", "--python", sys.executable, SETUP_SCRIPT, "--from", "lock"],
        cwd=project,
        env=clean_environment(),
        check=False,
    )
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
    if not restore_pins(project, staged):
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
    except UpdateRefused as error:
        say(f"\n!!  The update could not settle pyproject.toml: {error}")
        say(f"    To put the project back, {recovery.restore_hint(project)}")
        status = 1
    except KeyboardInterrupt:
        return 130  # the marker stays: Copier's exit hook names the restore command
    recovery.end(project)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
