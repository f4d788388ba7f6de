# Template-owned: `copier update` replaces this file; edits of yours are merged in.
"""Bundles: a finished run as one archive that a reviewer can check and rebuild without us.

    scripts/bundle.py outputs/train_example/<run>     # writes artifacts/<name>.tar.gz
    scripts/bundle.py --verify artifacts/<name>.tar.gz

The archive holds one folder, <project>-<experiment>-<run>/, with:

- source/: the project at the run's commit (`git archive`); a run made from uncommitted
  changes is refused unless `allow_dirty`, which adds source.diff (those changes);
- uv.lock (or pixi.lock): the lock the run's manifest names, by sha256;
- pylock.toml (PEP 751) and sbom.cdx.json (CycloneDX 1.5), exported from the lock by uv:
  the run's environment (the project's dependencies and the PyTorch build extra the run
  used, no dev group) on every platform of the lock, for pip and for audits;
- run/: the run's folder (settings, manifest, metrics, results, whatever else it wrote);
- CITATION.cff, LICENSE, and .zenodo.json (Zenodo's deposit metadata, made from
  CITATION.cff at bundle time: one source of truth);
- REPRODUCE.md (the commands that rebuild and rerun it, with uv and with pip),
  bundle.json (what the bundle holds) and SHA256SUMS (`sha256sum -c SHA256SUMS`).

`verify_bundle` checks every checksum, that the lock is the one the run's manifest
recorded, and that pylock.toml and the SBOM name exactly the lock's files; the first
mismatch is refused (exits.py: status 2) by name. Standard library only, with uv and git
called as commands.
"""

from __future__ import annotations

import ast
import gzip
import hashlib
import html
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import tomllib
import urllib.parse
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from .config import find_project_root
from .exits import message, refuse
from .provenance import MANIFEST, RESULTS, RecordError, read_manifest

FORMAT = 1  # bundle.json's "bundle": the layout below
CHECKSUMS = "SHA256SUMS"
BUNDLE_JSON = "bundle.json"
PYLOCK = "pylock.toml"  # pip reads a lock only under this name (or pylock.<name>.toml)
SBOM = "sbom.cdx.json"
ZENODO = ".zenodo.json"
REPRODUCE = "REPRODUCE.md"
DIFF = "source.diff"
CITATION = "CITATION.cff"
ARTIFACTS = "artifacts"
# pip installs from a pylock.toml (`-r pylock.toml`, experimental) from this release on.
PIP_WITH_PYLOCK = "26.1"
CONTAINER_RECIPES = ("Dockerfile", "apptainer.def")
LICENSE_FILES = ("LICENSE", "LICENSE.txt", "LICENSE.md", "COPYING")
VERIFY_HINT = (
    "get the archive again from where it was published; if it was made here, bundle the "
    "run again (scripts/bundle.py RUN_DIR)."
)


