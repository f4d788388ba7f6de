"""Benchmark copier-research against setting the same project up by hand with uv.

    uv run python -m benchmarks.run                     # every measure, 5 runs, docs updated
    uv run python -m benchmarks.run --runs 1 --quick    # smoke: warm measures only, one run

A full run writes benchmarks/results/latest.json and latest.md and refreshes the results
block of docs/benchmarks.md; a --quick run writes quick.json and quick.md only. Times are
wall clock, median of --runs after one warm-up, on this machine. See docs/benchmarks.md for
what is measured and how.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import fixtures, machine, project, report, scenarios
from .paths import COPIER, Setup, copier_copy, dependencies_of
from .process import CommandFailed, timed, user_environment

ROOT = Path(__file__).resolve().parent.parent
MEASURES = ("e2e", "render", "update", "pytest", "help", "disk", "cold")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="measured runs per measure (5)")
    parser.add_argument(
        "--quick", action="store_true", help="skip the cold-cache and extra variants; no docs"
    )
    parser.add_argument("--only", nargs="+", choices=MEASURES, help="measure only these")
    parser.add_argument("--cold-runs", type=int, help="cold-cache runs (default: min(runs, 3))")
    parser.add_argument(
        "--cold-index",
        help="package index for the cold-cache runs, e.g. a local mirror "
        "(file:///opt/pypi/simple); default: uv's own",
    )
    parser.add_argument(
        "--commit", help="benchmark this commit of the template instead of the working tree"
    )
    parser.add_argument(
        "--keep-no-bytecode",
        action="store_true",
        help="keep PYTHONDONTWRITEBYTECODE if set (it is dropped by default, see docs)",
    )
    parser.add_argument("--workdir", type=Path, help="parent folder of the scratch folder")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument(
        "--from-json", type=Path, help="measure nothing: write the reports of a saved result"
    )
    return parser.parse_args(argv)


def template_source(commit: str | None) -> str:
    head = fixtures.git("rev-parse", "--short", commit or "HEAD", cwd=ROOT).strip()
    return f"commit {head}" if commit else f"working tree (HEAD {head} and uncommitted changes)"


def uv_cache_dir(env: dict[str, str]) -> Path:
    result = subprocess.run(["uv", "cache", "dir"], capture_output=True, text=True, env=env)
    return Path(result.stdout.strip())


def install_copier(folder: Path, env: dict[str, str], logs: Path) -> tuple[str, ...]:
    """Copier as a uv tool in a private tool folder: `copier` without uvx's resolution."""
    tools = {"UV_TOOL_DIR": str(folder / "tools"), "UV_TOOL_BIN_DIR": str(folder / "bin")}
    command = ["uv", "tool", "install", "--with", "copier-template-extensions", "copier"]
    timed(command, folder, env | tools, logs / "uv-tool-install.log")
    return (str(folder / "bin" / "copier"),)


def measure(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    only = set(args.only or MEASURES) - ({"cold"} if args.quick and not args.only else set())
    env = user_environment(keep_no_bytecode=args.keep_no_bytecode)
    wheel = fixtures.find_torch_wheel(work / "downloads")
    if wheel is None:
        sys.exit("No CPU torch wheel in pip's find-links folder (PIP_FIND_LINKS or pip.conf).")
    template = fixtures.tagged_template(work / "template", commit=args.commit)
    setup = Setup(
        template=template,
        torch_index=fixtures.torch_replica(work / "torch-index", wheel),
        torch_line=fixtures.release_line(wheel),
        env=env,
        logs=work / "logs",
    )
    cache = uv_cache_dir(env)
    results: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": {
            "runs": args.runs,
            "quick": args.quick,
            "measures": sorted(only),
            "template_source": template_source(args.commit),
            "copier_command": " ".join(COPIER),
            "torch_wheel": wheel.name,
            "pythondontwritebytecode": env.get("PYTHONDONTWRITEBYTECODE", "(unset)"),
        },
        "machine": machine.describe(work, cache, env, list(COPIER)),
    }
    say = scenarios.say
    say("==> Reference render (the dependency list for the by-hand path)")
    reference = work / "reference"
    copier_copy(setup, reference, "--skip-tasks")
    deps = dependencies_of(reference)
    results["settings"]["dependencies"] = {"project": deps.project, "dev": deps.dev}

    installed = None
    if not args.quick and only & {"e2e", "render", "update"}:
        say("==> Copier installed as a uv tool, for the variant without uvx")
        installed = replace(setup, copier=install_copier(work, env, setup.logs))
    e2e = work / "e2e"
    if "e2e" in only:
        results["end_to_end"] = scenarios.end_to_end(setup, e2e, args.runs, deps, installed)
    if "render" in only:
        results["render"] = scenarios.render_only(setup, work / "render", args.runs, installed)
    if "update" in only:
        results["update"] = scenarios.update(setup, work / "update", args.runs, installed)
    if "pytest" in only:  # first: a new project, whose first test run is measured
        results["pytest"] = project.project_tests(setup, work / "projects", args.runs)
    if "help" in only:
        results["help"] = project.scripts_help(setup, work / "projects", args.runs)
    if "disk" in only:
        made = {name: sorted(e2e.glob(f"{name}-*")) for name in ("template", "by-hand")}
        results["disk"] = scenarios.disk_use(
            setup, work / "disk", made, cache, deps, copy_mode=not args.quick
        )
    if "cold" in only:
        runs = args.cold_runs or min(args.runs, 3)
        results["cold"] = scenarios.cold_cache(setup, work / "cold", runs, deps, args.cold_index)
    results["machine"]["load_average_end"] = machine.load_average()
    return results


def write(results: dict[str, Any], args: argparse.Namespace) -> None:
    args.results.mkdir(parents=True, exist_ok=True)
    name = "quick" if args.quick else "latest"  # a smoke run never replaces a full one
    (args.results / f"{name}.json").write_text(json.dumps(results, indent=2) + "\n")
    text = report.markdown(results)
    (args.results / f"{name}.md").write_text("# Benchmark results\n\n" + text)
    print("\n" + text)
    if not args.quick and args.docs.is_file():
        report.update_docs(args.docs, results)
        print(f"Updated {args.docs}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.from_json:
        results = json.loads(args.from_json.read_text())
        args.quick = results["settings"]["quick"]
        write(results, args)
        return 0
    parent = args.workdir or Path(tempfile.gettempdir())
    work = Path(tempfile.mkdtemp(prefix="copier-research-bench-", dir=parent))
    print(f"Scratch folder: {work}", flush=True)
    try:
        results = measure(args, work)
    except (CommandFailed, RuntimeError) as error:
        print(f"\n!!  Benchmark stopped: {error}\n    Scratch folder kept: {work}", file=sys.stderr)
        return 1
    write(results, args)
    if args.keep:
        print(f"Scratch folder kept: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
