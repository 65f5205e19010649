"""Small statistics shared by alerting and the figures: the Wilson interval of a proportion and a
robust z-score against a baseline (median and MAD)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence


def wilson_interval(successes: int, trials: int, confidence: float) -> tuple[float, float]:
    """Wilson score interval of a proportion."""
    if trials <= 0:
        return 0.0, 1.0
    successes = min(max(successes, 0), trials)
    z = statistics.NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    margin = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - margin), min(1.0, centre + margin)


def robust_z(value: float, baseline: Sequence[float]) -> float:
    """(value - median) / (1.4826 * MAD); MAD floored at 1% of |median| (or 1e-9) so a flat
    baseline does not turn every small wobble into an infinite score."""
    median = statistics.median(baseline)
    mad = statistics.median(abs(x - median) for x in baseline)
    scale = 1.4826 * max(mad, 0.01 * abs(median), 1e-9)
    return (value - median) / scale
