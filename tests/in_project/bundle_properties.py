"""Property-based checks of a generated project's bundles (kit/src/research_kit/bundle.py), run
INSIDE the project:

    uv run --locked --with hypothesis==<pin> --with pyyaml==<pin> --with jsonschema==<pin> \
        python <this file> <package> <a bundle of one of its runs> <Zenodo metadata schema> \
        [CITATION.cff of other answers...]

(tests/test_bundle.py does, on a set-up NumPy project). CITATION.cff files as PyYAML writes
them, in every style it has, read as PyYAML reads them; any text is read or refused with
CffError, never a traceback; any CITATION.cff mapping gives Zenodo metadata that its schema
accepts, or CffError naming the field; SHA256SUMS lines survive any file name; and a bundle
damaged anywhere (a byte changed, cut short, grown) is refused with exit status 2 unless
what it holds is unchanged.
"""

from __future__ import annotations

import atexit
import importlib
import io
import json
import shutil
import sys
import tarfile
import tempfile
import zlib
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

PACKAGE, ARCHIVE, SCHEMA = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
CITATIONS = [Path(name) for name in sys.argv[4:]]
bundle = importlib.import_module("research_kit.bundle")
exits = importlib.import_module("research_kit.exits")
SCRATCH = Path(tempfile.mkdtemp(prefix="bundle-properties-"))  # under the caller's TMPDIR
atexit.register(shutil.rmtree, SCRATCH, ignore_errors=True)
CHECKS = settings(
    max_examples=200, deadline=None, suppress_health_check=list(HealthCheck), database=None
)
VALIDATOR = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))

# ── CITATION.cff read as YAML is ─────────────────────────────────────────────

CFF_KEYS = [
    "cff-version", "message", "title", "abstract", "type", "license", "version", "doi",
    "date-released", "repository-code", "url", "keywords", "authors", "preferred-citation",
    "family-names", "given-names", "name-particle", "name-suffix", "name", "orcid",
    "affiliation", "email",
]  # fmt: skip
# Any text (no surrogates, which no file holds). PyYAML reads YAML 1.1, where NEL, LS and
# PS break lines, and CITATION.cff is YAML 1.2, where they do not: the two readers differ
# on them, so they are left out here.
texts = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters="\ufeff\x85\u2028\u2029"),
    max_size=40,
)
# Keys as CITATION.cff has them: one line, not empty (PyYAML writes others as `? key`).
keys = st.one_of(
    st.sampled_from(CFF_KEYS),
    texts.filter(lambda key: key and not any(char in key for char in "\n\r\x85\u2028\u2029")),
)
documents = st.recursive(
    texts,
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=3),
        st.dictionaries(keys, inner, min_size=1, max_size=4),
    ),
    max_leaves=12,
)


class Dumper(yaml.SafeDumper):
    """PyYAML's writer, with a style for multi-line texts chosen per document."""

    block_style: str | None = None


def represent_text(dumper: Dumper, text: str) -> Any:
    style = dumper.block_style if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


Dumper.add_representer(str, represent_text)


@CHECKS
@given(
    st.dictionaries(keys, documents, min_size=1, max_size=6),
    st.booleans(),
    st.sampled_from([12, 30, 80, 1000]),
    st.sampled_from([2, 4]),
    st.sampled_from([None, "|", ">"]),
)
# A text that ends in a line break is written `|+` and the document closed with `...`.
@example({"cff-version": "\n"}, False, 12, 2, "|")
@example({"title": "x\n\n"}, True, 80, 4, ">")
def cff_read_as_yaml_reads_it(
    document: dict[str, Any], unicode: bool, width: int, indent: int, block: str | None
) -> None:
    Dumper.block_style = block
    text = yaml.dump(
        document, Dumper=Dumper, allow_unicode=unicode, width=width, indent=indent,
        default_flow_style=False, sort_keys=False,
    )  # fmt: skip
    assert bundle.read_cff(text) == yaml.safe_load(text), text


@CHECKS
@given(st.text(max_size=300))
def any_text_is_read_or_refused(text: str) -> None:
    try:
        read = bundle.read_cff(text)
    except bundle.CffError:
        return
    assert isinstance(read, dict)


# ── Zenodo's metadata from any CITATION.cff ─────────────────────────────────

