"""Exactly-once effect of generation changes, checked against an independent oracle."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest

from local_stack.lifecycles import Lifecycle, expected, mean, random_lifecycle
from tests.unit.fakes import FakeStore, FixedClock
from video_monitoring.analytics.figures import AnalyticsEngine
from video_monitoring.analytics.performance import PerformanceMonitor
from video_monitoring.core.models import Window
from video_monitoring.ingest import sketch
from video_monitoring.ingest.drift_audit import moves_counts
from video_monitoring.ingest.service import IngestService

DAY = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)
WHOLE_DAY = Window(start=DAY, end=DAY + dt.timedelta(days=1))


@pytest.fixture
def monitor(store: FakeStore) -> PerformanceMonitor:
    return PerformanceMonitor(store)


@pytest.fixture
def ingest(store: FakeStore) -> IngestService:
    return IngestService(store, shards=4, clock=FixedClock(DAY + dt.timedelta(days=1)))


def doc(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "userId": "u1",
        "provider": "runway",
        "status": "queued",
        "createdAt": DAY + dt.timedelta(hours=10),
        "userTier": "free",
    }
    base.update(fields)
    return base


def completed(**fields: Any) -> dict[str, Any]:
    created = DAY + dt.timedelta(hours=10)
    values: dict[str, Any] = {
        "status": "completed",
        "startedAt": created + dt.timedelta(seconds=2),
        "completedAt": created + dt.timedelta(seconds=62),
        "costUsd": 0.3,
    }
    return doc(**{**values, **fields})


def summary(store: FakeStore, monitor: PerformanceMonitor, window: Window = WHOLE_DAY) -> Any:
    return AnalyticsEngine(store, monitor).summary(window)


def test_duplicate_delivery_changes_nothing(
    store: FakeStore, monitor: PerformanceMonitor, ingest: IngestService
) -> None:
    store.source["g"] = completed()
    first = ingest.record_generation_metrics("g")
    before = {k: dict(v) for k, v in store.rollup_docs.items()}
    again = ingest.record_generation_metrics("g")
    assert first.outcome == "recorded" and again.outcome == "unchanged"
    assert again.writes == 0
    assert store.rollup_docs == before
    assert summary(store, monitor)["generations"]["completed"] == 1


def test_stale_event_after_newer_state_keeps_the_newer(
    store: FakeStore, monitor: PerformanceMonitor, ingest: IngestService
) -> None:
    store.source["g"] = completed()
    ingest.record_generation_metrics("g")  # the newer event, handled first
    ingest.record_generation_metrics("g")  # the older "queued" event arrives late
    result = summary(store, monitor)["generations"]
    assert (result["completed"], result["inProgress"], result["total"]) == (1, 0, 1)


def test_late_rating_and_quality_and_corrections_move_sums_exactly(
    store: FakeStore, monitor: PerformanceMonitor, ingest: IngestService
) -> None:
    store.source["g"] = completed()
    ingest.record_generation_metrics("g")
    store.source["g"] = completed(qualityScore=7.25, userRating=4)
    ingest.record_generation_metrics("g")
    store.source["g"] = completed(qualityScore=9.5, userRating=2, costUsd=0.1)
    ingest.record_generation_metrics("g")
    result = summary(store, monitor)
    assert result["quality"] == {"avgScore": 9.5, "scored": 1}
    assert result["satisfaction"] == {"avgRating": 2.0, "rated": 1}
    assert result["costUsd"] == pytest.approx(0.1, abs=1e-9)


def test_provider_correction_moves_the_generation(
    store: FakeStore, monitor: PerformanceMonitor, ingest: IngestService
) -> None:
    store.source["g"] = completed()
    ingest.record_generation_metrics("g")
    store.source["g"] = completed(provider="pika")
    ingest.record_generation_metrics("g")
    runway = Window(start=WHOLE_DAY.start, end=WHOLE_DAY.end, provider="runway")
    pika = Window(start=WHOLE_DAY.start, end=WHOLE_DAY.end, provider="pika")
    assert summary(store, monitor, runway)["generations"]["total"] == 0
    assert summary(store, monitor, pika)["generations"]["total"] == 1


def test_deleted_source_removes_everything(
    store: FakeStore, monitor: PerformanceMonitor, ingest: IngestService
) -> None:
    store.source["g"] = completed(qualityScore=8)
    ingest.record_generation_metrics("g")
    del store.source["g"]
    assert ingest.record_generation_metrics("g").outcome == "removed"
    assert ingest.record_generation_metrics("g").outcome == "unchanged"
    result = summary(store, monitor)
    assert result["generations"]["total"] == 0
    assert result["quality"]["scored"] == 0
    assert "g" not in store.metrics


def test_rejected_then_valid_is_counted(
    store: FakeStore, monitor: PerformanceMonitor, ingest: IngestService
) -> None:
    store.source["g"] = doc(userTier="gold")
    plan = ingest.record_generation_metrics("g")
    assert plan.outcome == "rejected"
    assert "userTier" in store.rejected["g"]["reason"]
    assert summary(store, monitor)["generations"]["total"] == 0
    assert ingest.record_generation_metrics("g").writes == 0, "same rejection is not rewritten"
    store.source["g"] = doc()
    ingest.record_generation_metrics("g")
    assert "g" not in store.rejected
    assert summary(store, monitor)["generations"]["total"] == 1


def test_lifecycle_events_written_once_each(store: FakeStore, ingest: IngestService) -> None:
    store.source["g"] = doc()
    ingest.record_generation_metrics("g")
    store.source["g"] = completed()
    for _ in range(3):
        ingest.record_generation_metrics("g")
    types = sorted(e["type"] for e in store.events.values())
    assert types == ["generation_completed", "generation_requested", "generation_started"]
    assert all(e["source"] == "monitor" for e in store.events.values())


def test_two_hundred_malformed_documents_touch_no_aggregate(
    store: FakeStore, monitor: PerformanceMonitor, ingest: IngestService
) -> None:
    store.source["ok"] = completed(qualityScore=9)
    ingest.record_generation_metrics("ok")
    before = summary(store, monitor)
    rng = random.Random(11)
    breakers: list[dict[str, Any]] = [
        {"userTier": "gold"}, {"status": "unknown"}, {"provider": "UPPER"}, {"userId": ""},
        {"createdAt": "yesterday"}, {"qualityScore": 11}, {"costUsd": -0.5},
        {"status": "completed"}, {"attempts": 0}, {"userRating": 9},
    ]  # fmt: skip
    for i in range(200):
        store.source[f"bad{i}"] = doc(**rng.choice(breakers))
        plan = ingest.record_generation_metrics(f"bad{i}")
        assert plan.outcome == "rejected"
        assert plan.rollup_deltas == []
    assert len(store.rejected) == 200
    assert all(r["reason"] for r in store.rejected.values())
    assert summary(store, monitor) == before


def deliver_shuffled(
    rng: random.Random, lives: list[Lifecycle], store: FakeStore, ingest: IngestService
) -> None:
    """Every state write yields an event; events are duplicated and reordered, and each handler
    call sees whatever the document holds at that moment."""
    writes = [(life, i) for life in lives for i in range(len(life.states))]
    rng.shuffle(writes)
    progress = {life.generation_id: -1 for life in lives}
    pending: list[str] = []
    for life, index in writes:
        if index > progress[life.generation_id]:
            progress[life.generation_id] = index
            state = life.states[index]
            if state is None:
                store.source.pop(life.generation_id, None)
            else:
                store.source[life.generation_id] = state
        pending.append(life.generation_id)
        if rng.random() < 0.3:
            pending.append(life.generation_id)  # duplicate delivery
        if rng.random() < 0.5:
            rng.shuffle(pending)
            cut = rng.randrange(len(pending) + 1)
            for generation_id in pending[:cut]:
                ingest.record_generation_metrics(generation_id)
            del pending[:cut]
    for generation_id in pending:
        ingest.record_generation_metrics(generation_id)


@pytest.mark.parametrize("seed", [1, 2])
def test_random_lifecycles_shuffled_and_duplicated_match_the_oracle(seed: int) -> None:
    rng = random.Random(seed)
    store = FakeStore()
    monitor = PerformanceMonitor(store)
    ingest = IngestService(store, shards=8, clock=FixedClock(DAY + dt.timedelta(days=1)))
    lives = [random_lifecycle(rng, f"gen-{i}", DAY) for i in range(1500)]
    deliver_shuffled(rng, lives, store, ingest)

    finals = [life.final for life in lives]
    for provider in (None, "runway", "pika"):
        window = Window(start=WHOLE_DAY.start, end=WHOLE_DAY.end, provider=provider)
        truth = expected(finals, window.start, window.end, provider)
        got = summary(store, monitor, window)
        g = got["generations"]
        assert g["total"] == truth.total
        for status in ("completed", "failed", "cancelled"):
            assert g[status] == truth.by_status[status]
        assert g["inProgress"] == truth.by_status["queued"] + truth.by_status["processing"]
        assert g["successRate"] == pytest.approx(truth.success_rate)
        assert got["quality"]["scored"] == len(truth.quality)
        assert got["quality"]["avgScore"] == pytest.approx(mean(truth.quality), abs=1e-3)
        assert got["satisfaction"]["rated"] == len(truth.ratings)
        assert got["satisfaction"]["avgRating"] == pytest.approx(mean(truth.ratings), abs=1e-3)
        assert got["costUsd"] == pytest.approx(truth.cost, abs=1e-6 * truth.total)
        performance = monitor.system_metrics(window).to_json()
        assert truth.failed_cost > 0 and truth.retry_waste > 0
        assert performance["failedCostUsd"] == pytest.approx(truth.failed_cost, abs=1e-9)
        assert performance["retryWasteUsd"] == pytest.approx(truth.retry_waste, abs=1e-9)
        times = got["generationTimeSeconds"]
        assert times["avg"] == pytest.approx(mean(truth.generation_seconds), abs=1e-3)
        for key, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
            exact = truth.exact_quantile(q)
            assert exact is not None
            assert abs(times[key] - exact) / exact <= sketch.ALPHA + 1e-9

    # An hour window inside the day, read from minute and hour buckets.
    part = Window(start=DAY + dt.timedelta(hours=5, minutes=17), end=DAY + dt.timedelta(hours=9))
    truth = expected(finals, part.start, part.end)
    assert summary(store, monitor, part)["generations"]["total"] == truth.total


def test_a_generation_stored_before_the_cost_counters_keeps_counting_as_it_did(
    store: FakeStore, monitor: PerformanceMonitor, ingest: IngestService
) -> None:
    """A contribution stored without counters added since (as an earlier release stored it)
    is left alone while its generation is unchanged (no rewrite, nothing for the audit to
    repair) and gains them on its next change."""
    store.source["g"] = completed(attempts=2)
    ingest.record_generation_metrics("g")
    stored = store.metrics["g"]["contribution"]["values"]
    assert stored["costw"] == 150_000  # 0.3 USD x 1 of 2 attempts
    # As an earlier release stored it: without the later counters, rollups alike.
    for key in ("costw",):
        stored.pop(key)
        for rollup in store.rollup_docs.values():
            for cell in rollup.get("cells", {}).values():
                cell.pop(key, None)
    before = summary(store, monitor)
    plan = ingest.record_generation_metrics("g")  # a redelivery, or the nightly audit
    assert plan.outcome == "unchanged" and plan.rollup_deltas == []
    assert not moves_counts(plan)  # so the nightly audit finds nothing to repair
    assert monitor.system_metrics(WHOLE_DAY).to_json()["retryWasteUsd"] == 0.0
    store.source["g"] = completed(attempts=2, userRating=4)  # the next change
    ingest.record_generation_metrics("g")
    assert monitor.system_metrics(WHOLE_DAY).to_json()["retryWasteUsd"] == 0.15
    assert summary(store, monitor)["satisfaction"]["rated"] == before["satisfaction"]["rated"] + 1


def test_a_generation_stored_before_the_recovery_counters_keeps_counting_as_it_did(
    store: FakeStore, monitor: PerformanceMonitor, ingest: IngestService
) -> None:
    """A record of a release that had the cost counters but not the recovery ones (rcv, fbk,
    errc) is left alone while unchanged, and counts them from its next change."""
    store.source["g"] = completed(attempts=2, fallbackFrom="pika")
    ingest.record_generation_metrics("g")
    stored = store.metrics["g"]["contribution"]["values"]
    later = ("rcv/n", "rcv/ok", "fbk/pika/completed")
    assert all(stored[key] == 1 for key in later) and stored["costw"] == 150_000
    for key in later:
        stored.pop(key)
    plan = ingest.record_generation_metrics("g")  # a redelivery, or the nightly audit
    assert plan.outcome == "unchanged" and plan.rollup_deltas == []
    assert not moves_counts(plan)
    store.source["g"] = completed(attempts=2, fallbackFrom="pika", userRating=4)
    ingest.record_generation_metrics("g")
    assert all(store.metrics["g"]["contribution"]["values"][key] == 1 for key in later)
