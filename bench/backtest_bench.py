"""A 30-day backtest on the Firestore emulator: 30 days of scheduled runs (every 5 minutes, 8
scopes, every rule metric's measurement, as the tick stores them) with three pika incidents;
then GET /alert-rules/low_success_rate/backtest's work (the manager over the Firestore store):
documents read, seconds, and the same with a threshold suggestion (each candidate replayed in
memory). The rule has no tier scope, so the tier documents are not read. The baseline ratio is
against reading the same documents whole (no projection)."""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "functions"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from google.cloud import firestore

from benchlib import bench_stack
from video_monitoring.adapters import _firestore
from video_monitoring.adapters.firestore_alerts import FirestoreAlertStore
from video_monitoring.alerting.manager import AlertManager
from video_monitoring.alerting.metrics import system_metrics_id
from video_monitoring.alerting.notifications import Delivery
from video_monitoring.alerting.rules import (
    DEFAULT_RULES,
    OVERALL_ONLY,
    RATE_METRICS,
    STORED_METRICS,
)

PROJECT = "demo-bench-backtest"
SCOPES = ("overall", "provider:runway", "provider:pika", "provider:heygen", "provider:synthesia",
          "provider:d-id", "tier:free", "tier:premium")  # fmt: skip
END = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)
INCIDENTS = ((5, 10), (12, 15), (20, 3))  # (day, hour): pika fails half its jobs for 2 hours


def run_doc(tick: dt.datetime, scope: str, rng: random.Random) -> dict[str, Any]:
    """One run's 1h-window document of a scope, with every rule metric measured."""
    samples = 60 if scope != "overall" else 480
    bad = scope == "provider:pika" and any(
        dt.timedelta(0)
        <= tick - (END - dt.timedelta(days=30) + dt.timedelta(days=d, hours=h))
        < dt.timedelta(hours=2)
        for d, h in INCIDENTS
    )
    measurements: dict[str, dict[str, Any]] = {}
    for metric in sorted(STORED_METRICS):
        if scope != "overall" and metric in OVERALL_ONLY:
            continue
        if metric in RATE_METRICS:
            rate = 0.5 if bad and metric == "successRate" else rng.uniform(0.97, 1.0)
            ok = round(rate * samples)
            measurements[metric] = {"value": ok / samples, "samples": samples, "successes": ok}
        else:
            measurements[metric] = {"value": rng.uniform(10, 90), "samples": samples,
                                    "successes": None}  # fmt: skip
    return {
        "tick": tick, "windowName": "1h", "scope": scope, "scopeKind": scope.partition(":")[0],
        "ruleMetrics": {m: v["value"] for m, v in measurements.items()},
        "ruleMeasurements": measurements,
    }  # fmt: skip


def seed(db: firestore.Client, days: int) -> int:
    rng = random.Random(3)
    start = END - dt.timedelta(days=days)
    ticks = [start + dt.timedelta(minutes=5 * i) for i in range(days * 288)]
    batch, pending, written = db.batch(), 0, 0
    for tick in ticks:
        for scope in SCOPES:
            doc_id = system_metrics_id(tick, "1h", scope)
            batch.set(db.collection("system_performance_metrics").document(doc_id),
                      run_doc(tick, scope, rng))  # fmt: skip
            pending += 1
            if pending == 500:
                batch.commit()
                written += pending
                batch, pending = db.batch(), 0
    batch.commit()
    return written + pending


def timed(manager: AlertManager, days: int, **extra: Any) -> tuple[float, int, dict[str, Any]]:
    before = _firestore.OPERATIONS["alert_reads"]
    started = time.perf_counter()
    body = manager.rule_book.backtest(
        "low_success_rate", END - dt.timedelta(days=days), END, **extra
    )
    return time.perf_counter() - started, _firestore.OPERATIONS["alert_reads"] - before, body


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--firestore-port", type=int, default=8190)
    parser.add_argument("--functions-port", type=int, default=5190)
    args = parser.parse_args()
    with bench_stack(PROJECT, args.firestore_port, args.functions_port) as (_, db):
        started = time.perf_counter()
        written = seed(db, args.days)
        took = time.perf_counter() - started
        print(f"backtest benchmark: {written} run documents ({args.days} days x 288 runs x "
              f"{len(SCOPES)} scopes) written in {took:.1f} s")  # fmt: skip
        store = FirestoreAlertStore(db)
        store.seed_rules(DEFAULT_RULES)
        manager = AlertManager(store, Delivery({}), "http://x", lambda: END)
        seconds, reads, body = timed(manager, args.days)
        print(f"  {args.days}-day backtest of low_success_rate: {seconds:.2f} s, {reads} documents "
              f"read, {body['evaluations']} evaluations, {body['firings']} firings "
              f"({[e['scope'] for e in body['episodes']]})")  # fmt: skip
        read_started = time.perf_counter()
        runs = store.rule_runs(
            "successRate", "1h", END - dt.timedelta(days=args.days), END, ["overall", "provider"]
        )
        read_seconds = time.perf_counter() - read_started
        replaying = seconds - read_seconds
        rate = body["evaluations"] / max(replaying, 1e-9)
        print(f"  of which reading the {len(runs)} projected documents: {read_seconds:.2f} s; "
              f"replaying: {replaying:.2f} s ({rate:,.0f} evaluations/s)")  # fmt: skip
        seconds2, reads2, body2 = timed(manager, args.days, pages_per_week=0.5)
        suggestion = body2["suggestion"]
        print(f"  with a suggestion for 0.5 pages a week: {seconds2:.2f} s, {reads2} documents "
              f"read; threshold {suggestion['threshold']}, missing "
              f"{len(suggestion['missed'])} of {body2['firings']} episodes")  # fmt: skip
        whole = time.perf_counter()
        kinds = ["overall", "provider"]
        query = (db.collection("system_performance_metrics")
                 .where(filter=firestore.FieldFilter("windowName", "==", "1h"))
                 .where(filter=firestore.FieldFilter("scopeKind", "in", kinds)))  # fmt: skip
        count = sum(1 for _ in query.stream())
        unprojected = time.perf_counter() - whole
        print(f"  baseline: reading the same {count} documents whole takes {unprojected:.2f} s; "
              f"the projected backtest is {unprojected / seconds:.2f}x faster")  # fmt: skip
        expected_firings = len(INCIDENTS)
        ok = body["firings"] == expected_firings and reads == written * 6 // len(SCOPES)
        print(f"  the three pika incidents are the backtest's firings: {'yes' if ok else 'NO'}")
        return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
