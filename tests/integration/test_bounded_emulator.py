"""Bounded state on the real stack: 10,000 distinct values of every free-form field, written
through the real triggers, fold and tick, leave every document the system writes under 64 KB,
and /quality and /health say how many values went to `other`."""

from __future__ import annotations

import datetime as dt
import logging
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import requests
from google.cloud import firestore

from local_stack.ports import free_ports
from local_stack.stack import StackPorts, start_stack
from tests.integration.support import PROJECT, Stack, client_of, summary, token, wait_until

# Writing 10,000 values of every field through the triggers takes minutes on the emulator.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(5400)]
log = logging.getLogger(__name__)
# Distinct values of each field (fewer only to measure growth, e.g. on an older commit).
DISTINCT = int(os.environ.get("TEST_BOUNDED_VALUES", "10000"))
LIMIT = 64 * 1024
SOURCES = ("video_generations", "analytics_events")  # the generation service's and the app's
JOURNALS = ("generation_rollup_shards", "event_rollup_shards")  # one document per minute, shard


def value_size(value: Any) -> int:
    """A field value's size by Firestore's storage size rules."""
    if value is None or isinstance(value, bool):
        return 1
    if isinstance(value, int | float | dt.datetime):
        return 8
    if isinstance(value, str):
        return len(value.encode()) + 1
    if isinstance(value, bytes):
        return len(value) + 1
    if isinstance(value, Mapping):
        return sum(len(str(k).encode()) + 1 + value_size(v) for k, v in value.items())
    if isinstance(value, Iterable):
        return sum(value_size(v) for v in value)
    if isinstance(value, firestore.GeoPoint):
        return 16
    if isinstance(value, firestore.DocumentReference):
        return name_size(value.path)
    raise TypeError(f"no size rule for {type(value).__name__}")


def name_size(path: str) -> int:
    """A document name's size: each path segment plus one, plus 16."""
    return sum(len(part.encode()) + 1 for part in path.split("/")) + 16


def document_size(snapshot: Any) -> int:
    """A document's size: its name, its fields, plus 32."""
    return name_size(snapshot.reference.path) + value_size(snapshot.to_dict() or {}) + 32


def largest_documents(db: firestore.Client) -> dict[str, tuple[int, str, int]]:
    """Per collection: the largest document's size and id, and how many documents it holds (the
    system writes no subcollections)."""
    found: dict[str, tuple[int, str, int]] = {}
    for collection in db.collections():
        largest, name, count = 0, "", 0
        for snapshot in collection.stream():
            count += 1
            size = document_size(snapshot)
            if size > largest:
                largest, name = size, snapshot.id
        found[collection.id] = (largest, name, count)
    return found


def odd_generation(i: int, created: dt.datetime) -> dict[str, Any]:
    """A failed generation whose every free-form field is a value never seen before."""
    return {
        "userId": f"bounded-user-{i}", "provider": f"acme-{i}", "status": "failed",
        "createdAt": created, "completedAt": created + dt.timedelta(seconds=20),
        "userTier": ("free", "premium")[i % 2],
        "model": f"model-{i}", "resolution": f"{i}p", "fallbackFrom": f"fallback-{i}",
        "error": {"code": f"weird_code_{i}", "message": "odd", "retryable": False},
        "features": [f"feature-{i}"], "costUsd": 0.01,
    }  # fmt: skip


def odd_event(i: int, at: dt.datetime) -> dict[str, Any]:
    """An app event of a type never seen before (the backend's SDK passes no rules), or every
    other one a feature_used event naming a feature never seen before."""
    if i % 2:
        return {"type": "feature_used", "userId": f"bounded-user-{i}", "timestamp": at,
                "properties": {"feature": f"event-feature-{i}"}}  # fmt: skip
    return {"type": f"invented_{i}", "userId": f"bounded-user-{i}", "timestamp": at}


def write_all(db: firestore.Client, collection: str, docs: Iterable[tuple[str, Any]]) -> None:
    """Documents by id, committed 400 at a time."""
    batch, pending = db.batch(), 0
    for doc_id, doc in docs:
        batch.set(db.collection(collection).document(doc_id), doc)
        pending += 1
        if pending == 400:
            batch.commit()
            batch, pending = db.batch(), 0
    batch.commit()


