"""Concurrent handlers of one document, interleaved deterministically on the real emulator.

Each handler is `FirestoreStore.reconcile` with the pipeline's own planner, exactly what the
triggers run; the handler under test runs in a thread and stops between its reads and its commit
(the store's `before_commit` hook) while the test writes the source document and runs other
handlers. The source documents live in collections without a trigger, so only the handlers the
test runs touch them; the stored records, rollup shards and user days are the real collections.
After the last handler returns, the rollups must hold exactly what the final source document
implies, computed here with plain arithmetic from that document.
"""

from __future__ import annotations

import datetime as dt
import queue
import threading
from collections.abc import Callable
from typing import Any

import pytest
from google.cloud import firestore

from video_monitoring.adapters.firestore_store import FirestoreStore
from video_monitoring.config import constants
from video_monitoring.ingest.bounds import Bounds
from video_monitoring.ingest.events import plan_event_change
from video_monitoring.ingest.monitoring_store import Ledger
from video_monitoring.ingest.pipeline import Counting, Plan, SourceState, StoredState, plan_change
from video_monitoring.ingest.rollup import BucketRange, flatten, floor_time, step

pytestmark = pytest.mark.integration

SHARDS = 16
# The test's own provider is tracked, so it keeps the cell `race|free` to itself.
BOUNDS = Bounds(providers=frozenset({*constants.DEFAULT_TRACKED_PROVIDERS, "race"}))
GENERATIONS = Ledger("race_generations", constants.METRICS, constants.REJECTED, constants.ROLLUPS)
EVENTS = Ledger(
    "race_events", constants.EVENT_CONTRIBUTIONS, constants.REJECTED_EVENTS, constants.EVENT_ROLLUPS
)
# A minute of its own (within the raw retention), so the event rollups of that minute hold only
# this test's events.
CREATED = (dt.datetime.now(dt.UTC) - dt.timedelta(days=20)).replace(second=0, microsecond=0)


def generation_planner(doc_id: str) -> Callable[[SourceState, StoredState], Plan]:
    """The planner `on_generation_written` uses."""
    now = dt.datetime.now(dt.UTC)
    return lambda source, stored: plan_change(doc_id, source, stored, now, Counting(SHARDS, BOUNDS))


def event_planner(doc_id: str) -> Callable[[SourceState, StoredState], Plan]:
    """The planner `on_analytics_event_written` uses."""
    now = dt.datetime.now(dt.UTC)
    return lambda source, stored: plan_event_change(doc_id, source, stored, now, Counting(SHARDS))


class Handler:
    """One delivery's handler in a thread, stopping before each commit until released."""

    def __init__(self, db: firestore.Client, doc_id: str, ledger: Ledger) -> None:
        self._arrived: queue.Queue[str] = queue.Queue()
        self._go: queue.Queue[bool] = queue.Queue()
        self.error: BaseException | None = None
        self.done = False
        planner = generation_planner if ledger is GENERATIONS else event_planner
        store = FirestoreStore(db, before_commit=self._pause)
        self._thread = threading.Thread(
            target=self._run, args=(store, doc_id, planner(doc_id), ledger), daemon=True
        )

    def _pause(self, doc_id: str, plan: Plan) -> None:
        self._arrived.put("paused")
        self._go.get(timeout=60)

    def _run(
        self,
        store: FirestoreStore,
        doc_id: str,
        planner: Callable[[SourceState, StoredState], Plan],
        ledger: Ledger,
    ) -> None:
        try:
            store.reconcile(doc_id, planner, ledger)
        except BaseException as error:  # handed to the test thread
            self.error = error
        finally:
            self._arrived.put("done")

    def start(self) -> Handler:
        """Run until the first pause (after its reads) or until it returns."""
        self._thread.start()
        if self._arrived.get(timeout=30) == "done":
            self._thread.join(timeout=30)
            raise AssertionError(f"the handler returned before committing: {self.error!r}")
        return self

    def step(self) -> None:
        """Let it commit once; it then stalls again (it read anew) or returns."""
        if not self.done:
            self._go.put(True)
            self.done = self._arrived.get(timeout=30) == "done"

    def finish(self) -> None:
        """Release it until it returns."""
        while not self.done:
            self.step()
        self._thread.join(timeout=30)
        if self.error is not None:
            raise self.error


def run_handler(db: firestore.Client, doc_id: str, ledger: Ledger) -> Plan:
    """A handler that runs straight through (a delivery that is not delayed)."""
    planner = generation_planner if ledger is GENERATIONS else event_planner
    return FirestoreStore(db).reconcile(doc_id, planner(doc_id), ledger)


