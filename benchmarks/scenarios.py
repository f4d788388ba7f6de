"""The five measurements of issue #7. Each returns a JSON-ready dict; none asserts anything."""

from __future__ import annotations

import os
import shutil
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from . import disk, fixtures
from .paths import (
    Dependencies,
    Setup,
    by_hand_end_to_end,
    copier_copy,
    template_end_to_end,
)
from .process import timed
from .stats import Summary, ratios, summarize

# Issue #22's goals: the README's uvx command, and copier installed (`uv tool install`).
TARGETS = {
    "ratio": 1.25,
    "installed_ratio": 1.10,
    "render_s": 0.6,  # copier installed
    "update_s": 2.0,
    "update_with_relock_s": 5.0,
    "disk_share": 0.03,
}
Measured = tuple[float, dict[str, float]]  # seconds, and seconds per step
Path_ = Callable[[Path], Measured]


def say(message: str) -> None:
    print(message, flush=True)


def _phases(runs: list[dict[str, float]]) -> dict[str, Any]:
    values: dict[str, list[float]] = defaultdict(list)
    for run in runs:
        for title, seconds in run.items():
            values[title].append(seconds)
    return {title: summarize(v).to_json() for title, v in values.items()}


def rotated(runs: int, paths: dict[str, Path_], folder: Path) -> dict[str, list[Measured]]:
    """Run every path `runs` times, round by round; each round starts with the next path.

    With two paths, the pairs alternate which goes first, so a drift in the machine's load
    hits both alike.
    """
    folder.mkdir(parents=True, exist_ok=True)
    names = list(paths)
    results: dict[str, list[Measured]] = {name: [] for name in names}
    for index in range(1, runs + 1):
        shift = (index - 1) % len(names)
        for name in names[shift:] + names[:shift]:
            seconds, steps = paths[name](folder / f"{name}-{index}")
            results[name].append((seconds, steps))
            say(f"    run {index}/{runs} {name}: {seconds:.2f} s")
    return results


def _comparison(
    template: list[Measured], by_hand: list[Measured], target: float | None
) -> dict[str, Any]:
    t_seconds, h_seconds = [s for s, _ in template], [s for s, _ in by_hand]
    ratio = summarize(ratios(t_seconds, h_seconds))
    result: dict[str, Any] = {
        "template_s": summarize(t_seconds).to_json(),
        "by_hand_s": summarize(h_seconds).to_json(),
        "ratio": ratio.to_json(),
        "template_steps_s": _phases([steps for _, steps in template]),
        "by_hand_steps_s": _phases([steps for _, steps in by_hand]),
    }
    if target is not None:
        result |= {"target": target, "met": ratio.median <= target}
    return result


def end_to_end(
    setup: Setup, folder: Path, runs: int, deps: Dependencies, installed: Setup | None
) -> dict[str, Any]:
    """copier copy with its tasks against uv init + uv add + one torch import, warm cache.

    With `installed`, a third path: the same copier copy with copier installed as a uv tool.
    """
    say("==> End to end, warm cache: one warm-up run of each path, then rounds")
    paths: dict[str, Path_] = {
        "template": lambda path: template_end_to_end(setup, path),
        "by-hand": lambda path: by_hand_end_to_end(setup, path, deps),
    }
    if installed is not None:
        paths["installed"] = lambda path: template_end_to_end(installed, path)
    folder.mkdir(parents=True, exist_ok=True)
    for name, path in paths.items():
        path(folder / f"{name}-0")
    measured = rotated(runs, paths, folder)
    result = _comparison(measured["template"], measured["by-hand"], TARGETS["ratio"])
    if installed is not None:
        result["installed"] = _comparison(
            measured["installed"], measured["by-hand"], TARGETS["installed_ratio"]
        )
    return result


IDENTITY = ("-c", "user.name=Bench Mark", "-c", "user.email=bench@example.org")


