"""Exactly-once counting of app events into the event rollups, against an independent oracle."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest

from tests.unit.fakes import FakeStore, FixedClock
from video_monitoring.analytics.figures import AnalyticsEngine
from video_monitoring.analytics.performance import PerformanceMonitor
from video_monitoring.core.models import Window
from video_monitoring.ingest import counters
from video_monitoring.ingest.bounds import UNBOUNDED
from video_monitoring.ingest.events import is_monitor_event
from video_monitoring.ingest.pipeline import Counting
from video_monitoring.ingest.service import IngestService

DAY = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)
WHOLE_DAY = Window(start=DAY, end=DAY + dt.timedelta(days=1))
TYPES = ("session_start", "video_viewed", "video_shared", "premium_upgrade", "feature_used")


@pytest.fixture
def engine(store: FakeStore) -> AnalyticsEngine:
    clock = FixedClock(DAY + dt.timedelta(days=1))
    # Every value tracked: the exactness of event counting, not the bounds (test_bounds.py).
    monitor = PerformanceMonitor(store)
    return AnalyticsEngine(store, monitor, Counting(4, UNBOUNDED), clock)


@pytest.fixture
def ingest(store: FakeStore) -> IngestService:
    clock = FixedClock(DAY + dt.timedelta(days=1))
    return IngestService(store, shards=4, clock=clock, bounds=UNBOUNDED)


def upgrade(amount: float, minute: int = 600, **extra: Any) -> dict[str, Any]:
    return {
        "type": "premium_upgrade",
        "userId": "u1",
        "timestamp": DAY + dt.timedelta(minutes=minute),
        "amountUsd": amount,
        **extra,
    }


def upgrades(engine: AnalyticsEngine, window: Window = WHOLE_DAY) -> tuple[int, float]:
    summary = engine.summary(window)["business"]
    return summary["upgrades"], summary["revenueUsd"]


def test_duplicates_corrections_and_deletion(
    store: FakeStore, engine: AnalyticsEngine, ingest: IngestService
) -> None:
    store.events["e1"] = upgrade(9.99)
    assert ingest.record_app_event("e1").outcome == "recorded"
    assert ingest.record_app_event("e1").writes == 0  # duplicate delivery
    assert upgrades(engine) == (1, 9.99)
    store.events["e1"] = upgrade(19.99)  # corrected amount
    assert ingest.record_app_event("e1").outcome == "updated"
    assert upgrades(engine) == (1, 19.99)
    store.events["e1"] = upgrade(19.99, minute=60 * 30)  # moved to the next day
    ingest.record_app_event("e1")
    assert upgrades(engine) == (0, 0.0)
    del store.events["e1"]
    assert ingest.record_app_event("e1").outcome == "removed"
    assert ingest.record_app_event("e1").writes == 0
    assert upgrades(engine, Window(start=DAY, end=DAY + dt.timedelta(days=2))) == (0, 0.0)
    assert store.event_records == {}


def test_bad_event_is_rejected_with_reason_then_counted_when_fixed(
    store: FakeStore, engine: AnalyticsEngine, ingest: IngestService
) -> None:
    store.events["e1"] = {"type": "premium_upgrade", "userId": "u1", "timestamp": DAY}
    plan = ingest.record_app_event("e1")
    assert plan.outcome == "rejected"
    assert store.rejected_events["e1"]["reason"] == (
        "document: amountUsd is required when type is premium_upgrade"
    )
    assert upgrades(engine) == (0, 0.0)
    store.events["e2"] = {"type": "Bad Type!", "userId": "", "timestamp": "yesterday"}
    ingest.record_app_event("e2")
    reason = store.rejected_events["e2"]["reason"]
    for field in ("type", "userId", "timestamp"):
        assert field in reason
    store.events["e1"] = upgrade(5.0, minute=0)
    assert ingest.record_app_event("e1").outcome == "recorded"
    assert "e1" not in store.rejected_events
    assert upgrades(engine) == (1, 5.0)


def test_monitor_events_are_not_counted(
    store: FakeStore, engine: AnalyticsEngine, ingest: IngestService
) -> None:
    event = upgrade(3.0, source="monitor")
    assert is_monitor_event(event)
    store.events["m1"] = event
    assert ingest.record_app_event("m1").outcome == "ignored"
    assert upgrades(engine) == (0, 0.0)
    assert store.event_records == {}


def test_random_event_histories_match_the_final_documents(
    store: FakeStore, ingest: IngestService
) -> None:
    rng = random.Random(7)
    ids = [f"e{i}" for i in range(150)]
    for _ in range(1500):
        event_id = rng.choice(ids)
        action = rng.random()
        if action < 0.55:
            store.events[event_id] = {
                "type": rng.choice(TYPES),
                "userId": f"u{rng.randrange(20)}",
                "timestamp": DAY + dt.timedelta(seconds=rng.uniform(-3600, 90000)),
                "amountUsd": round(rng.uniform(1, 50), 2),
                "properties": {"feature": rng.choice(("avatar", "4k"))},
            }
        elif action < 0.65:
            store.events.pop(event_id, None)
        elif action < 0.7:
            store.events[event_id] = {"type": "premium_upgrade", "userId": "u"}  # malformed
        # Deliveries lag, repeat and reorder: reconcile a random earlier-touched id, maybe twice.
        for _ in range(rng.choice((0, 1, 1, 2))):
            ingest.record_app_event(rng.choice(ids))
    for event_id in ids:  # the last write of each document is always delivered
        ingest.record_app_event(event_id)

    window = Window(start=DAY + dt.timedelta(hours=3), end=DAY + dt.timedelta(hours=20, minutes=7))
    final = [
        e
        for e in store.events.values()
        if "timestamp" in e and window.start <= e["timestamp"] < window.end
    ]
    by_type = PerformanceMonitor(store).event_totals(window)
    for event_type in TYPES:
        of_type = [e for e in final if e["type"] == event_type]
        totals = by_type.get(event_type)
        assert (totals.count() if totals else 0) == len(of_type)
        if totals:
            assert totals.sum(counters.REVENUE) == pytest.approx(
                sum(e["amountUsd"] for e in of_type), abs=1e-6
            )
    used = [e for e in final if e["type"] == "feature_used"]
    assert by_type["feature_used"].members(counters.FEATURES) == {
        name: sum(1 for e in used if e["properties"]["feature"] == name)
        for name in ("avatar", "4k")
        if any(e["properties"]["feature"] == name for e in used)
    }
    malformed = {i for i, e in store.events.items() if "timestamp" not in e}
    assert malformed  # the history ends with some malformed documents
    assert set(store.rejected_events) == malformed


def test_an_event_document_anonymised_by_an_erasure_is_never_counted_anew(
    store: FakeStore, engine: AnalyticsEngine, ingest: IngestService
) -> None:
    store.events["e1"] = upgrade(4.0, userId="erased", erased=True)
    plan = ingest.record_app_event("e1")
    assert (plan.outcome, plan.writes) == ("erased", 0)
    assert upgrades(engine) == (0, 0.0) and store.event_records == {}
