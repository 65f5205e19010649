"""The pipeline on the real Firestore emulator, with real trigger delivery through the host."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from typing import Any

import pytest
from google.cloud import firestore

from local_stack.lifecycles import expected, is_valid, mean, random_lifecycle
from tests.integration.support import Stack, summary, wait_until, whole_day
from video_monitoring.ingest import rollup, sketch

pytestmark = pytest.mark.integration
DAY, WINDOW = whole_day(2)


def rollup_documents(db: firestore.Client) -> dict[str, Any]:
    """Every rollup document, compacted or shard, by collection and id."""
    return {
        f"{name}/{d.id}": d.to_dict()
        for name in ("generation_rollups", "generation_rollup_shards")
        for d in db.collection(name).stream()
    }


def lifecycle_doc(**fields: Any) -> dict[str, Any]:
    created = DAY + dt.timedelta(hours=3)
    doc: dict[str, Any] = {
        "userId": "u1",
        "provider": "runway",
        "status": "queued",
        "createdAt": created,
        "userTier": "free",
    }
    doc.update(fields)
    return doc


def completed_doc(**fields: Any) -> dict[str, Any]:
    created = DAY + dt.timedelta(hours=3)
    values: dict[str, Any] = {
        "status": "completed",
        "startedAt": created + dt.timedelta(seconds=4),
        "completedAt": created + dt.timedelta(seconds=70),
        "costUsd": 0.5,
        "qualityScore": 9.0,
    }
    return lifecycle_doc(**{**values, **fields})


def test_lifecycle_is_recorded_through_real_delivery(stack: Stack, db: firestore.Client) -> None:
    ref = db.collection("video_generations").document("life-1")
    ref.set(lifecycle_doc())
    wait_until(lambda: summary(stack, WINDOW)["generations"]["inProgress"] == 1)
    ref.set(completed_doc())
    wait_until(lambda: summary(stack, WINDOW)["generations"]["completed"] == 1)
    ref.update({"userRating": 5})
    wait_until(lambda: summary(stack, WINDOW)["satisfaction"]["rated"] == 1)
    result = summary(stack, WINDOW)
    assert result["generations"] == {
        "total": 1, "completed": 1, "failed": 0, "cancelled": 0, "inProgress": 0,
        "successRate": 1.0,
    }  # fmt: skip
    assert result["generationTimeSeconds"]["avg"] == pytest.approx(70.0)
    assert abs(result["generationTimeSeconds"]["p95"] - 70) / 70 <= sketch.ALPHA
    assert result["quality"] == {"avgScore": 9.0, "scored": 1}
    assert result["costUsd"] == pytest.approx(0.5)
    metrics = db.collection("video_generation_metrics").document("life-1").get().to_dict()
    assert metrics is not None
    assert (metrics["generationSeconds"], metrics["queueSeconds"], metrics["renderSeconds"]) == (
        70.0, 4.0, 66.0,
    )  # fmt: skip
    events = [e.to_dict() or {} for e in db.collection("analytics_events").stream()]
    assert sorted(e["type"] for e in events) == [
        "generation_completed", "generation_requested", "generation_started",
    ]  # fmt: skip


def test_replayed_and_stale_events_change_nothing(stack: Stack, db: firestore.Client) -> None:
    ref = db.collection("video_generations").document("replay-1")
    ref.set(lifecycle_doc())
    wait_until(lambda: len(stack.recorded("replay-1")) == 1)
    queued_event = stack.recorded("replay-1")[0]
    ref.set(completed_doc())
    wait_until(lambda: len(stack.recorded("replay-1")) == 2)
    completed_event = stack.recorded("replay-1")[1]
    wait_until(lambda: summary(stack, WINDOW)["generations"]["completed"] == 1)
    before = summary(stack, WINDOW)
    rollups_before = rollup_documents(db)
    assert rollups_before
    for event in (completed_event, completed_event, queued_event, completed_event, queued_event):
        assert stack.replay(event) < 300  # same ce-id again, and the older state after the newer
    assert summary(stack, WINDOW) == before
    assert rollup_documents(db) == rollups_before


def test_deleted_source_leaves_no_trace_in_aggregates(stack: Stack, db: firestore.Client) -> None:
    ref = db.collection("video_generations").document("gone-1")
    ref.set(completed_doc())
    wait_until(lambda: summary(stack, WINDOW)["generations"]["total"] == 1)
    ref.delete()
    wait_until(lambda: summary(stack, WINDOW)["generations"]["total"] == 0)
    assert summary(stack, WINDOW)["quality"]["scored"] == 0
    assert not db.collection("video_generation_metrics").document("gone-1").get().exists


def test_two_hundred_malformed_documents_are_rejected_without_effect(
    stack: Stack, db: firestore.Client
) -> None:
    db.collection("video_generations").document("good").set(completed_doc())
    wait_until(lambda: summary(stack, WINDOW)["generations"]["total"] == 1)
    before = summary(stack, WINDOW)
    breakers: list[Callable[[dict[str, Any]], None]] = [
        lambda d: d.update(userTier="gold"),
        lambda d: d.update(status="exploded"),
        lambda d: d.update(provider="Not A Provider"),
        lambda d: d.pop("userId"),
        lambda d: d.update(createdAt="2026-11-24T10:00:00Z"),
        lambda d: d.update(qualityScore=42),
        lambda d: d.update(costUsd=-3),
        lambda d: d.update(completedAt=DAY),
        lambda d: d.update(attempts=0),
        lambda d: d.update(status="failed"),
    ]
    batch = db.batch()
    for i in range(200):
        doc = completed_doc()
        breakers[i % len(breakers)](doc)
        batch.set(db.collection("video_generations").document(f"bad-{i:03d}"), doc)
        if i % 100 == 99:
            batch.commit()
            batch = db.batch()
    wait_until(lambda: len(list(db.collection("rejected_generations").stream())) == 200, 60)
    rejected = [d.to_dict() for d in db.collection("rejected_generations").stream()]
    assert all(r and r["reason"] for r in rejected)
    assert stack.trigger_failures() == 0, "a bad document must never fail the function"
    assert summary(stack, WINDOW) == before
    # A later valid write of a rejected generation is counted normally.
    db.collection("video_generations").document("bad-000").set(completed_doc())
    wait_until(lambda: summary(stack, WINDOW)["generations"]["total"] == 2)
    assert not db.collection("rejected_generations").document("bad-000").get().exists


def test_random_lifecycles_match_an_independent_computation(
    stack: Stack, db: firestore.Client
) -> None:
    rng = random.Random(2026)
    lives = [random_lifecycle(rng, f"rand-{i:03d}", DAY) for i in range(250)]
    writes = [(life, i) for life in lives for i in range(len(life.states))]
    # Interleave generations while keeping each generation's own writes in order.
    rng.shuffle(writes)
    next_index = {life.generation_id: 0 for life in lives}
    ordered: list[tuple[str, dict[str, Any] | None]] = []
    for life, _ in writes:
        index = next_index[life.generation_id]
        next_index[life.generation_id] += 1
        ordered.append((life.generation_id, life.states[index]))
    before = stack.trigger_successes()
    for generation_id, state in ordered:
        ref = db.collection("video_generations").document(generation_id)
        if state is None:
            ref.delete()
        else:
            ref.set(state)
    deletions_of_missing = 0  # every write and delete here hits an existing document or creates one
    wait_until(
        lambda: stack.trigger_successes() - before >= len(ordered) - deletions_of_missing, 120
    )
    finals = [life.final for life in lives]
    for provider in (None, "runway", "heygen"):
        params = dict(WINDOW)
        if provider:
            params["provider"] = provider
        truth = expected(finals, DAY, DAY + dt.timedelta(days=1), provider)
        got = summary(stack, params)
        g = got["generations"]
        assert g["total"] == truth.total
        assert g["completed"] == truth.by_status["completed"]
        assert g["failed"] == truth.by_status["failed"]
        assert g["cancelled"] == truth.by_status["cancelled"]
        assert g["inProgress"] == truth.by_status["queued"] + truth.by_status["processing"]
        assert got["quality"]["avgScore"] == pytest.approx(mean(truth.quality), abs=1e-3)
        assert got["satisfaction"]["avgRating"] == pytest.approx(mean(truth.ratings), abs=1e-3)
        assert got["costUsd"] == pytest.approx(truth.cost, abs=1e-6 * max(truth.total, 1))
        for key, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
            exact = truth.exact_quantile(q)
            assert exact is not None
            assert abs(got["generationTimeSeconds"][key] - exact) / exact <= sketch.ALPHA + 1e-9
    # Folding the journal (the every-minute fold_rollups, run here for a tick two minutes on,
    # when the epochs these changes arrived in have closed) keeps every figure.
    journal_before = len(list(db.collection("generation_rollup_shards").stream()))
    assert journal_before > 0 and not list(db.collection("generation_rollups").stream())
    before_fold = summary(stack, WINDOW)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=2)
    assert stack.run_schedule("fold_rollups", later) == 200
    assert summary(stack, WINDOW) == before_fold
    assert list(db.collection("generation_rollup_shards").stream()) == [], "every epoch closed"
    folded = [d.to_dict() or {} for d in db.collection("generation_rollups").stream()]
    minutes = {
        rollup.floor_time(final["createdAt"], "minute")
        for life in lives
        if is_valid(final := life.final) and final is not None
    }
    assert sorted(d["start"] for d in folded if d["g"] == "minute") == sorted(minutes)
    assert {d["g"] for d in folded} == {"minute", "hour", "day"}
    assert all(doc["shard"] == -1 for doc in folded)


def test_concurrent_handlers_of_one_generation_stay_exact(
    stack: Stack, db: firestore.Client
) -> None:
    """Redeliveries racing each other (several function instances) still count once."""
    from concurrent.futures import ThreadPoolExecutor

    from video_monitoring.adapters.firestore_store import FirestoreStore
    from video_monitoring.ingest.service import IngestService

    ingest = IngestService(FirestoreStore(db), shards=4)
    ref = db.collection("video_generations").document("race-1")
    states = [lifecycle_doc(), completed_doc(), completed_doc(userRating=3), completed_doc()]
    stack.settle()
    for state in states:
        ref.set(state)
        with ThreadPoolExecutor(max_workers=6) as pool:
            outcomes = list(
                pool.map(lambda _: ingest.record_generation_metrics("race-1").outcome, range(6))
            )
        assert set(outcomes) <= {"recorded", "updated", "unchanged"}
    stack.settle()
    result = summary(stack, WINDOW)
    assert result["generations"]["total"] == 1
    assert result["generations"]["completed"] == 1
    assert result["satisfaction"]["rated"] == 0
    assert result["costUsd"] == pytest.approx(0.5)
