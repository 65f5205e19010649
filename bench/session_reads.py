"""Documents read and time taken by one /user-insights request's sessions and heatmap, on the
Firestore emulator, by the code in this tree.

Writes `--sessions` sessions started over the last `--days` days (a `session_start` and, for
three in four, a `session_end`; default 5,000 over 1 day) straight into `analytics_events` (no
trigger: sessions are read from the raw events), runs the job that folds the final days (unless
`--no-fold`, which leaves every day to the raw events), then times two /user-insights requests
over those days and prints the documents each read by kind (the adapters' read counters) and
the session count shown.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "functions"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from google.cloud import firestore

from benchlib import bench_stack
from local_stack.ports import free_ports
from video_monitoring.adapters import _firestore
from video_monitoring.adapters.firestore_store import FirestoreStore
from video_monitoring.analytics.figures import AnalyticsEngine
from video_monitoring.analytics.performance import PerformanceMonitor
from video_monitoring.core.models import Window
from video_monitoring.ingest.pipeline import Counting

PROJECT = "demo-cvplus"
DAY = dt.timedelta(days=1)


def seed(db: firestore.Client, now: dt.datetime, sessions: int, days: int) -> int:
    """The session events; how many were written."""
    batch, pending, written = db.batch(), 0, 0
    for i in range(sessions):
        start = now - dt.timedelta(seconds=(i * (days * 86_400 - 400)) // sessions + 60)
        base = {"userId": f"user-{i % 2000}", "sessionId": f"s{i}"}
        bodies = [{**base, "type": "session_start", "timestamp": start}]
        if i % 4:
            end = start + dt.timedelta(seconds=30 + i % 1800)
            bodies.append({**base, "type": "session_end", "timestamp": end})
        for n, body in enumerate(bodies):
            batch.set(db.collection("analytics_events").document(f"ev-{i}-{n}"), body)
            pending += 1
            written += 1
            if pending == 400:
                batch.commit()
                batch, pending = db.batch(), 0
    batch.commit()
    return written


def main() -> int:
    """Seed, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=5000)
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--no-fold", action="store_true", help="leave every day to raw events")
    args = parser.parse_args()
    firestore_port, functions_port = free_ports(2)
    with bench_stack(PROJECT, firestore_port, functions_port) as (_, db):
        now = dt.datetime.now(dt.UTC)
        events = seed(db, now, args.sessions, args.days)
        store = FirestoreStore(db, cache=None)
        engine = AnalyticsEngine(store, PerformanceMonitor(store), Counting(16), lambda: now)
        window = Window(start=now - dt.timedelta(days=args.days), end=now)
        if not args.no_fold:
            started = time.perf_counter()
            folded = engine.patterns.fold_days(now)
            print(f"folded {folded} final days in {time.perf_counter() - started:.1f} s")
        print(
            f"/user-insights over {args.days} days: {args.sessions} sessions, "
            f"{events} session events"
        )
        windows = [("the whole window", window)]
        final_end = dt.datetime(now.year, now.month, now.day, tzinfo=dt.UTC) - DAY
        if final_end - DAY > window.start:  # its final days alone (folded unless --no-fold)
            first = dt.datetime(*window.start.timetuple()[:3], tzinfo=dt.UTC) + DAY
            windows.append(("its final whole days", Window(start=first, end=final_end)))
        for label, asked in windows:
            print(f"  {label} ({asked.start:%m-%d %H:%M} to {asked.end:%m-%d %H:%M}):")
            for name in ("first request", "second request"):
                before = dict(_firestore.OPERATIONS)
                started = time.perf_counter()
                body = engine.user_insights(asked)
                seconds = time.perf_counter() - started
                reads = {
                    k: v - before.get(k, 0)
                    for k, v in _firestore.OPERATIONS.items()
                    if k.endswith("_reads") and v != before.get(k, 0)
                }
                shown = ", ".join(f"{k} {v}" for k, v in sorted(reads.items()))
                print(f"    {name}: {seconds * 1000:7.0f} ms; {shown}")
            print(f"    sessions shown: {body['sessionFigures']['count']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
