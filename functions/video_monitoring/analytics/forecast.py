"""Forecasts and anomaly flags for trend series: Holt's linear (double exponential) smoothing.

The smoothing constants are chosen by a grid search minimising the squared one-step-ahead errors
over the series; the prediction interval at h steps uses the classic Holt variance
sigma^2 * (1 + sum_{j<h} alpha^2 (1 + j beta)^2), sigma estimated from those errors. A point is
flagged anomalous when its one-step error exceeds `ANOMALY_Z` robust standard deviations
(1.4826 x the median absolute error), so one outlier cannot hide itself by inflating sigma.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

GRID = tuple(round(0.1 * i, 1) for i in range(1, 10))
MIN_POINTS = 4
ANOMALY_Z = 3.0
Z_95 = statistics.NormalDist().inv_cdf(0.975)


@dataclass(frozen=True)
class Fit:
    """A fitted Holt model: constants, last level and trend, one-step errors."""

    alpha: float
    beta: float
    level: float
    trend: float
    errors: tuple[float, ...]

    @property
    def sigma(self) -> float:
        """Standard deviation of the one-step errors (n - 2 degrees of freedom)."""
        n = len(self.errors)
        return math.sqrt(sum(e * e for e in self.errors) / max(n - 2, 1))


def holt(values: Sequence[float], alpha: float, beta: float) -> Fit:
    """Run Holt's recursions over the series (initialised from its first two points); errors
    are the one-step-ahead forecast errors of points 2, 3, ..."""
    level, trend = values[1], values[1] - values[0]
    errors = []
    for value in values[2:]:
        predicted = level + trend
        errors.append(value - predicted)
        new_level = alpha * value + (1 - alpha) * predicted
        trend = beta * (new_level - level) + (1 - beta) * trend
        level = new_level
    return Fit(alpha, beta, level, trend, tuple(errors))


def fit(values: Sequence[float]) -> Fit | None:
    """Best constants on the grid (least squared one-step error); None with too few points."""
    if len(values) < MIN_POINTS:
        return None
    best: Fit | None = None
    best_sse = math.inf
    for alpha in GRID:
        for beta in GRID:
            candidate = holt(values, alpha, beta)
            sse = sum(e * e for e in candidate.errors)
            if sse < best_sse - 1e-12:
                best, best_sse = candidate, sse
    return best


def forecast(model: Fit, horizon: int) -> list[tuple[float, float, float]]:
    """(value, lower, upper) for each of the next `horizon` periods, 95% prediction interval."""
    result = []
    for h in range(1, horizon + 1):
        value = model.level + h * model.trend
        spread = 1 + sum((model.alpha * (1 + j * model.beta)) ** 2 for j in range(1, h))
        half = Z_95 * model.sigma * math.sqrt(spread)
        result.append((value, value - half, value + half))
    return result


def anomalies(model: Fit) -> list[int]:
    """Indices (into the fitted series) of points whose one-step error is beyond ANOMALY_Z
    robust standard deviations; the first two points initialise the model and are never
    flagged."""
    errors = model.errors
    if len(errors) < MIN_POINTS - 2:
        return []
    median = statistics.median(errors)
    scale = max(1.4826 * statistics.median(abs(e - median) for e in errors), 1e-9)
    return [i + 2 for i, e in enumerate(errors) if abs(e - median) > ANOMALY_Z * scale]


def fill_gaps(
    points: list[tuple[dt.datetime, float | None]],
) -> list[tuple[dt.datetime, float]]:
    """Drop leading and trailing buckets without a value; interpolate inner ones linearly, so
    the fitted series stays evenly spaced."""
    known = [i for i, (_, value) in enumerate(points) if value is not None]
    result: list[tuple[dt.datetime, float]] = []
    for left, right in zip(known, [*known[1:], known[-1]] if known else [], strict=True):
        start, value = points[left]
        right_value = points[right][1]
        assert value is not None and right_value is not None
        result.append((start, value))
        for i in range(left + 1, right):
            share = (i - left) / (right - left)
            result.append((points[i][0], value + share * (right_value - value)))
    return result
