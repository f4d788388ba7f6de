# Template-owned: `copier update` replaces this file; edits of yours are merged in.
"""The set-up's command line (scripts/setup_env.py runs `main`): the steps, `upgrade` and
`wheelhouse`, or pixi's set-up for a pixi project. The one place where a failure becomes
its message (a step's: run_steps) and its exit status (exits.py's)."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .sequence import STEPS, steps_from
from .steps import (
    PROJECT,
    InvalidProject,
    StepFailed,
    load_module,
    platform_table,
    run_steps,
)

DESCRIPTION = (
    "Set up this project's environment: lock, pin direct dependencies to the lock, sync, check."
)
UV_ONLY = "Run it with uv, which installs what it needs:\n    uv run scripts/setup_env.py"


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    names = [s.name for s in STEPS]
    parser.add_argument("--from", dest="start", choices=names, default="env")
    parser.add_argument(
        "--until",
        choices=names,
        default=names[-1],
        help="stop after this step (verify: lock and check every platform, install nothing)",
    )
    parser.add_argument(
        "--wheelhouse",
        metavar="DIR",
        type=Path,
        help="install from a folder written by `wheelhouse DIR`, without any index "
        "(a node without network); lock, pin and verify were done where it was written",
    )
    commands = parser.add_subparsers(dest="command", metavar="upgrade | wheelhouse")
    upgrading = commands.add_parser(
        "upgrade", help="move dependencies to the newest versions their constraints allow"
    )
    upgrading.add_argument(
        "packages", nargs="*", metavar="PACKAGE", help="only these (default: every dependency)"
    )
    carrying = commands.add_parser(
        "wheelhouse",
        help="write every file uv.lock installs (and the set-up's own) into DIR, "
        "for a machine without network",
    )
    carrying.add_argument("folder", metavar="DIR", type=Path)
    carrying.add_argument(
        "--platform",
        action="append",
        default=[],
        choices=[platform.name for platform in platform_table()],
        help="only this platform (repeatable; default: every platform the project locks)",
    )
    carrying.add_argument(
        "--extra",
        action="append",
        default=[],
        metavar="BUILD",
        help="only this PyTorch build extra (repeatable; default: every build)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    exits = load_module("exits")
    project_files = load_module("project")
    pyproject = project_files.read_toml(PROJECT / "pyproject.toml")
    pixi = project_files.manager(pyproject) == "pixi"
    try:
        if pixi:
            pixi_project(args, pyproject["tool"]["pixi"])
        else:
            uv_project(args)
    except (InvalidProject, StepFailed) as error:
        failed = isinstance(error, StepFailed)
        if failed and pixi:  # in pixi's set-up's own words, on stdout
            print(f"\n!!  {error}\n{error.hint}", flush=True)
        elif not (isinstance(error, StepFailed) and error.reported):  # run_steps said it
            said = exits.message(str(error), error.hint) if error.hint else f"!!  {error}"
            print(said, file=sys.stderr)
        return int(exits.Exit.FAILED if failed else exits.Exit.USAGE)
    except KeyboardInterrupt:
        return int(exits.Exit.INTERRUPTED)
    return int(exits.Exit.OK)


def pixi_project(args: argparse.Namespace, pixi_table: Mapping[str, Any]) -> None:
    from .pixi import set_up_pixi

    if args.command == "upgrade":
        raise InvalidProject("A pixi project upgrades with `pixi update`.")
    if args.command == "wheelhouse" or args.wheelhouse:
        raise InvalidProject("A wheelhouse carries a uv project; pixi projects: `pixi-pack`.")
    set_up_pixi(pixi_table)


def uv_project(args: argparse.Namespace) -> None:
    try:  # `uv run` installs these (the launcher's header); a pixi project's set-up needs none
        from .pins import check_pyproject
        from .upgrade import upgrade
        from .wheelhouse import wheelhouse_steps, write_wheelhouse
    except ModuleNotFoundError as missing:
        if str(missing.name).split(".")[0] not in ("tomlkit", "packaging", "dotenv"):
            raise
        sys.exit(UV_ONLY)
    if args.wheelhouse and args.command:
        raise InvalidProject(f"--wheelhouse installs; `{args.command}` needs an index.")
    try:
        check_pyproject(PROJECT / "pyproject.toml")
    except InvalidProject as error:
        raise type(error)(f"{error} Nothing was changed.", error.hint) from None
    if args.command == "upgrade":
        upgrade(args.packages)
        return
    if args.command == "wheelhouse":
        write_wheelhouse(args.folder, args.platform, args.extra)
        return
    todo = steps_from(args.start)
    names = [s.name for s in todo]
    if args.until not in names:
        raise InvalidProject(
            f"--until {args.until} comes before --from {args.start}: no step is left to run.",
            f"Give a step from {args.start} on: {', '.join(names)}.",
        )
    todo = todo[: names.index(args.until) + 1]
    resume: Callable[[str], str] | None = None
    if args.wheelhouse:
        folder = args.wheelhouse.resolve()
        # No uv command of the set-up reaches for an index; the set-up's own packages and the
        # build backend come from the folder too.
        os.environ["UV_OFFLINE"] = "1"
        os.environ["UV_FIND_LINKS"] = str(folder)
        todo = wheelhouse_steps(todo, folder)
        command = f"uv run scripts/setup_env.py --wheelhouse {shlex.quote(str(folder))}"
        resume = lambda name: f"{command} --from {'sync' if name == 'wheelhouse' else name}"  # noqa: E731
    run_steps(todo, resume_command=resume)
    if todo[-1] is not STEPS[-1]:
        print(f"==> Stopped after '{args.until}', as asked: nothing after it was done.", flush=True)
        return
    print("==> Environment ready: uv run pytest runs the tests.", flush=True)
