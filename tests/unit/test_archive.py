"""/trends beyond the rollups' retention: which source answers, the split at the horizon, and the
BigQuery rows turned into the rollups' point shape."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.unit.fakes import FakeStore, FixedClock
from video_monitoring.analytics_engine import AnalyticsEngine
from video_monitoring.archive import points_from_rows, trend_sql
from video_monitoring.errors import InvalidArgument
from video_monitoring.models import Window
from video_monitoring.performance_monitor import PerformanceMonitor
from video_monitoring.retention import Retention
from video_monitoring.rollup import Granularity

NOW = dt.datetime(2026, 11, 25, 12, 30, tzinfo=dt.UTC)
# NOW - 30 days is 2026-10-26 12:30: that day's aggregates may already be expiring.
HORIZON = dt.datetime(2026, 10, 27, tzinfo=dt.UTC)


class FakeArchive:
    def __init__(self) -> None:
        self.asked: list[Window] = []

    def trend_points(self, window: Window, granularity: Granularity) -> list[dict[str, Any]]:
        self.asked.append(window)
        rows = [{"bucket": window.start, "total": 7, "completed": 3, "failed": 1,
                 "avg_seconds": 40.0, "quantiles": list(range(101)), "cost": 2.5}]  # fmt: skip
        return points_from_rows(rows, window, granularity)


def engine(archive: FakeArchive | None) -> AnalyticsEngine:
    store, clock = FakeStore(), FixedClock(NOW)
    monitor = PerformanceMonitor(store, 2, clock)
    return AnalyticsEngine(store, monitor, 2, clock, retention=Retention(10, 30), archive=archive)


def days(start: dt.datetime, end: dt.datetime) -> Window:
    return Window(start=start, end=end)


def test_recent_windows_come_from_the_rollups() -> None:
    archive = FakeArchive()
    result = engine(archive).analyze_trends(days(HORIZON, NOW), "day", "total", 3)
    assert result["source"] == "firestore"
    assert archive.asked == []
    with_the_expiring_day = days(HORIZON - dt.timedelta(days=1), NOW)
    assert engine(archive).analyze_trends(with_the_expiring_day, "day", "total", 3)["source"] == (
        "bigquery+firestore"
    )


def test_old_windows_come_from_the_archive_and_mixed_ones_split_at_the_horizon() -> None:
    archive = FakeArchive()
    old = days(HORIZON - dt.timedelta(days=20), HORIZON - dt.timedelta(days=10))
    result = engine(archive).analyze_trends(old, "day", "total", 3)
    assert result["source"] == "bigquery"
    assert archive.asked == [old]
    assert len(result["series"]) == 10
    assert result["series"][0]["total"] == 7 and result["series"][1]["total"] == 0

    mixed = days(HORIZON - dt.timedelta(days=3), HORIZON + dt.timedelta(days=2))
    result = engine(archive).analyze_trends(mixed, "hour", "total", 3)
    assert result["source"] == "bigquery+firestore"
    assert archive.asked[-1] == days(mixed.start, HORIZON)
    starts = [p["start"] for p in result["series"]]
    assert starts == [mixed.start + dt.timedelta(hours=h) for h in range(5 * 24)]


def test_old_windows_without_an_archive_are_a_400_naming_from() -> None:
    old = days(HORIZON - dt.timedelta(days=5), HORIZON - dt.timedelta(days=1))
    with pytest.raises(InvalidArgument, match=r"^from: Firestore keeps aggregates for 30 days"):
        engine(None).analyze_trends(old, "day", "total", 3)


def test_rows_become_points_with_every_bucket() -> None:
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    rows = [
        {"bucket": start + dt.timedelta(days=1), "total": 4, "completed": 2, "failed": 2,
         "avg_seconds": 61.5, "quantiles": [float(i) for i in range(101)], "cost": 1.25},
        {"bucket": start + dt.timedelta(days=2), "total": 1, "completed": 0, "failed": 0,
         "avg_seconds": None, "quantiles": None, "cost": None},
    ]  # fmt: skip
    points = points_from_rows(rows, days(start, start + dt.timedelta(days=3)), "day")
    assert [p["total"] for p in points] == [0, 4, 1]
    assert points[0]["successRate"] is None and points[0]["costUsd"] == 0.0
    assert points[1]["successRate"] == 0.5
    assert points[1]["generationTimeSeconds"] == {
        "avg": 61.5,
        "p50": 50.0,
        "p95": 95.0,
        "p99": 99.0,
    }
    assert points[2]["generationTimeSeconds"] == {
        "avg": None,
        "p50": None,
        "p95": None,
        "p99": None,
    }


def test_trend_sql_filters_the_provider_only_when_asked() -> None:
    assert "@provider" in trend_sql("p.d.generation_metrics", "day", True)
    sql = trend_sql("p.d.generation_metrics", "hour", False)
    assert "@provider" not in sql and "TIMESTAMP_TRUNC(createdAt, HOUR)" in sql
