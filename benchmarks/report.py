"""The results as a markdown table, and the docs page's results block."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

DOCS_START = "<!-- benchmark-results:start -->"
DOCS_END = "<!-- benchmark-results:end -->"


def seconds(summary: dict[str, Any], unit: str = " s") -> str:
    if summary["n"] == 1:
        return f"{summary['median']:.2f}{unit}"
    return f"{summary['median']:.2f}{unit} ({summary['min']:.2f}-{summary['max']:.2f})"


def verdict(section: dict[str, Any]) -> str:
    return "yes" if section.get("met") else "**no**"


def _comparison_rows(label: str, section: dict[str, Any], target: str) -> list[str]:
    rows = [
        f"| {label}: template (`copier copy`, tasks) | {seconds(section['template_s'])} | | |",
        f"| {label}: by hand (`uv init`, `uv add`, import) | {seconds(section['by_hand_s'])} | | |",
    ]
    met = verdict(section) if "met" in section else ""
    ratio = seconds(section["ratio"], "")
    rows.append(f"| {label}: ratio template / by hand, per round | {ratio} | {target} | {met} |")
    return rows


def _disk_rows(section: dict[str, Any]) -> list[str]:
    first, *others = section["projects"]
    rows = [f"| Disk: project 1 (alone, as `du` counts it) | {first['total_mb']:.0f} MB | | |"]
    for number, project in enumerate(others, start=2):
        share = project["added_share_of_first"]
        met = "yes" if share <= section["target"] else "**no**"
        rows.append(
            f"| Disk: added by project {number} | {project['added_mb']:.1f} MB "
            f"({share:.1%} of project 1) | ≤ {section['target']:.0%} | {met} |"
        )
    if "added_by_kind_mb" in others[0]:
        kinds = others[0]["added_by_kind_mb"]
        rows.append(
            f"| Disk: project 2's own bytes: bytecode / directories / other | "
            f"{kinds['bytecode']:.1f} / {kinds['directories']:.1f} / {kinds['other']:.1f} MB "
            "| reported | |"
        )
    if "by_hand" in section:
        hand = section["by_hand"][1]
        kinds = hand["added_by_kind_mb"]
        rows.append(
            f"| Disk: added by a 2nd project made by hand (bytecode / directories / other) | "
            f"{hand['added_mb']:.1f} MB ({hand['added_share_of_first']:.1%} of its first; "
            f"{kinds['bytecode']:.1f} / {kinds['directories']:.1f} / {kinds['other']:.1f}) "
            "| reported | |"
        )
    if "copy_mode" in section:
        copy = section["copy_mode"]
        rows.append(
            f"| Disk: added by a project with `UV_LINK_MODE=copy` (cache elsewhere) | "
            f"{copy['added_mb']:.0f} MB ({copy['added_share_of_first']:.0%}) | reported | |"
        )
    return rows


def _render_rows(render: dict[str, Any]) -> list[str]:
    target = f"≤ {render['target']:.1f} s"
    installed = "installed" in render
    rows = []
    for name, label in (("uvx", "uvx"), ("installed", "copier installed (`uv tool install`)")):
        if name not in render:
            continue
        measured = render[name]
        judged = name == "installed" or not installed
        rows += [
            f"| Render only (`--skip-tasks`), {label} | {seconds(measured['render_s'])} "
            f"| {target if judged else 'reported'} | {verdict(render) if judged else ''} |",
            f"| of which copier's start-up (`copier --version`, {name}) "
            f"| {seconds(measured['copier_version_s'])} | | |",
        ]
        if "trivial_render_s" in measured:
            rows.append(
                f"| copier's floor: a template of one question and one file, {name} "
                f"| {seconds(measured['trivial_render_s'])} | | |"
            )
    return rows


def table(results: dict[str, Any]) -> str:
    rows = ["| Measure | Median (min-max) | Target | Met |", "|---|---|---|---|"]
    if "end_to_end" in results:
        e2e = results["end_to_end"]
        rows += _comparison_rows("End to end", e2e, "≤ 1.25")
        if "installed" in e2e:
            installed = e2e["installed"]
            rows.append(
                "| End to end: template, copier installed (`uv tool install`) | "
                f"{seconds(installed['template_s'])} | | |"
            )
            target = f"≤ {installed['target']:.2f}" if "target" in installed else "reported"
            met = verdict(installed) if "met" in installed else ""
            rows.append(
                "| End to end: ratio with copier installed / by hand, per round | "
                f"{seconds(installed['ratio'], '')} | {target} | {met} |"
            )
    if "render" in results:
        rows += _render_rows(results["render"])
    if "update" in results:
        update = results["update"]
        rows.append(
            "| Update v0.1.0 → v0.2.0 (`copier update`), no dependency changed: no re-lock "
            f"| {seconds(update['update_s'])} | ≤ {update['target']:.0f} s | {verdict(update)} |"
        )
        relock_target = f"≤ {update['relock_target']:.0f} s" if "relock_target" in update else ""
        relock_met = ("yes" if update["relock_met"] else "**no**") if relock_target else ""
        rows.append(
            "| Update v0.1.0 → v0.3.0, a dependency added: with its re-lock "
            f"| {seconds(update['update_with_relock_s'])} | {relock_target or 'reported'} "
            f"| {relock_met} |"
        )
        if "relock_s" in update:
            rows.append(
                "| of which the re-lock (lock, pin, sync, check) "
                f"| {seconds(update['relock_s'])} | | |"
            )
        if "trivial_update_s" in update:
            rows.append(
                "| copier's floor: the same update of a template of one question and one file "
                f"| {seconds(update['trivial_update_s'])} | | |"
            )
        if "installed" in update:
            installed = update["installed"]
            rows.append(
                "| Update → v0.2.0, no re-lock, copier installed (`uv tool install`) "
                f"| {seconds(installed['update_s'])} | reported | |"
            )
            if "trivial_update_s" in installed:
                rows.append(
                    "| copier's floor, installed: the trivial template's update "
                    f"| {seconds(installed['trivial_update_s'])} | | |"
                )
    if "pytest" in results:
        tests = results["pytest"]
        rows.append(
            "| The generated project's `uv run pytest` (default answers) "
            f"| {seconds(tests['pytest_s'])} | ≤ {tests['target']:.0f} s | {verdict(tests)} |"
        )
        rows.append(
            f"| of which its first run, right after the set-up | {tests['first_s']:.2f} s | | |"
        )
    if "help" in results:
        shown = results["help"]
        for script, measured in shown["scripts"].items():
            met = "yes" if measured["help_s"]["median"] <= shown["target"] else "**no**"
            rows.append(
                f"| --help of scripts/{script}, through uv run ({measured['variant']}) "
                f"| {seconds(measured['help_s'])} | ≤ {shown['target']:.1f} s | {met} |"
            )
    if "disk" in results:
        rows += _disk_rows(results["disk"])
    if "cold" in results:
        rows += _comparison_rows("Cold cache", results["cold"], "reported")
    return "\n".join(rows)


def steps_table(section: dict[str, Any], key: str) -> str:
    rows = ["| Step | Median (min-max) |", "|---|---|"]
    rows += [f"| {title} | {seconds(s)} |" for title, s in section[key].items()]
    return "\n".join(rows)


def _link_line(results: dict[str, Any]) -> list[str]:
    if "disk" not in results:
        return []
    d = results["disk"]
    clone = {True: "can clone", False: "cannot clone", None: "untested for clones"}
    return [
        f"- Links: the filesystem {clone[d['reflink_supported']]}; "
        f"{d['venv_bytes_hardlinked']:.1%} of a project's `.venv` bytes are hardlinks; "
        f"UV_LINK_MODE {d['uv_link_mode']}"
    ]


def _removal_line(machine: dict[str, Any]) -> list[str]:
    if "directory_removal_ms" not in machine:
        return []
    return [
        f"- Removing a directory: {machine['directory_removal_ms']:.2f} ms where the projects "
        f"are, {machine['temp_directory_removal_ms']:.2f} ms in the temporary folder (copier "
        "removes a few hundred when it ends)"
    ]


def _creation_line(machine: dict[str, Any]) -> list[str]:
    if "file_creation_ms" not in machine:
        return []
    return [
        f"- Creating a file: {machine['file_creation_ms']:.2f} ms where the projects are "
        f"(copier's clone of the template writes its {machine['template_files']} files, once "
        "per render)"
    ]


def machine_lines(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        f"- CPU: {m['cpu']}, {m['cores']} cores; memory {m['memory_gib']} GiB; {m['os']}",
        f"- Filesystems: projects on {m['workdir_filesystem']}, uv cache ({m['uv_cache']}) "
        f"on {m['uv_cache_filesystem']}",
        *_removal_line(m),
        *_creation_line(m),
        f"- Tools: {m['uv']}; {m['copier']}; {m['git']}",
        *_link_line(results),
        f"- Load average at start {m['load_average_start']}, at end {m['load_average_end']}",
    ]
    settings = results["settings"]
    lines.append(
        f"- Runs: {settings['runs']} per measure (after one warm-up), started "
        f"{results['started']}; template: {settings['template_source']}"
    )
    return "\n".join(lines)


def markdown(results: dict[str, Any]) -> str:
    parts = [
        "## Results",
        table(results),
        "## Machine",
        machine_lines(results),
    ]
    if "end_to_end" in results:
        parts += [
            "## Where the time goes: template, end to end",
            steps_table(results["end_to_end"], "template_steps_s"),
            "## Where the time goes: by hand, end to end",
            steps_table(results["end_to_end"], "by_hand_steps_s"),
        ]
    return "\n\n".join(parts) + "\n"


def replace_block(page: str, block: str) -> str:
    """`page` with the text between the results markers replaced by `block`."""
    pattern = re.compile(re.escape(DOCS_START) + ".*?" + re.escape(DOCS_END), re.DOTALL)
    if not pattern.search(page):
        raise ValueError(f"the page has no {DOCS_START} ... {DOCS_END} block")
    replacement = f"{DOCS_START}\n\n{block.strip()}\n\n{DOCS_END}"
    return pattern.sub(lambda _: replacement, page)


def update_docs(page: Path, results: dict[str, Any]) -> None:
    block = markdown(results).replace("## ", "### ")
    page.write_text(replace_block(page.read_text(), block))
