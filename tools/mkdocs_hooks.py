"""MkDocs hooks (mkdocs.yml `hooks:`): the generated pages, the navigation, repository links.

- `<!-- generated: ... -->` markers in pages are filled from extensions/ (tools/docgen.py),
  so the site never drifts from the template (docs/questions.md, the question reference, is
  written from copier.yml by `uv run python -m tools.docgen` and committed, so its links
  work on GitHub too; tests/test_docs.py fails when it is stale);
- the navigation lists the pages in reading order, then any other page in docs/, so a new
  page appears without editing a list (and never breaks `mkdocs build --strict`);
- links out of docs/ (`../CHANGELOG.md`) point at the file in the repository.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.pages import Page

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # mkdocs loads this file by path

from tools import docgen  # noqa: E402

# Reading order; pages not listed here follow, sorted by file name.
ORDER = [
    "index.md",
    "getting-started.md",
    "questions.md",
    "variants.md",
    "accelerators.md",
    "packages.md",
    "pixi.md",
    "smoke-test.md",
    "runs.md",
    "cluster.md",
    "containers.md",
    "updating.md",
    "upkeep.md",
    "labs.md",
    "tooling.md",
    "troubleshooting.md",
    "benchmarks.md",
    "contributing.md",
]
_OUTSIDE_DOCS = re.compile(r"\]\(\.\./(?P<path>[^)#\s]+)(?P<anchor>#[^)\s]*)?\)")


def navigation(pages: list[str]) -> list[str]:
    """`pages` (paths under docs/) in reading order, unlisted ones after, by name."""
    listed = [page for page in ORDER if page in pages]
    return listed + sorted(page for page in pages if page not in ORDER)


def link_out_of_docs(markdown: str, repo_url: str) -> str:
    """Point links that leave docs/ at the repository: `../X` -> `<repo>/blob/main/X`."""
    base = repo_url.rstrip("/") + "/blob/main/"
    return _OUTSIDE_DOCS.sub(
        lambda match: f"]({base}{match['path']}{match['anchor'] or ''})", markdown
    )


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    docs = Path(config.docs_dir)
    pages = [path.relative_to(docs).as_posix() for path in docs.rglob("*.md")]
    config.nav = navigation(pages)
    return config


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, **kwargs: Any) -> str:
    markdown = docgen.fill_blocks(markdown)
    return link_out_of_docs(markdown, config.repo_url or "")
