"""Holt forecasts and anomaly flags, and /trends built on them."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from tests.unit.fakes import FakeStore, FixedClock
from video_monitoring.analytics import forecast
from video_monitoring.analytics.figures import AnalyticsEngine
from video_monitoring.analytics.performance import PerformanceMonitor
from video_monitoring.core.models import Window
from video_monitoring.ingest.pipeline import Counting
from video_monitoring.ingest.service import IngestService


def test_a_straight_line_is_continued_exactly_with_no_spread() -> None:
    model = forecast.fit([3.0 + 2 * i for i in range(10)])
    assert model is not None
    assert model.sigma == pytest.approx(0, abs=1e-9)
    points = forecast.forecast(model, 3)
    assert [round(v, 9) for v, _, _ in points] == [23.0, 25.0, 27.0]
    assert all(hi - lo == pytest.approx(0, abs=1e-9) for _, lo, hi in points)
    assert forecast.anomalies(model) == []


def test_too_few_points_give_no_model() -> None:
    assert forecast.fit([1.0, 2.0, 3.0]) is None


def test_a_spike_is_flagged_and_the_interval_widens_with_the_horizon() -> None:
    rng = random.Random(5)
    values = [100 + 0.5 * i + rng.gauss(0, 2) for i in range(48)]
    values[30] += 40
    model = forecast.fit(values)
    assert model is not None
    assert 30 in forecast.anomalies(model)
    assert len(forecast.anomalies(model)) <= 3
    widths = [hi - lo for _, lo, hi in forecast.forecast(model, 5)]
    assert widths == sorted(widths) and widths[0] > 0


def test_prediction_interval_covers_about_95_percent() -> None:
    rng = random.Random(9)
    inside = 0
    trials = 300
    for _ in range(trials):
        values = [50 + 1.0 * i + rng.gauss(0, 3) for i in range(41)]
        model = forecast.fit(values[:40])
        assert model is not None
        _, lo, hi = forecast.forecast(model, 1)[0]
        inside += lo <= values[40] <= hi
    assert 0.88 <= inside / trials <= 0.995


def test_trends_forecast_counts_from_whole_hours_only() -> None:
    day = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)
    store = FakeStore()
    clock = FixedClock(day + dt.timedelta(hours=12, minutes=30))
    monitor = PerformanceMonitor(store)
    ingest = IngestService(store, shards=2, clock=clock)
    engine = AnalyticsEngine(store, monitor, Counting(2), clock)
    n = 0
    for hour in range(13):
        for _ in range(5 + 3 * hour if hour < 12 else 1):  # the 13th hour is only half over
            n += 1
            created = day + dt.timedelta(hours=hour, minutes=n % 30)
            store.source[f"g{n}"] = {
                "userId": "u", "provider": "runway", "status": "queued",
                "createdAt": created, "userTier": "free",
            }  # fmt: skip
            ingest.record_generation_metrics(f"g{n}")
    window = Window(start=day, end=day + dt.timedelta(hours=12, minutes=30))
    result = engine.trends(window, "hour", "total", 3)
    assert [p["total"] for p in result["series"]] == [5 + 3 * h for h in range(12)] + [1]
    assert [p["complete"] for p in result["series"]] == [True] * 12 + [False]
    predicted = [p["value"] for p in result["forecast"]["points"]]
    assert predicted == pytest.approx([41, 44, 47], abs=1e-6)
    assert result["forecast"]["points"][0]["start"] == day + dt.timedelta(hours=12)
    assert result["anomalies"] == []
    short = Window(start=day, end=day + dt.timedelta(hours=3))
    assert engine.trends(short, "hour", "total", 3)["forecast"] is None


def test_gaps_are_interpolated_and_edges_trimmed() -> None:
    from video_monitoring.analytics.forecast import fill_gaps

    t = [dt.datetime(2026, 11, 23, h, tzinfo=dt.UTC) for h in range(6)]
    points = [(t[0], None), (t[1], 1.0), (t[2], None), (t[3], None), (t[4], 4.0), (t[5], None)]
    assert fill_gaps(points) == [(t[1], 1.0), (t[2], 2.0), (t[3], 3.0), (t[4], 4.0)]
    assert fill_gaps([(t[0], None)]) == []


def test_buckets_ending_in_the_last_15_minutes_are_not_fitted() -> None:
    day = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)
    store = FakeStore()
    clock = FixedClock(day + dt.timedelta(hours=1))
    engine = AnalyticsEngine(store, PerformanceMonitor(store), Counting(2), clock)
    window = Window(start=day, end=day + dt.timedelta(minutes=40))
    series = engine.trends(window, "minute", "total", 1)["series"]
    assert [p["fitted"] for p in series] == [True] * 25 + [False] * 15


def test_trends_carry_quality_and_rating_per_bucket() -> None:
    day = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)
    store = FakeStore()
    clock = FixedClock(day + dt.timedelta(hours=3))
    monitor = PerformanceMonitor(store)
    ingest = IngestService(store, shards=2, clock=clock)
    engine = AnalyticsEngine(store, monitor, Counting(2), clock)
    scores: dict[int, list[tuple[float, int | None]]] = {0: [(8.0, 5), (9.5, None)], 1: [(6.25, 2)]}
    n = 0
    for hour, rated in scores.items():
        for quality, rating in rated:
            n += 1
            created = day + dt.timedelta(hours=hour, minutes=n)
            doc = {
                "userId": "u", "provider": "runway", "status": "completed", "userTier": "free",
                "createdAt": created, "startedAt": created + dt.timedelta(seconds=1),
                "completedAt": created + dt.timedelta(seconds=30), "qualityScore": quality,
            }  # fmt: skip
            if rating is not None:
                doc["userRating"] = rating
            store.source[f"g{n}"] = doc
            ingest.record_generation_metrics(f"g{n}")
    window = Window(start=day, end=day + dt.timedelta(hours=3))
    series = engine.trends(window, "hour", "avgQualityScore", 0)["series"]
    assert [p["avgQualityScore"] for p in series] == [pytest.approx(8.75), 6.25, None]
    assert [p["avgUserRating"] for p in series] == [5.0, 2.0, None]


def test_trends_carry_revenue_upgrades_and_conversion_per_bucket() -> None:
    """Per hour: premium upgrades and their revenue (the product's, whatever the provider
    filter), and conversion = upgrades per free-tier generation, as /summary defines it."""
    day = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)
    store = FakeStore()
    clock = FixedClock(day + dt.timedelta(hours=4))
    monitor = PerformanceMonitor(store)
    ingest = IngestService(store, shards=2, clock=clock)
    engine = AnalyticsEngine(store, monitor, Counting(2), clock)
    # hour: (free generations, premium generations, upgrade amounts)
    plan = {0: (4, 1, [9.99, 19.99]), 1: (0, 2, [5.0]), 2: (5, 0, [])}
    n = 0
    for hour, (free, premium, amounts) in plan.items():
        for tier, count in (("free", free), ("premium", premium)):
            for _ in range(count):
                n += 1
                created = day + dt.timedelta(hours=hour, minutes=n)
                store.source[f"g{n}"] = {
                    "userId": f"u{n}", "provider": "runway", "status": "completed",
                    "userTier": tier, "createdAt": created,
                    "completedAt": created + dt.timedelta(seconds=30),
                }  # fmt: skip
                ingest.record_generation_metrics(f"g{n}")
        for amount in amounts:
            n += 1
            store.events[f"e{n}"] = {
                "type": "premium_upgrade", "userId": f"u{n}", "amountUsd": amount,
                "timestamp": day + dt.timedelta(hours=hour, minutes=n),
            }  # fmt: skip
            ingest.record_app_event(f"e{n}")
    window = Window(start=day, end=day + dt.timedelta(hours=4))
    body = engine.trends(window, "hour", "revenueUsd", 0)
    series = body["series"]
    assert [p["revenueUsd"] for p in series] == [pytest.approx(29.98), 5.0, 0.0, 0.0]
    assert [p["upgrades"] for p in series] == [2, 1, 0, 0]
    assert [p["freeGenerations"] for p in series] == [4, 0, 5, 0]
    assert [p["conversionRate"] for p in series] == [0.5, None, 0.0, None]
    pika = engine.trends(Window(start=day, end=window.end, provider="pika"), "hour",
                                 "conversionRate", 0)["series"]  # fmt: skip
    assert [p["upgrades"] for p in pika] == [2, 1, 0, 0]  # upgrades have no provider
    assert [p["conversionRate"] for p in pika] == [None] * 4  # pika had no free generations
