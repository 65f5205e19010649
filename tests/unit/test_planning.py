"""The capacity-planning forecast: the least-squares fit worked by hand, the trend and seasons
recovered from noise-free demand, the backtest's error bound, the fallbacks of short histories,
Little's law against the limits, and the forecast served on GET /capacity."""

from __future__ import annotations

import datetime as dt
import functools
import statistics
from collections.abc import Mapping
from typing import Any

import pytest

from capacity_forecast_bench import PEAK_MAPE_BOUND, backtest, true_demand
from tests.unit.queue_fakes import FakeQueue
from tests.unit.test_alert_manager import NOW, World
from video_monitoring.analytics.capacity import CapacityService, ProviderCapacity
from video_monitoring.analytics.planning import (
    DAILY,
    NONE,
    WEEKLY,
    HourCells,
    Planner,
    fit_demand,
    fit_profile,
    hourly_capacity,
    hourly_cells,
    mape,
)
from video_monitoring.analytics.queue import QueueService
from video_monitoring.core.models import Window

TODAY = dt.datetime(2026, 11, 25, tzinfo=dt.UTC)


def test_fit_profile_is_least_squares_worked_by_hand() -> None:
    # Period 2. Cell 0: t = 0, 2, 4 -> y = 1, 4, 5 (mean t 2, mean y 10/3, Sxy 8, Stt 8).
    # Cell 1: t = 1, 3, 5 -> y = 5, 7, 10 (mean t 3, mean y 22/3, Sxy 10, Stt 8).
    # slope = (8 + 10) / (8 + 8) = 1.125; levels 10/3 - 2.25 and 22/3 - 3.375.
    fit = fit_profile([1, 5, 4, 7, 5, 10], period=2, trend=True)
    assert fit.slope == pytest.approx(1.125)
    assert fit.levels == pytest.approx((10 / 3 - 2.25, 22 / 3 - 3.375))
    assert fit.predict(6) == pytest.approx(10 / 3 - 2.25 + 6.75)
    assert fit.predict(7) == pytest.approx(22 / 3 - 3.375 + 7.875)
    flat = fit_profile([1, 5, 4, 7, 5, 10], period=2, trend=False)
    assert flat.slope == 0 and flat.levels == pytest.approx((10 / 3, 22 / 3))
    assert fit_profile([0, 9, 0, 1], period=2, trend=True).predict(100) == 0.0  # never negative
    with pytest.raises(ValueError, match="period of 3"):
        fit_profile([1, 2], period=3, trend=False)


def test_the_weekly_model_recovers_a_known_trend_and_both_seasons_exactly() -> None:
    history = [true_demand(t, trend_per_day=2.5) for t in range(28 * 24)]
    model, fit = fit_demand(history)
    assert model == WEEKLY and fit is not None
    assert fit.slope * 24 == pytest.approx(2.5, abs=1e-9)
    future = range(len(history), len(history) + 14 * 24)
    assert [fit.predict(t) for t in future] == pytest.approx(
        [true_demand(t, trend_per_day=2.5) for t in future]
    )


def test_backtest_error_on_noisy_simulated_history_stays_under_the_bound() -> None:
    runs = [backtest(28, seed) for seed in range(5)]
    assert max(float(r["peakMape"]) for r in runs) <= PEAK_MAPE_BOUND
    assert statistics.mean(float(r["hourlyMape"]) for r in runs) <= 0.12
    assert all(float(r["trendPerDay"]) == pytest.approx(1.5, abs=0.15) for r in runs)


def test_mape_skips_zero_actuals_and_refuses_all_zero() -> None:
    assert mape([10, 0, 20], [12, 5, 15]) == pytest.approx((0.2 + 0.25) / 2)
    with pytest.raises(ValueError, match="every actual"):
        mape([0], [1])


def test_short_histories_fall_back_to_the_hour_of_day_then_to_none() -> None:
    # Ten days: 3 at 15:00 on even days, 5 on odd days, 1 at every other hour; no trend.
    history = [
        (3.0 if d % 2 == 0 else 5.0) if h == 15 else 1.0 for d in range(10) for h in range(24)
    ]
    model, fit = fit_demand(history + [9.0] * 5)  # a partial day is left out
    assert model == DAILY and fit is not None and fit.slope == 0
    assert fit.levels[15] == 4.0 and fit.levels[3] == 1.0
    assert fit_demand([7.0] * 23) == (NONE, None)


def test_littles_law_and_the_rate_limit_give_the_hourly_capacity() -> None:
    # 10 slots each held 120 s: 10 x 3600 / 120 = 300 an hour; 4 a minute: 240 an hour.
    assert hourly_capacity(10, None, 120.0) == (300.0, "maxConcurrent")
    assert hourly_capacity(10, 4, 120.0) == (240.0, "maxPerMinute")
    assert hourly_capacity(10, None, None) == (None, None)
    assert hourly_capacity(None, None, 60.0) == (None, None)


