"""Rewrite extensions/pytorch_indexes.toml from PyTorch's and PyPI's own listings.

    uv run python -m tools.refresh_pytorch_facts            # read the live indexes, rewrite
    uv run python -m tools.refresh_pytorch_facts --check    # exit 1 if the file is stale
    uv run python -m tools.refresh_pytorch_facts --listings tests/data/listings

It reads the PEP 503 page of each project on each index the facts file already lists
(`https://download.pytorch.org/whl/<index>/<project>/`; add one with `--add-index`), takes
Requires-Python from PyPI's JSON API (`https://pypi.org/pypi/<project>/json`: PyTorch's
pages carry none), reduces the wheel filenames to the compact wheel sets of the facts file,
prints what changed and rewrites the file. When a listing cannot be read it says which and
changes nothing. `--listings FOLDER` reads recorded listings instead, laid out like the
URLs (`FOLDER/download.pytorch.org/whl/<index>/<project>/index.html`,
`FOLDER/pypi.org/pypi/<project>/json`); the tests use recorded excerpts that way.
"""

from __future__ import annotations

import argparse
import datetime
import html.parser
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `extensions` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from extensions import pytorch_facts
from extensions.pytorch_facts import PLATFORMS, Facts, WheelSet

PYTORCH = "https://download.pytorch.org/whl"
PYPI = "https://pypi.org/pypi"
# Releases older than these are left out of the facts: the template offers none of them.
OLDEST = {"torch": "2.9.0", "torchvision": "0.24.0", "torchaudio": "2.9.0", "triton-rocm": "3.6.0"}
# triton-rocm is read from the ROCm indexes only (torch's ROCm build requires it there).
COMPANION_PROJECTS = ("torch", "torchvision", "torchaudio")
ROCM_PROJECTS = (*COMPANION_PROJECTS, "triton-rocm")
TIMEOUT_S = 30


class Unreachable(Exception):
    """A listing could not be read (network, server or file error)."""


# ── Reading listings ───────────────────────────────────────────────────────


class Listings:
    """The two kinds of listing the facts come from, live or recorded."""

    def page(self, index: str, project: str) -> str | None:
        """The PEP 503 page of `project` on `index`, None when the index has no such project."""
        raise NotImplementedError

    def pypi(self, project: str) -> dict[str, object] | None:
        """PyPI's JSON for `project`, None when PyPI has no such project."""
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError


class LiveListings(Listings):
    def __init__(self, pytorch: str = PYTORCH, pypi: str = PYPI) -> None:
        self.pytorch, self.pypi_base = pytorch.rstrip("/"), pypi.rstrip("/")

    def _get(self, url: str) -> str | None:
        try:
            with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
                return str(response.read().decode())
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return None
            raise Unreachable(f"{url}: HTTP {error.code} {error.reason}") from error
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise Unreachable(f"{url}: {reason}") from error

    def page(self, index: str, project: str) -> str | None:
        return self._get(f"{self.pytorch}/{index}/{project}/")

    def pypi(self, project: str) -> dict[str, object] | None:
        text = self._get(f"{self.pypi_base}/{project}/json")
        return None if text is None else dict(json.loads(text))

    def describe(self) -> str:
        return f"the PEP 503 pages under {self.pytorch} and PyPI's JSON API ({self.pypi_base})"


class RecordedListings(Listings):
    """Listings saved under a folder, one file per URL; a SOURCE file says what they are."""

    def __init__(self, folder: Path) -> None:
        if not folder.is_dir():
            raise Unreachable(f"{folder}: no such folder of recorded listings")
        self.folder = folder

    def page(self, index: str, project: str) -> str | None:
        path = self.folder / "download.pytorch.org" / "whl" / index / project / "index.html"
        return path.read_text() if path.is_file() else None

    def pypi(self, project: str) -> dict[str, object] | None:
        path = self.folder / "pypi.org" / "pypi" / project / "json"
        return dict(json.loads(path.read_text())) if path.is_file() else None

    def describe(self) -> str:
        source = self.folder / "SOURCE"
        if source.is_file():
            return " ".join(source.read_text().split())
        return f"recorded listings in {self.folder}"


