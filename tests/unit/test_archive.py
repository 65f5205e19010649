"""/trends beyond the rollups' retention: which source answers, the split at the horizon, and the
BigQuery rows turned into the rollups' point shape."""

from __future__ import annotations

import datetime as dt
import json
import math
import random
from typing import Any

import pytest

from tests.unit.fakes import FakeStore, FixedClock
from video_monitoring.analytics import user_insights
from video_monitoring.analytics.figures import AnalyticsEngine
from video_monitoring.analytics.performance import PerformanceMonitor
from video_monitoring.core.errors import InvalidArgument
from video_monitoring.core.models import AppEvent, GenerationDocument, Window
from video_monitoring.ingest import sketch
from video_monitoring.ingest.bounds import DEFAULT_BOUNDS, Bounds
from video_monitoring.ingest.counters import MICRO_USD, MILLI, MS
from video_monitoring.ingest.events import event_contribution
from video_monitoring.ingest.monitoring_store import UserActivity
from video_monitoring.ingest.pipeline import Counting, generation_user_day
from video_monitoring.ingest.rollup import Granularity, contribution, fixed
from video_monitoring.ingest.service import IngestService
from video_monitoring.privacy.retention import Retention
from video_monitoring.warehouse.archive import (
    Cells,
    cells_from_rows,
    event_cells_from_rows,
    fixed_sql,
    points_from_rows,
    trend_sql,
    user_days_from_rows,
)

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

    def cells(self, window: Window, bounds: Bounds) -> Cells:
        self.asked.append(window)
        return []

    def event_cells(self, window: Window, bounds: Bounds) -> Cells:
        return []

    def user_days(
        self,
        start: dt.datetime,
        end: dt.datetime,
        excluded: frozenset[str],
        bounds: Bounds = DEFAULT_BOUNDS,
    ) -> list[UserActivity]:
        return []

    def session_events(
        self, start: dt.datetime, end: dt.datetime, excluded: frozenset[str]
    ) -> list[dict[str, Any]]:
        return []


def engine(archive: FakeArchive | None) -> AnalyticsEngine:
    store, clock = FakeStore(), FixedClock(NOW)
    monitor = PerformanceMonitor(store)
    return AnalyticsEngine(
        store, monitor, Counting(2, retention=Retention(10, 30)), clock, archive=archive
    )


def days(start: dt.datetime, end: dt.datetime) -> Window:
    return Window(start=start, end=end)


def test_recent_windows_come_from_the_rollups() -> None:
    archive = FakeArchive()
    result = engine(archive).trends(days(HORIZON, NOW), "day", "total", 3)
    assert result["source"] == "firestore"
    assert archive.asked == []
    with_the_expiring_day = days(HORIZON - dt.timedelta(days=1), NOW)
    assert engine(archive).trends(with_the_expiring_day, "day", "total", 3)["source"] == (
        "bigquery+firestore"
    )


def test_old_windows_come_from_the_archive_and_mixed_ones_split_at_the_horizon() -> None:
    archive = FakeArchive()
    old = days(HORIZON - dt.timedelta(days=20), HORIZON - dt.timedelta(days=10))
    result = engine(archive).trends(old, "day", "total", 3)
    assert result["source"] == "bigquery"
    assert archive.asked == [old]
    assert len(result["series"]) == 10
    assert result["series"][0]["total"] == 7 and result["series"][1]["total"] == 0

    mixed = days(HORIZON - dt.timedelta(days=3), HORIZON + dt.timedelta(days=2))
    result = engine(archive).trends(mixed, "hour", "total", 3)
    assert result["source"] == "bigquery+firestore"
    assert archive.asked[-1] == days(mixed.start, HORIZON)
    starts = [p["start"] for p in result["series"]]
    assert starts == [mixed.start + dt.timedelta(hours=h) for h in range(5 * 24)]


def test_old_windows_without_an_archive_are_a_400_naming_from() -> None:
    old = days(HORIZON - dt.timedelta(days=5), HORIZON - dt.timedelta(days=1))
    with pytest.raises(InvalidArgument, match=r"^from: Firestore keeps aggregates for 30 days"):
        engine(None).trends(old, "day", "total", 3)


