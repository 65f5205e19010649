"""Reads per generation of the nightly drift audit on an exact day, before and after counts.

N finished generations (default 20,000) created over yesterday are recorded, then the audit of
that day is measured two ways with the adapters' read counters:

- `full walk` (the audit before counts): every source document and every stored record of the
  day read once and paired up, both ledgers (`audit_ledger` over the day's streams);
- `counts + sample` (the audit now): the scheduled `audit_pipeline` run on the functions host
  (`AUDIT_DAYS=1`): per-hour `count()` aggregations billed as Firestore bills them (one read per
  1,000 index entries matched, at least one), the hours that differ (none on an exact day) and
  the rotating sample.

Recording: `--through-host` generations (default 1,000) go through the real trigger path (the
functions host reconciles each write); the rest are recorded by the pipeline's own planner in
this process and written in batches (the source document, the stored record and the monitor's
lifecycle events each plan writes, exactly as a reconcile would; rollups and user days, which
the audit does not read, are left out). On a shared 2-core machine the trigger path runs at a
few generations a second, so 20,000 through it would take over an hour. Prints reads by ledger
and per generation. Took 15 minutes on the shared machine under load (8.5 of them writing the
19,000 recorded documents, 4 for the audit run, whose count() queries the emulator answers by
scanning); `--generations` makes it smaller.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "functions"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from google.cloud import firestore

from benchlib import bench_stack, finished_generation, store_counters, write_generations
from local_stack.ports import free_ports
from video_monitoring.adapters import _firestore
from video_monitoring.adapters.firestore_store import FirestoreStore
from video_monitoring.config import constants
from video_monitoring.ingest.drift_audit import audit_ledger, paired
from video_monitoring.ingest.monitoring_store import EVENT_LEDGER
from video_monitoring.ingest.pipeline import SourceState, StoredState
from video_monitoring.ingest.service import IngestService
from video_monitoring.runtime.jobs import audit_ledgers, reconciler

PROJECT = "demo-cvplus"
SOURCE = "video_generations"
HOST_READS = ("audit_reads", "aggregation_reads", "reads")


def generations(count: int, day: dt.datetime) -> Iterator[tuple[str, dict[str, Any]]]:
    """`count` finished generations created over the day (uniformly)."""
    rng = random.Random(count)
    for i in range(count):
        created = day + dt.timedelta(seconds=rng.uniform(0, 86_399 - 600))
        yield f"audit-{i:06d}", finished_generation(rng, created, pika_failure=0.2, users=2000)


def recorded(db: firestore.Client) -> int:
    """Generations the pipeline has recorded (one aggregation query)."""
    metrics: Any = db.collection(constants.METRICS)
    result = metrics.count(alias="n").get()
    return int(result[0][0].value)


def full_walk(db: firestore.Client, day: dt.datetime) -> dict[str, int]:
    """The audit before counts, in this process: reads of each ledger's whole-day walk."""
    store = FirestoreStore(db, cache=None)
    ingest = IngestService(store, shards=16, clock=lambda: day + dt.timedelta(days=1))
    end = day + dt.timedelta(days=1)
    reads: dict[str, int] = {}
    for ledger in audit_ledgers(SOURCE):
        before = _firestore.OPERATIONS["audit_reads"]
        events = ledger.name == "events"
        planner = ingest.event_planner if events else ingest.generation_planner
        target = EVENT_LEDGER if events else None
        audit = audit_ledger(
            paired(
                store.ordered_documents(ledger.source, ledger.time_field, day, end),
                store.ordered_documents(ledger.stored, ledger.time_field, day, end),
                ledger.time_field,
            ),
            planner,
            reconciler(store, target),
            ledger.time_field,
        )
        assert audit.repaired == 0, "the day is not exact"
        reads[ledger.name] = _firestore.OPERATIONS["audit_reads"] - before
    return reads


def record_in_process(
    db: firestore.Client, docs: list[tuple[str, dict[str, Any]]], now: Any
) -> None:
    """Write each generation with what the pipeline's planner records for it, in batches."""
    ingest = IngestService(FirestoreStore(db, cache=None), shards=16, clock=now)
    batch, pending = db.batch(), 0
    for doc_id, doc in docs:
        plan = ingest.generation_planner(doc_id)(SourceState(doc), StoredState(None, None))
        assert plan.metrics is not None, plan.reason
        writes = [(SOURCE, doc_id, doc), (constants.METRICS, doc_id, plan.metrics)]
        writes += [(constants.EVENTS, event_id, body) for event_id, body in plan.events]
        for collection, write_id, body in writes:
            batch.set(db.collection(collection).document(write_id), body)
        pending += len(writes)
        if pending >= 400:
            batch.commit()
            batch, pending = db.batch(), 0
    batch.commit()


def main() -> int:
    """Record, measure both audits, print."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--generations", type=int, default=20_000)
    parser.add_argument("--through-host", type=int, default=1_000)
    args = parser.parse_args()
    n = args.generations
    firestore_port, functions_port = free_ports(2)
    env = {"AUDIT_DAYS": "1"}
    with bench_stack(PROJECT, firestore_port, functions_port, env=env) as (stack, db):
        today = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        day = today - dt.timedelta(days=1)
        docs = list(generations(n, day))
        hosted = args.through_host
        started = time.monotonic()
        stack.stop_host()
        record_in_process(db, docs[hosted:], lambda: day + dt.timedelta(days=1))
        stack.start_host()
        seeded = time.monotonic() - started
        write_generations(db, docs[:hosted])
        deadline = time.monotonic() + 900
        while recorded(db) < n:
            if time.monotonic() > deadline:
                raise SystemExit("the pipeline did not record every generation in 900 s")
            time.sleep(2)
        print(f"audit benchmark: {n} generations on {day:%Y-%m-%d}: {n - hosted} recorded by "
              f"the planner in {seeded:.0f} s, {hosted} through the functions host in "
              f"{time.monotonic() - started - seeded:.0f} s")  # fmt: skip
        time.sleep(5)  # the last lifecycle events land

        before = full_walk(db, day)
        total_before = sum(before.values())
        print(f"  full walk (before):      generations {before['generations']:>7,} reads "
              f"({before['generations'] / n:.3f}/generation); both ledgers {total_before:,} "
              f"({total_before / n:.3f}/generation)")  # fmt: skip

        counters = store_counters(stack, HOST_READS)
        t0 = time.monotonic()
        response = stack.run_schedule("audit_pipeline", today + dt.timedelta(hours=1, minutes=30))
        seconds = time.monotonic() - t0
        response.raise_for_status()
        spent = {k: v - counters[k] for k, v in store_counters(stack, HOST_READS).items()}
        record = db.collection(constants.PIPELINE_AUDITS).document(day.date().isoformat()).get()
        body = record.to_dict() or {}
        gen, events = body["generations"], body["events"]
        both = gen["reads"] + events["reads"]
        print(f"  counts + sample (after): generations {gen['reads']:>7,} reads "
              f"({gen['reads'] / n:.4f}/generation: {gen['countQueries']} count queries, "
              f"{gen['sampled']} sampled, hours walked {gen['differingHours']}); both ledgers "
              f"{both:,} ({both / n:.4f}/generation); {seconds:.1f} s")  # fmt: skip
        print(f"  host read counters during the run: {spent}")
        print(f"  ratio: {total_before / both:.0f}x fewer reads")
        return 0 if body["complete"] and both / n <= 0.05 else 1


if __name__ == "__main__":
    sys.exit(main())
