"""User behaviour: per-user-day activity kept exactly, daily snapshots, /user-insights, all
against figures computed independently from the final documents."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest

from tests.unit.fakes import FakeStore, FixedClock
from video_monitoring.analytics.figures import AnalyticsEngine
from video_monitoring.analytics.performance import PerformanceMonitor
from video_monitoring.core.models import Window
from video_monitoring.ingest.pipeline import Counting
from video_monitoring.ingest.service import IngestService

START = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
DAYS = 45
DAY = dt.timedelta(days=1)


def build() -> tuple[FakeStore, AnalyticsEngine]:
    rng = random.Random(21)
    store = FakeStore()
    clock = FixedClock(START + DAYS * DAY)
    monitor = PerformanceMonitor(store)
    ingest = IngestService(store, shards=2, clock=clock)
    engine = AnalyticsEngine(store, monitor, Counting(2), clock)
    for i in range(1500):
        user = f"u{rng.randrange(60)}"
        created = START + dt.timedelta(seconds=rng.uniform(0, DAYS * 86400))
        gid = f"g{i}"
        store.source[gid] = {
            "userId": user, "provider": "runway", "status": "queued", "createdAt": created,
            "userTier": "premium" if user < "u2" else "free",
        }  # fmt: skip
        ingest.record_generation_metrics(gid)
        if rng.random() < 0.1:
            del store.source[gid]  # deleted: its activity must leave the user's day
            ingest.record_generation_metrics(gid)
        elif rng.random() < 0.1:  # moved to another day (a corrected createdAt)
            store.source[gid]["createdAt"] = created + 2 * DAY
            ingest.record_generation_metrics(gid)
            ingest.record_generation_metrics(gid)  # duplicate delivery
    for i in range(800):
        kind = rng.choice(("session_start", "video_viewed", "video_shared", "premium_upgrade"))
        event: dict[str, Any] = {
            "type": kind, "userId": f"u{rng.randrange(80)}",
            "timestamp": START + dt.timedelta(seconds=rng.uniform(0, DAYS * 86400)),
        }  # fmt: skip
        if kind == "premium_upgrade":
            event["amountUsd"] = 9.99
        store.events[f"e{i}"] = event
        ingest.record_app_event(f"e{i}")
    return store, engine


@pytest.fixture(scope="module")
def world() -> tuple[FakeStore, AnalyticsEngine]:
    return build()


def activity(store: FakeStore) -> dict[dt.datetime, dict[str, dict[str, int]]]:
    """Independently from the final documents: per day, per user, what they did."""
    days: dict[dt.datetime, dict[str, dict[str, int]]] = {}

    def add(user: str, at: dt.datetime, key: str) -> None:
        day = at.replace(hour=0, minute=0, second=0, microsecond=0)
        counts = days.setdefault(day, {}).setdefault(user, {})
        counts[key] = counts.get(key, 0) + 1

    for doc in store.source.values():
        add(doc["userId"], doc["createdAt"], "gen")
        if doc["userTier"] == "premium":
            add(doc["userId"], doc["createdAt"], "premium")
    for event in store.events.values():
        if event.get("source") != "monitor":
            add(event["userId"], event["timestamp"], event["type"])
    return days


def test_daily_figures_segments_retention_and_churn(world: Any) -> None:
    store, engine = world
    day = START + 40 * DAY
    engine.snapshot_user_behavior(day + DAY + dt.timedelta(hours=2))
    assert ("user_behavior_insights", day) in store.snapshots
    assert not engine.snapshot_user_behavior(day + DAY + dt.timedelta(hours=3))  # once
    snap = store.snapshots[("user_behavior_insights", day)]
    truth = activity(store)
    users = truth.get(day, {})
    assert users  # the day has activity, so the figures below are not all zero by default
    assert snap["activeUsers"] == len(users)
    assert snap["generations"] == sum(u.get("gen", 0) for u in users.values())
    assert snap["sessions"] == sum(u.get("session_start", 0) for u in users.values())
    premium = {u for u, c in users.items() if c.get("premium") or c.get("premium_upgrade")}
    assert snap["segments"]["premium"]["users"] == len(premium)
    assert snap["segments"]["free"]["users"] == len(users) - len(premium)
    assert snap["engagement"]["views"] == sum(u.get("video_viewed", 0) for u in users.values())

    def active(d: dt.datetime) -> set[str]:
        return set(truth.get(d, {}))

    for span, key in ((7, "retention7"), (30, "retention30")):
        cohort = active(day - span * DAY)
        later = set().union(*(active(day - span * DAY + k * DAY) for k in range(1, span + 1)))
        assert snap[key]["cohort"] == len(cohort)
        assert snap[key]["retained"] == len(cohort & later)
    recent = set().union(*(active(day - k * DAY) for k in range(7)))
    month = set().union(*(active(day - k * DAY) for k in range(30)))
    assert snap["churnRisk"]["users"] == len(month - recent)
    assert snap["churnRisk"]["activeIn30Days"] == len(month)


def test_user_insights_mixes_snapshots_and_the_ticks_open_days_consistently(world: Any) -> None:
    store, engine = world
    now = START + 41 * DAY + dt.timedelta(hours=2)
    engine.snapshot_user_behavior(now)  # day 40 only
    assert engine.refresh_open_days(now) == 6  # days 35 to 41 but 40 (its final snapshot)
    window = Window(start=START + 33 * DAY, end=START + 42 * DAY)
    result = engine.user_insights(window)
    truth = activity(store)
    assert [p["day"] for p in result["days"]] == [START + k * DAY for k in range(33, 42)]
    assert [p["source"] for p in result["days"]] == ["live"] * 7 + ["snapshot", "live"]
    # Days 33 and 34 are older than the open days and have no snapshot: nothing computed.
    assert [p["asOf"] for p in result["days"]] == [None, None] + [now] * 7
    assert [p["activeUsers"] for p in result["days"][:2]] == [0, 0]
    for point in result["days"][2:]:
        assert point["activeUsers"] == len(truth.get(point["day"], {}))
    assert result["latestSnapshotDay"] == START + 40 * DAY
    assert result["retention7"]["cohortDay"] == START + 33 * DAY
    assert result["totals"]["activeUserDays"] == sum(
        len(truth.get(START + k * DAY, {})) for k in range(35, 42)
    )


def test_a_user_insights_request_reads_no_user_days_and_shows_the_open_day_as_of_the_tick() -> None:
    store, engine = build()
    reads: list[tuple[dt.datetime, dt.datetime]] = []
    user_days = store.user_days

    def counted(start: dt.datetime, end: dt.datetime) -> Any:
        reads.append((start, end))
        return user_days(start, end)

    store.user_days = counted  # type: ignore[method-assign]
    today = START + 44 * DAY
    tick = today + dt.timedelta(hours=10)
    assert engine.refresh_open_days(tick) == 7  # days 38 to 44: no final snapshot yet
    assert reads == [(START + 38 * DAY, START + 45 * DAY)]  # one range read by the tick
    window = Window(start=today, end=today + DAY)
    first = engine.user_insights(window)
    assert len(reads) == 1  # the request read none
    truth = activity(store)
    assert first["days"][0]["activeUsers"] == len(truth.get(today, {})) > 0
    assert first["days"][0]["asOf"] == tick

    late = today + dt.timedelta(hours=11)
    store.source["late"] = {"userId": "newcomer", "provider": "runway", "status": "queued",
                            "createdAt": late, "userTier": "free"}  # fmt: skip
    IngestService(store, shards=2, clock=FixedClock(tick)).record_generation_metrics("late")
    assert engine.refresh_open_days(tick + dt.timedelta(minutes=10)) == 0  # still fresh
    stale = engine.user_insights(window)["days"][0]
    assert stale["activeUsers"] == first["days"][0]["activeUsers"]  # as of the last refresh
    assert engine.refresh_open_days(tick + dt.timedelta(minutes=15)) == 7
    fresh = engine.user_insights(window)["days"][0]
    assert fresh["activeUsers"] == len(truth.get(today, {})) + 1
    assert fresh["asOf"] == tick + dt.timedelta(minutes=15)


def test_daily_business_and_quality_snapshots_match_the_endpoints(world: Any) -> None:
    store, engine = world
    day = START + 30 * DAY
    assert engine.snapshot_user_behavior(day + DAY + dt.timedelta(hours=1, minutes=5))
    whole_day = Window(start=day, end=day + DAY)
    business = store.snapshots[("business_metrics", day)]
    assert business["upgrades"] == engine.business(whole_day)["upgrades"]
    assert business["upgrades"] == sum(
        1 for e in store.events.values()
        if e["type"] == "premium_upgrade" and day <= e["timestamp"] < day + DAY
    )  # fmt: skip
    quality = store.snapshots[("quality_insights", day)]
    assert quality["providers"][0]["generations"] == sum(
        1 for d in store.source.values() if day <= d["createdAt"] < day + DAY
    )
    assert quality["day"] == day and "computedAt" in quality
    retention = engine.business(whole_day)["retention"]
    assert retention["snapshotDay"] == day
    assert retention["days7"] == store.snapshots[("user_behavior_insights", day)]["retention7"]