def test_rows_become_points_with_every_bucket() -> None:
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    rows = [
        {"bucket": start + dt.timedelta(days=1), "total": 4, "completed": 2, "failed": 2,
         "avg_seconds": 61.5, "quantiles": [float(i) for i in range(101)], "cost": 1.25,
         "avg_quality": 8.25, "avg_rating": 4.5},
        {"bucket": start + dt.timedelta(days=2), "total": 1, "completed": 0, "failed": 0,
         "avg_seconds": None, "quantiles": None, "cost": None},
    ]  # fmt: skip
    rows[0]["free_n"] = 2
    upgrades = [{"bucket": start + dt.timedelta(days=1), "upgrades": 3, "rev_sum": 29_970_000}]
    points = points_from_rows(rows, days(start, start + dt.timedelta(days=3)), "day", upgrades)
    assert [p["total"] for p in points] == [0, 4, 1]
    assert [(p["upgrades"], p["revenueUsd"], p["freeGenerations"]) for p in points] == [
        (0, 0.0, 0), (3, 29.97, 2), (0, 0.0, 0)
    ]  # fmt: skip
    assert [p["conversionRate"] for p in points] == [None, 1.5, None]
    assert points[0]["successRate"] is None and points[0]["costUsd"] == 0.0
    assert points[1]["successRate"] == 0.5
    assert (points[1]["avgQualityScore"], points[1]["avgUserRating"]) == (8.25, 4.5)
    assert (points[2]["avgQualityScore"], points[0]["avgUserRating"]) == (None, None)
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


def generation_doc(**fields: Any) -> GenerationDocument:
    created = dt.datetime(2024, 1, 1, 10, tzinfo=dt.UTC)
    base: dict[str, Any] = {"userId": "u", "provider": "runway", "userTier": "free",
                            "createdAt": created, "status": "queued"}  # fmt: skip
    return GenerationDocument.model_validate(base | fields)


def test_cells_from_rows_add_up_to_the_pipeline_contributions() -> None:
    """Rows as cell_sql and keyed_cell_sql return them for three generations give the cells
    their rollup contributions sum to (the pipeline's own function is the oracle)."""
    created = dt.datetime(2024, 1, 1, 10, tzinfo=dt.UTC)
    done = generation_doc(
        status="completed", startedAt=created + dt.timedelta(seconds=2.0025),
        completedAt=created + dt.timedelta(seconds=62), costUsd=2.5e-06, qualityScore=7.25,
        userRating=4.0, outputSeconds=10.0, attempts=2, features=["hd_export", "x y", "z"],
    )  # fmt: skip
    failed = generation_doc(
        status="failed", completedAt=created + dt.timedelta(seconds=5), fallbackFrom="pika",
        error={"code": "rate limit!", "message": "m", "retryable": True}, costUsd=0.5,
    )  # fmt: skip
    queued = generation_doc(userTier="premium")
    tracked = Bounds(features=frozenset({"hd_export"}))
    expected: dict[str, dict[str, int]] = {}
    for i, doc in enumerate((done, failed, queued)):
        c = contribution(f"g{i}", doc, 4, tracked)
        cell = expected.setdefault(c.cell, {})
        for key, value in c.values.items():
            cell[key] = cell.get(key, 0) + value

    def plain(status: str, tier: str = "free", **sums: Any) -> dict[str, Any]:
        row = {"provider": "runway", "tier": tier, "status": status, "n": 1, "att_sum": 1,
               "retried": 0, "fallback": 0, "feat_any": 0}  # fmt: skip
        for name in ("gt", "out", "qt", "rt", "cost", "q", "r"):
            row[f"{name}_n"], row[f"{name}_sum"] = (1, sums[name]) if name in sums else (0, None)
        for name in ("n", "q", "r", "qq", "rr", "qr"):
            row[f"qr_{name}"] = sums.get(f"qr_{name}", 0 if name == "n" else None)
        kept = ("att_sum", "retried", "fallback", "feat_any", "costw", "rcv")
        return row | {k: v for k, v in sums.items() if k in kept}

    # What SQL computes: fixed-point values rounded half to even (2002.5 ms -> 2002,
    # 2.5 micro-dollars -> 2), 59997.5 ms render time -> 59998 (odd below, rounds up).
    rows = [
        plain("completed", gt=62000, out=10000, qt=2002, rt=59998, cost=2, q=7250, r=4000,
              qr_n=1, qr_q=7250, qr_r=4000, qr_qq=7250**2, qr_rr=4000**2, qr_qr=7250 * 4000,
              att_sum=2, retried=1, feat_any=1, costw=1, rcv=1),  # costw: 2 micro-USD x 1/2
        plain("failed", cost=500000, fallback=1, rcv=1),
        plain("queued", tier="premium", att_sum=None),
    ]  # fmt: skip
    keyed = [
        {"kind": "b", "provider": "runway", "tier": "free",
         "key": str(math.ceil(math.log(62.0) / math.log(sketch.GAMMA))), "n": 1, "total": 0},
        {"kind": "err", "provider": "runway", "tier": "free", "key": "rate limit!", "n": 1,
         "total": 0},
        {"kind": "errc", "provider": "runway", "tier": "free", "key": "rrate limit!", "n": 1,
         "total": 0},
        {"kind": "fbk", "provider": "runway", "tier": "free", "key": "fpika", "n": 1,
         "total": 0},
        {"kind": "qb", "provider": "runway", "tier": "free", "key": "7", "n": 1,
         "total": 4000},
        {"kind": "feat", "provider": "runway", "tier": "free",
         "key": json.dumps(["hd_export", "x y", "z"]), "n": 1, "total": 0},
    ]  # fmt: skip
    assert dict(cells_from_rows(rows, keyed, tracked)) == expected


