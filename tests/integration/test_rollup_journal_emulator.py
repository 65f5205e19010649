"""The rollup journal and its fold on the real emulator: folds racing handlers, late changes to
folded buckets, and reads that do not grow with a backfill.

Handlers are `FirestoreStore.reconcile` with the pipeline's planner, run in-process on a source
collection without a trigger (so only these handlers touch it); the rollups are the real
collections. Expected figures are computed here with plain arithmetic from the final source
documents.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
from collections.abc import Callable
from typing import Any

import pytest
from google.cloud import firestore

from video_monitoring.adapters import _firestore, firestore_fold
from video_monitoring.adapters.firestore_rollups import FoldedCache
from video_monitoring.adapters.firestore_store import FirestoreStore
from video_monitoring.config import constants
from video_monitoring.ingest.monitoring_store import Ledger
from video_monitoring.ingest.pipeline import Counting, plan_change
from video_monitoring.ingest.rollup import BucketRange, bucket_starts, cover, floor_time

pytestmark = pytest.mark.integration

SHARDS = 4
LEDGER = Ledger("journal_generations", constants.METRICS, constants.REJECTED, constants.ROLLUPS)
NOW = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
FAR = NOW + dt.timedelta(days=1)  # a fold "before FAR" takes every epoch, even the open one


def generation(created: dt.datetime, rng: random.Random, **fields: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "userId": f"u{rng.randrange(50)}",
        "provider": rng.choice(["runway", "pika"]),
        "userTier": "free",
        "status": "completed",
        "createdAt": created,
        "startedAt": created + dt.timedelta(seconds=2),
        "completedAt": created + dt.timedelta(seconds=30),
        "costUsd": round(rng.uniform(0.1, 1.0), 2),
    }
    return doc | fields


def reconcile(store: FirestoreStore, doc_id: str) -> None:
    now = dt.datetime.now(dt.UTC)
    store.reconcile(
        doc_id,
        lambda source, stored: plan_change(doc_id, source, stored, now, Counting(SHARDS)),
        LEDGER,
    )


def expected(docs: dict[str, dict[str, Any]], granularity: str) -> dict[dt.datetime, list[int]]:
    """Per bucket: generations, cost in micro-dollars, ratings, from the documents alone."""
    result: dict[dt.datetime, list[int]] = {}
    for doc in docs.values():
        start = floor_time(doc["createdAt"], granularity)  # type: ignore[arg-type]
        bucket = result.setdefault(start, [0, 0, 0])
        bucket[0] += 1
        bucket[1] += round(doc["costUsd"] * 1_000_000)
        bucket[2] += "userRating" in doc
    return result


def counted(
    store: FirestoreStore, granularity: str, start: dt.datetime, end: dt.datetime
) -> dict[dt.datetime, list[int]]:
    """The same figures from the rollups, as every reader gets them."""
    result: dict[dt.datetime, list[int]] = {}
    for doc in store.rollups([BucketRange(granularity, start, end)]):  # type: ignore[arg-type]
        n = sum(int(cell.get("n", 0)) for cell in doc.cells.values())
        cost = sum(int(cell.get("cost/sum", 0)) for cell in doc.cells.values())
        rated = sum(int(cell.get("r/n", 0)) for cell in doc.cells.values())
        if n or cost or rated:
            result[doc.start] = [n, cost, rated]
    return result


def assert_exact(store: FirestoreStore, docs: dict[str, dict[str, Any]]) -> None:
    start = floor_time(NOW - dt.timedelta(days=3), "day")
    for granularity in ("minute", "hour", "day"):
        assert counted(store, granularity, start, FAR) == expected(docs, granularity)


def random_writes(db: firestore.Client, created: dict[str, dt.datetime], seed: int) -> None:
    """Sixty random creates, ratings, corrections and deletions of the documents, each
    reconciled as its trigger would."""
    store, local = FirestoreStore(db), random.Random(seed)
    source = db.collection(LEDGER.source)
    ids = list(created)  # in the order they were made
    for _ in range(60):
        doc_id = local.choice(ids)
        action = local.random()
        if action < 0.15:
            source.document(doc_id).delete()
        else:
            fields = {"userRating": local.randint(1, 5)} if action < 0.5 else {}
            source.document(doc_id).set(generation(created[doc_id], local, **fields))
        reconcile(store, doc_id)


def fold_until(
    db: firestore.Client, stop: threading.Event, folds: list[firestore_fold.Fold]
) -> None:
    """Fold every epoch, the open one included, until told to stop."""
    store = FirestoreStore(db)
    while not stop.is_set():
        folds.append(store.fold(FAR))


def collecting(
    errors: list[BaseException], action: Callable[..., None], *args: Any
) -> Callable[[], None]:
    """A thread's target: the action, its error kept for the test to raise."""

    def run() -> None:
        try:
            action(*args)
        except BaseException as error:
            errors.append(error)

    return run


