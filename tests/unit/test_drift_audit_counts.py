"""The drift audit at scale with the in-memory store: per-hour counts choose the hours walked,
the rotating sample catches what counts cannot see, a stopped run continues from its cursor."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from local_stack.lifecycles import expected
from tests.unit.audit_fakes import SOURCE, FakeAuditReads
from tests.unit.fakes import FakeStore, FixedClock
from video_monitoring.analytics.figures import AnalyticsEngine
from video_monitoring.analytics.performance import PerformanceMonitor
from video_monitoring.config import constants
from video_monitoring.core.clock import Clock, utc_now
from video_monitoring.core.models import STATUSES, Window
from video_monitoring.ingest.drift_audit import (
    SAMPLE_SIZE,
    AuditedLedger,
    AuditHooks,
    LedgerProgress,
    audit_ledger_day,
    sample_start,
)
from video_monitoring.ingest.monitoring_store import EVENT_LEDGER
from video_monitoring.ingest.service import IngestService

DAY = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)
WHOLE_DAY = Window(start=DAY, end=DAY + dt.timedelta(days=1))
GENERATIONS = AuditedLedger(
    "generations",
    SOURCE,
    constants.METRICS,
    constants.REJECTED,
    "createdAt",
    split=("status", STATUSES),
)
EVENTS = AuditedLedger(
    "events", constants.EVENTS, constants.EVENT_CONTRIBUTIONS, constants.REJECTED_EVENTS,
    "timestamp",
    ignored=("source", constants.EVENT_SOURCE_MONITOR),
)  # fmt: skip


def setup() -> tuple[FakeStore, IngestService, FakeAuditReads]:
    store = FakeStore()
    ingest = IngestService(store, shards=4, clock=FixedClock(DAY + dt.timedelta(days=1)))
    return store, ingest, FakeAuditReads(store)


def figures(store: FakeStore, clock: Clock = utc_now) -> AnalyticsEngine:
    """The dashboard's figures over the store."""
    return AnalyticsEngine(store, PerformanceMonitor(store), clock=clock)


def run_audit(
    reads: FakeAuditReads,
    ingest: IngestService,
    run: str = "2026-11-24",
    progress: LedgerProgress | None = None,
    out_of_time: Any = lambda: False,
) -> tuple[bool, LedgerProgress]:
    progress = progress or LedgerProgress()
    done = audit_ledger_day(
        reads, GENERATIONS, DAY, run, progress,
        AuditHooks(ingest.generation_planner, reads.store.reconcile, out_of_time),
    )  # fmt: skip
    return done, progress


def generation(hour: int, minute: int, status: str = "completed") -> dict[str, Any]:
    created = DAY + dt.timedelta(hours=hour, minutes=minute)
    doc: dict[str, Any] = {
        "userId": f"u{minute % 7}", "provider": "pika", "status": status,
        "userTier": "free", "createdAt": created, "costUsd": 0.25,
    }  # fmt: skip
    if status in ("completed", "failed", "cancelled"):
        doc["completedAt"] = created + dt.timedelta(seconds=40)
    if status == "failed":
        doc["error"] = {"code": "timeout", "message": "x", "retryable": True}
    return doc


def recorded_day(store: FakeStore, ingest: IngestService, per_hour: int) -> None:
    """`per_hour` generations in each hour of the day, every change handled."""
    for hour in range(24):
        for i in range(per_hour):
            doc_id = f"g{hour:02d}-{i:03d}"
            store.source[doc_id] = generation(hour, i % 60, "failed" if i % 9 == 0 else "completed")
            ingest.record_generation_metrics(doc_id)


