"""The cost of exactly-once under concurrency: three ways to reconcile one change, measured.

- `precondition only`: the earlier mechanism (reads, commit with a precondition on the stored
  record); wrong under concurrent handlers (tests/integration/test_interleavings_emulator.py).
- `precondition + source check`: what `FirestoreStore.reconcile` does now (one more read of the
  source's update time after a commit).
- `transaction`: a read-write transaction that reads the source, the record and the rejection.

Each variant reconciles the same lifecycles (queued, processing, completed, then a duplicate
delivery) in-process against the emulator, sequentially: latency p50/p95 per change, reads and
round trips per change. Then contention: while 4 threads reconcile one document over and over,
the generation service rewrites that document; the writer's p95 shows whether reconciling holds
it up (a transaction's read locks the source document).
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "functions"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from google.cloud import firestore

from benchlib import bench_stack, percentile
from local_stack.ports import free_ports
from video_monitoring.adapters import _firestore, firestore_store
from video_monitoring.adapters.firestore_store import FirestoreStore
from video_monitoring.ingest.monitoring_store import ConcurrencyError, Ledger, Planner
from video_monitoring.ingest.pipeline import Counting, Plan, SourceState, StoredState, plan_change

PROJECT = "demo-cvplus"
LEDGER = Ledger("bench_sources", "video_generation_metrics", "rejected_generations",
                "generation_rollups")  # fmt: skip


class PreconditionOnly(FirestoreStore):
    """The earlier reconcile: no check of the source after the commit."""

    def reconcile(self, doc_id: str, planner: Planner, ledger: Ledger | None = None) -> Plan:
        """Read, plan, commit on the precondition; retry on a conflict."""
        client = self.client
        ledger = ledger or LEDGER
        names = (ledger.source, ledger.stored, ledger.rejected)
        refs = [client.collection(name).document(doc_id) for name in names]
        for _ in range(firestore_store.MAX_ATTEMPTS):
            snaps = {s.reference.path: s for s in client.get_all(refs)}
            source, metrics, rejected = (snaps[r.path] for r in refs)
            _firestore._count(attempts=1, reads=3, round_trips=1)
            plan = planner(
                SourceState(source.to_dict() if source.exists else None, source.update_time),
                StoredState.from_docs(
                    metrics.to_dict() if metrics.exists else None,
                    rejected.to_dict() if rejected.exists else None,
                ),
            )
            if plan.writes == 0:
                return plan
            batch = client.batch()
            self._apply(batch, plan, metrics, refs[2], ledger.rollups)
            try:
                _firestore._count(round_trips=1)
                batch.commit()
            except _firestore.COMMIT_CONFLICTS:
                continue
            return plan
        raise ConcurrencyError(doc_id)


class Transactional(FirestoreStore):
    """A read-write transaction reading the source too (serialisable, locks while it runs)."""

    def reconcile(self, doc_id: str, planner: Planner, ledger: Ledger | None = None) -> Plan:
        """Begin, read three documents, plan, write, commit (the SDK retries on contention)."""
        client = self.client
        ledger = ledger or LEDGER
        names = (ledger.source, ledger.stored, ledger.rejected)
        refs = [client.collection(name).document(doc_id) for name in names]
        result: list[Plan] = []

        @firestore.transactional
        def run(transaction: firestore.Transaction) -> None:
            snaps = {s.reference.path: s for s in transaction.get_all(refs)}
            source, metrics, rejected = (snaps[r.path] for r in refs)
            _firestore._count(attempts=1, reads=3, round_trips=2)  # begin + batch get
            plan = planner(
                SourceState(source.to_dict() if source.exists else None, source.update_time),
                StoredState.from_docs(
                    metrics.to_dict() if metrics.exists else None,
                    rejected.to_dict() if rejected.exists else None,
                ),
            )
            self._apply(transaction, plan, metrics, refs[2], ledger.rollups)
            _firestore._count(round_trips=1)  # commit (or rollback of a read-only one)
            result[:] = [plan]

        run(client.transaction(max_attempts=firestore_store.MAX_ATTEMPTS))
        return result[0]


def lifecycle(rng: random.Random, created: dt.datetime) -> list[dict[str, Any]]:
    """queued, processing, completed states of one generation."""
    base = {"userId": f"u{rng.randrange(50)}", "provider": rng.choice(("runway", "pika")),
            "createdAt": created, "userTier": "free", "status": "queued"}  # fmt: skip
    started = created + dt.timedelta(seconds=rng.uniform(1, 9))
    processing = {**base, "status": "processing", "startedAt": started}
    done = {**processing, "status": "completed", "costUsd": round(rng.uniform(0.1, 1), 4),
            "completedAt": started + dt.timedelta(seconds=rng.uniform(20, 90))}  # fmt: skip
    return [base, processing, done]


def planner_for(doc_id: str) -> Planner:
    now = dt.datetime.now(dt.UTC)
    return lambda source, stored: plan_change(doc_id, source, stored, now, Counting(16))


def sequential(store: FirestoreStore, db: firestore.Client, name: str, count: int) -> None:
    """Every change of `count` lifecycles plus one duplicate delivery each."""
    rng = random.Random(5)
    now = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    _firestore.OPERATIONS.clear()
    times: list[float] = []
    changes = 0
    for i in range(count):
        doc_id = f"{name[:4]}-{i}"
        ref = db.collection(LEDGER.source).document(doc_id)
        for state in lifecycle(rng, now):
            ref.set(state)
            t0 = time.perf_counter()
            store.reconcile(doc_id, planner_for(doc_id), LEDGER)
            times.append(time.perf_counter() - t0)
            changes += 1
        t0 = time.perf_counter()
        store.reconcile(doc_id, planner_for(doc_id), LEDGER)  # duplicate: nothing to write
        times.append(time.perf_counter() - t0)
        changes += 1
    ops = _firestore.OPERATIONS
    print(
        f"  {name:<30} p50 {percentile(times, 0.5) * 1000:5.1f} ms  "
        f"p95 {percentile(times, 0.95) * 1000:5.1f} ms  "
        f"{ops['reads'] / changes:.2f} reads, {ops['round_trips'] / changes:.2f} round trips, "
        f"{ops['attempts'] / changes:.2f} attempts per delivery ({changes} deliveries, 1 in 4 "
        "a duplicate)"
    )


def contention(store: FirestoreStore, db: firestore.Client, name: str, seconds: float) -> None:
    """The service's write latency to a document that 4 handlers keep reconciling."""
    doc_id = f"hot-{name[:4]}"
    ref = db.collection(LEDGER.source).document(doc_id)
    states = lifecycle(random.Random(9), dt.datetime.now(dt.UTC) - dt.timedelta(hours=2))
    ref.set(states[0])
    stop = threading.Event()
    errors: list[str] = []

    def handler() -> None:
        while not stop.is_set():
            try:
                store.reconcile(doc_id, planner_for(doc_id), LEDGER)
            except Exception as error:  # counted, the bench goes on
                errors.append(type(error).__name__)

    threads = [threading.Thread(target=handler) for _ in range(4)]
    for thread in threads:
        thread.start()
    writes: list[float] = []
    failed: list[str] = []
    deadline = time.monotonic() + seconds
    i = 0
    while time.monotonic() < deadline:
        t0 = time.perf_counter()
        try:
            ref.set(states[i % 3])
        except Exception as error:  # the service's write refused: what the bench looks for
            failed.append(str(error)[:60])
        writes.append(time.perf_counter() - t0)
        i += 1
        time.sleep(0.01)
    stop.set()
    for thread in threads:
        thread.join()
    print(
        f"  {name:<30} service write p50 {percentile(writes, 0.5) * 1000:6.1f} ms  "
        f"p95 {percentile(writes, 0.95) * 1000:6.1f} ms  ({len(writes)} writes, "
        f"{len(failed)} refused{': ' + failed[0] if failed else ''}; "
        f"{len(errors)} handler errors{': ' + errors[0] if errors else ''})"
    )


def main() -> int:
    """Both measurements for each variant on one fresh stack."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lifecycles", type=int, default=150)
    parser.add_argument("--contention-seconds", type=float, default=8.0)
    args = parser.parse_args()
    firestore_port, functions_port = free_ports(2)
    with bench_stack(PROJECT, firestore_port, functions_port) as (_, db):
        variants: list[tuple[str, Callable[[], FirestoreStore]]] = [
            ("precondition only (before)", lambda: PreconditionOnly(db)),
            ("precondition + source check", lambda: FirestoreStore(db)),
            ("transaction reading source", lambda: Transactional(db)),
        ]
        print("reconcile, in-process against the emulator, sequential deliveries:")
        for name, make in variants:
            sequential(make(), db, name, args.lifecycles)
        print("contention: 4 handlers reconciling one document while the service rewrites it:")
        for name, make in variants:
            contention(make(), db, name, args.contention_seconds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