class StepFailed(Exception):
    """A step that should have worked did not (git or uv failed): exit status 1."""

    def __init__(self, problem: str, hint: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.hint = hint

    def __str__(self) -> str:
        return message(self.problem, self.hint)


def _short(digest: str | None) -> str:
    return (digest or "none")[:12]


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


# ── SHA256SUMS, as `sha256sum` writes and checks it ────────────────────────


def checksums_text(digests: Mapping[str, str]) -> str:
    """`<sha256>  <path>` lines, sorted; a path with a backslash or a newline is escaped and
    its line starts with a backslash, as GNU sha256sum does."""
    lines = []
    for path in sorted(digests):
        if "\\" in path or "\n" in path:
            escaped = path.replace("\\", "\\\\").replace("\n", "\\n")
            lines.append(f"\\{digests[path]}  {escaped}")
        else:
            lines.append(f"{digests[path]}  {path}")
    return "".join(f"{line}\n" for line in lines)


def parse_checksums(text: str) -> dict[str, str]:
    """The paths and digests of a SHA256SUMS file; ValueError naming a line that is not one."""
    digests: dict[str, str] = {}
    for number, line in enumerate(text.removesuffix("\n").split("\n"), 1):
        escaped = line.startswith("\\")
        found = re.fullmatch(r"([0-9a-f]{64}) [ *](.+)", line[1:] if escaped else line)
        if not found:
            raise ValueError(f"line {number} is not '<sha256>  <path>'")
        path = found[2]
        if escaped:
            path = re.sub(r"\\(.)", lambda m: "\n" if m[1] == "n" else m[1], path)
        if path in digests:
            raise ValueError(f"line {number} lists {path} a second time")
        digests[path] = found[1]
    return digests


# ── CITATION.cff: the YAML it is written in ───────────────────────────────


class CffError(ValueError):
    """CITATION.cff that cannot be read or lacks what Zenodo needs: the message names the
    line or the field."""


_ESCAPES = {
    "0": "\0", "a": "\a", "b": "\b", "t": "\t", "\t": "\t", "n": "\n", "v": "\v",
    "f": "\f", "r": "\r", "e": "\x1b", " ": " ", '"': '"', "/": "/", "\\": "\\",
    "N": "\x85", "_": "\xa0", "L": "\u2028", "P": "\u2029",
}  # fmt: skip
_HEX_ESCAPES = {"x": 2, "u": 4, "U": 8}
_NULLS = {"", "~", "null", "Null", "NULL"}
_SPACE = " \t"
# `key:` at the start of a line: a plain key (no indicator first, no ': ' or ' #' inside),
# or a quoted one; then a colon and a space or the end of the line.
_KEY = re.compile(
    r"""("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|(?:[^ \t\-?:,\[\]{}#&*!|>'"%@`]|[-?:][^ \t])"""
    r"""(?:[^:#]|:(?=[^ \t])|(?<=[^ \t])#)*?)[ \t]*:(?:[ \t]+|$)"""
)


def _indent(line: str, number: int) -> int:
    body = line.lstrip(" ")
    if body.startswith("\t"):
        raise CffError(f"line {number}: a tab in the indentation (YAML indents with spaces)")
    return len(line) - len(body)


def _width(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _strip_comment(text: str) -> str:
    """`text` (a plain value, or what follows a closing quote) without its comment."""
    found = re.search(r"(^|[ \t])#", text)
    return (text[: found.start()] if found else text).rstrip(_SPACE)


def _closing(body: str, quote: str) -> int:
    """The index of the quote that closes a quoted scalar in `body`, or -1."""
    index = 0
    while index < len(body):
        if quote == '"' and body[index] == "\\":
            index += 2
            continue
        if body[index] == quote:
            if quote == "'" and body[index + 1 : index + 2] == "'":
                index += 2
                continue
            return index
        index += 1
    return -1


def _tokens(segment: str, quote: str, number: int) -> tuple[list[tuple[str, bool]], bool]:
    """The characters of one line of a quoted scalar, each marked True when it came from
    an escape (escaped white space is kept when lines fold); and whether the line ends in
    an escaped line break."""
    if quote == "'":
        return [(char, False) for char in segment.replace("''", "'")], False
    out: list[tuple[str, bool]] = []
    index = 0
    while index < len(segment):
        char = segment[index]
        if char != "\\":
            out.append((char, False))
            index += 1
            continue
        if index + 1 == len(segment):
            return out, True
        code = segment[index + 1]
        if code in _ESCAPES:
            out.append((_ESCAPES[code], True))
            index += 2
        elif code in _HEX_ESCAPES:
            digits = segment[index + 2 : index + 2 + _HEX_ESCAPES[code]]
            if len(digits) < _HEX_ESCAPES[code] or not re.fullmatch(r"[0-9A-Fa-f]+", digits):
                raise CffError(f"line {number}: a broken escape \\{code}{digits}")
            out.append((chr(int(digits, 16)), True))
            index += 2 + len(digits)
        else:
            raise CffError(f"line {number}: an unknown escape \\{code}")
    return out, False


def _fold(segments: list[str], joined: list[bool] | None = None) -> str:
    """Lines of a flow scalar as YAML folds them: one line break is a space, and each
    empty line between two lines a newline; `joined[i]`: line i ends in an escaped break,
    so the next follows it directly."""
    text = segments[0]
    index = 1
    while index < len(segments):
        if joined and joined[index - 1]:
            text += segments[index]
            index += 1
            continue
        empty = index
        while empty < len(segments) - 1 and segments[empty] == "":
            empty += 1
        newlines = empty - index
        text += ("\n" * newlines if newlines else " ") + segments[empty]
        index = empty + 1
    return text


def _quoted_text(raw: list[str], quote: str, number: int) -> str:
    """A quoted scalar's text from the raw lines between its quotes."""
    lines: list[str] = []
    joined: list[bool] = []
    for index, segment in enumerate(raw):
        tokens, escaped_break = _tokens(segment, quote, number + index)
        if index > 0:  # a continued line's leading white space is not content
            while tokens and tokens[0][0] in _SPACE and not tokens[0][1]:
                tokens.pop(0)
        if index < len(raw) - 1 and not escaped_break:  # nor its trailing white space
            while tokens and tokens[-1][0] in _SPACE and not tokens[-1][1]:
                tokens.pop()
        lines.append("".join(char for char, _ in tokens))
        joined.append(escaped_break)
    return _fold(lines, joined)


@dataclass
class _Reader:
    """The lines of a YAML document and a position in them."""

    lines: list[str]
    at: int = 0

    def next_content(self) -> int | None:
        """The index of the next line that is neither blank nor a comment, or None."""
        index = self.at
        while index < len(self.lines):
            stripped = self.lines[index].strip(_SPACE)
            if stripped and not stripped.startswith("#"):
                return index
            index += 1
        return None

    def quoted(self, start: str, parent: int) -> str:
        """The quoted scalar whose opening quote starts `start` on line `self.at`."""
        quote, number = start[0], self.at + 1
        raw: list[str] = []
        body = start[1:]
        while (end := _closing(body, quote)) < 0:
            raw.append(body)
            self.at += 1
            if self.at >= len(self.lines):
                raise CffError(f"line {number}: a quoted text that never ends")
            body = self.lines[self.at]
            if body.strip(_SPACE) and _indent(body, self.at + 1) <= parent:
                raise CffError(f"line {self.at + 1}: a continued quoted text must be indented")
        raw.append(body[:end])
        if after := _strip_comment(body[end + 1 :]):
            raise CffError(f"line {self.at + 1}: text after the closing quote: {after[:40]!r}")
        self.at += 1
        return _quoted_text(raw, quote, number)

    def plain(self, start: str, parent: int) -> str | None:
        """A plain scalar from `start`, continued on the lines indented more than
        `parent`; None for null."""
        number = self.at + 1
        first = _strip_comment(start)
        if first[0] in "&*!%@`{|>" or first.startswith("- "):
            raise CffError(
                f"line {number}: {first[:20]!r}: YAML this reader does not follow (anchors, "
                "tags, flow mappings); write the value as plain or quoted text"
            )
        segments = [first]
        self.at += 1
        while (index := self.next_content()) is not None:
            line = self.lines[index]
            if _indent(line, index + 1) <= parent:
                break
            segments += [""] * (index - self.at)  # blank lines: newlines
            segments.append(_strip_comment(line.strip(_SPACE)))
            self.at = index + 1
        for offset, segment in enumerate(segments):
            if ": " in segment or segment.endswith(":"):
                raise CffError(f"line {number + offset}: a ': ' inside a text needs quotes")
        text = _fold(segments)
        return None if len(segments) == 1 and text in _NULLS else text

    def block_scalar(self, header: str, parent: int) -> str:
        """A literal (|) or folded (>) block scalar whose header is on line `self.at`."""
        number = self.at + 1
        found = re.fullmatch(r"([|>])(?:([1-9])([+-]?)|([+-])([1-9]?))?", header)
        if not found:
            raise CffError(f"line {number}: a block scalar header this reader does not follow")
        folded = found[1] == ">"
        explicit = found[2] or found[5]
        chomp = found[3] or found[4] or ""
        self.at += 1
        indent = parent + int(explicit) if explicit else None
        if indent is None:  # the first line with content sets it
            index = self.at
            while index < len(self.lines) and not self.lines[index].strip(_SPACE):
                index += 1
            width = _width(self.lines[index]) if index < len(self.lines) else 0
            indent = max(width, parent + 1)
        chunks: list[str] = []
        breaks: list[str] = []
        line_break = ""
        leading_text = False
        first = True
        while self.at < len(self.lines):
            line = self.lines[self.at]
            if not line.strip(_SPACE) and len(line) <= indent:  # an empty line
                breaks.append("\n")
                self.at += 1
                continue
            if line.strip(_SPACE) and _width(line) < indent:
                break
            content = line[indent:]
            if not first:
                if folded and line_break and leading_text and content[:1] not in _SPACE:
                    if not breaks:
                        chunks.append(" ")
                else:
                    chunks.append(line_break)
            chunks.extend(breaks)
            breaks = []
            leading_text = content[:1] not in _SPACE
            chunks.append(content)
            line_break = "\n"
            first = False
            self.at += 1
        if chomp != "-" and not first:
            chunks.append(line_break)
        if chomp == "+":
            chunks.extend(breaks)
        return "".join(chunks)

    def flow_sequence(self, text: str) -> list[str | None]:
        """`[a, "b", 'c']`: a list of scalars on one line."""
        number = self.at + 1
        text = _strip_comment(text)
        if not text.endswith("]"):
            raise CffError(f"line {number}: a [list] must end on its line")
        items: list[str | None] = []
        inner = text[1:-1].strip(_SPACE)
        while inner:
            if inner[0] in "[{":
                raise CffError(f"line {number}: a list inside a [list] is not followed")
            if inner[0] in "\"'":
                end = _closing(inner[1:], inner[0]) + 1
                if end == 0:
                    raise CffError(f"line {number}: a quoted text that never ends")
                items.append(_quoted_text([inner[1:end]], inner[0], number))
                rest = inner[end + 1 :].lstrip(_SPACE)
            else:
                value, comma, rest = inner.partition(",")
                items.append(None if value.strip(_SPACE) in _NULLS else value.strip(_SPACE))
                rest = comma + rest
            if rest and not rest.startswith(","):
                raise CffError(f"line {number}: expected a comma in the [list]")
            inner = rest[1:].strip(_SPACE)
        self.at += 1
        return items

    def value(self, rest: str, parent: int) -> Any:
        """The value after `key:` or `-` on line `self.at` (`rest`: the text after it)."""
        if rest.startswith("#"):
            rest = ""
        if not rest:
            self.at += 1
            index = self.next_content()
            if index is None:
                return None
            line = self.lines[index]
            width = _indent(line, index + 1)
            if width > parent:
                self.at = index
                return self.block(width)
            if width == parent >= 0 and re.match(r"-( |$)", line[width:]):
                self.at = index
                return self.sequence(width)  # `key:` then `- item` at the key's indent
            return None
        if rest[0] in "\"'":
            return self.quoted(rest, parent)
        if rest[0] in "|>":
            return self.block_scalar(_strip_comment(rest), parent)
        if rest[0] == "[":
            return self.flow_sequence(rest)
        return self.plain(rest, parent)

    def mapping(self, indent: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        while (index := self.next_content()) is not None:
            line = self.lines[index]
            width = _indent(line, index + 1)
            if width < indent or (width == indent and re.match(r"-( |$)", line[width:])):
                break
            if width > indent:
                raise CffError(f"line {index + 1}: indented more than the lines before it")
            found = _KEY.match(line[width:])
            if not found:
                shown = line.strip(_SPACE)[:40]
                raise CffError(f"line {index + 1}: expected 'key: value': {shown!r}")
            key = found[1]
            if key[0] in "\"'":
                key = _quoted_text([key[1:-1]], key[0], index + 1)
            if key in result:
                raise CffError(f"line {index + 1}: '{key}' is given twice")
            self.at = index
            result[key] = self.value(line[width + found.end() :].strip(_SPACE), indent)
        return result

    def sequence(self, indent: int) -> list[Any]:
        items: list[Any] = []
        while (index := self.next_content()) is not None:
            line = self.lines[index]
            width = _indent(line, index + 1)
            content = line[width:]
            if width != indent or not re.match(r"-( |$)", content):
                if width > indent:
                    raise CffError(f"line {index + 1}: indented more than the list's items")
                break
            rest = content[1:].lstrip(" ")
            inner = width + len(content) - len(rest)
            self.at = index
            if rest and (_KEY.match(rest) or re.match(r"-( |$)", rest)):
                self.lines[index] = " " * inner + rest  # `- key: value`: a mapping item
                items.append(self.block(inner))
            else:
                items.append(self.value(rest, indent))
        return items

    def block(self, indent: int) -> Any:
        index = self.next_content()
        assert index is not None
        if re.match(r"-( |$)", self.lines[index][indent:]):
            return self.sequence(indent)
        return self.mapping(indent)


def read_cff(text: str) -> dict[str, Any]:
    """CITATION.cff as a mapping. It reads the YAML such files are written in: `key: value`
    lines, `- item` lists, plain, quoted and block (| >) texts, [one-line, lists]; every
    value stays text. CffError names the line of anything else (anchors, tags, flow
    mappings, several documents) and of anything that is not YAML."""
    lines = re.split(r"\r\n|\r|\n", text.removeprefix("\ufeff"))
    # `...` at the start of a line ends the document (PyYAML writes one after a kept final
    # line break, `|+`); only comments may follow it.
    end = next((i for i, line in enumerate(lines) if re.fullmatch(r"\.\.\.(\s.*)?", line)), None)
    if end is not None:
        after = _Reader(lines, end + 1).next_content()
        if after is not None:
            raise CffError(f"line {after + 1}: a second YAML document; CITATION.cff holds one")
        lines = lines[:end]
    reader = _Reader(lines)
    start = reader.next_content()
    if start is not None and reader.lines[start].startswith("%"):
        raise CffError(f"line {start + 1}: YAML directives are not followed")
    if start is not None and re.fullmatch(r"---\s*", reader.lines[start]):
        reader.at = start + 1
    index = reader.next_content()
    if index is None:
        return {}
    document = reader.block(_indent(reader.lines[index], index + 1))
    left = reader.next_content()
    if left is not None:
        raise CffError(f"line {left + 1}: unexpected {reader.lines[left].strip(_SPACE)[:40]!r}")
    if not isinstance(document, dict):
        raise CffError("the file is a list, not a mapping of keys to values")
    return document


# ── Zenodo's deposit metadata, made from CITATION.cff ──────────────────────

ORCID = re.compile(r"(?:https?://(?:www\.)?orcid\.org/)?(\d{4}-\d{4}-\d{4}-\d{3}[\dX])/?")


def _text(cff: Mapping[str, Any], key: str, where: str = "") -> str | None:
    value = cff.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise CffError(f"{where}'{key}' must be text, not {type(value).__name__}")
    return value.strip() or None


def _creator(author: Any, number: int) -> dict[str, str]:
    where = f"author {number}: "
    if not isinstance(author, dict):
        raise CffError(f"{where}expected family-names and given-names (or a name)")
    family = _text(author, "family-names", where)
    particle = _text(author, "name-particle", where)
    given = _text(author, "given-names", where)
    entity = _text(author, "name", where)
    if family:
        surname = f"{particle} {family}" if particle else family
        name = f"{surname}, {given}" if given else surname
        if suffix := _text(author, "name-suffix", where):
            name += f", {suffix}"
    elif entity:
        name = entity
    elif given:
        name = given
    else:
        raise CffError(f"{where}has neither family-names nor name")
    creator = {"name": name}
    if affiliation := _text(author, "affiliation", where):
        creator["affiliation"] = affiliation
    if orcid := _text(author, "orcid", where):
        found = ORCID.fullmatch(orcid)
        if not found:
            raise CffError(f"{where}orcid {orcid!r} is not an ORCID iD")
        creator["orcid"] = found[1]
    return creator


def zenodo_metadata(cff: Mapping[str, Any], version: str | None, notes: str) -> dict[str, Any]:
    """Zenodo's deposit metadata (.zenodo.json) from CITATION.cff's fields: title, creators
    (authors as "Family, Given" with ORCID and affiliation), description (the abstract),
    license, keywords, version (CITATION.cff's, else `version`), related identifiers
    (repository-code, the preferred citation's DOI); `notes`, what the archive holds, ends
    the description.
    CffError names a field that is missing or of the wrong kind."""
    title = _text(cff, "title")
    if not title:
        raise CffError("'title' is missing: Zenodo needs one")
    authors = cff.get("authors")
    if not isinstance(authors, list) or not authors:
        raise CffError("'authors' must list at least one author")
    creators = [_creator(author, number) for number, author in enumerate(authors, 1)]
    abstract = _text(cff, "abstract") or title
    metadata: dict[str, Any] = {
        "upload_type": "dataset" if cff.get("type") == "dataset" else "software",
        "title": title,
        "creators": creators,
        "description": "".join(f"<p>{html.escape(part)}</p>" for part in (abstract, notes) if part),
    }
    licence = cff.get("license")
    if isinstance(licence, list):  # several SPDX ids: any of them; Zenodo takes one
        licence = licence[0] if licence else None
    if licence is not None and not isinstance(licence, str):
        raise CffError("'license' must be an SPDX id, e.g. MIT")
    if licence:
        metadata["license"] = licence
        metadata["access_right"] = "open"
    else:  # no licence: nobody may reuse it, so the deposit's files stay closed
        metadata["access_right"] = "closed"
    keywords = cff.get("keywords")
    if keywords is not None:
        if not isinstance(keywords, list) or not all(isinstance(k, str) for k in keywords):
            raise CffError("'keywords' must be a list of words")
        if unique := list(dict.fromkeys(k.strip() for k in keywords if k.strip())):
            metadata["keywords"] = unique
    if found := (_text(cff, "version") or version):
        metadata["version"] = found
    related = []
    if repository := _text(cff, "repository-code"):
        related.append(
            {"identifier": repository, "relation": "isSupplementTo", "scheme": "url",
             "resource_type": "software"}
        )  # fmt: skip
    preferred = cff.get("preferred-citation")
    if isinstance(preferred, dict) and (doi := _text(preferred, "doi", "preferred-citation: ")):
        related.append({"identifier": doi, "relation": "isSupplementTo", "scheme": "doi"})
    if related:
        metadata["related_identifiers"] = related
    return metadata


# ── The lock and what uv exports from it ───────────────────────────────────


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _file_name(where: str) -> str:
    """A file's name from its URL or path (percent-escapes decoded: %2B is +)."""
    return urllib.parse.unquote(where.rstrip("/").rsplit("/", 1)[-1])


def lock_files(lock_text: str) -> dict[tuple[str, str], dict[str, str | None]]:
    """Every file uv.lock names, by (package, version): its name and sha256 (None for a
    file of a local folder, which the lock names by path only)."""
    files: dict[tuple[str, str], dict[str, str | None]] = {}
    for package in tomllib.loads(lock_text).get("package", []):
        key = (_canonical(package["name"]), str(package.get("version", "")))
        found = files.setdefault(key, {})
        for artifact in [package.get("sdist") or {}, *package.get("wheels", [])]:
            where = artifact.get("url") or artifact.get("path") or artifact.get("filename")
            if where:
                sha = artifact.get("hash")
                found[_file_name(str(where))] = sha.removeprefix("sha256:") if sha else None
    return files


def pylock_files(pylock_text: str) -> dict[tuple[str, str], list[tuple[str, str | None]]]:
    """Each package of a pylock.toml: its files' names and sha256."""
    packages: dict[tuple[str, str], list[tuple[str, str | None]]] = {}
    for package in tomllib.loads(pylock_text).get("packages", []):
        key = (_canonical(package["name"]), str(package.get("version", "")))
        files = packages.setdefault(key, [])
        for artifact in [package.get("sdist") or {}, *package.get("wheels", [])]:
            where = artifact.get("url") or artifact.get("path") or artifact.get("name")
            if where:
                files.append((_file_name(str(where)), (artifact.get("hashes") or {}).get("sha256")))
    return packages


def sbom_files(sbom_text: str) -> dict[tuple[str, str], list[tuple[str, str | None]]]:
    """Each component of a CycloneDX SBOM: its files' names and sha256."""
    components: dict[tuple[str, str], list[tuple[str, str | None]]] = {}
    for component in json.loads(sbom_text).get("components", []):
        key = (_canonical(component["name"]), str(component.get("version", "")))
        files = components.setdefault(key, [])
        for reference in component.get("externalReferences", []):
            if reference.get("type") == "distribution" and reference.get("url"):
                shas = [
                    h["content"] for h in reference.get("hashes", []) if h.get("alg") == "SHA-256"
                ]
                files.append((_file_name(str(reference["url"])), shas[0] if shas else None))
    return components


def export_problem(lock_text: str, pylock_text: str, sbom_text: str) -> str | None:
    """The first way pylock.toml or the SBOM disagrees with uv.lock, or None: every package
    they name is in the lock at that version, every file they name is one of the lock's
    with the lock's sha256 (where the lock has one: it has none for a local folder's
    files), and both exports name the same packages."""
    locked = lock_files(lock_text)
    exported = {PYLOCK: pylock_files(pylock_text), SBOM: sbom_files(sbom_text)}
    for name, packages in exported.items():
        for (package, version), files in sorted(packages.items()):
            if (package, version) not in locked:
                return f"{name} names {package} {version}, which uv.lock does not lock"
            known = locked[(package, version)]
            for file, sha in files:
                if file not in known:
                    return f"{name} names {file}, which uv.lock does not list for {package}"
                if known[file] is not None and sha != known[file]:
                    return f"{name}: {file} has sha256 {_short(sha)}…, not uv.lock's"
    only = set(exported[PYLOCK]) ^ set(exported[SBOM])
    if only:
        package, version = sorted(only)[0]
        where = PYLOCK if (package, version) in exported[PYLOCK] else SBOM
        return f"{package} {version} is in {where} only: the two exports differ"
    return None


def run_extras(
    pyproject: Mapping[str, Any], lock_text: str, packages: Mapping[str, str]
) -> list[str]:
    """The PyTorch build extra(s) ([tool.uv] conflicts) a run used, from the versions its
    manifest recorded: an extra fits when, of each package it installs that the run had, it
    names the run's version (2.8.0+cpu is the cpu extra's, 2.8.0+cu128 the GPU one's)."""
    conflicts = pyproject.get("tool", {}).get("uv", {}).get("conflicts", [])
    extras = [item["extra"] for group in conflicts for item in group if "extra" in item]
    if not extras:
        return []
    project = _canonical(pyproject.get("project", {}).get("name", ""))
    packages_locked: list[dict[str, Any]] = tomllib.loads(lock_text).get("package", [])
    root = next((p for p in packages_locked if _canonical(p["name"]) == project), {})
    optional = root.get("optional-dependencies", {})
    fitting = []
    for extra in extras:
        named: dict[str, set[str]] = {}
        for item in optional.get(extra, []):
            if "version" in item:
                named.setdefault(_canonical(item["name"]), set()).add(str(item["version"]))
        installed = {name: versions for name, versions in named.items() if name in packages}
        if installed and all(packages[name] in versions for name, versions in installed.items()):
            fitting.append(extra)
    return fitting


# ── Making a bundle ───────────────────────────────────────────────────────


@dataclass
class Contents:
    """The files of a bundle: their paths inside its folder and their bytes or files."""

    files: dict[str, bytes | Path] = field(default_factory=dict)
    modes: dict[str, int] = field(default_factory=dict)

    def add(self, name: str, content: bytes | Path, mode: int = 0o644) -> None:
        self.files[name] = content
        self.modes[name] = mode

    def digest(self, name: str) -> str:
        content = self.files[name]
        return sha256_bytes(content) if isinstance(content, bytes) else sha256_file(content)

    def size(self) -> int:
        return sum(
            len(c) if isinstance(c, bytes) else c.stat().st_size for c in self.files.values()
        )


def _run(
    command: list[str], cwd: Path, step: str, hint: str, env: dict[str, str] | None = None
) -> bytes:
    try:
        result = subprocess.run(command, cwd=cwd, capture_output=True, check=False, env=env)
    except OSError as error:
        raise StepFailed(f"{step}: {command[0]} cannot start ({error.strerror})", hint) from None
    if result.returncode != 0:
        why = " ".join(result.stderr.decode(errors="replace").split())[-400:] or "no message"
        raise StepFailed(f"{step}: `{' '.join(command[:3])} ...` failed: {why}", hint)
    return result.stdout


def _git(root: Path, *args: str, step: str) -> bytes:
    return _run(["git", *args], root, step, "check that git works here (`git status`).")


def _uv() -> str:
    """uv's path: the one running this script (`uv run` sets UV), else the one on PATH."""
    found = os.environ.get("UV") or shutil.which("uv")
    if not found:
        refuse(
            "uv is not found: the bundle's pylock.toml and SBOM are exported by uv.",
            "run the script with `uv run scripts/bundle.py ...`, or put uv on PATH.",
        )
    return found


def _listed(paths: list[str], limit: int = 3) -> str:
    shown = ", ".join(paths[:limit])
    return shown + (f" and {len(paths) - limit} more" if len(paths) > limit else "")


def _relative_script(command: list[Any], root: Path) -> str | None:
    """The script a run's command started, relative to the project, or None."""
    if len(command) < 2 or not str(command[1]).endswith(".py"):
        return None
    script = Path(str(command[1]))
    if script.is_absolute():
        try:
            script = script.relative_to(root)
        except ValueError:
            return None
    return script.as_posix()


@dataclass(frozen=True)
class RunFacts:
    """What a bundle needs to know of a run, checked."""

    folder: Path
    experiment: str
    name: str
    manifest: dict[str, Any]
    commit: str
    dirty: bool
    changed: list[str]
    lock_file: str
    lock_sha256: str


def check_run(folder: Path, allow_dirty: bool) -> RunFacts:
    """The run in `folder`, when it can be bundled; refused (exit status 2) when it cannot."""
    hint = "give a run's folder: outputs/<experiment>/<date>-<time>-<id>."
    if not folder.is_dir():
        refuse(f"{folder} is not a folder.", hint)
    try:
        manifest = read_manifest(folder)
    except FileNotFoundError:
        refuse(f"{folder} holds no {MANIFEST}: it is not a run's folder.", hint)
    except RecordError as error:
        refuse(f"{error}.", "a manifest edited by hand cannot be trusted: bundle another run.")
    if manifest.get("finished") is None or not (folder / RESULTS).is_file():
        refuse(
            f"Run {folder} has not finished (no {RESULTS}): a bundle holds a finished run.",
            "let the run finish (or run it again), then bundle it.",
        )
    git = manifest.get("git")
    if not git or not git.get("commit"):
        where = "outside a git repository" if not git else "before the repository's first commit"
        refuse(
            f"Run {folder} was made {where}: its source cannot be recovered.",
            "commit the project (git init; git add -A; git commit) and run again.",
        )
    changed = [str(path) for path in git.get("changed") or []]
    if git.get("dirty") and not allow_dirty:
        refuse(
            f"Run {folder} was made from uncommitted changes ({_listed(changed)}): its "
            f"source is not commit {_short(git['commit'])}.",
            "commit the changes, run again and bundle that run; or add --allow-dirty to "
            f"bundle the commit with the working tree's changes against it ({DIFF}).",
        )
    lock = manifest.get("lock")
    if not lock or not lock.get("file") or not lock.get("sha256"):
        refuse(
            f"Run {folder}'s manifest records no lock file: its environment is unknown.",
            "lock the project (uv run scripts/setup_env.py), run again and bundle that run.",
        )
    return RunFacts(
        folder=folder,
        experiment=folder.parent.name,
        name=folder.name,
        manifest=manifest,
        commit=str(git["commit"]),
        dirty=bool(git.get("dirty")),
        changed=changed,
        lock_file=str(lock["file"]),
        lock_sha256=str(lock["sha256"]),
    )


def _extract(archive: bytes, into: Path) -> None:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(into, filter="data")
        else:  # pragma: no cover - Python before 3.11.4; git's own archive
            tar.extractall(into)


def _source_files(tree: Path) -> tuple[dict[str, Path], list[str]]:
    """The files of an extracted source tree by relative path, and the links left out (a
    link is stored as the file it points to when that is inside the tree)."""
    files: dict[str, Path] = {}
    left_out: list[str] = []
    for path in sorted(tree.rglob("*")):
        name = path.relative_to(tree).as_posix()
        if path.is_symlink():
            target = path.resolve()
            if target.is_file() and target.is_relative_to(tree.resolve()):
                files[name] = target
            elif not target.is_dir():
                left_out.append(name)
        elif path.is_file():
            files[name] = path
    return files, left_out


def _working_tree_diff(root: Path, commit: str) -> bytes:
    """The working tree's changes against `commit`, untracked files included, as a patch
    that `git apply` takes (paths relative to the project)."""
    step = "Recording the uncommitted changes (git diff)"
    diff = _git(root, "diff", "--binary", "--relative", commit, "--", ".", step=step)
    untracked = _git(root, "ls-files", "--others", "--exclude-standard", "-z", step=step)
    for name in filter(None, untracked.decode().split("\0")):
        result = subprocess.run(
            ["git", "diff", "--binary", "--no-index", "--", os.devnull, name],
            cwd=root, capture_output=True, check=False,
        )  # fmt: skip
        if result.returncode not in (0, 1):  # 1: the files differ, as they do
            why = " ".join(result.stderr.decode(errors="replace").split())
            raise StepFailed(f"{step}: {name}: {why}", "check that git can read the file.")
        diff += result.stdout
    return diff


def _rerun(facts: RunFacts, root: Path) -> str | None:
    script = _relative_script(facts.manifest.get("command") or [], root)
    return f"{script} --config ../run/config.json" if script else None


def _exports(tree: Path, uv: str, extras: list[str]) -> tuple[bytes, bytes, list[str]]:
    """pylock.toml and the SBOM exported from the lock in `tree`, and the commands."""
    # The project and kit/ are the bundle's source, not packages of an index.
    common = ["export", "--frozen", "--offline", "--no-dev", "--no-emit-project", "--no-emit-local"]
    for extra in extras:
        common += ["--extra", extra]
    hint = f"check that `uv export --frozen` works in the project (uv {_uv_version(uv)})."
    commands = [
        [*common, "--format", "pylock.toml"],
        [*common, "--format", "cyclonedx1.5", "--preview-features", "sbom-export"],
    ]
    step = "Exporting the environment from the lock (uv export)"
    pylock = _run([uv, *commands[0]], tree, step, hint)
    sbom = _run([uv, *commands[1]], tree, step, hint)
    return pylock, sbom, [" ".join(["uv", *command]) for command in commands]


def _uv_version(uv: str) -> str:
    try:
        result = subprocess.run([uv, "--version"], capture_output=True, text=True, check=False)
    except OSError:
        return "unknown"
    return result.stdout.split()[1] if result.stdout.split()[1:] else "unknown"


def make_bundle(
    folder: Path,
    output: Path | None = None,
    allow_dirty: bool = False,
    extras: list[str] | None = None,
) -> Path:
    """Write the bundle of the run in `folder` to `output` (default: <project>/artifacts/)
    and return its path. Refused (exit status 2): not a finished run, made from uncommitted
    changes (unless `allow_dirty`), its commit or lock not here, the archive there already.
    StepFailed: git or uv failed."""
    facts = check_run(folder, allow_dirty)
    root = find_project_root() or Path.cwd()
    dirty = " + uncommitted changes" if facts.dirty else ""
    print(
        f"==> Run {facts.folder}: commit {_short(facts.commit)}{dirty}, "
        f"{facts.lock_file} sha256 {_short(facts.lock_sha256)}…",
        flush=True,
    )
    try:
        _git(root, "cat-file", "-e", facts.commit + "^{commit}", step="Finding the commit")
    except StepFailed:
        refuse(
            f"Commit {_short(facts.commit)} of run {facts.folder} is not in the repository "
            f"at {root}.",
            "fetch it (git fetch), or bundle on the machine and clone that made the run.",
        )
    with tempfile.TemporaryDirectory(prefix="bundle-") as scratch:
        contents = Contents()
        tree, left_out = _add_source(contents, root, facts, Path(scratch))
        pyproject = tomllib.loads((tree / "pyproject.toml").read_text(encoding="utf-8"))
        project = pyproject.get("project", {})
        stem = f"{project.get('name', root.name)}-{facts.experiment}-{facts.name}"
        target = (output or root / ARTIFACTS) / f"{stem}.tar.gz"
        if target.exists():
            refuse(f"{target} exists already.", "move it away, or give --output another folder.")
        lock_text = _add_lock(contents, tree, facts)
        exports = None
        if facts.lock_file == "uv.lock":
            if extras is None:
                extras = _choose_extras(pyproject, lock_text, facts)
            exports = _add_exports(contents, tree, lock_text, extras)
        notes = (
            f"Run {facts.experiment}/{facts.name} of {project.get('name', root.name)} at "
            f"commit {facts.commit}{' with uncommitted changes' if facts.dirty else ''}; "
            f"{REPRODUCE} in the archive says how to rebuild its environment and rerun it."
        )
        _add_citation(contents, tree, project.get("version"), notes)
        for path in sorted(facts.folder.rglob("*")):
            if path.is_file():
                contents.add(f"run/{path.relative_to(facts.folder).as_posix()}", path)
        record = {
            "bundle": FORMAT,
            "project": project.get("name"),
            "version": project.get("version"),
            "experiment": facts.experiment,
            "run": facts.name,
            "commit": facts.commit,
            "dirty": facts.dirty,
            "changed": facts.changed,
            "lock": {"file": facts.lock_file, "sha256": facts.lock_sha256},
            "exports": exports,
            "rerun": _rerun(facts, root),
            "python": (facts.manifest.get("machine") or {}).get("python"),
            "container_recipes": [name for name in CONTAINER_RECIPES if (tree / name).is_file()],
            "wheelhouse": _wheelhouse_commands(tree),
            "links_left_out": left_out,
            "created": datetime.now().astimezone().isoformat(timespec="seconds"),
        }
        contents.add(BUNDLE_JSON, (json.dumps(record, indent=2) + "\n").encode())
        uses_torch = bool((facts.manifest.get("machine") or {}).get("torch"))
        contents.add(REPRODUCE, reproduce_text(record, lock_text, uses_torch).encode())
        digests = {name: contents.digest(name) for name in contents.files}
        contents.add(CHECKSUMS, checksums_text(digests).encode())
        commit_time = _git(root, "log", "-1", "--format=%ct", facts.commit, step="git log")
        write_archive(target, stem, contents, int(commit_time.strip()))
    size = target.stat().st_size / 1e6
    print(f"==> Wrote {target} ({size:.1f} MB, {len(contents.files)} files)", flush=True)
    return target


def _add_source(
    contents: Contents, root: Path, facts: RunFacts, work: Path
) -> tuple[Path, list[str]]:
    """source/ (the run's commit) and, for a run made from uncommitted changes, source.diff.
    Returns the tree the run had (the commit with those changes) and the links left out."""
    print(f"==> Source at commit {_short(facts.commit)} (git archive)", flush=True)
    prefix = _git(root, "rev-parse", "--show-prefix", step="Finding the project").decode().strip()
    archived = _git(root, "archive", "--format=tar", f"{facts.commit}:{prefix}", step="git archive")
    source, tree = work / "source", work / "tree"
    _extract(archived, source)
    _extract(archived, tree)
    files, left_out = _source_files(source)
    for name, path in files.items():
        contents.add(f"source/{name}", path, 0o755 if os.access(path, os.X_OK) else 0o644)
    if facts.dirty:
        now = _git(root, "status", "--porcelain", step="Reading the working tree").decode()
        if sorted(line[3:] for line in now.splitlines()) != sorted(facts.changed):
            print(
                f"    Note: the files changed now are not those the run had changed "
                f"({_listed(facts.changed)}); {DIFF} holds the working tree as it is now.",
                flush=True,
            )
        diff = _working_tree_diff(root, facts.commit)
        contents.add(DIFF, diff)
        if diff:
            (work / DIFF).write_bytes(diff)
            # Applied to the unpacked tree alone, never to a repository above the scratch folder.
            alone = {**os.environ, "GIT_CEILING_DIRECTORIES": str(work)}
            _run(
                ["git", "apply", "--binary", str(work / DIFF)], tree,
                f"Applying the uncommitted changes ({DIFF})",
                "the working tree changed since the run: bundle a run made from a commit.", alone,
            )  # fmt: skip
        print(f"==> Uncommitted changes: {DIFF} ({_listed(facts.changed)})", flush=True)
    return tree, left_out


def _wheelhouse_commands(tree: Path) -> list[str] | None:
    """The set-up's commands that write a folder of the lock's files and install from it
    where no index can be reached (README: "Clusters without internet"), as the project's
    set-up spells them (WHEELHOUSE_WRITE, WHEELHOUSE_USE: kit/'s wheelhouse module, or
    scripts/setup_env.py at a commit from before kit/); None without."""
    places = ("kit/src/research_kit/setup/wheelhouse.py", "scripts/setup_env.py")
    setup = next((tree / place for place in places if (tree / place).is_file()), None)
    if setup is None:
        return None
    try:
        module = ast.parse(setup.read_bytes())
    except SyntaxError:  # a set-up script that does not parse says nothing
        return None
    except ValueError:  # Python 3.11's word for a NUL byte in it
        return None
    found: dict[str, str] = {}
    for node in module.body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            found[node.targets[0].id] = node.value.value
    commands = [found.get("WHEELHOUSE_WRITE"), found.get("WHEELHOUSE_USE")]
    if not all(commands):
        return None
    return [str(command).replace("{folder}", "../wheelhouse") for command in commands]


def _add_lock(contents: Contents, tree: Path, facts: RunFacts) -> str:
    """The lock the run used, from `tree`: refused when it is not (another sha256)."""
    lock = tree / facts.lock_file
    sha = sha256_file(lock) if lock.is_file() else None
    if sha != facts.lock_sha256:
        where = f"commit {_short(facts.commit)}"
        if facts.dirty:
            where += " with the working tree's changes"
        refuse(
            f"The {facts.lock_file} of {where} is not the one run {facts.folder} used "
            f"(sha256 {_short(sha)}…, the manifest says {_short(facts.lock_sha256)}…).",
            "bundle on the clone that made the run, with the lock it used committed.",
        )
    contents.add(facts.lock_file, lock)
    return lock.read_text(encoding="utf-8")


def _add_exports(
    contents: Contents, tree: Path, lock_text: str, extras: list[str]
) -> dict[str, Any]:
    """pylock.toml and the SBOM, exported from the lock in `tree` by uv; what they cover."""
    uv = _uv()
    pylock, sbom, commands = _exports(tree, uv, extras)
    if problem := export_problem(lock_text, pylock.decode(), sbom.decode()):
        raise StepFailed(
            f"uv export disagrees with the lock: {problem}",
            "check `uv export --frozen --format pylock.toml` by hand; this is uv's to fix.",
        )
    contents.add(PYLOCK, pylock)
    contents.add(SBOM, sbom)
    label = f"extra {', '.join(extras)}" if extras else "no extra"
    print(f"==> Exported the lock ({label}, no dev group): {PYLOCK}, {SBOM}", flush=True)
    return {
        "extras": extras,
        "dev": False,
        "platforms": "every platform of the lock",
        "commands": commands,
        "uv": _uv_version(uv),
    }


def _add_citation(contents: Contents, tree: Path, version: str | None, notes: str) -> None:
    """CITATION.cff, LICENSE and .zenodo.json (made from CITATION.cff)."""
    for name in LICENSE_FILES:
        if (tree / name).is_file():
            contents.add(name, tree / name)
    if not (tree / CITATION).is_file():
        print(f"    No {CITATION}: no {ZENODO} either (Zenodo's metadata is made from it).")
        return
    try:
        cff = read_cff((tree / CITATION).read_text(encoding="utf-8"))
        zenodo = zenodo_metadata(cff, version, notes)
    except (CffError, UnicodeDecodeError) as error:
        refuse(
            f"{CITATION}: {error}.",
            "fix CITATION.cff (`uvx cffconvert --validate` checks it), commit it and run "
            "again: Zenodo's metadata is made from it.",
        )
    contents.add(CITATION, tree / CITATION)
    contents.add(ZENODO, (json.dumps(zenodo, indent=2, ensure_ascii=False) + "\n").encode())
    print(f"==> {ZENODO} made from {CITATION}", flush=True)


def _choose_extras(pyproject: Mapping[str, Any], lock_text: str, facts: RunFacts) -> list[str]:
    conflicts = pyproject.get("tool", {}).get("uv", {}).get("conflicts", [])
    if not conflicts:
        return []
    packages = facts.manifest.get("packages") or {}
    fitting = run_extras(pyproject, lock_text, packages)
    if len(fitting) == 1:
        return fitting
    declared = [item["extra"] for group in conflicts for item in group if "extra" in item]
    refuse(
        f"Cannot tell which build extra ({', '.join(declared)}) run {facts.folder} used "
        f"from its manifest (torch {packages.get('torch', 'not recorded')}).",
        "name it: --extra " + " or --extra ".join(declared) + ".",
    )


def write_archive(target: Path, stem: str, contents: Contents, mtime: int) -> None:
    """The archive, written beside `target` and renamed into place once whole."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    try:
        with (
            partial.open("wb") as raw,
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=mtime) as zipped,
            tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar,
        ):
            for name in sorted(contents.files, key=lambda n: (n != CHECKSUMS, n)):
                content = contents.files[name]
                info = tarfile.TarInfo(f"{stem}/{name}")
                info.mtime, info.mode = mtime, contents.modes[name]
                if isinstance(content, bytes):
                    info.size = len(content)
                    tar.addfile(info, io.BytesIO(content))
                else:
                    info.size = content.stat().st_size
                    with content.open("rb") as file:
                        tar.addfile(info, file)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)


def _indexes(lock_text: str) -> list[str]:
    """The indexes and folders the lock's packages come from."""
    found = []
    for package in tomllib.loads(lock_text).get("package", []):
        source = package.get("source", {})
        where = source.get("registry") or source.get("url") or source.get("path")
        if where and not source.get("editable") and not source.get("virtual"):
            found.append(str(where))
    return list(dict.fromkeys(found))


def reproduce_text(record: Mapping[str, Any], lock_text: str, uses_torch: bool) -> str:
    """REPRODUCE.md: what the bundle holds and the commands that rebuild and rerun it."""
    python = ".".join(str(record.get("python") or "3").split(".")[:2])
    config = "../run/config.json"
    rerun = record.get("rerun") or f"<the run's script> --config {config}"
    lock = record["lock"]["file"]
    exports = record.get("exports")
    rows = [
        ("`source/`", "the project at that commit (`git archive`)"),
        (f"`{DIFF}`", "the uncommitted changes the run was made with: "
         f"`cd source && git apply ../{DIFF}` (or `patch -p1 < ../{DIFF}`)")
        if record["dirty"] else None,
        (f"`{lock}`", f"the lock of the run's environment (sha256 `{record['lock']['sha256']}`, "
         f"as `run/{MANIFEST}` records)"),
        (f"`{PYLOCK}`", "the same environment in the standard lock format (PEP 751), for pip")
        if exports else None,
        (f"`{SBOM}`", "its software bill of materials (CycloneDX 1.5), for audits")
        if exports else None,
        ("`run/`", f"the run's folder: `config.json` (its settings), `{MANIFEST}` (what "
         f"produced it), `metrics.jsonl`, `{RESULTS}`"),
        (f"`{CITATION}`, `{ZENODO}`", f"how to cite it; Zenodo's metadata, made from {CITATION}"),
        (f"`{BUNDLE_JSON}`", "what this bundle holds, as data"),
        (f"`{CHECKSUMS}`", "the sha256 of every other file"),
    ]  # fmt: skip
    checked = "the exports name exactly the lock's files" if exports else "nothing was added"
    lines = [
        f"# Reproducing run {record['experiment']}/{record['run']}",
        "",
        f"Run `{record['run']}` of `{record['experiment']}` ({record['project']} "
        f"{record['version']}), made at commit `{record['commit']}`"
        f"{' with uncommitted changes' if record['dirty'] else ''}, and what it takes to "
        "check it and make it again:",
        "",
        "| Path | What it is |",
        "|---|---|",
        *[f"| {path} | {what} |" for path, what in filter(None, rows)],
        "",
    ]
    if exports:
        extras = exports["extras"]
        build = f" and the build the run used (extra `{'`, `'.join(extras)}`)" if extras else ""
        lines += [
            f"`{PYLOCK}` and `{SBOM}` hold the environment the result came from: the "
            f"project's dependencies{build}, without its development tools (tests, linters), "
            "for every platform the lock supports; pip installs the files for the machine it "
            "runs on.",
            "",
        ]
    lines += [
        "## Check it",
        "",
        "```bash",
        f"sha256sum -c {CHECKSUMS}     # in this folder: every file as it was bundled",
        "```",
        "",
        "With the project at hand, `uv run scripts/bundle.py --verify <archive>` also checks "
        f"that `{lock}` is the lock the run recorded and that {checked}.",
        "",
    ]
    if lock == "pixi.lock":
        lines += [
            "## Rebuild and rerun (pixi)",
            "",
            "```bash",
            "cd source",
            "pixi install --locked",
            f"pixi run python {rerun}",
            "```",
        ]
    else:
        extras = "".join(f" --extra {extra}" for extra in (exports or {}).get("extras", []))
        lines += [
            "## Rebuild and rerun with uv",
            "",
            "```bash",
            "cd source",
            f"uv sync --locked --no-dev{extras}",
            f"uv run --locked --no-dev{extras} {rerun}",
            "```",
            "",
            "## Rebuild and rerun with pip",
            "",
            f"pip installs from `{PYLOCK}` from version {PIP_WITH_PYLOCK} on (an experimental "
            "feature of pip); `--no-deps` because the lock lists every package, each file "
            "with its sha256, which pip checks.",
            "",
            "```bash",
            "cd source",
            f"python{python} -m venv .venv",
            ". .venv/bin/activate     # Windows: .venv\\Scripts\\activate",
            f'python -m pip install "pip>={PIP_WITH_PYLOCK}"',
            f"python -m pip install --no-deps -r ../{PYLOCK}",
            "python -m pip install --no-deps -e kit   # the template's machinery (research_kit)",
            "python -m pip install --no-deps -e .     # the project itself",
            f"python {rerun}",
            "```",
        ]
    lines += [
        "",
        f"The rerun uses the run's settings (`{config}`) and writes its own folder, "
        f"`source/outputs/{record['experiment']}/<date>-<time>-<id>/`. `scripts/compare_runs.py "
        f"../run outputs/{record['experiment']}/<new run>` lists what differs, results included.",
    ]
    if uses_torch:
        lines += [
            "",
            "On the same kind of machine a PyTorch run on CPU gives the same numbers; on "
            "another processor or GPU they can differ in the last digits (PyTorch chooses "
            "its kernels by instruction set, device and thread count, and floating-point sums "
            "in another order round differently).",
        ]
    lines += [
        "",
        "## Where the packages come from",
        "",
        "The lock names these package indexes; the rebuild must reach them:",
        "",
        *[f"- `{where}`" for where in _indexes(lock_text)],
        "",
        "A local folder (a path rather than a URL) exists only on the machine that made the "
        "lock: copy its wheels to the same path, or install from a folder holding every file "
        "the lock names (a wheelhouse; their names and sha256 are in the lock).",
    ]
    if record.get("wheelhouse"):
        lines += [
            "",
            "The project's set-up writes such a folder where the indexes can be reached, and "
            'installs from it where they cannot (`source/README.md`, "Clusters without '
            'internet"); in `source/`:',
            "",
            "```bash",
            *record["wheelhouse"],
            "```",
        ]
    if record["container_recipes"]:
        recipes = ", ".join(f"`source/{name}`" for name in record["container_recipes"])
        lines += [
            "",
            "## Containers",
            "",
            f"The project's container recipe ({recipes}) builds the same environment from "
            "the lock; `source/README.md` says how.",
        ]
    if record["links_left_out"]:
        links = ", ".join(f"`{name}`" for name in record["links_left_out"])
        lines += ["", f"Links in the repository that point outside it are left out: {links}."]
    lines += [
        "",
        "## Citing and publishing",
        "",
        f"`{CITATION}` says how to cite this work. `{ZENODO}` holds the same facts as "
        "Zenodo's deposit metadata: give it to Zenodo's API when you upload this archive, or "
        "copy its fields into the upload form.",
        "",
    ]
    return "\n".join(lines)


# ── Verifying a bundle ─────────────────────────────────────────────────────


@dataclass(frozen=True)
class Verified:
    """What a verified bundle holds."""

    archive: Path
    folder: str
    files: int
    record: dict[str, Any]


KEPT = {CHECKSUMS, BUNDLE_JSON, "uv.lock", "pixi.lock", PYLOCK, SBOM, f"run/{MANIFEST}",
        "source/uv.lock", "source/pixi.lock"}  # fmt: skip


def _members(archive: Path) -> Iterator[tuple[str, str, str, bytes | None]]:
    """Each file of the archive: the bundle's folder, the file's path inside it, its sha256,
    and its bytes when verification reads them. Refused: an archive that is not a bundle's."""
    hint = VERIFY_HINT
    try:
        with tarfile.open(archive, mode="r:" if archive.suffix == ".tar" else "r:gz") as tar:
            top: str | None = None
            for member in tar:
                path = PurePosixPath(member.name)
                if path.is_absolute() or ".." in path.parts or not path.parts:
                    refuse(f"{archive}: {member.name!r} points outside the archive's folder.", hint)
                if top is None:
                    top = path.parts[0]
                if path.parts[0] != top:
                    refuse(f"{archive}: {member.name} is outside its folder {top}/.", hint)
                if member.isdir():
                    continue
                if not member.isfile():
                    refuse(f"{archive}: {member.name} is a link or a device, not a file.", hint)
                inner = PurePosixPath(*path.parts[1:]).as_posix()
                extracted = tar.extractfile(member)
                assert extracted is not None
                digest = hashlib.sha256()
                kept = io.BytesIO() if inner in KEPT else None
                while chunk := extracted.read(1 << 20):
                    digest.update(chunk)
                    if kept is not None:
                        kept.write(chunk)
                yield top, inner, digest.hexdigest(), None if kept is None else kept.getvalue()
    except (tarfile.TarError, EOFError, OSError, zlib.error) as error:
        why = " ".join(f"{type(error).__name__}: {error}".split())
        refuse(f"{archive} cannot be read as a .tar.gz archive ({why}).", hint)


def verify_bundle(archive: Path) -> Verified:
    """Check the bundle `archive`; refuse (exit status 2) at its first mismatch: a file
    whose sha256 is not SHA256SUMS's, a file added or missing, a lock other than the one the
    run's manifest recorded, a pylock.toml or SBOM that names other files than the lock."""
    if not archive.is_file():
        refuse(f"{archive} is not a file.", "give the path of a bundle (artifacts/*.tar.gz).")
    digests: dict[str, str] = {}
    kept: dict[str, bytes] = {}
    folder = ""
    for top, inner, digest, content in _members(archive):
        folder = top
        if inner in digests:
            refuse(f"{archive}: {inner} is in the archive twice.", VERIFY_HINT)
        digests[inner] = digest
        if content is not None:
            kept[inner] = content
    if CHECKSUMS not in kept:
        refuse(f"{archive} holds no {CHECKSUMS}: it is not a bundle.", VERIFY_HINT)
    try:
        listed = parse_checksums(kept[CHECKSUMS].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        refuse(f"{archive}: {CHECKSUMS} cannot be read: {error}.", VERIFY_HINT)
    for name, expected in listed.items():
        if name not in digests:
            refuse(f"{archive}: {name} is listed in {CHECKSUMS} but missing.", VERIFY_HINT)
        if digests[name] != expected:
            refuse(
                f"{archive}: {name} does not match its sha256 in {CHECKSUMS} "
                f"({_short(digests[name])}…, not {_short(expected)}…): it changed after bundling.",
                VERIFY_HINT,
            )
    if unlisted := sorted(set(digests) - set(listed) - {CHECKSUMS}):
        refuse(
            f"{archive}: {unlisted[0]} is not in {CHECKSUMS}: it was added after bundling.",
            VERIFY_HINT,
        )
    try:
        record = json.loads(kept[BUNDLE_JSON])
        manifest = json.loads(kept[f"run/{MANIFEST}"])
        lock_name = str(record["lock"]["file"])
        recorded = str((manifest.get("lock") or {}).get("sha256"))
    except (KeyError, TypeError, ValueError, AttributeError, RecursionError) as error:
        refuse(
            f"{archive}: {BUNDLE_JSON} or run/{MANIFEST} is not a bundle's ({error!r}).",
            VERIFY_HINT,
        )
    if lock_name not in kept:
        refuse(f"{archive}: the lock {lock_name} is missing.", VERIFY_HINT)
    lock_sha = sha256_bytes(kept[lock_name])
    if lock_sha != recorded:
        refuse(
            f"{archive}: {lock_name} (sha256 {_short(lock_sha)}…) is not the lock the run "
            f"recorded in run/{MANIFEST} ({_short(recorded)}…).",
            VERIFY_HINT,
        )
    committed = kept.get(f"source/{lock_name}")
    changed = [str(path) for path in record.get("changed") or []]  # from the repository's root
    lock_changed = any(path == lock_name or path.endswith(f"/{lock_name}") for path in changed)
    if committed is not None and committed != kept[lock_name] and not lock_changed:
        refuse(f"{archive}: source/{lock_name} differs from {lock_name}.", VERIFY_HINT)
    if record.get("exports"):
        for name in (PYLOCK, SBOM):
            if name not in kept:
                refuse(f"{archive}: {name} is missing.", VERIFY_HINT)
        try:
            problem = export_problem(
                kept[lock_name].decode(), kept[PYLOCK].decode(), kept[SBOM].decode()
            )
        except (UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as error:
            problem = f"{PYLOCK} or {SBOM} cannot be read ({type(error).__name__}: {error})"
        if problem:
            refuse(f"{archive}: {problem}.", VERIFY_HINT)
    return Verified(archive=archive, folder=folder, files=len(digests), record=record)
