"""Dashboard API latency on the local stack, by history size, and under concurrent clients.

Prints p50 and p99 of every GET endpoint for a 30-day window with 1,000 and then 20,000
generations in history (target p50 ratio <= 1.3), documents read per request, the emulator's
empty-query floor in each state, and then 20 concurrent clients for 30 s: requests, errors
(target 0) and p99. `/export` is listed apart: a file grows with its rows by nature.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "functions"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests
from google.cloud import firestore

from benchlib import bench_stack, dashboard_reads, empty_query_ms, finished_generation, percentile
from local_stack.stack import LocalStack
from local_stack.tokens import emulator_token

PROJECT = "demo-cvplus"
ENDPOINTS: tuple[tuple[str, dict[str, str] | None], ...] = (
    ("/summary", {}),
    ("/performance", {}),
    ("/trends", {"granularity": "day"}),
    ("/quality", {}),
    ("/providers", {}),
    ("/business", {}),
    ("/alerts", {}),
    ("/alert-rules", None),
)
EXPORT: tuple[str, dict[str, str] | None] = ("/export", {"dataset": "alerts", "format": "json"})


class Client:
    """An analytics user of the dashboard."""

    def __init__(self, stack: LocalStack) -> None:
        self.base = stack.functions_url("video_analytics_dashboard")
        self.session = requests.Session()
        token = emulator_token("bench", "analytics", PROJECT)
        self.session.headers["Authorization"] = f"Bearer {token}"

    def get(self, path: str, params: dict[str, str] | None) -> requests.Response:
        query = None if params is None else {"window": "30d", **params}
        return self.session.get(self.base + path, params=query, timeout=60)


def load(stack: LocalStack, db: firestore.Client, count: int, total: int) -> None:
    """`count` generations over the last 30 days and one upgrade per 40, then compaction."""
    rng = random.Random(total)
    now = dt.datetime.now(dt.UTC)
    batch = db.batch()
    for i in range(count):
        created = now - dt.timedelta(minutes=rng.uniform(90, 30 * 24 * 60 - 90))
        doc = finished_generation(rng, created, pika_failure=0.2, users=2000)
        doc.update(outputSeconds=10.0, qualityScore=round(rng.uniform(6, 10), 2))
        batch.set(db.collection("video_generations").document(f"d-{total}-{i}"), doc)
        if i % 40 == 0:
            batch.set(
                db.collection("analytics_events").document(f"d-up-{total}-{i}"),
                {"type": "premium_upgrade", "userId": doc["userId"], "timestamp": created,
                 "amountUsd": 9.99},
            )  # fmt: skip
        if i % 200 == 199:
            batch.commit()
            batch = db.batch()
    batch.commit()
    client = Client(stack)
    deadline = time.monotonic() + 1800
    while client.get("/summary", {}).json()["generations"]["total"] != total:
        if time.monotonic() > deadline:
            raise SystemExit(f"pipeline did not reach {total} generations")
        time.sleep(1)
    time.sleep(3)  # the upgrade events' deliveries
    # Fold the journal (every closed epoch), then one alerting tick.
    stack.run_schedule("fold_rollups", now + dt.timedelta(minutes=2)).raise_for_status()
    stack.run_schedule("aggregate_and_alert", now).raise_for_status()


def latencies(stack: LocalStack, samples: int) -> dict[str, tuple[float, float, float]]:
    """Per endpoint: p50 ms, p99 ms, documents read per request."""
    client = Client(stack)
    result = {}
    for path, params in (*ENDPOINTS, EXPORT):
        for _ in range(3):
            client.get(path, params).raise_for_status()
        before = dashboard_reads(stack)
        times = []
        for _ in range(samples):
            t0 = time.perf_counter()
            client.get(path, params).raise_for_status()
            times.append(time.perf_counter() - t0)
        per_request = (dashboard_reads(stack) - before) / samples
        result[path] = (percentile(times, 0.5) * 1000, percentile(times, 0.99) * 1000, per_request)
    return result


def concurrent(stack: LocalStack, clients: int, seconds: float) -> tuple[int, int, float]:
    """Requests, errors and p99 ms of `clients` threads cycling through the endpoints."""
    stop = time.monotonic() + seconds
    times: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def run(offset: int) -> None:
        client = Client(stack)
        i = offset
        while time.monotonic() < stop:
            path, params = ENDPOINTS[i % len(ENDPOINTS)]
            i += 1
            t0 = time.perf_counter()
            try:
                ok = client.get(path, params).status_code == 200
            except requests.RequestException:
                ok = False
            with lock:
                times.append(time.perf_counter() - t0)
                errors[0] += not ok

    threads = [threading.Thread(target=run, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(times), errors[0], percentile(times, 0.99) * 1000


def main() -> int:
    """Measure at 1k and 20k generations, then under concurrency; print everything."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--large", type=int, default=20000)
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    # Measuring latency, not the per-user export limit.
    with bench_stack(PROJECT, 18700, 15621, env={"EXPORT_RATE_PER_HOUR": "1000000"}) as (
        stack,
        db,
    ):
        print("dashboard API benchmark on the local stack (30-day window)")
        load(stack, db, args.small, args.small)
        small, small_floor = latencies(stack, args.samples), empty_query_ms(db)
        load(stack, db, args.large - args.small, args.large)
        large, large_floor = latencies(stack, args.samples), empty_query_ms(db)
        print(f"  emulator empty-query floor: {small_floor:.1f} ms at {args.small}, "
              f"{large_floor:.1f} ms at {args.large}")  # fmt: skip
        a, b = f"{args.small // 1000}k", f"{args.large // 1000}k"
        print(
            f"  {'endpoint':14s} {'p50 ' + a:>9s} {'p99 ' + a:>9s} {'p50 ' + b:>9s} "
            f"{'p99 ' + b:>9s} {'ratio':>6s}  reads/request {a} -> {b}"
        )
        for path, _ in (*ENDPOINTS, EXPORT):
            s, big = small[path], large[path]
            ratio = big[0] / s[0]
            verdict = "" if path == "/export" else ("OK" if ratio <= 1.3 else "OVER")
            print(
                f"  {path:14s} {s[0]:9.1f} {s[1]:9.1f} {big[0]:9.1f} {big[1]:9.1f} "
                f"{ratio:6.2f}  {s[2]:.0f} -> {big[2]:.0f}  {verdict}"
            )
        count, errors, p99 = concurrent(stack, args.clients, args.seconds)
        print(
            f"  {args.clients} concurrent clients for {args.seconds:.0f} s: {count} requests, "
            f"{errors} errors (target 0), p99 {p99:.1f} ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