@pytest.fixture(scope="module")
def own_stack(stack: Stack) -> Iterator[tuple[Stack, firestore.Client]]:
    """A stack of this test's own (the session's proves the tools are there): its tens of
    thousands of documents would otherwise cost every later test's wipe minutes of deletes."""
    firestore_port, functions_port = free_ports(2)
    with tempfile.TemporaryDirectory(prefix="bounded-stack-") as logs:
        local = start_stack(
            PROJECT,
            StackPorts(firestore_port, functions_port),
            run_schedules=False,
            log_dir=Path(logs),
            env={"BIGQUERY_ENABLED": "false", "HEALTH_CACHE_SECONDS": "0"},
        )
        client = client_of(local)
        try:
            yield Stack(local, local.functions_base), client
        finally:
            local.stop()


def test_ten_thousand_distinct_values_leave_every_document_small(
    own_stack: tuple[Stack, firestore.Client],
) -> None:
    stack, db = own_stack
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    start = now - dt.timedelta(hours=3)
    span = dt.timedelta(hours=2) / DISTINCT  # inside the last 24 hours, in closed minutes
    ok_before = {
        name: stack.trigger_successes(name)
        for name in ("on_generation_written", "on_analytics_event_written")
    }
    at = [start + i * span for i in range(DISTINCT)]
    write_all(db, "video_generations", ((f"g{i}", odd_generation(i, t)) for i, t in enumerate(at)))
    write_all(db, "analytics_events", ((f"e{i}", odd_event(i, t)) for i, t in enumerate(at)))
    # Each generation fires its trigger once and writes lifecycle events (requested, failed; it
    # never started), each firing the event trigger; each app event fires it at least once.
    wanted = {
        "on_generation_written": ok_before["on_generation_written"] + DISTINCT,
        "on_analytics_event_written": ok_before["on_analytics_event_written"] + 3 * DISTINCT,
    }
    wait_until(
        lambda: all(stack.trigger_successes(name) >= n for name, n in wanted.items()),
        timeout=3600,
    )
    stack.settle(quiet=5, timeout=3600)  # the wait above counts at least the deliveries due
    assert stack.trigger_failures("on_generation_written") == 0
    assert stack.trigger_failures("on_analytics_event_written") == 0
    # Before the fold the journal holds every change; after it, the folded buckets do.
    journal = largest_documents(db)
    longest = {  # the longest entry of each collection's largest journal document
        name: max(
            map(len, (db.collection(name).document(doc_id).get().to_dict() or {})["d"].values())
        )
        for name, (_, doc_id, _) in journal.items()
        if name in JOURNALS and doc_id
    }
    finished = dt.datetime.now(dt.UTC)
    assert stack.run_schedule("fold_rollups", finished + dt.timedelta(minutes=2)) == 200
    assert stack.run_schedule("aggregate_and_alert", finished) == 200

    window = {"from": start.isoformat(), "to": now.isoformat()}
    quality = summary(stack, window, "/quality")
    feature_events, invented = DISTINCT // 2, (DISTINCT + 1) // 2
    assert quality["countedAsOther"] == {
        "provider": DISTINCT, "errorCode": DISTINCT, "feature": DISTINCT + feature_events,
        "eventType": invented,
    }  # fmt: skip
    response = requests.get(
        stack.url("video_analytics_dashboard", "/health"),
        headers={"Authorization": f"Bearer {token()}"},
        timeout=60,
    )
    assert response.status_code in (200, 503)  # degraded or not, the detail is there
    assert response.json()["countedAsOther24h"] == quality["countedAsOther"]

    folded = largest_documents(db)
    for when, sizes in (("before the fold", journal), ("after fold and tick", folded)):
        for name, (size, doc_id, count) in sorted(sizes.items()):
            log.info("%s: %s: %d documents, largest %d bytes (%s)", when, name, count, size, doc_id)
    assert journal.get("generation_rollup_shards", (0, "", 0))[2] > 0, "the journal was empty"
    owned = {
        name: max(journal.get(name, (0, "", 0)), folded.get(name, (0, "", 0)))
        for name in {*journal, *folded} - set(SOURCES)
    }
    sizes = folded
    for name in ("generation_rollups", "event_rollups", "video_generation_metrics", "user_days"):
        assert sizes.get(name, (0, "", 0))[2] > 0, f"{name} holds no documents"
    # The journal (one document per minute and shard) grows with the arrival rate, not with
    # distinct values: here every generation lands in the same few minutes. Its entries must be
    # small whatever the values, and its documents within Firestore's limit; every other
    # document under 64 KB.
    journals = {name: owned.pop(name) for name in JOURNALS if name in owned}
    for name, (size, doc_id, _) in journals.items():
        assert size < 1024 * 1024, (name, doc_id, size)
        assert longest[name] < 2048, (name, doc_id, longest[name])
    too_big = {name: entry for name, entry in owned.items() if entry[0] >= LIMIT}
    assert too_big == {}
