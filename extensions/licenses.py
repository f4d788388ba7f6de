"""The LICENSE file: the full text of the license the `license` question names.

The texts in license_texts/ are copied verbatim: GPL-3.0-only.txt and Apache-2.0.txt are the
plain-text files the FSF and the ASF publish (as Debian ships them in
/usr/share/common-licenses), MIT.txt and BSD-3-Clause.txt the SPDX License List texts
(list version 3.28). Only the copyright line of MIT and BSD-3-Clause asks to be filled in;
Apache and GPL carry no copyright line of their own (their appendix tells how to mark files).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

# The `license` answer: an SPDX id with a text in license_texts/, or no license.
License = Literal["MIT", "BSD-3-Clause", "Apache-2.0", "GPL-3.0-only", "Proprietary"]

TEXTS = Path(__file__).resolve().parent / "license_texts"

# The placeholder each template text uses for the year and the copyright holder.
PLACEHOLDERS: dict[str, str] = {
    "MIT": "<year> <copyright holders>",
    "BSD-3-Clause": "<year> <owner>",
}

PROPRIETARY = """\
Copyright (c) {year} {holder}. All rights reserved.

This software is proprietary. No license is granted: it may not be used, copied, modified or
distributed without the prior written permission of the copyright holder.
"""


def license_text(spdx_id: str, holder: str, year: int) -> str:
    """The LICENSE file for `spdx_id`, with the copyright line filled in where it has one."""
    if spdx_id == "Proprietary":
        return PROPRIETARY.format(year=year, holder=holder)
    text = (TEXTS / f"{spdx_id}.txt").read_text(encoding="utf-8")
    if spdx_id in PLACEHOLDERS:
        text = text.replace(PLACEHOLDERS[spdx_id], f"{year} {holder}")
    return "".join(f"{line.rstrip()}\n" for line in text.splitlines())