def test_event_cells_from_rows_add_up_to_the_pipeline_contributions() -> None:
    at = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    events = [
        AppEvent(type="premium_upgrade", userId="u", timestamp=at, amountUsd=9.99),
        AppEvent(type="premium_upgrade", userId="v", timestamp=at, amountUsd=2.5e-06),
        AppEvent(type="feature_used", userId="u", timestamp=at, properties={"feature": "a b"}),
        AppEvent(type="feature_used", userId="u", timestamp=at, properties={"feature": 3}),
        AppEvent(type="feature_used", userId="u", timestamp=at, properties={"feature": ""}),
    ]
    expected: dict[str, dict[str, int]] = {}
    for i, event in enumerate(events):
        c = event_contribution(f"e{i}", event, 4)
        cell = expected.setdefault(c.cell, {})
        for key, value in c.values.items():
            cell[key] = cell.get(key, 0) + value
    rows: list[dict[str, Any]] = [
        {"type": "premium_upgrade", "feature": None, "n": 2, "rev_n": 2,
         "rev_sum": 9_990_000 + 2},
        {"type": "feature_used", "feature": '"a b"', "n": 1, "rev_n": 0, "rev_sum": None},
        {"type": "feature_used", "feature": "3", "n": 1, "rev_n": 0, "rev_sum": None},
        {"type": "feature_used", "feature": '""', "n": 1, "rev_n": 0, "rev_sum": None},
    ]  # fmt: skip
    assert dict(event_cells_from_rows(rows)) == expected


class CellArchive(FakeArchive):
    """An archive holding the cells an engine that saw the old generations computed."""

    def __init__(self, old: AnalyticsEngine) -> None:
        super().__init__()
        self.old = old

    def cells(self, window: Window, bounds: Bounds) -> Cells:
        self.asked.append(window)
        return self.old.cells(window)

    def event_cells(self, window: Window, bounds: Bounds) -> Cells:
        return [(k, t.values) for k, t in self.old.event_totals(window).items()]

    def user_days(
        self,
        start: dt.datetime,
        end: dt.datetime,
        excluded: frozenset[str],
        bounds: Bounds = DEFAULT_BOUNDS,
    ) -> list[UserActivity]:
        days = self.old._store.user_days(start, end)
        return [a for a in days if a.user_id not in excluded]

    def session_events(
        self, start: dt.datetime, end: dt.datetime, excluded: frozenset[str]
    ) -> list[dict[str, Any]]:
        events = self.old._store.session_events(start, end)
        return [e for e in events if e["userId"] not in excluded]


