"""Pages of the documentation site generated from the template's own sources.

Generated, never hand-written, so they cannot drift: the question reference
(docs/questions.md, written by `uv run python -m tools.docgen`) comes from copier.yml, the
driver table from extensions/cuda.py. tools/mkdocs_hooks.py calls these while the site
builds.
"""

from __future__ import annotations

import html
import re
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import yaml
from packaging.version import Version

from extensions import (
    accelerators,
    compat,
    containers,
    cuda,
    platforms,
    pytorch_facts,
    torch_releases,
)
from extensions.tool_versions import PIXI, UV

_CHOICE_GLOBALS = {
    "accelerator_choices": accelerators.accelerator_choices,
    "platform_choices": platforms.platform_choices,
    "torch_version_choices": accelerators.torch_version_choices,
}

# Defaults computed when the question is asked, in words: the page never shows raw Jinja
# (tests/test_docs.py checks that every computed default of copier.yml is described here).
COMPUTED_DEFAULTS: dict[str, str] = {
    "project_name": (
        "the destination folder's name (`protein-folding` for `copier copy ... protein-folding`)"
    ),
    "package_name": (
        "the project name in lowercase with `_` (`Protein Folding` gives `protein_folding`)"
    ),
    "author_name": (
        "git's `user.name`; none when git has no `user.name` (then the name must be typed, "
        "or given with `-d author_name=...`: never your login name)"
    ),
    "author_email": "git's `user.email`, else empty",
    "accelerator": (
        "the build this machine's GPU and driver run (the newest CUDA build the NVIDIA driver "
        "supports, `rocm7.2` for an AMD GPU, else `cpu`); see [Accelerators](accelerators.md)"
    ),
    "python_version": (
        "`3.12`; with a local wheel folder that holds torch for other Pythons only, the newest "
        "of those"
    ),
    "platforms": (
        "this machine's platform and `linux-x86_64` (clusters, CI runners); for a project "
        "already there (`copier update`), the platforms its pyproject.toml targets; "
        "narrowed to what pixi targets and to what a local wheel folder serves"
    ),
    "ci_provider": "`github`, or `none` when PyTorch comes from a local wheel folder",
    "pixi_torch_source": "`conda-forge`, or `pypi` for a ROCm build (conda-forge has none)",
    "compilers": "`true` for a CUDA build, else `false`",
}
# How the help reads where it shows what was found on the machine.
HELP_PLACEHOLDERS: dict[str, str] = {
    "detection_summary": (
        "What GPU detection found, e.g. “No NVIDIA or AMD GPU detected: proposing cpu.”"
    ),
    "platforms_help": (
        "What the default was made from, e.g. “Default: This machine, clusters and CI "
        "runners: Linux x86_64.”"
    ),
}

_SECTION = re.compile(r"^# ── (?P<title>.+?) ─*$")
_KEY = re.compile(r"^(?P<key>[a-z][a-z0-9_]*):")
_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}")


@dataclass
class Question:
    name: str
    spec: dict[str, Any]


@dataclass
class Group:
    title: str
    questions: list[Question] = field(default_factory=list)


def question_groups(copier_yml: str) -> list[Group]:
    """The questions of copier.yml, in file order, under the `# ── Title ──` comments."""
    data = yaml.safe_load(copier_yml)
    groups: list[Group] = []
    title = "Questions"
    for line in copier_yml.splitlines():
        if section := _SECTION.match(line):
            title = re.sub(r"\s*\(.*\)$", "", section["title"])  # drop "(extensions/x.py)"
        elif (key := _KEY.match(line)) and isinstance(data.get(key["key"]), dict):
            if not groups or groups[-1].title != title:
                groups.append(Group(title))
            groups[-1].questions.append(Question(key["key"], data[key["key"]]))
    return groups


def _code(value: Any) -> str:
    if isinstance(value, bool):
        value = str(value).lower()
    elif isinstance(value, list):
        if not value:
            return "nothing selected"
        value = ", ".join(map(str, value))
    text = str(value)
    return "empty" if text == "" else f"`{text}`"


