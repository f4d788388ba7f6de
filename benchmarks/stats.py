"""Summaries of repeated timings."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Summary:
    """Median, min and max of `n` measurements, in seconds."""

    median: float
    min: float
    max: float
    n: int

    def to_json(self) -> dict[str, Any]:
        return {k: round(v, 3) if isinstance(v, float) else v for k, v in asdict(self).items()}


def summarize(values: Sequence[float]) -> Summary:
    if not values:
        raise ValueError("no measurements to summarize")
    return Summary(statistics.median(values), min(values), max(values), len(values))


def ratios(numerators: Sequence[float], denominators: Sequence[float]) -> list[float]:
    """Per-pair ratios: run i of one path against run i of the other, measured back to back."""
    if len(numerators) != len(denominators):
        raise ValueError("ratios need paired measurements")
    return [n / d for n, d in zip(numerators, denominators, strict=True)]
