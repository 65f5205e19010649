"""A fold that never stalls, on the real emulator: poison journal entries (text that is not an
entry, a counter that is not an integer) and a bucket no transaction can write (its document
would pass Firestore's size limit) are quarantined with their reason, two overlapping fold runs
fold every other entry exactly once, generation and app event rollups fold independently, and
an operator's replay after a fix folds the entry once.

Generations go through `FirestoreStore.reconcile` with the pipeline's planner on a source
collection without a trigger (tests/integration/test_rollup_journal_emulator.py); app event
entries are written with the handlers' own `journal_writes`. Expected figures are computed here
from the healthy inputs alone.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import threading
import zlib
from typing import Any

import pytest
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from tests.integration.support import Stack, api
from tests.integration.test_rollup_journal_emulator import (
    FAR,
    LEDGER,
    NOW,
    assert_exact,
    generation,
    reconcile,
)
from video_monitoring.adapters.firestore_health import FirestoreHealth
from video_monitoring.adapters.firestore_rollups import journal_writes, rollup_doc_id
from video_monitoring.adapters.firestore_store import FirestoreStore
from video_monitoring.analytics.health import assess
from video_monitoring.config import constants
from video_monitoring.ingest.rollup import BucketRange, RollupDelta, floor_time

pytestmark = pytest.mark.integration

QUARANTINE = "rollup_quarantine"
NOT_JSON = '["20261206T0700","runway|free",{"n":1'  # cut short
FLOAT_COUNTER = '["20261206T0700","runway|free",{"n":1.5}]'


def healthy_generations(db: firestore.Client, store: FirestoreStore, n: int) -> dict[str, Any]:
    rng = random.Random(7)
    docs = {}
    for i in range(n):
        created = NOW - dt.timedelta(minutes=rng.randrange(2 * 24 * 60))
        docs[f"g{i}"] = generation(created, rng, userRating=rng.randint(1, 5))
        db.collection(LEDGER.source).document(f"g{i}").set(docs[f"g{i}"])
        reconcile(store, f"g{i}")
    return docs


def add_entry(db: firestore.Client, journal: str, key: str, text: Any) -> str:
    """Add one raw entry to the first journal document (beside the healthy entries there)."""
    first = next(iter(db.collection(journal).order_by("__name__").limit(1).stream()))
    first.reference.set({"d": {key: text}}, merge=True)
    return first.id


def firing(db: firestore.Client, rule: str) -> list[str]:
    query = db.collection("alert_instances").where(filter=FieldFilter("ruleId", "==", rule))
    return [str((s.to_dict() or {}).get("status")) for s in query.stream()]


def quarantined(db: firestore.Client) -> dict[str, dict[str, Any]]:
    return {s.id: s.to_dict() or {} for s in db.collection(QUARANTINE).stream()}


def test_poison_entries_are_quarantined_and_overlapping_folds_count_the_rest_once(
    stack: Stack, db: firestore.Client
) -> None:
    """Two poison entries share a journal document with healthy ones. Before any fold a read
    skips them; two fold runs started together quarantine each exactly once, with the original
    text and the reason, and fold everything else exactly once; the journal ends empty, a
    further fold changes nothing, /health counts them and is degraded, and the tick fires
    fold_quarantine. A replay of the fixed entry folds it once; once nothing is held, the rule
    resolves."""
    store = FirestoreStore(db)
    docs = healthy_generations(db, store, 40)
    journal_id = add_entry(db, constants.ROLLUP_SHARDS, "poisontext", NOT_JSON)
    add_entry(db, constants.ROLLUP_SHARDS, "poisonfloat", FLOAT_COUNTER)
    assert_exact(store, docs)  # the read skips what cannot be folded

    folds: list[Any] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def folder() -> None:
        try:
            start.wait()
            folds.append(FirestoreStore(db).fold(FAR))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=folder) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert sum(f.quarantined for f in folds) == 2, "each poison entry quarantined once"
    assert not any(f.stopped for f in folds)
    assert list(db.collection(constants.ROLLUP_SHARDS).stream()) == []
    assert_exact(store, docs)  # the folded buckets alone: the healthy generations, once

    held = quarantined(db)
    by_key = {doc["entryKey"]: doc for doc in held.values()}
    assert sorted(by_key) == ["poisonfloat", "poisontext"]
    assert by_key["poisontext"]["entry"] == NOT_JSON
    assert by_key["poisontext"]["reason"].startswith("BadEntry: entry: not a JSON array")
    assert by_key["poisonfloat"]["entry"] == FLOAT_COUNTER
    assert by_key["poisonfloat"]["reason"] == (
        "BadEntry: counter 'n': expected an integer, got 1.5"
    )
    for doc in held.values():
        assert (doc["rollups"], doc["journalId"]) == (constants.ROLLUPS, journal_id)

    again = store.fold(FAR)
    assert (again.entries, again.quarantined) == (0, 0)
    assert len(quarantined(db)) == 2
    assert_exact(store, docs)

    inputs = FirestoreHealth(db).health_inputs(dt.datetime.now(dt.UTC), 0, 0)
    assert (inputs.quarantined, inputs.quarantined_last_day) == (2, 2)
    assert any("2 rollup journal entries quarantined" in r for r in assess(inputs).reasons)
    status, body = api(stack, "GET", "/health")
    assert status == 503
    assert body["foldQuarantine"] == {"held": 2, "last24h": 2}
    tick = dt.datetime.now(dt.UTC)
    assert stack.run_schedule("aggregate_and_alert", tick) == 200
    assert firing(db, "fold_quarantine") == ["firing"]

    # The operator fixes the cut-short text in the quarantine record and replays both: the
    # fixed one is folded once (one more generation in its minute), the other fails again.
    fixed_id = next(i for i, d in held.items() if d["entryKey"] == "poisontext")
    minute = floor_time(NOW - dt.timedelta(hours=3), "minute")
    fixed = json.dumps([minute.strftime("%Y%m%dT%H%M"), "runway|free", {"n": 1}])
    db.collection(QUARANTINE).document(fixed_id).update({"entry": fixed})
    assert sorted(store.replay_quarantined(list(held))) == sorted(held)
    assert store.replay_quarantined([fixed_id]) == []  # no longer held: nothing twice
    result = store.fold(FAR)
    assert (result.entries, result.quarantined) == (1, 1)
    assert [d["entryKey"] for d in quarantined(db).values()] == ["poisonfloat"]
    counts = {
        (doc.granularity, doc.start): sum(int(cell.get("n", 0)) for cell in doc.cells.values())
        for doc in store.rollups([BucketRange("minute", minute, minute + dt.timedelta(minutes=1))])
    }
    base = sum(1 for d in docs.values() if floor_time(d["createdAt"], "minute") == minute)
    assert counts.get(("minute", minute), 0) == base + 1

    # The operator drops the entry that cannot be fixed: the rule resolves on the next tick.
    db.collection(QUARANTINE).document(next(iter(quarantined(db)))).delete()
    assert stack.run_schedule("aggregate_and_alert", tick + dt.timedelta(minutes=5)) == 200
    assert firing(db, "fold_quarantine") == ["resolved"]


def big_cells(target: int, rng: random.Random) -> dict[str, dict[str, int]]:
    """Cells whose compressed blob is within 2 KB under `target` bytes (random names compress
    little)."""
    cells: dict[str, dict[str, int]] = {}
    batch = 4096
    while batch:
        trial = cells | {rng.randbytes(24).hex(): {"n": 1} for _ in range(batch)}
        if len(zlib.compress(json.dumps(trial, separators=(",", ":")).encode(), 6)) > target:
            batch //= 2
        else:
            cells = trial
    return cells


def test_a_bucket_too_large_to_write_quarantines_only_the_entry_that_grows_it(
    stack: Stack, db: firestore.Client
) -> None:
    """An app event minute bucket is a few KB under Firestore's 1 MiB limit; an entry adding a
    large new cell to it makes every transaction writing it fail. The scheduled fold_rollups
    (the deployed function on the functions host) splits the failing chunk, quarantines that
    entry alone with Firestore's error, folds every other app event entry (one into the same
    bucket's existing cell) and every generation. Once the bucket is cleaned up, a replay
    folds the entry."""
    rng = random.Random(3)
    store = FirestoreStore(db)
    docs = healthy_generations(db, store, 12)
    big = floor_time(NOW - dt.timedelta(hours=5), "minute")
    cells = big_cells(1_030_000, rng)
    kept_cell = next(iter(cells))
    blob = zlib.compress(json.dumps(cells, separators=(",", ":")).encode(), 6)
    assert 1_028_000 < len(blob) <= 1_030_000  # the new cell's ~40 KB pass the limit
    db.collection(constants.EVENT_ROLLUPS).document(rollup_doc_id("minute", big, None)).set(
        {
            "g": "minute",
            "start": big,
            "end": big + dt.timedelta(minutes=1),
            "shard": -1,
            "blob": blob,
        }
    )
    deltas = [
        RollupDelta("minute", NOW - dt.timedelta(minutes=m), m % 3, "video_viewed", {"n": m})
        for m in range(1, 30)
    ]
    deltas.append(RollupDelta("minute", big, 0, kept_cell, {"n": 2}))
    grower = RollupDelta("minute", big, 1, os.urandom(40_000).hex(), {"n": 1})
    for delta in [*deltas, grower]:
        for doc_id, body in journal_writes([delta], NOW - dt.timedelta(minutes=1)):
            db.collection(constants.EVENT_ROLLUP_SHARDS).document(doc_id).set(body, merge=True)

    assert stack.run_schedule("fold_rollups", FAR) == 200
    held = list(quarantined(db).values())
    assert len(held) == 1
    assert held[0]["rollups"] == constants.EVENT_ROLLUPS
    assert json.loads(held[0]["entry"])[1] == grower.cell
    assert held[0]["reason"].startswith("InvalidArgument: 400")
    assert list(db.collection(constants.EVENT_ROLLUP_SHARDS).stream()) == []
    assert list(db.collection(constants.ROLLUP_SHARDS).stream()) == []
    assert_exact(store, docs)  # the generations folded, untouched by the events' failure

    def event_counts() -> dict[tuple[str, dt.datetime], dict[str, int]]:
        start = floor_time(NOW - dt.timedelta(days=1), "day")
        found = {}
        for granularity in ("minute", "hour", "day"):
            ranges = [BucketRange(granularity, start, FAR)]
            for doc in store.rollups(ranges, constants.EVENT_ROLLUPS):
                found[(doc.granularity, doc.start)] = {
                    cell: int(v["n"]) for cell, v in doc.cells.items() if cell in wanted
                }
        return {key: cells for key, cells in found.items() if cells}

    def expected(extra: list[RollupDelta]) -> dict[tuple[str, dt.datetime], dict[str, int]]:
        sums: dict[tuple[str, dt.datetime], dict[str, int]] = {}
        for delta in [*deltas, *extra]:
            for granularity in ("minute", "hour", "day"):
                bucket = sums.setdefault((granularity, floor_time(delta.bucket_start,
                                                                  granularity)), {})  # fmt: skip
                bucket[delta.cell] = bucket.get(delta.cell, 0) + delta.values["n"]
        sums[("minute", big)][kept_cell] += 1  # the bucket's own count before the fold
        return sums

    wanted = {"video_viewed", kept_cell, grower.cell}
    assert event_counts() == expected([])

    # The fix: the oversized bucket is rebuilt small (only the counts this test checks).
    db.collection(constants.EVENT_ROLLUPS).document(rollup_doc_id("minute", big, None)).update(
        {"blob": zlib.compress(json.dumps({kept_cell: {"n": 3}}).encode())}
    )
    assert len(store.replay_quarantined(list(quarantined(db)))) == 1
    result = store.fold(FAR)
    assert (result.entries, result.quarantined) == (1, 0)
    assert quarantined(db) == {}
    assert event_counts() == expected([grower])