def trivial_template(folder: Path, env: dict[str, str]) -> Path:
    """A template of one question and one file, released as v0.1.0 and as v0.2.0 (a line
    added to the file): copier's own floor, for a render and for an update."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "copier.yml").write_text("name:\n  type: str\n  default: trivial\n")
    answers = folder / "{{ _copier_conf.answers_file }}.jinja"  # what an update reads
    answers.write_text("{{ _copier_answers | to_nice_yaml }}")
    readme = folder / "README.md.jinja"
    readme.write_text("# {{ name }}\n")
    log = folder.parent / "trivial-template-git.log"
    timed(["git", "init", "-q"], folder, env, log)
    for tag in fixtures.RELEASES[:2]:
        if tag != fixtures.RELEASES[0]:
            readme.write_text(readme.read_text() + f"Released as {tag}.\n")
        for command in (["add", "-A"], [*IDENTITY, "commit", "-qm", tag], ["tag", tag]):
            timed(["git", *command], folder, env, log)
    return folder


def render_only(setup: Setup, folder: Path, runs: int, installed: Setup | None) -> dict[str, Any]:
    """copier copy --skip-tasks: the template's own cost, without uv; beside it, copier's
    start-up (`copier --version`) and its render of a trivial template (the floor)."""
    say("==> Render only (--skip-tasks)")
    folder.mkdir(parents=True, exist_ok=True)
    trivial = trivial_template(folder / "trivial-template", setup.env)
    variants = {"uvx": setup} | ({"installed": installed} if installed else {})
    result: dict[str, Any] = {"target": TARGETS["render_s"]}
    for name, variant in variants.items():
        copier_copy(variant, folder / f"{name}-0", "--skip-tasks")  # warm-up
        seconds, startup, floor = [], [], []
        for index in range(1, runs + 1):
            log = variant.logs / f"copier-version-{name}-{index}.log"
            startup.append(timed([*variant.copier, "--version"], folder, variant.env, log).seconds)
            bare = [*variant.copier, "copy", "--trust", "--defaults", str(trivial)]
            log = variant.logs / f"trivial-{name}-{index}.log"
            floor.append(timed([*bare, str(folder / f"trivial-{name}-{index}")], folder,
                               variant.env, log).seconds)  # fmt: skip
            run = copier_copy(variant, folder / f"{name}-{index}", "--skip-tasks")
            seconds.append(run.seconds)
            say(f"    run {index}/{runs} ({name}): {run.seconds:.2f} s, trivial {floor[-1]:.2f} s")
        result[name] = {
            "command": " ".join(variant.copier),
            "render_s": summarize(seconds).to_json(),
            "copier_version_s": summarize(startup).to_json(),
            "trivial_render_s": summarize(floor).to_json(),
        }
    measured = result["installed" if installed else "uvx"]["render_s"]["median"]
    result["met"] = measured <= TARGETS["render_s"]
    return result


def _commit_all(project: Path, env: dict[str, str]) -> None:
    """Commit the generated project (the copy commits itself where git knows the user)."""
    log = project.parent / f"{project.name}-git.log"
    timed(["git", "add", "-A"], project, env, log)
    timed(["git", *IDENTITY, "commit", "--allow-empty", "-qm", "generated"], project, env, log)


RELOCK_LINE = "Re-locking after the update"
READY_LINE = "Environment ready"


def relock_seconds(steps: list[tuple[float, str]], total: float) -> float:
    """The part of an update spent re-locking: from its first line to 'Environment ready'."""
    begin = next((t for t, title in steps if title.startswith(RELOCK_LINE)), None)
    if begin is None:
        return 0.0
    end = next((t for t, title in steps if t >= begin and title.startswith(READY_LINE)), total)
    return end - begin


def _updated(setup: Setup, base: Path, project: Path, tag: str) -> tuple[float, float]:
    """Update a copy of `base` to `tag`: (seconds in all, seconds of its re-lock)."""
    # The project as its owner has it, .venv included: hardlinked (uv and Python replace
    # files there, never write into them), the rest copied (copier rewrites files in place).
    shutil.copytree(base, project, symlinks=True, ignore=shutil.ignore_patterns(".venv"))
    shutil.copytree(base / ".venv", project / ".venv", symlinks=True, copy_function=os.link)
    command = [*setup.copier, "update", "--trust", "--defaults", "-r", tag]
    log = setup.logs / f"update-{project.name}.log"
    result = timed(command, project, setup.env, log)
    if fixtures.V2_README_LINE not in (project / "README.md").read_text():
        raise RuntimeError(f"the update did not bring v0.2.0's change; see {log}")
    added = f'"{fixtures.V3_DEPENDENCY}=='
    if (tag == fixtures.RELEASES[2]) != (added in (project / "pyproject.toml").read_text()):
        raise RuntimeError(f"the update to {tag} got {fixtures.V3_DEPENDENCY} wrong; see {log}")
    check = setup.logs / f"update-{project.name}-lock-check.log"
    timed(["uv", "lock", "--check"], project, setup.env, check)
    return result.seconds, relock_seconds(result.steps, result.seconds)


def update(setup: Setup, folder: Path, runs: int, installed: Setup | None) -> dict[str, Any]:
    """copier update of a generated, committed project, its venv in place, in two kinds.

    v0.1.0 -> v0.2.0 changes no dependency: the update merges and stops (no re-lock).
    v0.1.0 -> v0.3.0 adds one: the update re-locks, re-pins, re-installs and checks.
    With `installed`, each round also makes the first kind with copier installed as a uv tool.
    """
    say("==> Update between template releases: without and with a dependency change")
    folder.mkdir(parents=True, exist_ok=True)
    base = folder / "base"
    copier_copy(setup, base, tag=fixtures.RELEASES[0])
    _commit_all(base, setup.env)
    kinds = {"no-op": (setup, fixtures.RELEASES[1]), "relock": (setup, fixtures.RELEASES[2])}
    if installed:
        kinds["installed"] = (installed, fixtures.RELEASES[1])
    total: dict[str, list[float]] = {name: [] for name in kinds}
    relock: list[float] = []
    for index in range(runs + 1):  # round 0 is the warm-up
        for name, (variant, tag) in kinds.items():
            seconds, relocking = _updated(variant, base, folder / f"{name}-{index}", tag)
            if index:
                total[name].append(seconds)
                relock += [relocking] if name == "relock" else []
                say(f"    run {index}/{runs} ({name}): {seconds:.2f} s, re-lock {relocking:.2f} s")
    floor = _trivial_updates(folder / "trivial", runs, kinds)
    summary = summarize(total["no-op"])
    with_relock = summarize(total["relock"])
    result: dict[str, Any] = {
        "update_s": summary.to_json(),
        "update_with_relock_s": with_relock.to_json(),
        "relock_s": summarize(relock).to_json(),
        "target": TARGETS["update_s"],
        "met": summary.median <= TARGETS["update_s"],
        "relock_target": TARGETS["update_with_relock_s"],
        "relock_met": with_relock.median <= TARGETS["update_with_relock_s"],
        "trivial_update_s": floor["no-op"].to_json(),
    }
    if installed:
        result["installed"] = {
            "update_s": summarize(total["installed"]).to_json(),
            "trivial_update_s": floor["installed"].to_json(),
        }
    return result


def _trivial_updates(
    folder: Path, runs: int, kinds: dict[str, tuple[Setup, str]]
) -> dict[str, Summary]:
    """Copier's floor for an update: the trivial template's v0.1.0 -> v0.2.0, in a committed
    project, by each kind's copier (the no-op kinds only), after one warm-up."""
    folder.mkdir(parents=True, exist_ok=True)
    setup = kinds["no-op"][0]
    template = trivial_template(folder / "template", setup.env)
    base = folder / "base"
    copy = [*setup.copier, "copy", "--trust", "--defaults", "-r", fixtures.RELEASES[0]]
    timed([*copy, str(template), str(base)], folder, setup.env, setup.logs / "trivial-base.log")
    timed(["git", "init", "-q"], base, setup.env, folder / "base-git.log")
    _commit_all(base, setup.env)
    floors: dict[str, Summary] = {}
    for name, (variant, _) in kinds.items():
        if name == "relock":
            continue
        seconds = []
        for index in range(runs + 1):
            project = folder / f"{name}-{index}"
            shutil.copytree(base, project, symlinks=True)
            command = [*variant.copier, "update", "--trust", "--defaults", "-r"]
            log = variant.logs / f"trivial-update-{name}-{index}.log"
            run = timed([*command, fixtures.RELEASES[1]], project, variant.env, log)
            seconds += [run.seconds] if index else []
        floors[name] = summarize(seconds)
        say(
            f"    copier's floor ({name}), a trivial template's update: {floors[name].median:.2f} s"
        )
    return floors