def generation(**fields: Any) -> dict[str, Any]:
    """A completed generation of the test's own provider."""
    doc: dict[str, Any] = {
        "userId": "racer",
        "provider": "race",
        "status": "completed",
        "createdAt": CREATED,
        "startedAt": CREATED + dt.timedelta(seconds=3),
        "completedAt": CREATED + dt.timedelta(seconds=40),
        "userTier": "free",
        "costUsd": 0.25,
    }
    doc.update(fields)
    return doc


def app_event(**fields: Any) -> dict[str, Any]:
    """A premium upgrade in the test's own minute."""
    doc: dict[str, Any] = {
        "type": "premium_upgrade",
        "userId": "racer",
        "timestamp": CREATED + dt.timedelta(seconds=5),
        "amountUsd": 9.99,
    }
    doc.update(fields)
    return doc


def expected_generation(doc: dict[str, Any] | None) -> dict[str, int]:
    """What the rollup cell `race|free` must hold for a final document (plain arithmetic)."""
    if doc is None or doc.get("status") not in ("queued", "processing", "completed", "failed"):
        return {}
    counters = {"n": 1, f"s/{doc['status']}": 1}
    if doc.get("costUsd") is not None:
        counters |= {"cost/sum": round(doc["costUsd"] * 1_000_000), "cost/n": 1}
    if doc.get("userRating") is not None:
        counters |= {"r/sum": round(doc["userRating"] * 1000), "r/n": 1}
    return counters


def expected_event(doc: dict[str, Any] | None) -> dict[str, int]:
    """What the `premium_upgrade` cell of the test's minute must hold for a final event."""
    if doc is None or not isinstance(doc.get("userId"), str) or not doc["userId"]:
        return {}
    return {"n": 1, "rev/sum": round(doc["amountUsd"] * 1_000_000), "rev/n": 1}


def cell_counters(db: firestore.Client, shards: str, granularity: str, cell: str) -> dict[str, int]:
    """The counters of one cell in the bucket of one granularity holding CREATED, as every
    reader sees them: folded and journal increments together (`FirestoreStore.rollups`)."""
    collection = {
        constants.ROLLUP_SHARDS: constants.ROLLUPS,
        constants.EVENT_ROLLUP_SHARDS: constants.EVENT_ROLLUPS,
    }[shards]
    start = floor_time(CREATED, granularity)  # type: ignore[arg-type]
    bucket = BucketRange(granularity, start, start + step(granularity))  # type: ignore[arg-type]
    total: dict[str, int] = {}
    for doc in FirestoreStore(db).rollups([bucket], collection):
        for key, value in doc.cells.get(cell, {}).items():
            total[key] = total.get(key, 0) + int(value)
    return {k: v for k, v in total.items() if v != 0}


def assert_generation_counted(db: firestore.Client, doc_id: str) -> None:
    """Rollups (every granularity), stored record and user day agree with the final source."""
    snap = db.collection(GENERATIONS.source).document(doc_id).get()
    final = snap.to_dict() if snap.exists else None
    want = expected_generation(final)
    for granularity in ("minute", "hour", "day"):
        got = cell_counters(db, constants.ROLLUP_SHARDS, granularity, "race|free")
        checked = {"n", "cost/sum", "cost/n", "r/sum", "r/n", *want}
        assert {k: got.get(k, 0) for k in checked} == {k: want.get(k, 0) for k in checked}
    stored = db.collection(constants.METRICS).document(doc_id).get()
    assert stored.exists == bool(want)
    days = [d.to_dict() or {} for d in db.collection(constants.USER_DAYS).stream()]
    generations = sum(flatten(d.get("c", {})).get("gen/n", 0) for d in days)
    assert generations == want.get("n", 0)


def assert_event_counted(db: firestore.Client, doc_id: str) -> None:
    """The event rollups of the minute and the stored record agree with the final event."""
    snap = db.collection(EVENTS.source).document(doc_id).get()
    want = expected_event(snap.to_dict() if snap.exists else None)
    got = cell_counters(db, constants.EVENT_ROLLUP_SHARDS, "minute", "premium_upgrade")
    checked = {"n", "rev/sum", "rev/n"}
    assert {k: got.get(k, 0) for k in checked} == {k: want.get(k, 0) for k in checked}
    assert db.collection(constants.EVENT_CONTRIBUTIONS).document(doc_id).get().exists == bool(want)


