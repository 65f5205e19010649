"""The drift audit's pure parts with the in-memory store: pairing, choosing suspects, repairing."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Mapping
from typing import Any

from local_stack.lifecycles import expected, random_lifecycle
from tests.unit.fakes import FakeStore, FixedClock
from video_monitoring.analytics.figures import AnalyticsEngine
from video_monitoring.analytics.performance import PerformanceMonitor
from video_monitoring.core.models import Window
from video_monitoring.ingest.drift_audit import LedgerAudit, audit_days, audit_ledger, paired
from video_monitoring.ingest.service import IngestService

DAY = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)
WHOLE_DAY = Window(start=DAY, end=DAY + dt.timedelta(days=1))


def ordered(docs: Mapping[str, Mapping[str, Any]], time_field: str) -> list[tuple[str, Any]]:
    """What `ordered_documents` streams: documents of the day, by (time, id)."""
    inside = [
        (doc_id, data)
        for doc_id, data in docs.items()
        if isinstance(data.get(time_field), dt.datetime)
        and WHOLE_DAY.start <= data[time_field] < WHOLE_DAY.end
    ]
    return sorted(inside, key=lambda item: (item[1][time_field], item[0]))


def audit(store: FakeStore, ingest: IngestService) -> LedgerAudit:
    pairs = paired(
        ordered(store.source, "createdAt"), ordered(store.metrics, "createdAt"), "createdAt"
    )
    return audit_ledger(pairs, ingest.generation_planner, store.reconcile)


def test_audit_days_are_the_settled_days_before_the_run() -> None:
    run = dt.datetime(2026, 11, 30, 1, 30, tzinfo=dt.UTC)
    assert audit_days(run, 2) == [dt.date(2026, 11, 28), dt.date(2026, 11, 29)]


def test_paired_merges_by_time_then_id_and_leaves_moved_halves_unpaired() -> None:
    t1, t2, t3 = (DAY + dt.timedelta(hours=h) for h in (1, 2, 3))
    sources = [("a", {"t": t1}), ("b", {"t": t2}), ("m", {"t": t3})]
    stored = [("a", {"t": t1}), ("m", {"t": t1}), ("z", {"t": t2})]
    result = [(i, s is not None, r is not None) for i, s, r in paired(sources, stored, "t")]
    assert result == [
        ("a", True, True),
        ("m", False, True),  # stored at t1, the source moved to t3
        ("b", True, False),
        ("z", False, True),  # source gone
        ("m", True, False),
    ]


def test_audit_of_an_exact_day_reconciles_nothing() -> None:
    store = FakeStore()
    ingest = IngestService(store, shards=4, clock=FixedClock(DAY + dt.timedelta(days=1)))
    rng = random.Random(3)
    for i in range(60):
        store.source[f"g{i}"] = dict(random_lifecycle(rng, f"g{i}", DAY).states[0] or {})
        ingest.record_generation_metrics(f"g{i}")
    before = store.reconciles
    result = audit(store, ingest)
    assert result.checked == 60
    assert (result.suspects, result.repaired) == (0, 0)
    assert store.reconciles == before


def test_audit_repairs_every_kind_of_lost_change_to_match_the_documents() -> None:
    store = FakeStore()
    monitor = PerformanceMonitor(store)
    ingest = IngestService(store, shards=4, clock=FixedClock(DAY + dt.timedelta(days=1)))
    rng = random.Random(7)
    lives = [random_lifecycle(rng, f"g{i}", DAY) for i in range(120)]
    for life in lives:  # every state but the last was handled; the last change was lost
        for state in life.states[:-1]:
            if state is None:
                store.source.pop(life.generation_id, None)
            else:
                store.source[life.generation_id] = dict(state)
            ingest.record_generation_metrics(life.generation_id)
        if life.final is None:
            store.source.pop(life.generation_id, None)
        else:
            store.source[life.generation_id] = dict(life.final)
    store.source["moved"] = {
        "userId": "u", "provider": "pika", "status": "queued", "userTier": "free",
        "createdAt": DAY + dt.timedelta(hours=1),
    }  # fmt: skip
    ingest.record_generation_metrics("moved")
    store.source["moved"]["createdAt"] = DAY + dt.timedelta(hours=20)  # lost: moved in the day
    finals = [life.final for life in lives] + [store.source["moved"]]
    truth = expected(finals, WHOLE_DAY.start, WHOLE_DAY.end)
    lost = sum(1 for life in lives if len(life.states) > 1 and life.states[-1] != life.states[-2])

    engine = AnalyticsEngine(store, monitor)
    stale = engine.summary(WHOLE_DAY)
    assert lost > 0
    assert (stale["generations"]["total"], stale["costUsd"]) != (truth.total, round(truth.cost, 6))

    result = audit(store, ingest)

    shown = AnalyticsEngine(store, monitor).summary(WHOLE_DAY)
    assert shown["generations"]["total"] == truth.total
    assert shown["generations"]["completed"] == truth.by_status["completed"]
    assert shown["costUsd"] == round(truth.cost, 6)
    assert result.repaired >= lost + 1  # every lost change, and the moved generation
    assert "moved" in result.repaired_ids
    again = audit(store, ingest)
    assert (again.suspects, again.repaired) == (0, 0)
