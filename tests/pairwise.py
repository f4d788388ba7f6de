"""A pairwise-covering set of answer combinations, with constraints.

Written here rather than taken from allpairspy: its filter hook drops invalid rows while it
builds them and does not guarantee that every valid pair ends up covered, and the answer
space is small enough (a few ten thousand full combinations) to enumerate. The greedy
routine below (the AETG idea, deterministic) keeps adding the valid combination that covers
the most pairs not yet covered, the cheapest one on a tie, until every pair that any valid
combination holds is covered. Each run gives the same rows.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

Row = dict[str, Any]
Pair = tuple[str, Any, str, Any]


def _pairs(row: Row, names: Sequence[str]) -> set[Pair]:
    return {(a, row[a], b, row[b]) for a, b in itertools.combinations(names, 2)}


def _valid_rows(factors: Mapping[str, Sequence[Any]], valid: Callable[[Row], bool]) -> list[Row]:
    names = list(factors)
    rows = (
        dict(zip(names, values, strict=True)) for values in itertools.product(*factors.values())
    )
    return [row for row in rows if valid(row)]


def covering_rows(
    factors: Mapping[str, Sequence[Any]],
    valid: Callable[[Row], bool],
    cost: Callable[[Row], float] = lambda row: 0.0,
    required: Sequence[Row] = (),
) -> list[Row]:
    """Rows (one value per factor) such that every valid pair of values is in some row.

    `required` rows come first (those a test wants whatever the pairs); then, each time,
    the valid row covering the most uncovered pairs, the cheapest on a tie.
    """
    names = list(factors)
    candidates = _valid_rows(factors, valid)
    index: dict[Pair, int] = {}
    masks = []
    for row in candidates:  # each row's pairs as the bits of one integer: fast to compare
        mask = 0
        for pair in _pairs(row, names):
            mask |= 1 << index.setdefault(pair, len(index))
        masks.append(mask)
    uncovered = (1 << len(index)) - 1
    rows: list[Row] = []
    for row in required:
        assert valid(row), row
        rows.append(row)
        uncovered &= ~masks[candidates.index(row)]
    while uncovered:
        best = max(
            range(len(candidates)),
            key=lambda i: ((masks[i] & uncovered).bit_count(), -cost(candidates[i])),
        )
        rows.append(candidates[best])
        uncovered &= ~masks[best]
    return rows


def uncovered_pairs(
    rows: Sequence[Row], factors: Mapping[str, Sequence[Any]], valid: Callable[[Row], bool]
) -> set[Pair]:
    """The valid pairs no row covers (empty for a covering set): an independent check."""
    names = list(factors)
    possible = set().union(*(_pairs(row, names) for row in _valid_rows(factors, valid)))
    return possible - set().union(*(_pairs(row, names) for row in rows))