@pytest.mark.parametrize("ledger", [GENERATIONS, EVENTS], ids=["generation", "event"])
def test_create_then_delete(db: firestore.Client, ledger: Ledger) -> None:
    """H1 reads the new document and stalls; it is deleted and H2 finds nothing to undo."""
    ref = db.collection(ledger.source).document("create-delete")
    ref.set(generation() if ledger is GENERATIONS else app_event())
    h1 = Handler(db, ref.id, ledger).start()
    ref.delete()
    assert run_handler(db, ref.id, ledger).writes == 0
    h1.finish()
    check(db, ref.id, ledger)


@pytest.mark.parametrize("ledger", [GENERATIONS, EVENTS], ids=["generation", "event"])
def test_valid_then_invalid(db: firestore.Client, ledger: Ledger) -> None:
    """H1 reads a valid document and stalls; a rewrite makes it invalid and H2 records the
    rejection (nothing was counted yet); H1's commit must not count the valid version."""
    ref = db.collection(ledger.source).document("valid-invalid")
    ref.set(generation() if ledger is GENERATIONS else app_event())
    h1 = Handler(db, ref.id, ledger).start()
    ref.set(generation(status="exploded") if ledger is GENERATIONS else app_event(userId=""))
    assert run_handler(db, ref.id, ledger).outcome == "rejected"
    h1.finish()
    check(db, ref.id, ledger)
    assert db.collection(ledger.rejected).document(ref.id).get().exists


@pytest.mark.parametrize("ledger", [GENERATIONS, EVENTS], ids=["generation", "event"])
def test_a_b_a(db: firestore.Client, ledger: Ledger) -> None:
    """A is counted; H1 reads B and stalls; the document goes back to A and H2 finds A counted."""
    ref = db.collection(ledger.source).document("a-b-a")
    a = generation() if ledger is GENERATIONS else app_event()
    b = generation(costUsd=7.5) if ledger is GENERATIONS else app_event(amountUsd=49.0)
    ref.set(a)
    run_handler(db, ref.id, ledger)
    ref.set(b)
    h1 = Handler(db, ref.id, ledger).start()
    ref.set(a)
    assert run_handler(db, ref.id, ledger).writes == 0
    h1.finish()
    check(db, ref.id, ledger)


def test_late_rating_racing_its_correction(db: firestore.Client) -> None:
    """A rating arrives late (H1 reads it and stalls); the service then corrects the document,
    taking the misattributed rating back, and the correction's handler finds nothing to do."""
    ref = db.collection(GENERATIONS.source).document("rating-correction")
    ref.set(generation())
    run_handler(db, ref.id, GENERATIONS)
    ref.update({"userRating": 2})
    h1 = Handler(db, ref.id, GENERATIONS).start()
    ref.update({"userRating": firestore.DELETE_FIELD})
    assert run_handler(db, ref.id, GENERATIONS).writes == 0
    h1.finish()
    check(db, ref.id, GENERATIONS)


def test_late_rating_racing_a_cost_correction(db: firestore.Client) -> None:
    """A late rating and a cost correction, each handler stalled before committing, released
    newest first: the rating's stale plan must not undo the correction."""
    ref = db.collection(GENERATIONS.source).document("rating-cost")
    ref.set(generation())
    run_handler(db, ref.id, GENERATIONS)
    ref.update({"userRating": 5})
    rating = Handler(db, ref.id, GENERATIONS).start()
    ref.update({"costUsd": 0.75})
    correction = Handler(db, ref.id, GENERATIONS).start()
    correction.finish()
    rating.finish()
    check(db, ref.id, GENERATIONS)


def test_two_stale_handlers_race_a_fresh_one(db: firestore.Client) -> None:
    """H1 (state B) and H2 (state C) stall; H1 commits; H2 conflicts, reads again and stalls;
    the document returns to B and the fresh H3 finds B counted; H2 must not commit C."""
    ref = db.collection(GENERATIONS.source).document("two-stale")
    b, c_state = generation(costUsd=1.0), generation(costUsd=2.0)
    ref.set(b)
    h1 = Handler(db, ref.id, GENERATIONS).start()
    ref.set(c_state)
    h2 = Handler(db, ref.id, GENERATIONS).start()
    h1.finish()
    h2.step()  # conflict on the stored record: it reads again (and stalls or has nothing to do)
    ref.set(b)
    run_handler(db, ref.id, GENERATIONS)
    h2.finish()
    check(db, ref.id, GENERATIONS)


def check(db: firestore.Client, doc_id: str, ledger: Ledger) -> None:
    """The final state, whichever ledger."""
    if ledger is GENERATIONS:
        assert_generation_counted(db, doc_id)
    else:
        assert_event_counted(db, doc_id)
