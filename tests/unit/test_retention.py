"""Retention: every record the pipeline writes carries its expiry, expiry never changes a figure,
and firestore.indexes.json declares the TTL policies the code relies on."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from local_stack.stack import REPO_ROOT
from tests.unit.fakes import FakeStore, FixedClock
from video_monitoring.analytics.figures import AnalyticsEngine
from video_monitoring.analytics.performance import PerformanceMonitor
from video_monitoring.config.settings import DashboardSettings, RetentionSettings
from video_monitoring.core.models import Window
from video_monitoring.ingest.pipeline import Counting
from video_monitoring.ingest.service import IngestService
from video_monitoring.privacy.retention import (
    EXPIRE_FIELD,
    TTL_COLLECTIONS,
    Retention,
    retention_of,
)

DAY = dt.datetime(2026, 8, 1, tzinfo=dt.UTC)
WHOLE_DAY = Window(start=DAY, end=DAY + dt.timedelta(days=1))
RETENTION = Retention(raw_days=30, aggregate_days=365)


def generation(**fields: Any) -> dict[str, Any]:
    created = DAY + dt.timedelta(hours=10)
    return {
        "userId": "u1", "provider": "runway", "status": "completed", "userTier": "free",
        "createdAt": created, "startedAt": created + dt.timedelta(seconds=2),
        "completedAt": created + dt.timedelta(seconds=62), "costUsd": 0.3, **fields,
    }  # fmt: skip


def upgrade(**fields: Any) -> dict[str, Any]:
    return {
        "type": "premium_upgrade", "userId": "u1", "amountUsd": 9.5,
        "timestamp": DAY + dt.timedelta(hours=11), **fields,
    }  # fmt: skip


def setup(now: dt.datetime) -> tuple[FakeStore, FixedClock, IngestService, AnalyticsEngine]:
    store, clock = FakeStore(), FixedClock(now)
    monitor = PerformanceMonitor(store)
    engine = AnalyticsEngine(store, monitor, Counting(2, retention=RETENTION), clock=clock)
    return store, clock, IngestService(store, shards=2, clock=clock, retention=RETENTION), engine


def figures(engine: AnalyticsEngine) -> tuple[int, float, int, float]:
    summary = engine.summary(WHOLE_DAY)
    business = summary["business"]
    return (
        summary["generations"]["total"],
        summary["costUsd"],
        business["upgrades"],
        business["revenueUsd"],
    )


def test_records_carry_their_expiry() -> None:
    store, _, ingest, _ = setup(DAY + dt.timedelta(days=1))
    store.source["g1"] = generation()
    store.source["bad"] = generation(userTier="gold")
    store.events["e1"] = upgrade()
    ingest.record_generation_metrics("g1")
    ingest.record_generation_metrics("bad")
    ingest.record_app_event("e1")
    created = DAY + dt.timedelta(hours=10)
    assert store.metrics["g1"][EXPIRE_FIELD] == created + dt.timedelta(days=30)
    lifecycle = [e for e in store.events.values() if e.get("source") == "monitor"]
    assert lifecycle
    assert all(e[EXPIRE_FIELD] == e["timestamp"] + dt.timedelta(days=30) for e in lifecycle)
    assert store.rejected["bad"][EXPIRE_FIELD] == DAY + dt.timedelta(days=31)
    assert store.event_records["e1"][EXPIRE_FIELD] == DAY + dt.timedelta(days=30, hours=11)


def test_expiry_deletions_and_late_rewrites_never_change_a_figure() -> None:
    store, clock, ingest, engine = setup(DAY + dt.timedelta(days=1))
    store.source["g1"] = generation()
    store.source["g2"] = generation(costUsd=1.0)
    store.events["e1"] = upgrade()
    for generation_id in ("g1", "g2"):
        ingest.record_generation_metrics(generation_id)
    ingest.record_app_event("e1")
    before = figures(engine)
    assert before[0] == 2 and before[2] == 1
    assert before[1] == pytest.approx(1.3) and before[3] == pytest.approx(9.5)

    clock.advance(days=31)  # past the raw retention of everything above
    del store.events["e1"]  # TTL deletes the event ...
    assert ingest.record_app_event("e1").outcome == "expired"
    assert "e1" not in store.event_records  # ... its record goes, its revenue stays counted
    del store.metrics["g1"]  # TTL deleted the metrics record; then the source is rewritten
    store.source["g1"] = generation(costUsd=5.0)
    assert ingest.record_generation_metrics("g1").outcome == "expired"
    assert "g1" not in store.metrics
    del store.source["g2"]  # a source deleted after its record's expiry
    assert ingest.record_generation_metrics("g2").outcome == "expired"
    assert "g2" not in store.metrics
    assert figures(engine) == before

    clock.now = DAY + dt.timedelta(days=2)  # within the retention, a deletion is a deletion
    store.source["g3"] = generation()
    ingest.record_generation_metrics("g3")
    del store.source["g3"]
    assert ingest.record_generation_metrics("g3").outcome == "removed"
    assert figures(engine) == before


def test_an_event_older_than_the_retention_is_not_counted_afresh() -> None:
    store, _, ingest, engine = setup(DAY + dt.timedelta(days=40))
    store.events["old"] = upgrade()
    assert ingest.record_app_event("old").outcome == "expired"
    assert figures(engine)[2:] == (0, 0.0)


def test_retention_settings() -> None:
    assert retention_of(
        RetentionSettings(raw_retention_days=10, rollup_retention_days=20)
    ) == Retention(10, 20)
    with pytest.raises(ValueError, match="ROLLUP_RETENTION_DAYS"):
        retention_of(RetentionSettings(raw_retention_days=100, rollup_retention_days=20))
    default = retention_of(RetentionSettings())
    assert (
        default.aggregate_days >= DashboardSettings().max_window_days
    )  # long windows still add up


def test_indexes_file_declares_a_ttl_policy_for_each_collection_the_code_expires() -> None:
    spec = json.loads((REPO_ROOT / "firestore.indexes.json").read_text())
    ttl = {
        o["collectionGroup"]
        for o in spec["fieldOverrides"]
        if o["fieldPath"] == EXPIRE_FIELD and o.get("ttl") is True and o["indexes"] == []
    }
    assert ttl == set(TTL_COLLECTIONS)