def _share(usage: disk.TreeUsage, first: disk.TreeUsage) -> dict[str, Any]:
    return {
        "path": usage.path,
        "total_mb": round(usage.total / 1e6, 1),
        "shared_with_cache_mb": round(usage.shared_outside / 1e6, 1),
        "added_mb": round(usage.added / 1e6, 1),
        "added_share_of_first": round(usage.added / first.total, 4),
        "added_by_kind_mb": {k: round(v / 1e6, 1) for k, v in usage.added_by_kind.items()},
    }


def disk_use(
    setup: Setup,
    folder: Path,
    made: dict[str, list[Path]],
    cache: Path,
    deps: Dependencies,
    copy_mode: bool,
) -> dict[str, Any]:
    """Three projects with the same torch: what projects 2 and 3 add, shared inodes once;
    beside them, three made by hand (uv init, uv add, one torch import), counted the same way.
    `made` holds the projects the end-to-end measure left, by path ("template", "by-hand")."""
    say("==> Disk: three projects with the same torch, by the template and by hand")
    folder.mkdir(parents=True, exist_ok=True)
    makers: dict[str, Callable[[Path], object]] = {
        "template": lambda path: template_end_to_end(setup, path),
        "by-hand": lambda path: by_hand_end_to_end(setup, path, deps),
    }
    trees: dict[str, list[Path]] = {}
    accounted: dict[str, list[dict[str, Any]]] = {}
    for name, make in makers.items():
        trees[name] = list(made.get(name, []))[:3]
        while len(trees[name]) < 3:
            trees[name].append(folder / f"{name}-{len(trees[name])}")
            make(trees[name][-1])
        usages = disk.account(trees[name])
        accounted[name] = [_share(u, usages[0]) for u in usages]
    shares, projects = accounted["template"], trees["template"]
    venv = projects[0] / ".venv"
    result: dict[str, Any] = {
        "projects": shares,
        "by_hand": accounted["by-hand"],
        "target": TARGETS["disk_share"],
        "met": all(s["added_share_of_first"] <= TARGETS["disk_share"] for s in shares[1:]),
        "uv_cache": str(cache),
        "cache_on_same_filesystem": disk.same_filesystem(projects[0], cache),
        "reflink_supported": disk.reflink_supported(projects[0]),
        "venv_bytes_hardlinked": round(disk.linked_share(venv), 4),
        "uv_link_mode": setup.env.get("UV_LINK_MODE", "(unset: uv's default, clone)"),
    }
    if copy_mode:
        # What a cache on another filesystem costs: uv cannot link, so it copies.
        copied = folder / "copy-mode"
        shutil.copytree(projects[0], copied, symlinks=True, ignore=shutil.ignore_patterns(".venv"))
        env = setup.env | {"UV_LINK_MODE": "copy"}
        timed(["uv", "sync", "--locked"], copied, env, setup.logs / "copy-mode-sync.log")
        check = ["uv", "run", "--locked", "scripts/smoke_test.py", "--quick"]
        timed(check, copied, env, setup.logs / "copy-mode-check.log")
        first, copy = disk.account([projects[0], copied])
        result["copy_mode"] = _share(copy, first)
    return result


def cold_cache(
    setup: Setup, folder: Path, runs: int, deps: Dependencies, index: str | None
) -> dict[str, Any]:
    """Both paths with an empty uv cache each time (UV_CACHE_DIR), against `index` if given."""
    say(f"==> End to end, cold cache{f' (index {index})' if index else ''}")

    def cold(path: Path, action: Callable[[Setup, Path], Measured]) -> Measured:
        cache = folder / f"cache-{path.name}"
        env = setup.env | {"UV_CACHE_DIR": str(cache)} | ({"UV_INDEX": index} if index else {})
        try:
            return action(replace(setup, env=env), path)
        finally:  # a cold cache holds an unpacked torch: free the disk at once
            shutil.rmtree(cache, ignore_errors=True)
            shutil.rmtree(path, ignore_errors=True)

    paths: dict[str, Path_] = {
        "template": lambda path: cold(path, template_end_to_end),
        "by-hand": lambda path: cold(path, lambda s, p: by_hand_end_to_end(s, p, deps)),
    }
    measured = rotated(runs, paths, folder)
    comparison = _comparison(measured["template"], measured["by-hand"], None)
    return comparison | {"index": index or "(uv's default)"}