PERSON_KEYS = [
    "family-names", "given-names", "name-particle", "name-suffix", "name", "orcid",
    "affiliation", "email",
]  # fmt: skip
words = st.one_of(st.none(), texts, st.sampled_from(["", " ", "MIT", "0000-0002-1825-0097"]))
authors = st.lists(
    st.one_of(
        st.dictionaries(
            st.sampled_from(PERSON_KEYS),
            st.one_of(words, st.sampled_from(["https://orcid.org/0000-0002-1825-0097"])),
            max_size=5,
        ),
        words,
    ),
    max_size=3,
)
cff_mappings = st.fixed_dictionaries(
    {},
    optional={
        "title": words,
        "abstract": words,
        "type": st.sampled_from(["software", "dataset", None]),
        "authors": st.one_of(authors, words),
        "license": st.one_of(words, st.lists(words, max_size=2)),
        "keywords": st.one_of(st.lists(words, max_size=4), words),
        "version": words,
        "repository-code": words,
        "preferred-citation": st.one_of(st.dictionaries(st.just("doi"), words), words),
    },
)


@CHECKS
@given(cff_mappings, st.one_of(st.none(), st.just("0.1.0")), texts)
def zenodo_metadata_is_valid_or_refused(
    cff: dict[str, Any], version: str | None, notes: str
) -> None:
    try:
        metadata = bundle.zenodo_metadata(cff, version, notes)
    except bundle.CffError as error:
        assert "\n" not in str(error)
        return
    errors = sorted(VALIDATOR.iter_errors(metadata), key=str)
    assert not errors, (cff, metadata, errors[0].message)
    json.dumps(metadata, allow_nan=False)


# ── SHA256SUMS ──────────────────────────────────────────────────────────────


@CHECKS
@given(
    st.dictionaries(
        st.text(st.characters(blacklist_categories=["Cs"]), min_size=1).filter(
            lambda name: "\0" not in name
        ),
        st.text("0123456789abcdef", min_size=64, max_size=64),
        min_size=1,
    )
)
def checksums_survive_any_file_name(digests: dict[str, str]) -> None:
    assert bundle.parse_checksums(bundle.checksums_text(digests)) == digests


# ── Damaged bundles ────────────────────────────────────────────────────────

ORIGINAL = ARCHIVE.read_bytes()


def contents_of(data: bytes) -> dict[str, bytes] | None:
    """What an archive holds, read as tarfile reads it (None when it cannot be): bytes
    after the end of the archive are not part of it."""
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            return {
                member.name: (tar.extractfile(member) or io.BytesIO()).read()
                for member in tar
                if member.isfile()
            }
    except (OSError, EOFError, tarfile.TarError, zlib.error):
        return None


SAME = contents_of(ORIGINAL)
assert SAME is not None


@CHECKS
@given(
    st.one_of(
        st.tuples(st.just("flip"), st.integers(0, len(ORIGINAL) - 1), st.integers(1, 255)),
        st.tuples(st.just("cut"), st.integers(0, len(ORIGINAL) - 1), st.just(0)),
        st.tuples(st.just("grow"), st.integers(1, 64), st.integers(0, 255)),
    )
)
def damaged_bundles_are_refused(damage: tuple[str, int, int]) -> None:
    kind, where, value = damage
    data = bytearray(ORIGINAL)
    if kind == "flip":
        data[where] ^= value
    elif kind == "cut":
        del data[where:]
    else:
        data += bytes([value]) * where
    path = SCRATCH / "damaged.tar.gz"
    path.write_bytes(bytes(data))
    try:
        bundle.verify_bundle(path)
    except exits.Refused as refusal:
        assert refusal.code == exits.Exit.USAGE
        assert "\n" not in refusal.problem, refusal.problem
        return
    assert contents_of(bytes(data)) == SAME, f"{kind} at {where} verified"


def citation_files_of_other_answers() -> None:
    """The CITATION.cff of other answers (names with particles, ORCID, no licence, quotes and
    backslashes): read as PyYAML reads them; Zenodo's metadata made from each is printed."""
    for path in CITATIONS:
        text = path.read_text(encoding="utf-8")
        cff = bundle.read_cff(text)
        assert cff == yaml.safe_load(text), path
        metadata = bundle.zenodo_metadata(cff, "0.1.0", "A run.")
        assert not list(VALIDATOR.iter_errors(metadata)), path
        print(f"zenodo {path}: {json.dumps(metadata, ensure_ascii=False)}", flush=True)


if __name__ == "__main__":
    import contextlib

    citation_files_of_other_answers()

    for check in (
        cff_read_as_yaml_reads_it,
        any_text_is_read_or_refused,
        zenodo_metadata_is_valid_or_refused,
        checksums_survive_any_file_name,
        damaged_bundles_are_refused,
    ):
        print(f"-- {check.__name__}", flush=True)
        with contextlib.redirect_stderr(io.StringIO()):  # each refusal prints two lines
            check()
    print("all properties hold")
