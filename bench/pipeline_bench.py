"""End-to-end figures of the generation pipeline on the local stack (emulator + functions host).

Prints: generations/s end to end; write-to-visible latency p50/p95 beside the emulator's bare
delivery latency in the same run (target ratio of p95s <= 4); Firestore reads and writes per
lifecycle change; `/summary` 30-day latency with 5,000 vs 200 generations in history (target
ratio <= 1.3).
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "functions"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests
from google.cloud import firestore

from benchlib import PROVIDERS, bench_stack, dashboard_reads, empty_query_ms, percentile
from local_stack.stack import LocalStack
from local_stack.tokens import emulator_token

PROJECT = "demo-cvplus"


def delivered(stack: LocalStack) -> int:
    """Successful deliveries to on_generation_written so far."""
    return int(stack.stats()["triggers"].get("on_generation_written", {}).get("ok", 0))


def wait_for(condition: Callable[[], bool], timeout: float, poll: float = 0.002) -> float:
    """Poll until true; returns the time it became true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return time.time()
        time.sleep(poll)
    raise TimeoutError("condition not met in time")


def generation(rng: random.Random, created: dt.datetime, status: str) -> dict[str, Any]:
    """One generation document in a given state."""
    doc: dict[str, Any] = {
        "userId": f"user-{rng.randrange(500)}",
        "provider": rng.choice(PROVIDERS),
        "status": status,
        "createdAt": created,
        "userTier": rng.choice(("free", "premium")),
    }
    if status in ("processing", "completed"):
        doc["startedAt"] = created + dt.timedelta(seconds=rng.uniform(1, 10))
    if status == "completed":
        doc["completedAt"] = doc["startedAt"] + dt.timedelta(seconds=rng.lognormvariate(3.8, 0.5))
        doc["costUsd"] = round(rng.uniform(0.05, 1.5), 4)
        doc["qualityScore"] = round(rng.uniform(6, 10), 2)
    return doc


def exists(ref: firestore.DocumentReference) -> Callable[[], bool]:
    """A condition: the document exists."""
    return lambda: bool(ref.get().exists)


def throughput(stack: LocalStack, db: firestore.Client, count: int) -> None:
    """Full lifecycles (3 writes each) from 8 writer threads until every delivery is handled."""
    rng = random.Random(1)
    now = dt.datetime.now(dt.UTC)
    base_ok = delivered(stack)
    base_ops = dict(stack.stats()["store"])

    def lifecycle(i: int) -> None:
        local = random.Random(i)
        created = now - dt.timedelta(minutes=local.uniform(1, 600))
        ref = db.collection("video_generations").document(f"tp-{i}")
        for status in ("queued", "processing", "completed"):
            ref.set(generation(local, created, status))

    assert rng
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lifecycle, range(count)))
    wait_for(lambda: delivered(stack) - base_ok >= 3 * count, 1800, poll=0.2)
    elapsed = time.monotonic() - start
    ops = stack.stats()["store"]
    changes = ops.get("changes", 0) - base_ops.get("changes", 0)
    reads = ops.get("reads", 0) - base_ops.get("reads", 0)
    writes = ops.get("writes", 0) - base_ops.get("writes", 0)
    attempts = ops.get("attempts", 0) - base_ops.get("attempts", 0)
    print(f"throughput: {count} generations x 3 writes in {elapsed:.1f} s")
    print(
        f"  end to end: {count / elapsed:.1f} generations/s ({3 * count / elapsed:.1f} changes/s)"
    )
    trips = ops.get("round_trips", 0) - base_ops.get("round_trips", 0)
    print(
        f"  per lifecycle change: {reads / changes:.2f} reads, {writes / changes:.2f} writes, "
        f"{attempts / changes:.3f} commit attempts, {trips / changes:.2f} round trips "
        f"({changes} changes)"
    )


def latency(stack: LocalStack, db: firestore.Client, samples: int) -> None:
    """Write-to-visible latency of the pipeline beside bare emulator delivery, interleaved."""
    stack.register_trigger(
        "probe_delivery", "google.cloud.firestore.document.v1.written", "bench_probe/{id}"
    )
    rng = random.Random(2)
    now = dt.datetime.now(dt.UTC)
    bare: list[float] = []
    visible: list[float] = []
    for i in range(samples):
        probe_id = f"probe-{time.time_ns()}"
        t0 = time.time()
        db.collection("bench_probe").document(probe_id).set({"i": i})
        url = f"{stack.functions_base}/__/probe"

        def arrived(pid: str = probe_id, url: str = url) -> bool:
            body = requests.get(url, params={"document": f"bench_probe/{pid}"}, timeout=5).json()
            return body["arrived"] is not None

        wait_for(arrived, 30)
        body = requests.get(url, params={"document": f"bench_probe/{probe_id}"}, timeout=5).json()
        bare.append(body["arrived"] - t0)

        gen_id = f"lat-{i}-{time.time_ns()}"
        t0 = time.time()
        db.collection("video_generations").document(gen_id).set(
            generation(rng, now - dt.timedelta(minutes=3), "completed")
        )
        metrics = db.collection("video_generation_metrics").document(gen_id)
        # The metrics document commits in the same transaction as the rollup increments.
        seen = wait_for(exists(metrics), 30)
        visible.append(seen - t0)
    bare_p50, bare_p95 = percentile(bare, 0.5) * 1000, percentile(bare, 0.95) * 1000
    vis_p50, vis_p95 = percentile(visible, 0.5) * 1000, percentile(visible, 0.95) * 1000
    print(f"latency ({samples} samples each, sequential, no other traffic):")
    print(f"  bare emulator delivery   p50 {bare_p50:6.1f} ms  p95 {bare_p95:6.1f} ms")
    print(f"  write-to-visible rollups p50 {vis_p50:6.1f} ms  p95 {vis_p95:6.1f} ms")
    ratio = vis_p95 / bare_p95
    verdict = "OK" if ratio <= 4 else "OVER TARGET"
    print(f"  ratio of p95s: {ratio:.2f} (target <= 4): {verdict}")


