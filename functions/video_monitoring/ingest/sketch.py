"""A DDSketch over non-negative values whose bins are plain counters, so sketches merge by addition.

Every quantile it returns is within `ALPHA` relative error of the sample at the same rank
(rank = q * (n - 1), rounded down), because each value is stored as the index of the
logarithmic bin [gamma^(i-1), gamma^i) and read back as that bin's midpoint in relative terms.
Bins live inside rollup documents as `{index: count}` maps and are added with Firestore increments.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

ALPHA = 0.01
GAMMA = (1 + ALPHA) / (1 - ALPHA)
LOG_GAMMA = math.log(GAMMA)
# Values this small are treated as zero (a generation that completes within a millisecond).
MIN_POSITIVE = 1e-3
ZERO_KEY = "z"


def bin_key(value: float) -> str:
    """The bin a value falls in, as a map key."""
    if value < 0 or not math.isfinite(value):
        raise ValueError(f"sketch values must be finite and >= 0, got {value!r}")
    if value < MIN_POSITIVE:
        return ZERO_KEY
    return str(math.ceil(math.log(value) / LOG_GAMMA))


def bin_value(key: str) -> float:
    """The representative value of a bin: relative error at most ALPHA for anything inside it."""
    if key == ZERO_KEY:
        return 0.0
    index = int(key)
    return 2 * GAMMA**index / (GAMMA + 1)


def _sorted_bins(bins: Mapping[str, float]) -> list[tuple[float, float]]:
    items = [(bin_value(k), c) for k, c in bins.items() if c > 0]
    items.sort()
    return items


def quantiles(bins: Mapping[str, float], qs: Iterable[float]) -> list[float | None]:
    """Quantiles (0 <= q <= 1) of a sketch; None for an empty sketch."""
    ordered = _sorted_bins(bins)
    total = sum(c for _, c in ordered)
    results: list[float | None] = []
    for q in qs:
        if not 0 <= q <= 1:
            raise ValueError(f"quantile must be within [0, 1], got {q}")
        if total <= 0:
            results.append(None)
            continue
        rank = math.floor(q * (total - 1))
        cumulative = 0.0
        answer = ordered[-1][0]
        for value, count in ordered:
            cumulative += count
            if cumulative > rank:
                answer = value
                break
        results.append(answer)
    return results


def add(bins: dict[str, float], values: Iterable[float]) -> dict[str, float]:
    """Add raw values to a bin map in place; returns it."""
    for value in values:
        key = bin_key(value)
        bins[key] = bins.get(key, 0) + 1
    return bins