def linear_hours(days: int) -> HourCells:
    """`days` days to TODAY of runway demand 10 + t/24 an hour, 40 + t/24 at 15:00, each
    generation rendering 90 s; and a pika that started yesterday."""
    start = TODAY - dt.timedelta(days=days)
    cells: HourCells = {}
    for t in range(days * 24):
        demand = (40.0 if t % 24 == 15 else 10.0) + t / 24
        row: list[tuple[str, Mapping[str, Any]]] = [
            ("runway|free", {"n": demand, "rt/sum": 90_000 * demand, "rt/n": demand})
        ]
        if t >= (days - 1) * 24:
            row.append(("pika|premium", {"n": 2.0}))
        cells[start + dt.timedelta(hours=t)] = row
    return cells


def test_the_forecast_finds_the_first_day_over_80_percent_and_the_headroom() -> None:
    # Fourteen days of history: day D's peak is at 15:00, 40 + (24 D + 15) / 24 = 40.625 + D; the
    # forecast's days are D = 14..27: 54.625 .. 67.625. Two slots of 90 s: 80 an hour; 80% is
    # 64, first reached on D = 24 (64.625), 10 days from today. Headroom 1 - 67.625 / 80.
    planner = Planner(lambda start, end: linear_hours(14))
    got = planner.forecasts(NOW, {"runway": (2, None), "pika": (None, None)})
    runway = got["runway"]
    assert runway["model"] == WEEKLY and runway["historyDays"] == 14
    assert runway["historyStart"] == "2026-11-11T00:00:00Z"
    assert runway["trendPerDay"] == pytest.approx(1.0)
    assert runway["meanBusySeconds"] == pytest.approx(90.0)
    assert (runway["capacityPerHour"], runway["limitedBy"]) == (
        pytest.approx(80.0),
        "maxConcurrent",
    )
    days = runway["days"]
    assert len(days) == 14 and days[0]["date"] == "2026-11-25"
    assert days[0]["peakAt"] == "2026-11-25T15:00:00Z"
    assert [d["peakPerHour"] for d in days] == pytest.approx([54.625 + j for j in range(14)])
    assert days[0]["utilization"] == pytest.approx(54.625 / 80)
    assert runway["crosses80At"] == "2026-12-05"
    assert runway["headroom"] == pytest.approx(1 - 67.625 / 80)
    assert [d["peakPerHour"] for d in runway["observed"]] == pytest.approx(
        [40.625 + d for d in range(14)]
    )
    assert runway["observed"][-1]["date"] == "2026-11-24"
    # pika: one day (leading empty days dropped): hour-of-day levels, no limits, no capacity.
    pika = got["pika"]
    assert (pika["model"], pika["historyDays"], pika["trendPerDay"]) == (DAILY, 1, None)
    assert [d["peakPerHour"] for d in pika["days"]] == [2.0] * 14
    assert pika["days"][0]["peakAt"] == "2026-11-25T00:00:00Z"  # ties: the earliest hour
    assert (pika["capacityPerHour"], pika["headroom"], pika["crosses80At"]) == (None, None, None)


def test_no_history_is_no_forecast() -> None:
    got = Planner(lambda start, end: {}).forecasts(NOW, {"heygen": (5, 5)})["heygen"]
    assert got["model"] == NONE and got["days"] == [] and got["historyDays"] == 0
    assert got["headroom"] is None and got["crosses80At"] is None


def test_get_capacity_serves_the_forecast_from_the_recorded_hourly_rollups() -> None:
    world = World()
    # Yesterday and the day before: three generations at 15:xx and one at 09:xx, each completed
    # 60 s after creation having started 2 s in (58 s of rendering).
    for day_ago in (0, 1):
        base = 1250 + day_ago * 1440  # 2026-11-24 15:10 is 1,250 minutes before NOW
        for extra in (0, 5, 10):
            world.add("runway", "completed", 60, ago_minutes=base - extra)
        world.add("runway", "completed", 60, ago_minutes=base + 350)  # 09:20
    queue = FakeQueue([], {"runway": ProviderCapacity(max_concurrent=1)})
    capacity = CapacityService(
        queue, QueueService(queue, ("runway",)), world.monitor.cells, lambda: NOW,
        Planner(functools.partial(hourly_cells, world.store)),
    )  # fmt: skip
    window = Window(start=NOW - dt.timedelta(hours=1), end=NOW)
    row = capacity.capacity(window)["providers"][0]
    forecast = row["forecast"]
    assert (forecast["model"], forecast["historyDays"]) == (DAILY, 2)
    assert forecast["meanBusySeconds"] == pytest.approx(58.0)
    assert forecast["capacityPerHour"] == pytest.approx(3600 / 58)
    assert [d["peakPerHour"] for d in forecast["days"]] == [3.0] * 14
    assert forecast["days"][13]["peakAt"] == "2026-12-08T15:00:00Z"
    assert forecast["headroom"] == pytest.approx(1 - 3 * 58 / 3600)
    assert forecast["crosses80At"] is None
    assert [d["peakPerHour"] for d in forecast["observed"]] == [3.0, 3.0]