def _computed(text: str) -> bool:
    return bool(_JINJA.search(text))


class _Placeholder(jinja2.Undefined):
    """An earlier answer in the help, shown by its name: `<accelerator>`."""

    def __str__(self) -> str:
        return f"<{self._undefined_name}>"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self  # `_copier_conf.dst_path`: an argument of a placeholder call


def _help_environment() -> jinja2.Environment:
    environment = jinja2.Environment(undefined=_Placeholder)
    environment.globals.update(
        {name: (lambda *_, text=text: text) for name, text in HELP_PLACEHOLDERS.items()}
    )
    environment.globals["python_range"] = compat.python_range
    environment.filters["help_lines"] = lambda text: text
    environment.filters["git_config_source"] = lambda key: f"default: git config {key}, if set"
    environment.filters["extra_name"] = lambda build: (
        build if isinstance(build, jinja2.Undefined) else torch_releases.extra_name(build)
    )
    return environment


def _prose(text: str) -> str:
    """Help text as Markdown, its Jinja rendered readably: `<answer>`, what detection says."""
    text = " ".join(_help_environment().from_string(text).render().split())
    return html.escape(text, quote=False)


def _condition(when: Any) -> str:
    """`{{ framework == 'pytorch' }}` -> `framework == 'pytorch'`."""
    text = str(when).strip()
    if text.startswith("{{") and text.endswith("}}"):
        text = text[2:-2].strip()
    return _code(text)


def _choices(choices: Any) -> str | None:
    if choices is None:
        return None
    if isinstance(choices, str):  # a Jinja global of extensions/ lists them
        rendered = jinja2.Environment().from_string(choices).render(**_CHOICE_GLOBALS)
        choices = yaml.safe_load(rendered)
    if isinstance(choices, dict):
        return "; ".join(
            f"{_code(value)}: {str(label).removeprefix(f'{value}: ')}"
            for label, value in choices.items()
        )
    return ", ".join(_code(choice) for choice in choices)


def _question_markdown(question: Question) -> list[str]:
    spec = question.spec
    help_text = _prose(str(spec.get("help", "")))
    several = ", several" if spec.get("multiselect") else ""
    rows = [("Type", _code(spec.get("type", "str")) + several)]
    default = spec.get("default")
    if isinstance(default, str) and _computed(default):
        rows.append(("Default", f"computed: {COMPUTED_DEFAULTS[question.name]}"))
    else:
        rows.append(("Default", _code(default if default is not None else "")))
    if choices := _choices(spec.get("choices")):
        rows.append(("Choices", choices))
    if "when" in spec:
        rows.append(("Asked", f"only when {_condition(spec['when'])}"))
    if "validator" in spec:
        rows.append(("Checked", "yes: a wrong answer is refused with what to do instead"))
    lines = [f"### `{question.name}`", "", help_text, ""]
    lines += [f"- **{label}:** {value}" for label, value in rows]
    return [*lines, ""]


def questions_page(copier_yml: str) -> str:
    """The question reference: every question of copier.yml with its type, default, choices."""
    groups = question_groups(copier_yml)
    count = sum(len(group.questions) for group in groups)
    lines = [
        "# Every question",
        "",
        f"The template asks up to {count} questions; a question whose *Asked* line names a",
        "condition is skipped when the condition is false. Answer on the command line with",
        "`-d name=value` (several times), from a file with `--data-file answers.yml`, or take",
        "every default with `--defaults`. The names are a contract: lab data files and",
        "`copier update` rely on them.",
        "",
        "A *computed* default depends on the machine or on earlier answers, and `<name>` in a",
        "help text stands for the answer to question `name`. This page is generated from",
        "`copier.yml` (`uv run python -m tools.docgen`); never edit it by hand.",
        "",
    ]
    for group in groups:
        lines += [f"## {group.title}", ""]
        for question in group.questions:
            lines += _question_markdown(question)
    return "\n".join(lines)


