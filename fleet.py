# /// script
# requires-python = ">=3.11"
# dependencies = ["copier==9.19.1", "copier-template-extensions==0.3.4"]
# ///
"""Keep a lab's copier-research projects current: report on many at once, then update them.

    uv run fleet.py status ~/lab/*               # what each project needs
    uv run fleet.py update ~/lab/*               # update, re-lock and test each project
    uv run fleet.py update --json ~/lab/* > update.json
    uv run fleet.py upgrade ~/lab/*              # newest dependency versions in each project

Run it from a clone of the template. `status` reports, per project, the template version
it is on and the newest one (`copier check-update`), a dirty working tree, conflicts an
update left unresolved, whether uv.lock is current (`uv lock --check`) and the smoke test's
verdict. `update` runs `copier update --defaults` (which re-locks and re-installs the
project), checks the lock and runs the project's tests, one project after another. It never
touches a project with uncommitted changes or unresolved conflicts, goes on past a failure,
and ends with a table. `upgrade` runs each project's own `scripts/setup_env.py upgrade`
(newest versions its constraints allow, re-pinned, installed and checked; undone on any
failure) and reports what moved, from uv.lock before and after. Progress goes to stderr; the
table, or JSON with --json, to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement  # Copier depends on it
from packaging.utils import canonicalize_name

from tasks.common import OUTER_ENVIRONMENT  # this file's folder is on sys.path
from tasks.conflicts import conflicted_files

TAIL_LINES = 12


@dataclass
class Report:
    """What is known about one project; None where a check was not run."""

    project: str
    version: str | None = None
    latest: str | None = None
    dirty: bool | None = None
    conflicts: list[str] = field(default_factory=list)
    lock: str | None = None
    smoke: str | None = None
    result: str | None = None
    tests: str | None = None
    seconds: float | None = None
    moved: dict[str, list[str]] = field(default_factory=dict)  # package -> [old, new]
    detail: str = ""


def run(command: Sequence[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    # Whatever environment runs this script, the projects use their own.
    env = {k: v for k, v in os.environ.items() if k not in OUTER_ENVIRONMENT}
    return subprocess.run(
        list(command), cwd=cwd, env=env, capture_output=True, text=True, check=False
    )


def tail(process: subprocess.CompletedProcess[str]) -> str:
    lines = (process.stdout + process.stderr).strip().splitlines()
    return "\n".join(lines[-TAIL_LINES:])


def is_repository(project: Path) -> bool:
    if not project.is_dir():
        return False
    return run(["git", "rev-parse", "--is-inside-work-tree"], project).stdout.strip() == "true"


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ── Checks ─────────────────────────────────────────────────────────────────


def check_versions(project: Path, report: Report) -> bool:
    """Fill in the template versions; False when this is not an updatable Copier project."""
    process = run(
        [sys.executable, "-m", "copier", "check-update", "--output-format", "json", "."], project
    )
    try:
        data = json.loads(process.stdout)
    except json.JSONDecodeError:
        report.result = "failed: copier check-update"
        report.detail = tail(process)
        return False
    report.version, report.latest = data["current_version"], data["latest_version"]
    return True


def check_tree(project: Path, report: Report) -> None:
    report.dirty = bool(run(["git", "status", "--porcelain"], project).stdout.strip())
    report.conflicts = conflicted_files(project)


def check_lock(project: Path, report: Report) -> None:
    if not (project / "uv.lock").is_file():
        report.lock = "missing"
        return
    report.lock = "fresh" if run(["uv", "lock", "--check"], project).returncode == 0 else "stale"


def check_smoke(project: Path, report: Report) -> None:
    if report.lock != "fresh":
        report.smoke = "not run (lock not fresh)"
        return
    process = run(["uv", "run", "--locked", "scripts/smoke_test.py", "--quick", "--json"], project)
    try:
        report.smoke = json.loads(process.stdout)["verdict"]
    except (json.JSONDecodeError, KeyError, TypeError):
        report.smoke = "failed to run"
        report.detail = tail(process)


def check_tests(project: Path, report: Report) -> None:
    process = run(["uv", "run", "--locked", "pytest", "-q"], project)
    report.tests = "passed" if process.returncode == 0 else "failed"
    if process.returncode != 0:
        report.detail = tail(process)


# ── Commands ───────────────────────────────────────────────────────────────


def status(project: Path, options: argparse.Namespace) -> Report:
    report = Report(str(project))
    check_versions(project, report)  # a template out of reach leaves the versions unknown
    check_tree(project, report)
    check_lock(project, report)
    if options.smoke:
        check_smoke(project, report)
    return report


def copier_update(project: Path, options: argparse.Namespace) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "copier", "update", "--trust", "--defaults"]
    if options.vcs_ref:
        command += ["--vcs-ref", options.vcs_ref]
    if options.data_file:
        command += ["--data-file", str(Path(options.data_file).resolve())]
    return run([*command, "."], project)


def update(project: Path, options: argparse.Namespace) -> Report:
    report = Report(str(project))
    if not check_versions(project, report):
        return report
    check_tree(project, report)
    if report.conflicts:
        report.result = "skipped: unresolved conflicts"
        return report
    if report.dirty:
        report.result = "skipped: uncommitted changes"
        return report
    if report.version == report.latest and not (options.vcs_ref or options.data_file):
        report.result = "up to date"
        return report
    before = report.version
    process = copier_update(project, options)
    check_tree(project, report)
    check_versions(project, report)
    if report.conflicts:
        report.result = "conflicts"
        return report
    if process.returncode != 0:
        report.result = "failed: copier update"
        report.detail = tail(process)
        return report
    check_lock(project, report)
    check_tests(project, report)
    report.result = "updated" if report.version != before else "re-applied"
    if options.commit and report.tests == "passed" and report.lock == "fresh":
        run(["git", "add", "--all"], project)
        message = f"Update from the copier-research template ({before} -> {report.version})"
        run(["git", "commit", "--quiet", "--message", message], project)
    return report


SETUP_SCRIPT = "scripts/setup_env.py"


class Unreadable(Exception):
    """A project file that does not parse; the message names the file and the problem."""


def one_line(error: Exception) -> str:
    return " ".join(str(error).split())


def read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise Unreadable(
            f"{path.name} does not parse ({one_line(error)}); fix it, then run again"
        ) from None


def direct_versions(project: Path) -> dict[str, str]:
    """The project's direct dependencies and their versions in uv.lock."""
    pyproject = read_toml(project / "pyproject.toml")
    lock = read_toml(project / "uv.lock")
    metadata = pyproject.get("project", {})
    lists = [metadata.get("dependencies", []), *metadata.get("optional-dependencies", {}).values()]
    lists += pyproject.get("dependency-groups", {}).values()
    try:
        names = {
            canonicalize_name(Requirement(item).name)
            for items in lists
            for item in items
            if isinstance(item, str)
        }
    except InvalidRequirement as error:
        raise Unreadable(
            f"pyproject.toml holds a requirement that is not valid ({one_line(error)}); fix it, "
            "then run again"
        ) from None
    versions: dict[str, set[str]] = {}
    for package in lock.get("package", []):
        name = canonicalize_name(package["name"])
        if name in names and "version" in package:
            versions.setdefault(name, set()).add(package["version"])
    return {name: " / ".join(sorted(found)) for name, found in sorted(versions.items())}