def test_endpoints_split_old_windows_at_the_horizon_and_say_which_source_answered() -> None:
    """Generations before the horizon only in the archive, later ones only in the rollups: a
    window across the horizon gives the figures of an engine that saw them all."""
    clock = FixedClock(NOW)
    everything, old_part, recent_part = (FakeStore() for _ in range(3))
    engines, ingests = {}, {}
    for name, store in (("all", everything), ("old", old_part), ("recent", recent_part)):
        keep = Retention(3650, 3650)  # these see every generation in their rollups
        engines[name] = AnalyticsEngine(
            store,
            PerformanceMonitor(store),
            Counting(2, retention=keep),
            clock,
        )
        ingests[name] = IngestService(store, 2, clock, retention=keep)
    for i in range(40):
        created = HORIZON + dt.timedelta(hours=6 * i - 120, minutes=7)
        doc = {
            "userId": f"u{i % 3}", "provider": ("runway", "pika")[i % 2], "userTier": "free",
            "status": "completed", "createdAt": created,
            "completedAt": created + dt.timedelta(seconds=30 + i), "costUsd": 0.01 * i,
        }  # fmt: skip
        for name in ("all", "old" if created < HORIZON else "recent"):
            engines[name]._store.source[f"g{i}"] = doc  # type: ignore[attr-defined]
            ingests[name].record_generation_metrics(f"g{i}")
    archive = CellArchive(engines["old"])
    recent_store = recent_part
    split = AnalyticsEngine(
        recent_store, PerformanceMonitor(recent_store),
        Counting(2, retention=Retention(10, 30)), clock, archive=archive,
    )  # fmt: skip
    window = days(HORIZON - dt.timedelta(days=4), HORIZON + dt.timedelta(days=4))
    for endpoint in ("summary", "system_metrics", "quality",
                     "provider_comparison", "business"):  # fmt: skip
        want = getattr(engines["all"], endpoint)(window)
        got = getattr(split, endpoint)(window)
        assert got.pop("source") == "bigquery+firestore"
        assert want.pop("source") == "firestore"
        assert got == want, endpoint
    assert archive.asked[-1] == days(window.start, HORIZON)
    summary = split.summary(window)
    assert summary["generations"]["total"] == 32  # 16 before the horizon, 16 after, in the window
    recent = days(HORIZON, HORIZON + dt.timedelta(days=1))
    assert split.system_metrics(recent)["source"] == "firestore"
    old = days(HORIZON - dt.timedelta(days=2), HORIZON)
    assert split.provider_comparison(old)["source"] == "bigquery"
    with pytest.raises(InvalidArgument, match=r"^from: Firestore keeps aggregates for 30 days"):
        engine(None).summary(old)

    # User insights: days before the horizon from the archive's user days, the opted-out user
    # left out on both sides; without stored snapshots, retention is rebuilt for the last
    # archived day from its 30 days of archived activity.
    for fake in (recent_store, everything):
        fake.opted_out.add("u1")
    for insights in (split, engines["all"]):  # the ticks of those days kept their figures
        for tick in (HORIZON - dt.timedelta(hours=23), HORIZON + dt.timedelta(days=3, hours=1)):
            insights.refresh_open_days(tick)
    got = split.user_insights(window)
    want = engines["all"].user_insights(window)
    assert got["source"] == "bigquery+firestore"
    assert [d.pop("source") for d in got["days"]] == ["bigquery"] * 4 + ["live"] * 4
    assert [d.pop("source") for d in want["days"]] == ["live"] * 8
    assert [d.pop("asOf") is None for d in got["days"]] == [True] * 4 + [False] * 4
    assert all(d.pop("asOf") is not None for d in want["days"])
    assert (got["days"], got["totals"]) == (want["days"], want["totals"])
    assert got["totals"]["activeUserDays"] > 0
    last_old = HORIZON - dt.timedelta(days=1)
    consenting = [
        a for a in everything.user_days(last_old - dt.timedelta(days=30), HORIZON)
        if a.user_id != "u1"
    ]  # fmt: skip
    expected = user_insights.snapshot(consenting, last_old)
    assert got["latestSnapshotDay"] == last_old
    assert got["retention7"] == expected["retention7"]
    assert got["churnRisk"] == expected["churnRisk"] and expected["churnRisk"]["activeIn30Days"]


