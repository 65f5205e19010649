"""Capacity planning: each provider's peak-hour demand forecast for the next 14 days from the
hourly rollups, against what its limits let it serve in an hour (docs/capacity.md, "Planning").

Demand is the number of generations created per UTC hour for the provider (the `n` counter of
its cells in the hourly rollup, every tier and status): what is asked of the provider. The model
is an ordinary least-squares fit of a linear trend plus one level per hour of the week (daily and
weekly seasonality together, so a weekend's different day shape is kept), solved in closed form
by the within-cell estimator: exact, O(history), deterministic. With fewer than two whole weeks a
trend cannot be told from the week's shape, so the fit falls back to one level per hour of the
day without a trend; with less than one whole day there is no forecast.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from video_monitoring.core.models import rfc3339
from video_monitoring.ingest import counters
from video_monitoring.ingest.monitoring_store import MonitoringStore
from video_monitoring.ingest.rollup import BucketRange, floor_time, split_cell

HISTORY_DAYS = 28  # four whole weeks: each hour of the week seen four times
HORIZON_DAYS = 14
WEEKLY_FROM_DAYS = 14  # two whole weeks: the trend is told from the week's shape
ALERT_SHARE = 0.8
DAY_HOURS = 24
WEEK_HOURS = 7 * DAY_HOURS
HOUR = dt.timedelta(hours=1)
WEEKLY = "trend+hour-of-week"
DAILY = "hour-of-day"
NONE = "none"
HourCells = dict[dt.datetime, list[tuple[str, Mapping[str, Any]]]]


@dataclass(frozen=True)
class ProfileFit:
    """y_t = level[t mod period] + slope * t, fitted by least squares (slope 0 without trend)."""

    period: int
    slope: float
    levels: tuple[float, ...]

    def predict(self, t: int) -> float:
        """The fitted demand at step t (never below zero: demand cannot be negative)."""
        return max(0.0, self.levels[t % self.period] + self.slope * t)


def fit_profile(values: Sequence[float], period: int, trend: bool) -> ProfileFit:
    """Least-squares levels per cell (t mod period) and, with `trend`, one common slope: the
    within-cell estimator, slope = sum (t - mean_t)(y - mean_y) / sum (t - mean_t)^2 over each
    cell's own means, which is exactly OLS on the cell indicators plus t."""
    if len(values) < period:
        raise ValueError(f"fit_profile: {len(values)} values cannot fill a period of {period}")
    counts, t_sums, y_sums = [0] * period, [0.0] * period, [0.0] * period
    for t, y in enumerate(values):
        counts[t % period] += 1
        t_sums[t % period] += t
        y_sums[t % period] += y
    t_means = [s / n for s, n in zip(t_sums, counts, strict=True)]
    y_means = [s / n for s, n in zip(y_sums, counts, strict=True)]
    slope = 0.0
    if trend:
        sxy = stt = 0.0
        for t, y in enumerate(values):
            dt_ = t - t_means[t % period]
            sxy += dt_ * (y - y_means[t % period])
            stt += dt_ * dt_
        slope = sxy / stt if stt > 0 else 0.0
    levels = tuple(y - slope * t for y, t in zip(y_means, t_means, strict=True))
    return ProfileFit(period, slope, levels)


def choose_model(days: int) -> tuple[str, int, bool]:
    """(model, period in hours, trend) for a history of whole days."""
    if days >= WEEKLY_FROM_DAYS:
        return WEEKLY, WEEK_HOURS, True
    if days >= 1:
        return DAILY, DAY_HOURS, False
    return NONE, 0, False