def upgrade(project: Path, options: argparse.Namespace) -> Report:
    report = Report(str(project))
    check_tree(project, report)
    if report.conflicts:
        report.result = "skipped: unresolved conflicts"
        return report
    if report.dirty:
        report.result = "skipped: uncommitted changes"
        return report
    if not (project / SETUP_SCRIPT).is_file() or not (project / "uv.lock").is_file():
        report.result = f"skipped: no {SETUP_SCRIPT} and uv.lock (a pixi project?)"
        return report
    try:
        before = direct_versions(project)
    except Unreadable as error:
        report.result = f"failed: {error}"
        return report
    process = run(["uv", "run", SETUP_SCRIPT, "upgrade", *options.packages], project)
    if process.returncode != 0:
        report.detail = tail(process)
        if "invalid choice: 'upgrade'" in process.stderr:
            report.result = "failed: no upgrade command yet (update the project first)"
        else:
            report.result = "failed: upgrade (undone)"
        return report
    try:
        after = direct_versions(project)
    except Unreadable as error:
        report.result = f"failed: after the upgrade, {error}"
        return report
    report.moved = {
        name: [before.get(name, "-"), version]
        for name, version in after.items()
        if before.get(name) != version
    }
    check_lock(project, report)
    report.result = "upgraded" if report.moved else "nothing to upgrade"
    if options.commit and report.moved and report.lock == "fresh":
        run(["git", "add", "pyproject.toml", "uv.lock"], project)
        moves = ", ".join(f"{name} {old} -> {new}" for name, (old, new) in report.moved.items())
        run(["git", "commit", "--quiet", "--message", f"Upgrade dependencies: {moves}"], project)
    return report


def moved_text(report: Report) -> str:
    return ", ".join(f"{name} {old} → {new}" for name, (old, new) in report.moved.items()) or "-"


