"""The DDSketch's stated error bound, checked against exact order statistics."""

from __future__ import annotations

import math
import random

import pytest

from video_monitoring.ingest import sketch


def exact(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[math.floor(q * (len(ordered) - 1))]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_percentiles_within_two_percent_at_10000_samples(seed: int) -> None:
    rng = random.Random(seed)
    values = [rng.lognormvariate(math.log(45), 0.8) for _ in range(10_000)]
    bins = sketch.add({}, values)
    qs = [0.5, 0.9, 0.95, 0.99, 0.999]
    for q, estimate in zip(qs, sketch.quantiles(bins, qs), strict=True):
        truth = exact(values, q)
        assert estimate is not None
        assert abs(estimate - truth) / truth <= sketch.ALPHA + 1e-12 <= 0.02


def test_merging_bins_equals_sketching_the_union() -> None:
    rng = random.Random(5)
    a = [rng.uniform(1, 500) for _ in range(3000)]
    b = [rng.uniform(100, 900) for _ in range(2000)]
    merged = sketch.add({}, a)
    for key, count in sketch.add({}, b).items():
        merged[key] = merged.get(key, 0) + count
    assert merged == sketch.add({}, a + b)


def test_zero_and_empty() -> None:
    assert sketch.quantiles({}, [0.5]) == [None]
    assert sketch.quantiles(sketch.add({}, [0.0, 0.0, 10.0]), [0.5]) == [0.0]
    with pytest.raises(ValueError, match="finite"):
        sketch.bin_key(-1)


def test_bins_with_zero_count_are_ignored() -> None:
    bins = sketch.add({}, [10.0, 20.0])
    bins[sketch.bin_key(20.0)] = 0
    estimate = sketch.quantiles(bins, [1.0])[0]
    assert estimate is not None and abs(estimate - 10) / 10 <= sketch.ALPHA
