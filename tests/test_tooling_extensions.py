"""Unit tests of the logic behind CI, citation and license files (extensions/)."""

from __future__ import annotations

import hashlib
import re

import pytest

from extensions import citation, guide_checks, licenses, orcid, text

# ORCID's own examples of valid iDs, one with the check character X.
VALID_ORCIDS = ["0000-0002-1825-0097", "0000-0001-5109-3700", "0000-0002-1694-233X"]


@pytest.mark.parametrize("identifier", VALID_ORCIDS)
def test_valid_orcid_is_accepted(identifier: str) -> None:
    assert orcid.orcid_error(identifier) == ""


@pytest.mark.parametrize("identifier", VALID_ORCIDS)
def test_check_character_is_iso_7064_mod_11_2(identifier: str) -> None:
    digits = identifier.replace("-", "")
    assert orcid.check_character(digits[:15]) == digits[15]


@pytest.mark.parametrize(
    ("answer", "url"),
    [
        ("https://orcid.org/0000-0002-1694-233x", "https://orcid.org/0000-0002-1694-233X"),
        ("orcid.org/0000-0002-1825-0097", "https://orcid.org/0000-0002-1825-0097"),
        (" 0000-0002-1825-0097 ", "https://orcid.org/0000-0002-1825-0097"),
        ("", ""),
    ],
)
def test_orcid_answer_becomes_the_url_cff_expects(answer: str, url: str) -> None:
    assert orcid.orcid_error(answer) == ""
    assert orcid.orcid_url(answer) == url


def test_every_single_digit_typo_fails_the_checksum() -> None:
    digits = "0000000218250097"
    for position in range(15):
        for wrong in "0123456789":
            if wrong != digits[position]:
                typo = digits[:position] + wrong + digits[position + 1 :]
                assert orcid.check_character(typo[:15]) != typo[15], typo


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ("0000-0002-1825-0098", "should be 7"),
        ("0000000218250097", "not an ORCID iD"),
        ("0000-0002-1825-009", "not an ORCID iD"),
        ("https://example.org/0000-0002-1825-0097", "not an ORCID iD"),
    ],
)
def test_bad_orcid_is_refused_with_the_fix(answer: str, problem: str) -> None:
    assert problem in orcid.orcid_error(answer)


@pytest.mark.parametrize(
    ("name", "fields"),
    [
        ("Ada Lovelace", {"family-names": "Lovelace", "given-names": "Ada"}),
        ("Grace Brewster Hopper", {"family-names": "Hopper", "given-names": "Grace Brewster"}),
        (
            "Ludwig van Beethoven",
            {"family-names": "Beethoven", "given-names": "Ludwig", "name-particle": "van"},
        ),
        ("Plato", {"family-names": "Plato"}),
    ],
)
def test_author_name_is_split_into_cff_fields(name: str, fields: dict[str, str]) -> None:
    assert citation.person_names(name) == fields


def test_quoted_string_is_valid_yaml_and_keeps_letters() -> None:
    assert text.quoted('Zoë "Z" O\'Neil') == '"Zoë \\"Z\\" O\'Neil"'


@pytest.mark.parametrize("spdx_id", ["MIT", "BSD-3-Clause"])
def test_copyright_line_is_filled_in(spdx_id: str) -> None:
    text = licenses.license_text(spdx_id, "Ada Lovelace", 2031)
    assert "Copyright (c) 2031 Ada Lovelace" in text
    assert not re.search(r"<(year|owner|copyright holders)>", text)


# sha256 of the official plain-text files (gnu.org gpl-3.0.txt, apache.org LICENSE-2.0.txt).
OFFICIAL_TEXTS = {
    "GPL-3.0-only": "3972dc9744f6499f0f9b2dbf76696f2ae7ad8af9b23dde66d6af86c9dfb36986",
    "Apache-2.0": "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30",
}


@pytest.mark.parametrize("spdx_id", sorted(OFFICIAL_TEXTS))
def test_license_without_copyright_line_is_the_official_text(spdx_id: str) -> None:
    text = licenses.license_text(spdx_id, "Ada Lovelace", 2031)
    assert hashlib.sha256(text.encode()).hexdigest() == OFFICIAL_TEXTS[spdx_id]


def test_proprietary_notice_reserves_all_rights() -> None:
    text = licenses.license_text("Proprietary", "Ada Lovelace", 2031)
    assert text.startswith("Copyright (c) 2031 Ada Lovelace. All rights reserved.")


def test_every_license_choice_has_a_text() -> None:
    for spdx_id in ("MIT", "BSD-3-Clause", "Apache-2.0", "GPL-3.0-only", "Proprietary"):
        assert len(licenses.license_text(spdx_id, "Ada Lovelace", 2031)) > 100


@pytest.mark.parametrize(
    ("env_manager", "ci_provider", "added", "absent"),
    [
        ("uv", "github", {"PY007"}, {"GH100"}),
        ("pixi", "github", set(), {"PY007", "GH100"}),
        ("uv", "gitlab", {"PY007", "GH100"}, set()),
        ("pixi", "none", {"GH100"}, {"PY007"}),
    ],
)
def test_skipped_guide_checks_depend_on_the_variant(
    env_manager: str, ci_provider: str, added: set[str], absent: set[str]
) -> None:
    ignored = guide_checks.ignored_checks(env_manager, ci_provider)
    assert added <= ignored.keys()
    assert not absent & ignored.keys()
    assert all(reason.strip() for reason in ignored.values())