def summary_line(report: Report, command: str) -> str:
    if command == "status" and report.dirty is not None:
        state = "conflicts" if report.conflicts else "dirty" if report.dirty else "clean"
        line = (
            f"{report.version or '?'} (latest {report.latest or '?'}), {state}, "
            f"lock {report.lock}, smoke {report.smoke or '-'}"
        )
        return f"{report.result}; {line}" if report.result else line
    if command == "upgrade":
        return f"{report.result}: {moved_text(report)}" if report.moved else str(report.result)
    extra = f", lock {report.lock}, tests {report.tests}" if report.tests else ""
    return f"{report.result}{extra}"


def table(reports: list[Report], command: str) -> str:
    header: tuple[str, ...]
    rows: list[tuple[str, ...]]
    if command == "status":
        header = ("project", "version", "latest", "tree", "conflicts", "lock", "smoke", "problem")
        rows = [
            (
                r.project,
                r.version or "?",
                r.latest or "?",
                "dirty" if r.dirty else "clean" if r.dirty is not None else "?",
                ", ".join(r.conflicts) or "-",
                r.lock or "-",
                r.smoke or "-",
                r.result or "-",
            )
            for r in reports
        ]
    elif command == "upgrade":
        header = ("project", "result", "moved", "lock", "seconds")
        rows = [
            (
                r.project,
                r.result or "?",
                moved_text(r),
                r.lock or "-",
                f"{r.seconds:.1f}" if r.seconds is not None else "-",
            )
            for r in reports
        ]
    else:
        header = ("project", "version", "result", "conflicts", "lock", "tests", "seconds")
        rows = [
            (
                r.project,
                r.version or "?",
                r.result or "?",
                ", ".join(r.conflicts) or "-",
                r.lock or "-",
                r.tests or "-",
                f"{r.seconds:.1f}" if r.seconds is not None else "-",
            )
            for r in reports
        ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in [header, *rows]
    ]
    return "\n".join(line.rstrip() for line in lines)


def failed(report: Report) -> bool:
    if report.tests == "failed":
        return True
    return report.result is not None and report.result.startswith(("failed", "conflicts"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="fleet.py", description=__doc__.splitlines()[0] if __doc__ else None
    )
    commands = parser.add_subparsers(dest="command", required=True)
    status_parser = commands.add_parser("status", help="report on each project; change nothing")
    status_parser.add_argument(
        "--no-smoke", dest="smoke", action="store_false", help="skip the smoke test (faster)"
    )
    update_parser = commands.add_parser("update", help="update, re-lock and test each project")
    update_parser.add_argument("--vcs-ref", help="template version to update to (default: newest)")
    update_parser.add_argument(
        "--data-file", help="YAML answers to apply, e.g. the lab preset after it changed"
    )
    update_parser.add_argument(
        "--commit", action="store_true", help="commit each update whose lock and tests pass"
    )
    upgrade_parser = commands.add_parser(
        "upgrade", help="move each project's dependencies to the newest versions allowed"
    )
    upgrade_parser.add_argument(
        "--package",
        dest="packages",
        action="append",
        default=[],
        help="only this package (and what moves with it); repeat for more",
    )
    upgrade_parser.add_argument(
        "--commit", action="store_true", help="commit pyproject.toml and uv.lock when moved"
    )
    for sub in (status_parser, update_parser, upgrade_parser):
        sub.add_argument("projects", nargs="+", type=Path, help="generated projects (folders)")
        sub.add_argument("--json", action="store_true", help="print JSON instead of the table")
    options = parser.parse_args(argv)
    if shutil.which("uv") is None:
        parser.error("uv is not on PATH: https://docs.astral.sh/uv/")

    actions: dict[str, Callable[[Path, argparse.Namespace], Report]] = {
        "status": status,
        "update": update,
        "upgrade": upgrade,
    }
    action = actions[options.command]
    reports: list[Report] = []
    for number, project in enumerate(options.projects, start=1):
        progress(f"[{number}/{len(options.projects)}] {project}: {options.command} ...")
        started = time.monotonic()
        if not is_repository(project):
            report = Report(str(project), result="failed: not a folder in a git repository")
        else:
            try:
                report = action(project.resolve(), options)
            except Exception as error:  # one project's surprise must not stop the others
                failure = f"failed: {type(error).__name__}: {one_line(error)}"
                report = Report(str(project), result=failure)
        report.project = str(project)
        report.seconds = round(time.monotonic() - started, 1)
        progress(f"      {summary_line(report, options.command)} ({report.seconds:.1f} s)")
        if report.detail and failed(report):
            progress("\n".join(f"      | {line}" for line in report.detail.splitlines()))
        reports.append(report)

    if options.json:
        print(
            json.dumps(
                {"command": options.command, "projects": [asdict(r) for r in reports]}, indent=2
            )
        )
    else:
        print(table(reports, options.command))
    return 1 if any(failed(r) for r in reports) else 0


if __name__ == "__main__":
    sys.exit(main())
