"""Helpers the benchmarks share: a stack with a client, generated documents, order statistics,
the emulator's query floor, read counters."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import random
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from local_stack.stack import REPO_ROOT, LocalStack, StackPorts, start_stack

PROVIDERS = ("runway", "pika", "heygen", "synthesia", "d-id")


# Benchmarks measure the API, not its per-caller limits (each request still pays its bucket's
# read and write); they call as one user far faster than the default limits allow.
UNLIMITED = {"READ_RATE_PER_MINUTE": "1000000", "ACTION_RATE_PER_MINUTE": "1000000"}


@contextlib.contextmanager
def bench_stack(
    project: str,
    firestore_port: int,
    functions_port: int,
    log_dir: Path = REPO_ROOT / ".stack" / "bench",
    env: dict[str, str] | None = None,
) -> Iterator[tuple[LocalStack, firestore.Client]]:
    """A local stack without schedules (the benchmark runs them) and a client of its emulator;
    stopped on exit."""
    stack = start_stack(
        project,
        StackPorts(firestore_port, functions_port),
        run_schedules=False,
        log_dir=log_dir,
        env={**UNLIMITED, **(env or {})},
    )
    try:
        os.environ["FIRESTORE_EMULATOR_HOST"] = stack.firestore_host
        yield stack, firestore.Client(project=project)
    finally:
        stack.stop()


def finished_generation(
    rng: random.Random, created: dt.datetime, pika_failure: float, users: int
) -> dict[str, Any]:
    """A completed (or, more often on pika, failed) generation document created at `created`."""
    provider = rng.choice(PROVIDERS)
    failed = rng.random() < (pika_failure if provider == "pika" else 0.02)
    doc: dict[str, Any] = {
        "userId": f"user-{rng.randrange(users)}",
        "provider": provider,
        "status": "failed" if failed else "completed",
        "createdAt": created,
        "startedAt": created + dt.timedelta(seconds=rng.uniform(1, 10)),
        "userTier": rng.choice(("free", "premium")),
        "costUsd": round(rng.uniform(0.05, 1.5), 4),
    }
    doc["completedAt"] = doc["startedAt"] + dt.timedelta(seconds=rng.lognormvariate(3.8, 0.5))
    if failed:
        doc["error"] = {"code": "provider_5xx", "message": "upstream", "retryable": True}
    return doc


def write_generations(db: firestore.Client, docs: Iterable[tuple[str, dict[str, Any]]]) -> None:
    """Generation documents by id, one write each, committed in batches of 400."""
    batch, pending = db.batch(), 0
    for doc_id, doc in docs:
        batch.set(db.collection("video_generations").document(doc_id), doc)
        pending += 1
        if pending == 400:
            batch.commit()
            batch, pending = db.batch(), 0
    batch.commit()


def wait_for_count(count: Callable[[], int], wanted: int, timeout: float = 1800) -> None:
    """Poll `count()` every second until it is `wanted` (the pipeline caught up); exit the
    benchmark after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while count() != wanted:
        if time.monotonic() > deadline:
            raise SystemExit(f"pipeline did not reach {wanted} generations")
        time.sleep(1)


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