def round_half_away(value: float) -> float:
    """BigQuery's ROUND(x) on FLOAT64: half away from zero."""
    return math.copysign(math.floor(abs(value) + 0.5), value)


def test_fixed_sql_rounds_half_to_even_like_python_under_bigquerys_round() -> None:
    """fixed_sql's formula, evaluated with BigQuery's ROUND, equals rollup.fixed (Python's
    round, half to even) on ties of both parities and on ordinary values."""
    sql = fixed_sql("x", 1000)
    assert "2 * ROUND((x * 1000) / 2)" in sql and "ABS((x * 1000) - TRUNC((x * 1000))) = 0.5" in sql

    def formula(x: float, scale: int) -> int:
        v = x * scale
        return int(
            2 * round_half_away(v / 2) if abs(v - math.trunc(v)) == 0.5 else round_half_away(v)
        )

    rng = random.Random(3)
    values = [2.0025, 2.0015, 2.5e-06, 3.5e-06, 0.0005, 0.0015, 1.0005, 0.0]
    values += [rng.uniform(0, 500) for _ in range(2000)] + [
        rng.randrange(10**6) / 10**6 for _ in range(2000)
    ]
    for x in values:
        for scale in (MS, MICRO_USD, MILLI):
            assert formula(x, scale) == fixed(x, scale), (x, scale)
    assert round_half_away(2.5) == 3 and fixed(2.5e-06, MICRO_USD) == 2  # the case it is for


def test_user_days_from_rows_are_the_pipelines_user_days() -> None:
    day = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    docs = [
        generation_doc(userId="a", status="completed", userTier="premium",
                       completedAt=day + dt.timedelta(hours=11)),
        generation_doc(userId="a", status="queued"),
        generation_doc(userId="b", status="failed", completedAt=day + dt.timedelta(hours=12),
                       error={"code": "x", "message": "m", "retryable": False}),
    ]  # fmt: skip
    expected: dict[tuple[dt.datetime, str], dict[str, int]] = {}
    for doc in docs:
        part = generation_user_day(doc)
        counters = expected.setdefault((part.day, part.user_id), {})
        for key, value in part.values.items():
            counters[key] = counters.get(key, 0) + value
    event = AppEvent(type="premium_upgrade", userId="b", timestamp=day, amountUsd=2.5e-06)
    expected[(day, "b")] |= {"ev/premium_upgrade": 1, "rev": fixed(2.5e-06, MICRO_USD)}
    # What user_day_sql returns for them (generation and event rows of each user and day).
    rows: list[dict[str, Any]] = [
        {"kind": "gen", "day": day + dt.timedelta(hours=10), "user": "a", "key": "completed",
         "premium": True, "n": 1, "total": 0},
        {"kind": "gen", "day": day, "user": "a", "key": "queued", "premium": False, "n": 1,
         "total": 0},
        {"kind": "gen", "day": day, "user": "b", "key": "failed", "premium": False, "n": 1,
         "total": 0},
        {"kind": "ev", "day": day, "user": "b", "key": event.type, "premium": False, "n": 1,
         "total": 2},
    ]  # fmt: skip
    got = {(a.day, a.user_id): dict(a.counters) for a in user_days_from_rows(rows)}
    assert got == expected
