"""Helpers the benchmarks share: order statistics, the emulator's query floor, read counters."""

from __future__ import annotations

import time

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from video_monitoring.local.stack import LocalStack


def percentile(values: list[float], q: float) -> float:
    """Exact order statistic at rank floor(q * (n - 1))."""
    ordered = sorted(values)
    return ordered[int(q * (len(ordered) - 1))]


def empty_query_ms(db: firestore.Client, samples: int = 30) -> float:
    """p50 of a query that matches nothing: the emulator's own floor, which grows with the
    database because the emulator scans (production Firestore pays per result)."""
    query = db.collection("no_such_collection").where(filter=FieldFilter("x", "==", 1))
    times = []
    for _ in range(samples):
        t0 = time.perf_counter()
        list(query.stream())
        times.append(time.perf_counter() - t0)
    return percentile(times, 0.5) * 1000


def store_counters(stack: LocalStack, kinds: tuple[str, ...]) -> dict[str, int]:
    """The functions host's store counters of some kinds (document reads, queries)."""
    store = stack.stats()["store"]
    return {kind: int(store.get(kind, 0)) for kind in kinds}


def dashboard_reads(stack: LocalStack) -> int:
    """Documents the functions host has read on the dashboard's path so far."""
    return sum(store_counters(stack, ("rollup_reads", "alert_reads")).values())
