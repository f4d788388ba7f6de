# Template-owned: `copier update` replaces this file; edits of yours are merged in.
"""`upgrade [NAME...]`: dependencies moved to the newest versions their constraints allow.

    uv run scripts/setup_env.py upgrade                 # every dependency the set-up pinned
    uv run scripts/setup_env.py upgrade numpy scipy     # just these (and what moves with them)

Moves the named (or all) direct dependencies to the newest versions their constraints allow,
then pins, installs and checks as the set-up does. Your ranges are respected (uv moves within
them); your own pins hold, unless you name the package, which hands its pin to the set-up.
Any failure puts pyproject.toml and uv.lock back as they were and re-installs them.
"""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import tomlkit
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from .commands import run
from .lock import locked_versions
from .pins import (
    dependency_arrays,
    index_families,
    is_local,
    local_packages,
    owner,
    replace_item,
    requirements_in,
    set_up_pins,
    without_pin,
)
from .sequence import steps_from
from .steps import PROJECT, InvalidProject, Step, StepFailed, run_steps, uv


@dataclass(frozen=True)
class UpgradePlan:
    pyproject: str  # pyproject.toml with the pins that move taken off
    packages: tuple[str, ...]  # what uv may move; empty: everything
    held: dict[str, str]  # package -> your pin that holds it


def upgrade_plan(pyproject_text: str, names: Sequence[str]) -> UpgradePlan:
    document = tomlkit.parse(pyproject_text)
    record = set_up_pins(document)
    direct = {canonicalize_name(Requirement(item).name) for item in requirements_in(document)}
    named: set[str] = {canonicalize_name(name) for name in names}
    if unknown := sorted(named - direct):
        raise InvalidProject(
            f"Nothing upgraded: {', '.join(unknown)}: not a direct dependency of this project. "
            "Add it with `uv add NAME` first, or check the spelling in pyproject.toml."
        )
    moving = set(named)
    for family in index_families(document):
        if moving & family:
            moving |= family
    held: dict[str, str] = {}
    local = local_packages(document)
    for array in dependency_arrays(document):
        for index, item in enumerate(list(array)):
            if not isinstance(item, str) or is_local(item, local):
                continue
            name = canonicalize_name(Requirement(item).name)
            if named and name not in moving:
                continue
            kind = owner(item, record)
            exact = kind != "bare" and str(Requirement(item).specifier).startswith("==")
            if kind == "set-up" or (kind == "yours" and exact and name in named):
                replace_item(array, index, without_pin(item))
            elif kind == "yours" and exact:
                held[name] = item
    return UpgradePlan(tomlkit.dumps(document), tuple(sorted(moving)), held)


def direct_versions(pyproject_text: str, lock_text: str) -> dict[str, str]:
    """Direct dependency -> its version in uv.lock (several joined by ' / ')."""
    locked = locked_versions(lock_text)
    document = tomllib.loads(pyproject_text)
    names = {canonicalize_name(Requirement(item).name) for item in requirements_in(document)}
    return {
        name: " / ".join(sorted({Version(v).public for v in locked[name]}, key=Version))
        for name in sorted(names)
        if name in locked
    }


def moves(
    before: dict[str, str],
    after: dict[str, str],
    held: dict[str, str],
    asked: Sequence[str] = (),
) -> list[str]:
    """One line per direct dependency asked to move (every one, when `asked` is empty):
    `name old → new`, unchanged, or held by your pin. Of the others, only those that moved
    anyway (a newer version of one asked for needs them) get a line; a last line counts
    those that were not asked and kept their version."""
    lines, kept = [], 0
    for name, new in after.items():
        old = before.get(name)
        if asked and name not in asked:
            if old is not None and old != new:
                lines.append(f"    {name} {old} → {new} (not asked: moved with {', '.join(asked)})")
            elif old is not None:
                kept += 1
            continue
        if name in held:
            lines.append(f"    {name} {new}: held by your pin ({held[name]})")
        elif old is None:
            lines.append(f"    {name} {new}: new")
        elif old != new:
            lines.append(f"    {name} {old} → {new}")
        else:
            lines.append(f"    {name} {new}: unchanged (the newest allowed)")
    if kept:
        lines.append(f"    ({kept} other direct dependencies not asked to move: kept as locked)")
    return lines


def upgrade(names: Sequence[str]) -> None:
    pyproject, lockfile = PROJECT / "pyproject.toml", PROJECT / "uv.lock"
    if not lockfile.is_file():
        raise InvalidProject("No uv.lock yet: run `uv run scripts/setup_env.py` first.")
    saved = {path: path.read_bytes() for path in (pyproject, lockfile)}
    text, lock_text = (saved[path].decode("utf-8") for path in (pyproject, lockfile))
    before = direct_versions(text, lock_text)
    plan = upgrade_plan(text, names)
    options = [f"--upgrade-package={name}" for name in plan.packages] or ["--upgrade"]
    what = " ".join(plan.packages) or "every dependency"
    relock = Step(
        "upgrade",
        f"Locking the newest versions the constraints allow ({what})",
        lambda: run([uv(), "lock", *options]),
        "Check the network; a resolver conflict names the requirement that holds it back.",
    )
    try:
        pyproject.write_text(plan.pyproject, encoding="utf-8")
        run_steps((relock, *steps_from("pin")), resumable=False)
    except KeyboardInterrupt:
        restore(saved)
        print(
            "\n!!  Upgrade interrupted: pyproject.toml and uv.lock are back as they were.\n"
            "    Re-install them with: uv run scripts/setup_env.py --from sync",
            file=sys.stderr,
        )
        raise
    except StepFailed:
        restore(saved)
        print("    Upgrade undone: pyproject.toml and uv.lock are as they were.", file=sys.stderr)
        print("==> Re-installing the previous environment", flush=True)
        run_steps(steps_from("sync")[:1])
        raise
    after = direct_versions(pyproject.read_text(encoding="utf-8"), lockfile.read_text("utf-8"))
    print("==> Upgraded (old → new):", flush=True)
    print("\n".join(moves(before, after, plan.held, plan.packages)), flush=True)
    if plan.held:
        example = next(iter(plan.held))
        print(f"    Your own pins hold; name a package to move it (upgrade {example}).")


def restore(saved: dict[Path, bytes]) -> None:
    for path, content in saved.items():
        path.write_bytes(content)
