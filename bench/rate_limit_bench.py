"""What the per-caller rate limit costs, on the local stack over HTTP, per route class: reads
(GET /targets, metered in the instance's memory) and actions (PUT /me/digests, metered in one
Firestore bucket per caller): the bucket documents read and written per admitted and per refused
request (the functions host's store counters), the latency of each, and the bucket documents
that exist afterwards (one per caller and action class, whatever the number of requests)."""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "functions"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests

from benchlib import bench_stack, store_counters
from local_stack.ports import free_ports
from local_stack.stack import LocalStack
from local_stack.tokens import emulator_token

PROJECT = "demo-ratelimit"
KINDS = ("limiter_reads", "limiter_writes")


# Each route class's request: method, path, body.
ROUTES = {
    "reads": ("GET", "/targets", None),
    "actions": ("PUT", "/me/digests", {"daily": False, "weekly": False}),
}


def calls(stack: LocalStack, uid: str, n: int, route: str) -> tuple[list[int], list[float]]:
    """n requests of the route class as `uid`: statuses and milliseconds."""
    method, path, body = ROUTES[route]
    url = stack.functions_url("video_analytics_dashboard", path)
    headers = {"Authorization": f"Bearer {emulator_token(uid, 'analytics', PROJECT)}"}
    statuses, millis = [], []
    with requests.Session() as session:
        for _ in range(n):
            start = time.perf_counter()
            answer = session.request(method, url, headers=headers, json=body, timeout=30)
            statuses.append(answer.status_code)
            millis.append((time.perf_counter() - start) * 1000)
    return statuses, millis


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--callers", type=int, default=5)
    args = parser.parse_args()
    # Low limits, so the run meets both admitted and refused requests.
    env = {"READ_RATE_PER_MINUTE": "60", "ACTION_RATE_PER_MINUTE": "60"}
    firestore_port, functions_port = free_ports(2)
    with bench_stack(PROJECT, firestore_port, functions_port, env=env) as (stack, db):
        for route in ROUTES:
            measure(stack, db, route, args.requests, args.callers)
    return 0


def measure(stack: LocalStack, db: Any, route: str, requests_each: int, callers: int) -> None:
    """Print one route class's cost."""
    method, path, _ = ROUTES[route]
    print(f"rate limit cost of {route} on the local stack ({requests_each} {method} {path} "
          f"per caller, at most 60 a minute)")  # fmt: skip
    admitted = refused = 0
    before = store_counters(stack, KINDS)
    ok_ms: list[float] = []
    no_ms: list[float] = []
    for c in range(callers):
        statuses, millis = calls(stack, f"bench-{route}-{c}", requests_each, route)
        admitted += statuses.count(200)
        refused += statuses.count(429)
        ok_ms += [m for s, m in zip(statuses, millis, strict=True) if s == 200]
        no_ms += [m for s, m in zip(statuses, millis, strict=True) if s == 429]
    after = store_counters(stack, KINDS)
    reads = after["limiter_reads"] - before["limiter_reads"]
    writes = after["limiter_writes"] - before["limiter_writes"]
    buckets = sum(1 for d in db.collection("rate_limits").select([]).stream() if route in d.id)
    total = admitted + refused
    print(f"  requests: {total} ({admitted} admitted, {refused} refused with 429)")
    print(f"  bucket reads: {reads} ({reads / total:.2f} per request)")
    print(f"  bucket writes: {writes} ({writes / max(admitted, 1):.2f} per admitted request, "
          f"{writes / total:.2f} per request)")  # fmt: skip
    print(f"  bucket documents afterwards: {buckets} for {callers} callers")
    print(f"  latency p50: admitted {statistics.median(ok_ms):.1f} ms, "
          f"refused {statistics.median(no_ms) if no_ms else 0:.1f} ms")  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
