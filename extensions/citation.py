"""CITATION.cff: the author's name split the way the Citation File Format wants it."""

from __future__ import annotations


def person_names(full_name: str) -> dict[str, str]:
    """CFF name fields from a full name, family name last.

    "Ada Lovelace" -> given "Ada", family "Lovelace"; lowercase words before the family name
    are its particle ("Ludwig van Beethoven" -> particle "van"); a single word is a family name.
    """
    words = full_name.split()
    if not words:
        return {}
    family, rest = words[-1], words[:-1]
    particle: list[str] = []
    while rest and rest[-1].islower():
        particle.insert(0, rest.pop())
    names = {
        "family-names": family,
        "given-names": " ".join(rest),
        "name-particle": " ".join(particle),
    }
    return {key: value for key, value in names.items() if value}