def test_folds_racing_handlers_count_every_change_once(
    db: firestore.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writers create, rate, correct and delete generations while a folder folds every epoch,
    the open one included, a few buckets per transaction: every bucket of every granularity
    ends exactly as the final documents say, and the journal ends empty."""
    monkeypatch.setattr(firestore_fold, "FOLD_PAGE", 3)
    monkeypatch.setattr(firestore_fold, "FOLD_MAX_BUCKETS", 9)
    rng = random.Random(13)
    source = db.collection(LEDGER.source)
    ids = [f"g{i}" for i in range(40)]
    created = {i: NOW - dt.timedelta(minutes=rng.randrange(3 * 24 * 60)) for i in ids}
    stop = threading.Event()
    errors: list[BaseException] = []
    folds: list[firestore_fold.Fold] = []
    writers = [
        threading.Thread(target=collecting(errors, random_writes, db, created, n)) for n in range(4)
    ]
    fold_thread = threading.Thread(target=collecting(errors, fold_until, db, stop, folds))
    fold_thread.start()
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    stop.set()
    fold_thread.join()
    assert not errors, errors
    assert sum(f.entries for f in folds) > 0, "the folder must have raced the writers"
    store = FirestoreStore(db)
    for doc_id in ids:  # the last word on every document, as the trigger would give it
        reconcile(store, doc_id)
    finals = {s.id: s.to_dict() or {} for s in source.stream()}
    assert_exact(store, finals)  # journal and folded buckets together
    store.fold(FAR)
    assert list(db.collection(constants.ROLLUP_SHARDS).stream()) == []
    assert_exact(store, finals)  # folded buckets alone


def test_a_late_rating_to_a_folded_bucket_is_visible_at_once(db: firestore.Client) -> None:
    """Folded buckets come from the instance cache while unchanged; a late rating shows at once
    (from the journal), and once folded, the fold log makes every reader re-read the buckets
    it changed, and only those."""
    rng = random.Random(5)
    cache = FoldedCache(64 << 20)
    store = FirestoreStore(db, cache=cache)
    created = NOW - dt.timedelta(days=2, minutes=17)
    others = {f"o{i}": generation(created - dt.timedelta(days=1, hours=i), rng) for i in range(3)}
    doc = generation(created, rng)
    for doc_id, body in {**others, "late": doc}.items():
        db.collection(LEDGER.source).document(doc_id).set(body)
        reconcile(store, doc_id)
    store.fold(FAR)
    assert list(db.collection(constants.ROLLUP_SHARDS).stream()) == []
    assert_exact(store, {**others, "late": doc})  # fills the cache
    hits = cache.hits
    assert_exact(store, {**others, "late": doc})
    assert cache.hits > hits, "unchanged folded buckets come from the cache"
    rated = doc | {"userRating": 4}
    db.collection(LEDGER.source).document("late").set(rated)
    reconcile(store, "late")
    journal = list(db.collection(constants.ROLLUP_SHARDS).stream())
    assert len(journal) == 1, "one journal write for the change"
    assert_exact(store, {**others, "late": rated})  # before any fold: from the journal
    store.fold(FAR)
    misses = cache.misses
    assert_exact(store, {**others, "late": rated})  # after it: the changed buckets re-read
    # Three granularities are read by assert_exact; each re-reads the one bucket of the late
    # generation's minute, hour or day that the fold changed.
    assert cache.misses - misses == 3


def test_reads_of_a_month_do_not_grow_with_a_backfill(db: firestore.Client) -> None:
    """A backfill over 29 days, not folded: a 30-day read costs the tiling plus the journal
    documents (at most one per shard for the epoch the backfill arrived in), whatever the
    number of generations or of minutes they touch."""
    rng = random.Random(29)
    # Every change arrives in one epoch; no instance cache, to count every read.
    store = FirestoreStore(db, clock=lambda: NOW, cache=None)
    docs = {}
    for i in range(120):
        created = NOW - dt.timedelta(minutes=rng.uniform(5, 29 * 24 * 60))
        docs[f"b{i}"] = generation(created, rng)
        db.collection(LEDGER.source).document(f"b{i}").set(docs[f"b{i}"])
        reconcile(store, f"b{i}")
    ranges = cover(NOW - dt.timedelta(days=30), NOW)
    tiling = sum(len(bucket_starts(r)) for r in ranges)  # read by id, present or not
    before = _firestore.OPERATIONS["rollup_reads"]
    totals = store.rollups(ranges)
    reads = _firestore.OPERATIONS["rollup_reads"] - before
    assert reads == tiling + SHARDS
    assert sum(sum(int(cell.get("n", 0)) for cell in d.cells.values()) for d in totals) == 120
    store.fold(FAR)
    before = _firestore.OPERATIONS["rollup_reads"]
    folded = store.rollups(ranges)
    assert _firestore.OPERATIONS["rollup_reads"] - before == tiling + 1  # an empty journal: 1 read
    assert sum(sum(int(cell.get("n", 0)) for cell in d.cells.values()) for d in folded) == 120
    # With the instance cache, a refresh reads the fold log and the (empty) journal only.
    cached = FirestoreStore(db, cache=FoldedCache(64 << 20))
    cached.rollups(ranges)
    before = _firestore.OPERATIONS["rollup_reads"]
    again = cached.rollups(ranges)
    assert _firestore.OPERATIONS["rollup_reads"] - before == 2
    assert sorted((d.granularity, d.start, d.cells) for d in again) == sorted(
        (d.granularity, d.start, d.cells) for d in folded
    )