def fit_demand(hourly: Sequence[float]) -> tuple[str, ProfileFit | None]:
    """The model a history of whole days of hourly demand gets, and its fit."""
    model, period, trend = choose_model(len(hourly) // DAY_HOURS)
    if model == NONE:
        return model, None
    return model, fit_profile(hourly[: len(hourly) // DAY_HOURS * DAY_HOURS], period, trend)


def daily_peaks(fit: ProfileFit, first: int, days: int) -> list[tuple[int, float]]:
    """(hour offset, demand) of the busiest forecast hour of each of `days` days, the first
    starting at step `first` (ties: the earliest hour)."""
    peaks = []
    for day in range(days):
        start = first + day * DAY_HOURS
        hours = [(fit.predict(t), -t) for t in range(start, start + DAY_HOURS)]
        value, negative = max(hours)
        peaks.append((-negative, value))
    return peaks


def mape(actual: Sequence[float], predicted: Sequence[float]) -> float:
    """Mean absolute percentage error (as a share) over the points whose actual value is not 0."""
    pairs = [(a, p) for a, p in zip(actual, predicted, strict=True) if a != 0]
    if not pairs:
        raise ValueError("mape: every actual value is 0")
    return sum(abs(a - p) / abs(a) for a, p in pairs) / len(pairs)


def hourly_capacity(
    max_concurrent: int | None, max_per_minute: int | None, busy_seconds: float | None
) -> tuple[float | None, str | None]:
    """(generations per hour the limits allow, the limit that binds). Little's law: a provider
    holding each generation `busy_seconds` on average serves at most maxConcurrent x 3600 /
    busy_seconds an hour; a rate limit allows maxPerMinute x 60."""
    limits: list[tuple[float, str]] = []
    if max_concurrent is not None and busy_seconds is not None and busy_seconds > 0:
        limits.append((max_concurrent * 3600 / busy_seconds, "maxConcurrent"))
    if max_per_minute is not None:
        limits.append((max_per_minute * 60.0, "maxPerMinute"))
    if not limits:
        return None, None
    value, name = min(limits)
    return value, name


@dataclass
class History:
    """One provider's hourly demand and render time over the history's whole days."""

    start: dt.datetime
    demand: list[float]
    busy_sum: float = 0.0
    busy_n: float = 0.0

    def trimmed(self) -> History:
        """Without the leading whole days on which the provider had no generation."""
        days = len(self.demand) // DAY_HOURS
        first = next(
            (d for d in range(days) if any(self.demand[d * DAY_HOURS : (d + 1) * DAY_HOURS])),
            days,
        )
        return History(
            self.start + dt.timedelta(days=first),
            self.demand[first * DAY_HOURS :],
            self.busy_sum,
            self.busy_n,
        )

    @property
    def busy_seconds(self) -> float | None:
        """Mean render seconds (startedAt -> completedAt) of the completed generations."""
        return None if self.busy_n <= 0 else self.busy_sum / self.busy_n / counters.RENDER.scale


def histories(
    cells: HourCells, start: dt.datetime, hours: int, providers: Iterable[str]
) -> dict[str, History]:
    """Per provider, hourly demand from `start` over `hours` hours (0 where nothing was stored),
    read from three counters of each cell rather than merging whole cells."""
    out = {p: History(start, [0.0] * hours) for p in providers}
    for hour, hour_cells in cells.items():
        index = int((hour - start) / HOUR)
        if not 0 <= index < hours:
            continue
        for key, flat in hour_cells:
            history = out.get(split_cell(key)[0])
            if history is None:
                continue
            history.demand[index] += flat.get(counters.GENERATIONS.key, 0)
            history.busy_sum += flat.get(counters.RENDER.sum_key, 0)
            history.busy_n += flat.get(counters.RENDER.n_key, 0)
    return out


def hourly_cells(store: MonitoringStore, start: dt.datetime, end: dt.datetime) -> HourCells:
    """Every cell of the hourly rollups of [start, end), by hour."""
    cells: HourCells = {}
    for doc in store.rollups([BucketRange("hour", start, end)]):
        cells.setdefault(doc.start, []).extend(doc.cells.items())
    return cells


def empty_forecast(model: str, history: History) -> dict[str, Any]:
    """The served forecast when there is too little history to fit."""
    return {
        "model": model, "historyDays": len(history.demand) // DAY_HOURS, "historyStart": None,
        "trendPerDay": None, "meanBusySeconds": history.busy_seconds, "capacityPerHour": None,
        "limitedBy": None, "days": [], "observed": [], "headroom": None, "crosses80At": None,
    }  # fmt: skip


def forecast_json(
    history: History,
    today: dt.datetime,
    max_concurrent: int | None,
    max_per_minute: int | None,
) -> dict[str, Any]:
    """One provider's served forecast: the busiest hour of each of the 14 days from `today`
    (00:00 UTC, where the history ends), each against the hourly capacity, the headroom left at
    the highest of them and the first day at or above 80% of capacity."""
    history = history.trimmed()
    model, fit = fit_demand(history.demand)
    if fit is None:
        return empty_forecast(model, history)
    busy = history.busy_seconds
    capacity, limited_by = hourly_capacity(max_concurrent, max_per_minute, busy)
    peaks = [
        (history.start + offset * HOUR, value, None if capacity is None else value / capacity)
        for offset, value in daily_peaks(fit, len(history.demand), HORIZON_DAYS)
    ]
    days = [
        {"date": at.date().isoformat(), "peakPerHour": value, "peakAt": rfc3339(at),
         "utilization": share}
        for at, value, share in peaks
    ]  # fmt: skip
    shares = [share for _, _, share in peaks if share is not None]
    crossing = next(
        (at.date().isoformat() for at, _, share in peaks if (share or 0.0) >= ALERT_SHARE), None
    )
    return {
        "model": model,
        "historyDays": len(history.demand) // DAY_HOURS,
        "historyStart": rfc3339(history.start),
        "trendPerDay": fit.slope * DAY_HOURS if model == WEEKLY else None,
        "meanBusySeconds": busy,
        "capacityPerHour": capacity,
        "limitedBy": limited_by,
        "days": days,
        "observed": observed_peaks(history, today),
        "headroom": 1 - max(shares) if shares else None,
        "crosses80At": crossing,
    }


def observed_peaks(history: History, today: dt.datetime) -> list[dict[str, Any]]:
    """The busiest hour's demand of each of the last (up to) 14 days of history."""
    days = len(history.demand) // DAY_HOURS
    out = []
    for day in range(max(0, days - HORIZON_DAYS), days):
        hours = history.demand[day * DAY_HOURS : (day + 1) * DAY_HOURS]
        date = today - dt.timedelta(days=days - day)
        out.append({"date": date.date().isoformat(), "peakPerHour": max(hours)})
    return out


class Planner:
    """Forecasts for every provider from one read of the hourly rollups of the history."""

    def __init__(
        self, hours: Callable[[dt.datetime, dt.datetime], HourCells] | None = None
    ) -> None:
        self._hours = hours

    def forecasts(
        self,
        now: dt.datetime,
        limits: Mapping[str, tuple[int | None, int | None]],
    ) -> dict[str, dict[str, Any]]:
        """Per provider (keys of `limits`: (maxConcurrent, maxPerMinute)), its forecast from the
        HISTORY_DAYS whole days before today: at most HISTORY_DAYS x 24 hourly documents."""
        today = floor_time(now, "day")
        start = today - dt.timedelta(days=HISTORY_DAYS)
        hours = HISTORY_DAYS * DAY_HOURS
        cells = {} if self._hours is None else self._hours(start, today)
        found = histories(cells, start, hours, limits)
        return {p: forecast_json(found[p], today, *limits[p]) for p in limits}
