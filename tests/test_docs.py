"""The documentation site builds with `mkdocs build --strict`, and its generated parts
(question reference, driver table, navigation) follow copier.yml and extensions/."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import TEMPLATE
from packaging.version import Version

from extensions import compat, containers, cuda, detect, pytorch_facts, starters, torch_releases
from tasks.recovery import RESTORE
from tools import docgen, mkdocs_hooks

pytestmark = pytest.mark.xdist_group("docs")  # one worker builds the site once


def mkdocs_build(root: Path, site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(site)],
        cwd=root,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("site")
    result = mkdocs_build(TEMPLATE, folder)
    assert result.returncode == 0, result.stderr
    return folder


def questions_in_copier_yml() -> list[str]:
    data = yaml.safe_load((TEMPLATE / "copier.yml").read_text())
    return [key for key, spec in data.items() if not key.startswith("_") and isinstance(spec, dict)]


def test_site_builds_strictly_with_every_page(site: Path) -> None:
    for page in (TEMPLATE / "docs").glob("*.md"):
        built = "index.html" if page.stem == "index" else f"{page.stem}/index.html"
        assert (site / built).is_file(), page.name


def test_strict_build_fails_on_a_broken_link(tmp_path: Path) -> None:
    """The check above can fail: a page linking to a missing page breaks the build."""
    for name in ["mkdocs.yml", "copier.yml"]:
        shutil.copy(TEMPLATE / name, tmp_path / name)
    for folder in ["docs", "tools", "extensions"]:
        shutil.copytree(TEMPLATE / folder, tmp_path / folder)
    (tmp_path / detect.MACHINE).parent.mkdir(parents=True)
    shutil.copy(
        TEMPLATE / detect.MACHINE, tmp_path / detect.MACHINE
    )  # extensions/detect.py loads it
    (tmp_path / "docs" / "broken.md").write_text("# Broken\n\nSee [nowhere](nowhere.md).\n")
    result = mkdocs_build(tmp_path, tmp_path / "site")
    assert result.returncode != 0
    assert "nowhere.md" in result.stderr


def test_question_reference_lists_every_question_in_order() -> None:
    groups = docgen.question_groups((TEMPLATE / "copier.yml").read_text())
    listed = [question.name for group in groups for question in group.questions]
    assert listed == questions_in_copier_yml()


def test_question_reference_is_in_the_site(site: Path) -> None:
    html = (site / "questions" / "index.html").read_text()
    for name in questions_in_copier_yml():
        assert f'id="{name}"' in html, name


def test_question_reference_shows_defaults_choices_and_conditions() -> None:
    page = docgen.questions_page((TEMPLATE / "copier.yml").read_text())
    container = page[page.index("### `container`") :].split("### ")[1]
    assert "- **Default:** `none`" in container
    assert "`apptainer`: Apptainer" in container
    slurm_account = page[page.index("### `slurm_account`") :].split("### ")[1]
    assert "- **Default:** empty" in slurm_account
    assert "- **Asked:** only when `framework == 'pytorch' and include_slurm`" in slurm_account


def test_question_reference_shows_no_raw_jinja() -> None:
    page = docgen.questions_page((TEMPLATE / "copier.yml").read_text())
    assert "{{" not in page and "{%" not in page


def test_question_reference_describes_computed_defaults_in_words() -> None:
    page = docgen.questions_page((TEMPLATE / "copier.yml").read_text())
    accelerator = page[page.index("### `accelerator`") :].split("### ")[1]
    assert "No NVIDIA or AMD GPU detected: proposing cpu" in accelerator
    assert "the newest CUDA build the NVIDIA driver supports" in accelerator
    for build in cuda.BUILDS:
        assert f"`{build.name}`: {build.label}" in accelerator
    cpu_extra = page[page.index("### `cpu_extra`") :].split("### ")[1]
    assert "lock the CPU build and &lt;accelerator&gt; as two extras" in cpu_extra


def test_driver_table_has_one_row_per_build_with_its_floor() -> None:
    rows = docgen.driver_table().splitlines()[2:]
    assert len(rows) == len(cuda.BUILDS)
    for build, row in zip(cuda.BUILDS, rows, strict=True):
        assert row.startswith(f"| `{build.name}` |")
        if build.cuda is not None:
            assert f"≥ {build.min_driver_linux}" in row and f"≥ {build.min_driver_windows}" in row
            assert cuda.capability_text(build.oldest_gpu or (0, 0)) in row


def test_container_table_names_each_builds_runtime_image() -> None:
    table = docgen.container_images()
    for build in cuda.BUILDS:
        assert f"| `{build.name}` | `{containers.runtime_image(build.name)}` |" in table


def test_generated_blocks_are_filled_in_the_site(site: Path) -> None:
    troubleshooting = (site / "troubleshooting" / "index.html").read_text()
    assert "525.60.13" in troubleshooting
    for page in site.rglob("*.html"):
        assert "generated: " not in page.read_text(), page


def test_navigation_puts_unlisted_pages_after_the_reading_order() -> None:
    pages = ["zebra.md", "troubleshooting.md", "index.md", "alpha.md", "questions.md"]
    assert mkdocs_hooks.navigation(pages) == [
        "index.md",
        "questions.md",
        "troubleshooting.md",
        "alpha.md",
        "zebra.md",
    ]


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        ("[log](../CHANGELOG.md)", "[log](https://x.org/r/blob/main/CHANGELOG.md)"),
        ("[lab](../presets/lab.yml#top)", "[lab](https://x.org/r/blob/main/presets/lab.yml#top)"),
        ("[page](updating.md)", "[page](updating.md)"),
    ],
)
def test_links_out_of_docs_point_at_the_repository(markdown: str, expected: str) -> None:
    assert mkdocs_hooks.link_out_of_docs(markdown, "https://x.org/r/") == expected


def test_updating_page_gives_the_restore_command_the_update_prints() -> None:
    assert RESTORE in (TEMPLATE / "docs" / "updating.md").read_text()


# ── Facts in hand-written pages (README.md, docs/*.md) ─────────────────────


@pytest.mark.parametrize("page", docgen.pages(TEMPLATE), ids=lambda p: p.name)
def test_every_fact_in_a_page_is_current(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    assert docgen.fill_facts(text) == text, "stale: run `uv run python -m tools.docgen`"


@pytest.mark.parametrize("page", docgen.pages(TEMPLATE), ids=lambda p: p.name)
def test_every_fact_a_page_names_has_a_source(page: Path) -> None:
    assert set(docgen.fact_names(page.read_text(encoding="utf-8"))) <= docgen.FACTS.keys()


def test_a_stale_fact_is_rewritten() -> None:
    page = "Builds: <!-- fact: builds -->`cpu`, `cu999`<!-- /fact -->."
    names = ", ".join(f"`{build.name}`" for build in cuda.BUILDS)
    assert docgen.fill_facts(page) == f"Builds: <!-- fact: builds -->{names}<!-- /fact -->."


def test_readme_names_every_build_and_the_python_range() -> None:
    readme = (TEMPLATE / "README.md").read_text(encoding="utf-8")
    assert docgen.fact_names(readme) == ["builds", "pythons", "torch-lines"]
    assert f"{compat.PYTHONS[0]} to {compat.PYTHONS[-1]}" in readme
    for build in cuda.BUILDS:
        assert f"`{build.name}`" in readme


def test_builds_table_has_one_row_per_build_with_what_it_needs() -> None:
    rows = docgen.builds_table().splitlines()[2:]
    assert [row.split(" | ")[0] for row in rows] == [f"| `{b.name}`" for b in cuda.BUILDS]
    for build, row in zip(cuda.BUILDS, rows, strict=True):
        if build.cuda is not None:
            assert f"NVIDIA driver ≥ {build.min_driver_linux}" in row
        elif build.rocm is not None:
            assert row.endswith(f"ROCm {build.rocm} |") and "Windows" not in row
        else:
            assert row.endswith("| nothing |") and "macOS" in row


def test_releases_table_spans_each_builds_torch_lines() -> None:
    facts = pytorch_facts.load()
    for build, row in zip(cuda.BUILDS, docgen.releases_table().splitlines()[2:], strict=True):
        lines = sorted(
            {torch_releases.release_line(v) for v in facts.all_versions("torch", build.name)},
            key=Version,
        )
        assert row.startswith(f"| `{build.name}` | `{lines[0]}` … `{lines[-1]}` |")


# ── Drift: the docs against the repository and the template ───────────────


def test_question_reference_in_docs_is_current() -> None:
    """docs/questions.md is committed (links to it work outside the built site too) and is
    what copier.yml says."""
    page = (TEMPLATE / "docs" / "questions.md").read_text(encoding="utf-8")
    expected = docgen.questions_page((TEMPLATE / "copier.yml").read_text(encoding="utf-8"))
    assert page == expected, "stale: run `uv run python -m tools.docgen`"


_LINK = re.compile(r"\]\((?P<target>[^)\s]+)\)")


@pytest.mark.parametrize(
    "page",
    [TEMPLATE / "README.md", TEMPLATE / "CHANGELOG.md", *sorted((TEMPLATE / "docs").glob("*.md"))],
    ids=lambda p: p.name,
)
def test_every_relative_link_points_at_a_file_in_the_repository(page: Path) -> None:
    """A link works where the page is read: on GitHub as on the site (a page that only the
    site build generates is a broken link in the repository)."""
    broken = []
    for match in _LINK.finditer(page.read_text(encoding="utf-8")):
        target = match["target"].split("#")[0]
        if not target or re.match(r"[a-z]+:", target):
            continue
        if not (page.parent / target).exists():
            broken.append(match["target"])
    assert broken == []


def template_outputs() -> set[str]:
    """Where each template file is written in a project (`src/<package>/...`), every answer
    taken (a `{% if %}` in a name kept)."""
    root = TEMPLATE / "template"
    outputs = set()
    for file in root.rglob("*"):
        path = file.relative_to(root).as_posix()
        if not file.is_file() or path.startswith("_partials/"):
            continue
        path = re.sub(r"\{% if [^%]*%\}(.*?)\{% endif %\}", r"\1", path)
        path = path.replace("{{package_name}}", "<package>")
        path = path.replace("{{_copier_conf.answers_file}}", ".copier-answers.yml")
        outputs.add(path.removesuffix(".jinja"))
    return outputs


def update_table() -> dict[str, list[str]]:
    """docs/updating.md, "What an update touches": each row's kind (its bold words, else its
    first word) and the paths its first cell names. In a list, a name without a folder is in
    the folder of the path before it (`kit/src/research_kit/config.py`, `runs.py`); `;` starts a
    new list."""
    text = (TEMPLATE / "docs" / "updating.md").read_text(encoding="utf-8")
    table = text[text.index("### What an update touches") :].split("\n\n")[1]
    rows: dict[str, list[str]] = {}
    for line in table.splitlines()[2:]:
        files, effect = line.strip("|").split(" | ", 1)
        kind = re.search(r"\*\*(.+?)\*\*", effect) or re.match(r"\s*(\w+)", effect)
        assert kind is not None, line
        paths: list[str] = []
        for group in files.split(";"):
            folder = ""
            for span in re.findall(r"`([^`]+)`", group):
                if "/" in span.rstrip("/"):
                    folder, path = span.rsplit("/", 1)[0] + "/", span
                else:
                    path = folder + span
                paths.append(path)
        rows.setdefault(kind[1], []).extend(paths)
    return rows


def test_the_update_table_names_every_template_file_with_what_an_update_does() -> None:
    """Every file the template writes is in docs/updating.md's table, in the row the template
    decides: starter code (extensions/starters.py) never touched, the answers file rewritten,
    everything else merged; the never-merged row is copier.yml's _skip_if_exists."""
    config = yaml.safe_load((TEMPLATE / "copier.yml").read_text())
    starter = {path.replace("src/*/", "src/<package>/") for path in starters.STARTERS}
    rows = update_table()
    assert rows["Never merged"] == config["_skip_if_exists"]
    expected_row = {
        path: "Never touched" if path in starter else
        "Rewritten" if path == ".copier-answers.yml" else "Merged three ways"
        for path in template_outputs()
    }  # fmt: skip
    spans = {path: kind for kind, paths in rows.items() for path in paths}
    found = {}
    for path in expected_row:
        matches = [s for s in spans if s == path or (s.endswith("/") and path.startswith(s))]
        found[path] = spans[max(matches, key=len)] if matches else "(not in the table)"
    assert found == expected_row
    stale = [
        s
        for s in spans
        if s not in rows["Never merged"]
        and not (TEMPLATE / s).is_file()  # a file of this repository, named as the source
        and not any(s == path or (s.endswith("/") and path.startswith(s)) for path in expected_row)
    ]
    assert stale == []
