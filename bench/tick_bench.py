"""What the system steps cost the five-minute tick: whole `aggregate_and_alert` runs with the
system steps (the queue and provider capacity, and any step reading the functions' runtime) ON,
and the same runs with them OFF, on the local stack.

The ticks run in this process, on the services the functions build from the same settings, so
every Firestore call can be counted at the client: calls (RPCs) by method, documents returned,
and the store's own read counters by kind. Generations go through the real triggers first
(finished ones this month, a tenth in the last hour, plus jobs queued and processing now) and
every provider gets limits. Prints p50 and max wall time, calls and documents per tick for both,
and the ratio ON / OFF. "OFF" is a bench-only switch: the tick's steps minus the system ones.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import functools
import logging
import os
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "functions"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests
from google.cloud.firestore_v1.services.firestore.client import FirestoreClient

from benchlib import PROVIDERS, bench_stack
from local_stack.ports import free_ports
from local_stack.stack import LocalStack
from local_stack.tokens import emulator_token
from queue_bench import load
from video_monitoring.adapters import _firestore
from video_monitoring.runtime import handlers
from video_monitoring.runtime.bootstrap import services as build_services
from video_monitoring.runtime.tick import STEPS, Step, Tick, TickServices

PROJECT = "demo-bench-tick"
# The tick's system steps: the queue and capacity, and the functions' own runtime figures.
SYSTEM_STEP = re.compile(r"queue|capacity|runtime|function")
# Firestore RPCs a tick may make; the streamed ones return documents one message at a time.
RPCS = (
    "batch_get_documents", "run_query", "run_aggregation_query", "get_document",
    "list_documents", "commit", "batch_write", "begin_transaction", "rollback",
)  # fmt: skip
CALLS: collections.Counter[str] = collections.Counter()


def _counting(method: str, rpc: Callable[..., Any]) -> Callable[..., Any]:
    """The RPC, counting each call and each document it returns."""

    @functools.wraps(rpc)
    def call(*args: Any, **kwargs: Any) -> Any:
        CALLS[method] += 1
        result = rpc(*args, **kwargs)
        if method in ("run_query", "batch_get_documents"):
            return _documents(result)
        return result

    return call


def _documents(responses: Any) -> Iterator[Any]:
    for response in responses:
        if getattr(response, "document", None) or getattr(response, "found", None):
            CALLS["documents"] += 1
        yield response


def count_firestore_calls() -> None:
    """Count the Firestore RPCs of this process (instrumentation of the real client)."""
    for method in RPCS:
        setattr(FirestoreClient, method, _counting(method, getattr(FirestoreClient, method)))


def system_steps() -> list[Step]:
    """The tick's steps that measure the system (what OFF leaves out)."""
    return [step for step in STEPS if SYSTEM_STEP.search(step.__name__)]


def run_steps(services: TickServices, now: dt.datetime, steps: list[Step]) -> None:
    """One tick at `now` with the given steps, in the tick's order."""
    tick = Tick(now)
    for step in steps:
        step(services, tick)


def measure(services: TickServices, now: dt.datetime, steps: list[Step]) -> dict[str, float]:
    """Wall time, Firestore calls and documents, and the store's read counters of one tick."""
    calls, reads = CALLS.copy(), _firestore.OPERATIONS.copy()
    started = time.perf_counter()
    run_steps(services, now, steps)
    seconds = time.perf_counter() - started
    made, counted = CALLS - calls, _firestore.OPERATIONS - reads
    return {
        "seconds": seconds,
        "calls": sum(v for k, v in made.items() if k != "documents"),
        "documents": made["documents"],
        **{f"rpc.{k}": float(v) for k, v in made.items() if k != "documents"},
        **{f"store.{k}": float(v) for k, v in counted.items() if k.endswith(("reads", "counts"))},
    }


def set_limits(stack: LocalStack) -> None:
    """Every provider gets limits, so capacity has something to measure against."""
    token = emulator_token("bench", "admin", PROJECT)
    for provider in PROVIDERS:
        requests.put(
            f"{stack.functions_base}/{PROJECT}/us-central1/video_analytics_dashboard"
            f"/capacity/{provider}",
            json={"maxConcurrent": 50, "maxPerMinute": 100, "monthlyBudgetUsd": 500.0},
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        ).raise_for_status()


def summary(runs: list[dict[str, float]]) -> dict[str, float]:
    """p50 and max wall time; the median of every count."""
    keys = sorted({k for run in runs for k in run} - {"seconds"})
    times = [run["seconds"] for run in runs]
    return {
        "p50_ms": statistics.median(times) * 1000,
        "max_ms": max(times) * 1000,
        **{k: statistics.median(run.get(k, 0) for run in runs) for k in keys},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--finished", type=int, default=1000)
    parser.add_argument("--queued", type=int, default=200)
    parser.add_argument("--processing", type=int, default=60)
    parser.add_argument("--ticks", type=int, default=5, help="ticks of each kind")
    args = parser.parse_args()
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    firestore_port, functions_port = free_ports(2)
    with bench_stack(PROJECT, firestore_port, functions_port) as (stack, db):
        print("the tick's system steps ON vs OFF, on the local stack (emulator + functions host)")
        started = time.monotonic()
        total = load(db, args.finished, args.queued, args.processing, now)
        set_limits(stack)
        print(f"  loaded {total} generations ({args.queued} queued, {args.processing} "
              f"processing) in {time.monotonic() - started:.0f} s")  # fmt: skip
        os.environ["GCLOUD_PROJECT"] = PROJECT
        logging.disable(logging.CRITICAL)  # no channel is configured: every alert says so
        count_firestore_calls()
        services = handlers.LiveTick(build_services())
        system = system_steps()
        off = [s for s in STEPS if s not in system]
        print(f"  system steps (OFF leaves them out): {[s.__name__ for s in system]}")
        # Each kind in a block after one unmeasured run of its own, so the rules' state (the
        # queue rules fire with the steps on, stay quiet without them) has settled in each.
        at = iter(now + dt.timedelta(minutes=5 * i) for i in range(2 * args.ticks + 2))
        runs: dict[str, list[dict[str, float]]] = {}
        for kind, steps in (("off", off), ("on", list(STEPS))):
            run_steps(services, next(at), steps)
            runs[kind] = [measure(services, next(at), steps) for _ in range(args.ticks)]
        on_runs, off_runs = runs["on"], runs["off"]
        on, before = summary(on_runs), summary(off_runs)
        print(f"  per tick, median of {args.ticks} (wall time p50 and max):")
        print(f"  {'figure':34s} {'OFF':>10s} {'ON':>10s} {'ON/OFF':>8s}")
        for key in sorted(
            on.keys() | before.keys(), key=lambda k: (k.split(".")[0] in ("rpc", "store"), k)
        ):
            a, b = before.get(key, 0.0), on.get(key, 0.0)
            ratio = f"{b / a:.2f}" if a else ("–" if not b else "new")
            print(f"  {key:34s} {a:10.1f} {b:10.1f} {ratio:>8s}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