def summary_total(stack: LocalStack) -> int:
    """Generations the 30-day summary counts now."""
    token = emulator_token("bench", "analytics", PROJECT)
    url = stack.functions_url("video_analytics_dashboard", "/summary")
    response = requests.get(
        url, params={"window": "30d"}, headers={"Authorization": f"Bearer {token}"}, timeout=60
    )
    response.raise_for_status()
    return int(response.json()["generations"]["total"])


def history(
    stack: LocalStack, db: firestore.Client, count: int, seed: int, expected_total: int
) -> None:
    """Completed generations spread over the last 30 days, one write each."""
    rng = random.Random(seed)
    now = dt.datetime.now(dt.UTC)
    batch = db.batch()
    for i in range(count):
        created = now - dt.timedelta(minutes=rng.uniform(90, 30 * 24 * 60 - 90))
        ref = db.collection("video_generations").document(f"hist-{seed}-{i}")
        batch.set(ref, generation(rng, created, "completed"))
        if i % 400 == 399:
            batch.commit()
            batch = db.batch()
    batch.commit()
    # Wait on the outcome, not on delivery counts (deletes from the previous wipe also arrive).
    wait_for(lambda: summary_total(stack) == expected_total, 1800, poll=0.5)
    # Fold the journal (every closed epoch), then one alerting tick.
    stack.run_schedule("fold_rollups", now + dt.timedelta(minutes=2)).raise_for_status()
    stack.run_schedule("aggregate_and_alert", now).raise_for_status()


def summary_latency(stack: LocalStack, requests_count: int) -> tuple[float, float, int]:
    """p50/p95 of GET /summary?window=30d in ms, and the total it reports."""
    token = emulator_token("bench", "analytics", PROJECT)
    url = stack.functions_url("video_analytics_dashboard", "/summary")
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    times: list[float] = []
    total = 0
    for _ in range(requests_count + 3):
        t0 = time.perf_counter()
        response = session.get(url, params={"window": "30d"}, timeout=60)
        times.append(time.perf_counter() - t0)
        response.raise_for_status()
        total = response.json()["generations"]["total"]
    times = times[3:]  # warm-up
    return percentile(times, 0.5) * 1000, percentile(times, 0.95) * 1000, total


def rollup_documents(db: firestore.Client) -> int:
    """Documents in the rollup collection."""
    return sum(
        1
        for name in ("generation_rollups", "generation_rollup_shards")
        for _ in db.collection(name).select([]).stream()
    )


def main() -> int:
    """Run every measurement on a fresh stack and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--throughput-generations", type=int, default=1000)
    parser.add_argument("--latency-samples", type=int, default=200)
    parser.add_argument("--small", type=int, default=200)
    parser.add_argument("--large", type=int, default=5000)
    parser.add_argument("--summary-requests", type=int, default=50)
    args = parser.parse_args()
    with bench_stack(PROJECT, 18680, 15601) as (stack, db):
        print("pipeline benchmark on the local stack (emulator + functions host, 2 cores)")
        latency(stack, db, args.latency_samples)
        stack.wipe()
        time.sleep(2)
        throughput(stack, db, args.throughput_generations)
        stack.wipe()
        time.sleep(2)
        history(stack, db, args.small, seed=10, expected_total=args.small)
        before = dashboard_reads(stack)
        small = summary_latency(stack, args.summary_requests)
        small_reads = (dashboard_reads(stack) - before) / (args.summary_requests + 3)
        small_docs, small_floor = rollup_documents(db), empty_query_ms(db)
        history(stack, db, args.large - args.small, seed=11, expected_total=args.large)
        before = dashboard_reads(stack)
        large = summary_latency(stack, args.summary_requests)
        large_reads = (dashboard_reads(stack) - before) / (args.summary_requests + 3)
        large_docs, large_floor = rollup_documents(db), empty_query_ms(db)
        print(f"/summary?window=30d ({args.summary_requests} requests each, after compaction):")
        print(
            f"  {small[2]:5d} generations: p50 {small[0]:6.1f} ms  p95 {small[1]:6.1f} ms  "
            f"({small_docs} rollup documents; {small_reads:.0f} reads per request; "
            f"emulator empty-query floor {small_floor:.1f} ms)"
        )
        print(
            f"  {large[2]:5d} generations: p50 {large[0]:6.1f} ms  p95 {large[1]:6.1f} ms  "
            f"({large_docs} rollup documents; {large_reads:.0f} reads per request; "
            f"emulator empty-query floor {large_floor:.1f} ms)"
        )
        ratio = large[0] / small[0]
        verdict = "OK" if ratio <= 1.3 else "OVER TARGET"
        print(f"  ratio of p50s: {ratio:.2f} (target <= 1.3): {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