def test_an_exact_day_reads_its_counts_and_the_sample_only() -> None:
    store, ingest, reads = setup()
    recorded_day(store, ingest, per_hour=50)
    reconciles = store.reconciles

    done, progress = run_audit(reads, ingest)

    assert done and progress.hours == []
    assert store.reconciles == reconciles  # nothing to repair, nothing reconciled
    audit = progress.audit
    assert (audit.suspects, audit.repaired) == (0, 0)
    assert audit.checked == audit.sampled == SAMPLE_SIZE
    # 3 counts per hour (source, records, rejections), the day's rejections, then the 5
    # statuses of the day on both sides (no rejection that day: not counted by status).
    assert audit.count_queries == reads.count_queries == 24 * 3 + 1 + 5 * 2
    # Each billed 1 read per 1,000 entries matched, at least 1: the day's 24 * 44 = 1,056
    # completed ones bill 2 on each side.
    count_reads = 24 * 3 + 1 + 2 * (2 + 1 + 1 + 1 + 1)
    sample_reads = 2 * SAMPLE_SIZE + 1  # each sampled pair, and the (empty) rejection list
    assert audit.reads == count_reads + sample_reads


def test_counts_find_the_hours_of_lost_changes_and_their_walk_repairs_them() -> None:
    store, ingest, reads = setup()
    recorded_day(store, ingest, per_hour=20)
    store.source["new"] = generation(5, 30)  # a create whose trigger never ran
    store.source["g09-001"]["status"] = "cancelled"  # a status change lost (same hour total)
    del store.source["g14-002"]  # a deletion lost
    store.source["g20-004"] = generation(21, 4)  # moved to the next hour
    truth = expected(store.source.values(), WHOLE_DAY.start, WHOLE_DAY.end)
    engine = figures(store)
    stale = engine.summary(WHOLE_DAY)["generations"]
    assert (stale["total"], stale["cancelled"]) != (truth.total, truth.by_status["cancelled"])

    done, progress = run_audit(reads, ingest)

    assert done and progress.hours == [5, 9, 14, 20, 21]
    assert {"new", "g09-001", "g14-002", "g20-004"} <= set(progress.audit.repaired_ids)
    shown = engine.summary(WHOLE_DAY)
    assert shown["generations"]["total"] == truth.total == 24 * 20
    for status in ("completed", "failed", "cancelled"):
        assert shown["generations"][status] == truth.by_status[status]
    assert shown["costUsd"] == round(truth.cost, 6)
    again = run_audit(reads, ingest, run="2026-11-25")[1]
    assert again.hours == [] and again.audit.repaired == 0


def test_rejected_documents_balance_the_counts_and_a_lost_rejection_is_recorded() -> None:
    store, ingest, reads = setup()
    recorded_day(store, ingest, per_hour=10)
    store.source["bad"] = {**generation(3, 10), "userTier": "gold"}
    ingest.record_generation_metrics("bad")  # handled: rejected with its hour and status
    assert store.rejected["bad"]["createdAt"] == DAY + dt.timedelta(hours=3, minutes=10)
    assert store.rejected["bad"]["status"] == "completed"
    assert run_audit(reads, ingest)[1].hours == []

    store.source["lost-bad"] = {**generation(7, 10), "userTier": "gold"}  # never handled
    first = run_audit(reads, ingest, run="2026-11-25")[1]
    assert first.hours == [7]
    assert "lost-bad" in store.rejected  # the walk reconciled it: its rejection is recorded
    assert run_audit(reads, ingest, run="2026-11-26")[1].hours == []