class _Anchors(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.hrefs.append(href)


def filenames(page: str) -> list[str]:
    """The file names a PEP 503 page links to (fragment and path removed, %2B decoded)."""
    parser = _Anchors()
    parser.feed(page)
    names = (urllib.parse.unquote(href.split("#")[0].rsplit("/", 1)[-1]) for href in parser.hrefs)
    return [name for name in names if name]


# ── Reducing wheel filenames to wheel sets ─────────────────────────────────


@dataclass(frozen=True)
class ParsedWheel:
    version: str  # public
    local: str
    python: str  # the facts' python tag: cp312, cp313t (free-threaded), py3
    abi: str  # the facts' ABI form: cp, none, abi3
    platform: str


def parse_filename(name: str) -> ParsedWheel | None:
    """A wheel filename in the facts' terms; None for sdists and shapes the facts can't hold."""
    if not name.endswith(".whl"):
        return None
    parts = name.removesuffix(".whl").split("-")
    if len(parts) == 6:  # a build tag (torch-2.10.0-2-cp310-...): same wheel, re-uploaded
        del parts[2]
    if len(parts) != 5:
        return None
    _, version, python, abi, platform = parts
    public, _, local = version.partition("+")
    if abi == python or (abi.startswith(python) and abi == python + "t"):
        return ParsedWheel(public, local, abi, "cp", platform)
    if abi in ("none", "abi3"):
        return ParsedWheel(public, local, python, abi, platform)
    return None


def _python_order(tag: str) -> tuple[int, int, str]:
    if tag.startswith("cp"):
        return (0, int(tag[3:].removesuffix("t")), tag)
    return (1, 0, tag)


def _platform_order(tag: str) -> tuple[int, str]:
    for position, platform in enumerate(PLATFORMS):
        if platform.accepts(tag):
            return (position, tag)
    return (len(PLATFORMS), tag)


def _keep(project: str, version: str) -> bool:
    try:
        parsed = Version(version)
    except InvalidVersion:
        return False
    return not parsed.is_prerelease and parsed >= Version(OLDEST[project])


def requires_python_by_version(pypi: dict[str, object] | None) -> dict[str, str]:
    """Requires-Python of each release in PyPI's JSON ("" when the release declares none)."""
    found: dict[str, str] = {}
    releases = pypi.get("releases", {}) if pypi else {}
    assert isinstance(releases, dict)
    for version, files in releases.items():
        declared = {str(f["requires_python"]) for f in files if f.get("requires_python")}
        found[version] = str(SpecifierSet(sorted(declared)[0])) if declared else ""
    return found


def reduce(
    index: str, project: str, names: Iterable[str], requires_python: dict[str, str]
) -> list[WheelSet]:
    """The wheel sets of one project on one index, from its file names.

    Per release, wheels with the same local label, ABI form and Python tags are merged
    across platforms; then releases whose sets are equal (and Requires-Python too) share
    one entry. Entries are ordered by their first release.
    """
    by_version: dict[str, dict[tuple[str, str, str], set[str]]] = defaultdict(
        lambda: defaultdict(set)
    )
    for name in names:
        wheel = parse_filename(name)
        if wheel is None or not _keep(project, wheel.version):
            continue
        by_version[wheel.version][(wheel.local, wheel.abi, wheel.platform)].add(wheel.python)
    entries: dict[tuple[str, str, tuple[str, ...], tuple[str, ...], str], list[str]] = {}
    for version in sorted(by_version, key=Version):
        platforms_of: dict[tuple[str, str, tuple[str, ...]], list[str]] = defaultdict(list)
        for (local, abi, platform), tags in by_version[version].items():
            platforms_of[(local, abi, tuple(sorted(tags, key=_python_order)))].append(platform)
        for (local, abi, pythons), platforms in platforms_of.items():
            key = (
                local,
                abi,
                pythons,
                tuple(sorted(platforms, key=_platform_order)),
                requires_python.get(version, ""),
            )
            entries.setdefault(key, []).append(version)
    sets = [
        WheelSet(index, project, tuple(versions), local, pythons, abi, platforms, rp)
        for (local, abi, pythons, platforms, rp), versions in entries.items()
    ]
    return sorted(
        sets,
        key=lambda s: (
            Version(s.versions[0]),
            s.local == "",
            _platform_order(s.platforms[0]),
            s.abi,
            [_python_order(p) for p in s.python],
        ),
    )


def projects_of(index: str) -> tuple[str, ...]:
    return ROCM_PROJECTS if index.startswith("rocm") else COMPANION_PROJECTS


def read_facts(listings: Listings, indexes: Iterable[str], old: Facts, checked: str) -> Facts:
    """Facts from the listings: every project of every index in `indexes`."""
    requires = {
        project: requires_python_by_version(listings.pypi(project)) for project in ROCM_PROJECTS
    }
    sets: list[WheelSet] = []
    for index in indexes:
        for project in projects_of(index):
            page = listings.page(index, project)
            if page is not None:
                sets += reduce(index, project, filenames(page), requires[project])
    return Facts(checked, tuple(sets), old.notes, listings.describe(), old.companions)


# ── Writing the facts file ─────────────────────────────────────────────────

HEADER = """\
# PyTorch's wheel indexes, reduced to wheel sets: which releases of torch, torchvision,
# torchaudio and triton-rocm each index holds, with their local label ("" for unlabelled
# wheels, such as the macOS ones on the cpu index), Python tags ("cp313t" is a free-threaded
# build), ABI tag form ("cp": the ABI tag equals the Python tag; "none"; "abi3"), platform
# tags and Requires-Python. One fact, one place: extensions/pytorch_facts.py answers every
# question about it, and the tests' replica of the indexes (tests/replica.py) is built from it.
#
# Written by tools/refresh_pytorch_facts.py, which rewrites this file from the indexes' own
# listings (see docs/contributing.md, "When PyTorch releases"). Edit by hand only the notes
# of an index (what its listings cannot confirm) and [companions]; the tool keeps them.
# Build tags (re-uploads such as torch-2.10.0-2-...) are dropped; pre-releases are left out.
"""


COMPANIONS_HEADER = """\
# The torchvision and torchaudio release lines made for each torch release line (torchvision's
# compatibility table; torchaudio's release notes: its last line, 2.11, is made for torch 2.11
# and later). torchvision pairs with exactly one torch line, and has none yet for 2.15.
# Kept by hand: add a row when PyTorch releases."""


def _toml(value: object) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    raise TypeError(value)


def _array(key: str, values: tuple[str, ...], indent: str = "") -> str:
    line = f"{indent}{key} = {_toml(values)}"
    if len(line) <= 100:
        return line
    items = "".join(f"{indent}    {_toml(v)},\n" for v in values)
    return f"{indent}{key} = [\n{items}{indent}]"


def _key(name: str) -> str:
    """A TOML key: bare when it can be (cu130), quoted otherwise ("rocm7.2", "triton-rocm")."""
    return name if name.replace("_", "").isalnum() else json.dumps(name)


def dump(facts: Facts) -> str:
    """The facts file's text (the inverse of pytorch_facts.parse)."""
    lines = [HEADER, f"checked = {_toml(facts.checked)}", f"source = {_toml(facts.source)}", ""]
    lines += [COMPANIONS_HEADER, "[companions]"]
    for line, companions in facts.companions.items():
        pairs = ", ".join(f"{name} = {_toml(value)}" for name, value in companions.items())
        lines.append(f"{_toml(line)} = {{ {pairs} }}")
    lines.append("")
    for index in facts.indexes():
        key = _key(index)
        lines.append(f"# ── {index} " + "─" * max(3, 90 - len(index)))
        lines.append(f"[indexes.{key}]")
        if facts.notes.get(index):
            lines.append(_array("notes", facts.notes[index]))
        lines.append("")
        for entry in facts.sets:
            if entry.index != index:
                continue
            lines.append(f"[[indexes.{key}.{_key(entry.project)}]]")
            lines.append(_array("versions", entry.versions))
            lines.append(f"local = {_toml(entry.local)}")
            lines.append(_array("python", entry.python))
            lines.append(f"abi = {_toml(entry.abi)}")
            lines.append(_array("platforms", entry.platforms))
            lines.append(f"requires_python = {_toml(entry.requires_python)}")
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


# ── What changed ───────────────────────────────────────────────────────────


def changes(old: Facts, new: Facts) -> list[str]:
    """One line per index and project whose releases or wheels differ."""
    lines: list[str] = []
    keys = dict.fromkeys(
        [(e.index, e.project) for e in old.sets] + [(e.index, e.project) for e in new.sets]
    )
    for index, project in keys:
        before = {w.filename: w for w in old.wheels(index, project)}
        after = {w.filename: w for w in new.wheels(index, project)}
        old_versions = set(old.all_versions(project, index))
        new_versions = set(new.all_versions(project, index))
        parts = []
        added = sorted(new_versions - old_versions, key=Version)
        removed = sorted(old_versions - new_versions, key=Version)
        if added:
            parts.append("+ " + ", ".join(added))
        if removed:
            parts.append("- " + ", ".join(removed))
        kept = old_versions & new_versions
        gained = [n for n in after.keys() - before.keys() if after[n].public_version in kept]
        lost = [n for n in before.keys() - after.keys() if before[n].public_version in kept]
        if gained or lost:
            parts.append(f"wheels of existing releases: +{len(gained)} -{len(lost)}")
        retyped = [
            n
            for n in before.keys() & after.keys()
            if before[n].requires_python != after[n].requires_python
        ]
        if retyped:
            parts.append(f"Requires-Python changed for {len(retyped)} wheels")
        if parts:
            lines.append(f"{index} {project}: " + "; ".join(parts))
    return lines


# ── Command line ───────────────────────────────────────────────────────────


@dataclass
class Outcome:
    code: int
    messages: list[str] = field(default_factory=list)


def refresh(
    listings: Listings,
    facts_file: Path,
    *,
    check: bool = False,
    add_indexes: Iterable[str] = (),
    today: str | None = None,
) -> Outcome:
    """Read the listings, report what changed, and (unless `check`) rewrite `facts_file`."""
    exists = facts_file.is_file()
    old = pytorch_facts.read(facts_file) if exists else Facts("", (), {})
    indexes = [*old.indexes(), *(i for i in add_indexes if i not in old.indexes())]
    checked = today or datetime.date.today().isoformat()
    try:
        new = read_facts(listings, indexes, old, checked)
    except Unreachable as error:
        return Outcome(
            2,
            [
                f"Cannot read the listings: {error}",
                f"Nothing changed: {facts_file} is as it was. Run this again where "
                "download.pytorch.org and pypi.org are reachable.",
            ],
        )
    missing = [i for i in indexes if i not in new.indexes()]
    if missing:
        return Outcome(
            2,
            [
                f"No listing of torch, torchvision or torchaudio on: {', '.join(missing)}.",
                f"Nothing changed: {facts_file} is as it was.",
            ],
        )
    summary = changes(old, new)
    report = ["What changed:", *(f"  {line}" for line in summary)] if summary else []
    if summary and any(new.notes.values()):
        report.append("Review the notes kept from the old file (they may be out of date):")
        report += [f"  {index}: {note}" for index, notes in new.notes.items() for note in notes]
    if check:
        if summary:
            return Outcome(1, [*report, f"{facts_file} is out of date (--check: not rewritten)."])
        return Outcome(0, [f"Up to date: {facts_file} matches the listings."])
    text = dump(new)
    if exists and text == facts_file.read_text():
        return Outcome(0, [f"No change: {facts_file} already matches the listings."])
    facts_file.write_text(text)
    if not summary:
        return Outcome(0, [f"No release or wheel changed; recorded the date in {facts_file}."])
    return Outcome(0, [*report, f"Rewrote {facts_file}: review the diff, then run the suite."])


def listing_page(index: str, project: str, names: Iterable[str]) -> str:
    """A PEP 503 page shaped like download.pytorch.org's (for recorded listings and tests)."""
    links = "".join(
        f'    <a href="/whl/{index}/{urllib.parse.quote(name)}">{name}</a><br/>\n' for name in names
    )
    return (
        "<!DOCTYPE html>\n<html>\n  <body>\n"
        f"    <h1>Links for {project}</h1>\n{links}  </body>\n</html>\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--facts", type=Path, default=pytorch_facts.FACTS_FILE)
    parser.add_argument("--listings", type=Path, help="read recorded listings from this folder")
    parser.add_argument("--pytorch-url", default=PYTORCH, help=f"default: {PYTORCH}")
    parser.add_argument("--pypi-url", default=PYPI, help=f"default: {PYPI}")
    parser.add_argument("--check", action="store_true", help="report only; exit 1 if stale")
    parser.add_argument("--add-index", action="append", default=[], help="e.g. cu134")
    parser.add_argument("--date", help="the date to record (default: today)")
    args = parser.parse_args(argv)
    try:
        listings: Listings = (
            RecordedListings(args.listings)
            if args.listings
            else LiveListings(args.pytorch_url, args.pypi_url)
        )
        outcome = refresh(
            listings, args.facts, check=args.check, add_indexes=args.add_index, today=args.date
        )
    except Unreachable as error:
        outcome = Outcome(2, [f"Cannot read the listings ({error}). Nothing changed."])
    for message in outcome.messages:
        print(message, file=sys.stderr if outcome.code == 2 else sys.stdout)
    return outcome.code


if __name__ == "__main__":
    sys.exit(main())