def driver_table(builds: Iterable[cuda.Build] = cuda.BUILDS) -> str:
    """A Markdown table: each PyTorch build, the GPU driver it needs and the GPUs it runs."""
    lines = [
        "| `accelerator` | Built for | Linux driver | Windows driver | NVIDIA GPUs |",
        "|---|---|---|---|---|",
    ]
    for build in builds:
        gpus = "none"
        if build.cuda is not None:
            built_for = f"CUDA {build.cuda}"
            linux, windows = f"≥ {build.min_driver_linux}", f"≥ {build.min_driver_windows}"
            gpus = _gpu_range(build)
        elif build.is_gpu:
            built_for = f"ROCm {build.rocm}"
            linux, windows = "amdgpu driver supported by ROCm " + str(build.rocm), "no wheels"
        else:
            built_for, linux, windows = "CPU", "none needed", "none needed"
        lines.append(f"| `{build.name}` | {built_for} | {linux} | {windows} | {gpus} |")
    return "\n".join(lines)


def _gpu_range(build: cuda.Build) -> str:
    """`sm_50 to sm_90`, or `sm_75 and newer` for a build that ships PTX."""
    assert build.oldest_gpu is not None
    oldest = cuda.capability_text(build.oldest_gpu)
    if build.newest_gpu is None:
        return f"{oldest} and newer"
    return f"{oldest} to {cuda.capability_text(build.newest_gpu)}"


def container_images(builds: Iterable[cuda.Build] = cuda.BUILDS) -> str:
    """A Markdown table: the runtime base image of the container recipes, per build."""
    lines = ["| `accelerator` | Runtime base image |", "|---|---|"]
    lines += [f"| `{build.name}` | `{containers.runtime_image(build.name)}` |" for build in builds]
    return "\n".join(lines)


# Markers a hand-written page puts where a generated block belongs.
BLOCKS = {
    "<!-- generated: driver-table -->": driver_table,
    "<!-- generated: container-images -->": container_images,
}


def fill_blocks(markdown: str) -> str:
    """Replace each generated-block marker in a page with the block."""
    for marker, make in BLOCKS.items():
        if marker in markdown:
            markdown = markdown.replace(marker, make())
    return markdown


# ── Facts inside hand-written pages (README.md, docs/*.md) ─────────────────
# A fact sits between `<!-- fact: name -->` and `<!-- /fact -->`; `uv run python -m
# tools.docgen` rewrites it from its source, and tests/test_docs.py fails while a page
# holds a stale one. A table is set off by blank lines inside its span.

_FACT = re.compile(r"(<!-- fact: (?P<name>[a-z-]+) -->)(?P<body>.*?)(<!-- /fact -->)", re.DOTALL)
PAGES = ("README.md", "docs/*.md")


def _platforms_in_words(platforms: Iterable[str]) -> str:
    """`Linux (x86_64, aarch64), Windows`: each system once, its machines where several."""
    by_system: dict[str, list[str]] = {}
    for platform in platforms:
        system, machine = torch_releases.PLATFORM_LABELS[platform].split(" ", 1)
        by_system.setdefault(system, []).append(machine)
    offered: dict[str, int] = {}
    for label in torch_releases.PLATFORM_LABELS.values():
        offered[label.split(" ", 1)[0]] = offered.get(label.split(" ", 1)[0], 0) + 1
    words = []
    for system, machines in by_system.items():
        if len(machines) > 1:
            words.append(f"{system} ({', '.join(machines)})")
        elif offered[system] > 1:
            words.append(f"{system} {machines[0]}")
        else:
            words.append(system)
    return ", ".join(words)


def _needs(build: cuda.Build) -> str:
    if build.cuda is not None:
        windows = (
            ""
            if build.min_driver_windows == build.min_driver_linux
            else f" (Windows ≥ {build.min_driver_windows})"
        )
        return f"NVIDIA driver ≥ {build.min_driver_linux}{windows}; GPU {_gpu_range(build)}"
    if build.rocm is not None:
        return f"an AMD GPU supported by ROCm {build.rocm}"
    return "nothing"