def test_the_rotating_sample_catches_a_change_that_moves_no_count() -> None:
    store, ingest, reads = setup()
    recorded_day(store, ingest, per_hour=30)
    for data in store.source.values():  # every late rating lost: no count moves
        data["userRating"] = 4
    engine = figures(store)
    assert engine.summary(WHOLE_DAY)["satisfaction"]["rated"] == 0

    done, progress = run_audit(reads, ingest)

    assert done and progress.hours == []
    assert progress.audit.repaired == progress.audit.sampled == SAMPLE_SIZE
    rated = {doc_id for doc_id, m in store.metrics.items() if m.get("userRating") == 4}
    assert len(rated) == SAMPLE_SIZE
    start = sample_start(DAY, "2026-11-24")
    after = sorted((d["createdAt"], i) for i, d in store.source.items() if d["createdAt"] >= start)
    assert rated == {i for _, i in after[:SAMPLE_SIZE]}  # the documents from its start on
    assert engine.summary(WHOLE_DAY)["satisfaction"]["rated"] == SAMPLE_SIZE
    # The next night starts elsewhere.
    assert sample_start(DAY, "2026-11-25") != start
    run_audit(reads, ingest, run="2026-11-25")
    assert sum(1 for m in store.metrics.values() if m.get("userRating") == 4) > SAMPLE_SIZE


def test_the_sample_wraps_round_to_the_start_of_the_day() -> None:
    store, ingest, reads = setup()
    for i in range(3):  # three generations, whatever the starting point: all sampled
        store.source[f"g{i}"] = generation(i * 11, 0)
        ingest.record_generation_metrics(f"g{i}")
    _, progress = run_audit(reads, ingest)
    assert progress.audit.sampled == 3


def test_a_run_out_of_time_continues_from_its_cursor_without_redoing_work() -> None:
    store, ingest, reads = setup()
    recorded_day(store, ingest, per_hour=20)
    rng = random.Random(5)
    lost = [f"new{i}" for i in range(30)]
    for doc_id in lost:  # lost creates spread over the day
        store.source[doc_id] = generation(rng.randrange(24), rng.randrange(60))
    truth = expected(store.source.values(), WHOLE_DAY.start, WHOLE_DAY.end)
    budget = {"steps": 0}

    def out_of_time() -> bool:
        budget["steps"] += 1
        return budget["steps"] > 50  # about 2 hours' walk per run

    progress = LedgerProgress()
    runs = 0
    done = False
    while not done:
        runs += 1
        budget["steps"] = 0
        # What the run stored is what the retry reads back.
        progress = LedgerProgress.from_doc(progress.to_doc())
        done, progress = run_audit(reads, ingest, progress=progress, out_of_time=out_of_time)
        assert runs < 40
    assert runs > 3  # it did stop and continue
    audit = progress.audit
    assert audit.repaired == len(lost) and sorted(audit.repaired_ids) == sorted(lost)
    hours = progress.hours or []
    walked = sum(1 for d in store.source.values() if d["createdAt"].hour in hours)
    assert audit.checked == walked + audit.sampled  # every document of those hours once
    shown = figures(store).summary(WHOLE_DAY)["generations"]
    assert shown["total"] == truth.total


def test_counts_find_a_lost_app_event_among_the_monitors_own_events() -> None:
    store, ingest, reads = setup()
    recorded_day(store, ingest, per_hour=5)  # the monitor writes its lifecycle events
    engine = figures(store, FixedClock(DAY + dt.timedelta(days=1)))
    store.events["view"] = {"type": "video_viewed", "userId": "u1",
                            "timestamp": DAY + dt.timedelta(hours=4)}  # fmt: skip
    store.reconcile("view", ingest.event_planner("view"), EVENT_LEDGER)  # handled
    store.events["upgrade"] = {"type": "premium_upgrade", "userId": "u2", "amountUsd": 12.5,
                               "timestamp": DAY + dt.timedelta(hours=6)}  # fmt: skip
    progress = LedgerProgress()

    def reconcile(doc_id: str, planner: Any) -> Any:
        return store.reconcile(doc_id, planner, EVENT_LEDGER)

    done = audit_ledger_day(
        reads, EVENTS, DAY, "2026-11-24", progress, AuditHooks(ingest.event_planner, reconcile),
    )  # fmt: skip
    assert done and progress.hours == [6]
    assert progress.audit.repaired_ids[0] == "upgrade"
    assert engine.summary(WHOLE_DAY)["business"]["revenueUsd"] == 12.5
