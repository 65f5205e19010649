"""What the queue and capacity figures add to the five-minute tick, on the local stack:
generations through the real triggers (finished ones over the month so far, a tenth in the last
hour, plus jobs queued and processing now), limits set for every provider, then the tick's new
step (`live_figures`, run in this process against the same emulator) measured alone: documents
read by kind, queries and time; and whole ticks for scale. Then GET /system and GET /capacity."""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "functions"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests

from benchlib import (
    PROVIDERS,
    bench_stack,
    finished_generation,
    store_counters,
    wait_for_count,
    write_generations,
)
from local_stack.ports import free_ports
from local_stack.stack import LocalStack
from local_stack.tokens import emulator_token
from video_monitoring.adapters import _firestore
from video_monitoring.adapters.firestore_queue import FirestoreQueue
from video_monitoring.adapters.firestore_store import FirestoreStore
from video_monitoring.analytics.capacity import CapacityService
from video_monitoring.analytics.performance import PerformanceMonitor
from video_monitoring.analytics.queue import QueueService
from video_monitoring.config.settings import get_settings
from video_monitoring.core.clock import utc_now

PROJECT = "demo-bench-queue"
KINDS = ("queue_counts", "queue_reads", "capacity_reads", "rollup_reads", "queries")


def call(stack: LocalStack, method: str, path: str, body: Any = None) -> tuple[float, Any]:
    token = emulator_token("bench", "admin", PROJECT)
    started = time.perf_counter()
    response = requests.request(
        method,
        f"{stack.functions_base}/{PROJECT}/us-central1/video_analytics_dashboard{path}",
        json=body,
        params={"window": "1h"} if method == "GET" else None,
        headers={"Authorization": f"Bearer {token}"},
        timeout=120,
    )
    response.raise_for_status()
    return time.perf_counter() - started, response.json()


def in_flight(rng: random.Random, now: dt.datetime, status: str) -> dict[str, Any]:
    created = now - dt.timedelta(minutes=rng.uniform(1, 50))
    doc: dict[str, Any] = {
        "userId": f"user-{rng.randrange(500)}", "provider": rng.choice(PROVIDERS),
        "status": status, "createdAt": created, "userTier": "free",
    }  # fmt: skip
    if status == "processing":
        doc["startedAt"] = created + dt.timedelta(seconds=rng.uniform(1, 120))
    return doc


def load(db: Any, finished: int, queued: int, processing: int, now: dt.datetime) -> int:
    rng = random.Random(finished)
    month = now.replace(day=1, hour=0, minute=0, second=0)
    span = max((now - month).total_seconds() / 60 - 70, 60)

    def docs() -> Iterator[tuple[str, dict[str, Any]]]:
        for i in range(finished):
            ago = rng.uniform(2, 60) if i % 10 == 0 else rng.uniform(70, 70 + span)
            created = now - dt.timedelta(minutes=ago)
            yield f"f-{i}", finished_generation(rng, created, pika_failure=0.1, users=500)
        for i in range(queued):
            yield f"q-{i}", in_flight(rng, now, "queued")
        for i in range(processing):
            yield f"p-{i}", in_flight(rng, now, "processing")

    write_generations(db, docs())
    total = finished + queued + processing
    ledger = db.collection("video_generation_metrics")
    wait_for_count(lambda: int(ledger.count().get()[0][0].value), total)
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--finished", type=int, default=2000)
    parser.add_argument("--queued", type=int, default=300)
    parser.add_argument("--processing", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    firestore_port, functions_port = free_ports(2)
    with bench_stack(PROJECT, firestore_port, functions_port) as (stack, db):
        print("queue and capacity benchmark on the local stack (emulator + functions host)")
        started = time.monotonic()
        total = load(db, args.finished, args.queued, args.processing, now)
        print(f"  loaded {total} generations ({args.queued} queued, {args.processing} "
              f"processing) in {time.monotonic() - started:.0f} s")  # fmt: skip
        for provider in PROVIDERS:
            limits = {"maxConcurrent": 50, "maxPerMinute": 100, "monthlyBudgetUsd": 500.0}
            call(stack, "PUT", f"/capacity/{provider}", limits)

        settings = get_settings()
        monitor = PerformanceMonitor(FirestoreStore(db))
        source = FirestoreQueue(db)
        queue = QueueService(source, settings.rollups.tracked_providers)
        capacity = CapacityService(source, queue, monitor.cells, utc_now)
        times, reads = [], []
        for _ in range(args.runs):
            before = dict(_firestore.OPERATIONS)
            t0 = time.perf_counter()
            capacity.live_figures(utc_now())
            times.append(time.perf_counter() - t0)
            after = dict(_firestore.OPERATIONS)
            reads.append({k: after.get(k, 0) - before.get(k, 0) for k in KINDS})
        per_run = {k: reads[-1][k] for k in KINDS}
        p50, worst = statistics.median(times) * 1000, max(times) * 1000
        print(f"  the tick's added step (live_figures): p50 {p50:.0f} ms, max {worst:.0f} ms "
              f"over {args.runs} runs; per run {per_run}")  # fmt: skip
        print("  (queue_counts are count() aggregations: one billed read per 1,000 entries)")

        tick_times, tick_reads = [], []
        for i in range(3):
            before = store_counters(stack, KINDS)
            t0 = time.perf_counter()
            stack.run_schedule("aggregate_and_alert", now + i * dt.timedelta(minutes=5),
                               timeout=300).raise_for_status()  # fmt: skip
            tick_times.append(time.perf_counter() - t0)
            after = store_counters(stack, KINDS)
            tick_reads.append({k: after[k] - before[k] for k in KINDS})
        print(f"  whole ticks with it: p50 {statistics.median(tick_times):.2f} s; last tick "
              f"{tick_reads[-1]}")  # fmt: skip
        for path in ("/system", "/capacity"):
            samples = [call(stack, "GET", path)[0] for _ in range(args.runs)]
            print(f"  GET {path}?window=1h: p50 {statistics.median(samples) * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