def builds_table(builds: Iterable[cuda.Build] = cuda.BUILDS) -> str:
    """A Markdown table: each build, the platforms its wheels are for, what it needs."""
    lines = ["| `accelerator` | Wheels for | Needs |", "|---|---|---|"]
    lines += [f"| `{b.name}` | {_platforms_in_words(b.platforms)} | {_needs(b)} |" for b in builds]
    return "\n".join(lines)


def _span(lines: list[str]) -> str:
    return f"`{lines[-1]}` … `{lines[0]}`" if len(lines) > 1 else f"`{lines[0]}`"


def releases_table(builds: Iterable[cuda.Build] = cuda.BUILDS) -> str:
    """A Markdown table: the torch release lines and companions each build's index has."""
    facts = pytorch_facts.load()
    lines = ["| `accelerator` | torch | torchvision | torchaudio |", "|---|---|---|---|"]
    for build in builds:
        cells = []
        for project in ("torch", *torch_releases.COMPANIONS):
            found = sorted(
                {torch_releases.release_line(v) for v in facts.all_versions(project, build.name)},
                key=Version,
                reverse=True,
            )
            cells.append(_span(found) if found else "none")
        lines.append(f"| `{build.name}` | {' | '.join(cells)} |")
    return "\n".join(lines)


CORPUS_RECORD = Path(__file__).resolve().parent.parent / "tests" / "data" / "package-corpus.toml"


def corpus_table(record: Path = CORPUS_RECORD) -> str:
    """A Markdown table: what `uv add` did with each package of the corpus, per project kind
    (tests/test_package_corpus.py records it)."""
    results = tomllib.loads(record.read_text(encoding="utf-8"))["result"]
    kinds = list(dict.fromkeys(result["project"] for result in results))
    cells: dict[str, dict[str, str]] = {}
    for result in results:
        cell = "locked"
        if result["outcome"] == "refused":
            cell = f"`uv add` refused it ({result['reason']}); locked as `{result['fix']}`"
        cells.setdefault(result["package"], {})[result["project"]] = cell
    lines = [f"| Package | {' | '.join(kinds)} |", f"|---|{'---|' * len(kinds)}"]
    lines += [f"| {name} | {' | '.join(row[k] for k in kinds)} |" for name, row in cells.items()]
    return "\n".join(lines)


FACTS: dict[str, Callable[[], str]] = {
    "builds": lambda: ", ".join(f"`{build.name}`" for build in cuda.BUILDS),
    "builds-table": lambda: f"\n\n{builds_table()}\n\n",
    "releases-table": lambda: f"\n\n{releases_table()}\n\n",
    "pythons": compat.python_range,
    "uv-image": lambda: f"`{UV.image}`",
    "uv-required-version": lambda: f'`required-version = "{UV.required_version}"`',
    "pixi-minimum": lambda: PIXI.minimum,
    "torch-lines": lambda: _span(torch_releases.torch_lines()),
    "package-corpus": lambda: f"\n\n{corpus_table()}\n\n",
}


def fill_facts(markdown: str) -> str:
    """The page with every fact span rewritten from its source."""

    def fill(match: re.Match[str]) -> str:
        return f"{match[1]}{FACTS[match['name']]()}{match[4]}"

    return _FACT.sub(fill, markdown)


def fact_names(markdown: str) -> list[str]:
    return [match["name"] for match in _FACT.finditer(markdown)]


def pages(root: Path) -> list[Path]:
    return sorted(path for pattern in PAGES for path in root.glob(pattern))


QUESTIONS_PAGE = "docs/questions.md"


def main() -> None:
    """Rewrite docs/questions.md and the facts of every page in place; print what changed."""
    root = Path(__file__).resolve().parent.parent
    questions = root / QUESTIONS_PAGE
    content = questions_page((root / "copier.yml").read_text(encoding="utf-8"))
    if not questions.is_file() or questions.read_text(encoding="utf-8") != content:
        questions.write_text(content, encoding="utf-8")
        print(f"updated {QUESTIONS_PAGE}")
    for page in pages(root):
        text = page.read_text(encoding="utf-8")
        if (filled := fill_facts(text)) != text:
            page.write_text(filled, encoding="utf-8")
            print(f"updated {page.relative_to(root)}")


if __name__ == "__main__":
    main()
