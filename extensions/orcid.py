"""The `orcid` question: an ORCID iD, checked by its ISO 7064 MOD 11-2 check character."""

from __future__ import annotations

import re

from . import text as free_text

ORCID_URL = "https://orcid.org/"
_FORM = re.compile(r"\d{4}-\d{4}-\d{4}-\d{3}[\dX]")
_PREFIX = re.compile(r"^(https?://)?(www\.)?orcid\.org/", re.IGNORECASE)


def normalise_orcid(text: str) -> str:
    """The bare iD, from the iD or its URL, with a lowercase check character x made X."""
    return _PREFIX.sub("", text.strip()).upper()


def check_character(digits: str) -> str:
    """ISO 7064 MOD 11-2 check character of the first 15 digits of an ORCID iD."""
    total = 0
    for digit in digits:
        total = (total + int(digit)) * 2
    result = (12 - total % 11) % 11
    return "X" if result == 10 else str(result)


def orcid_error(text: str) -> str:
    """Empty when `text` is empty or a valid ORCID iD, else what is wrong and how to fix it."""
    if not text.strip():
        return ""
    if problem := free_text.text_error("orcid", text):
        return problem
    orcid = normalise_orcid(text)
    if not _FORM.fullmatch(orcid):
        return (
            f"'{text}' is not an ORCID iD. Write it as 0000-0002-1825-0097 (four groups of four "
            "digits; the last character may be X), or leave it empty."
        )
    expected = check_character(orcid.replace("-", "")[:15])
    if orcid[-1] != expected:
        return (
            f"'{text}' fails the ORCID checksum (the last character should be {expected}), "
            "so a digit is probably mistyped. Copy the iD from your ORCID record."
        )
    return ""


def orcid_url(text: str) -> str:
    """The iD as the URL that CITATION.cff expects, or "" when none was given."""
    return f"{ORCID_URL}{normalise_orcid(text)}" if text.strip() else ""


FILTERS = {"orcid_error": orcid_error}
