"""Documents read by one /user-insights request (24 h window of today) and by one opt-out lookup,
on the Firestore emulator, by the code in this tree.

Writes `--users` user days for today (default 5,000) and `--opt-outs` opt-out records (default
200), then counts every document read (the adapters' read counters, and the documents a
collection listing returns, which Firestore bills one read each) for: the tick's computation of
the open days (where this tree has one), two /user-insights requests, and two opt-out lookups
as /export makes them. To compare with an earlier tree, run a copy of this script from that
tree's `bench/`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "functions"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from google.cloud import firestore
from google.cloud.firestore_v1.collection import CollectionReference

from benchlib import bench_stack
from local_stack.ports import free_ports
from video_monitoring.adapters import _firestore
from video_monitoring.adapters.firestore_exports import FirestoreExportSource
from video_monitoring.adapters.firestore_store import FirestoreStore, user_day_id
from video_monitoring.analytics.figures import AnalyticsEngine
from video_monitoring.analytics.performance import PerformanceMonitor
from video_monitoring.core.models import Window
from video_monitoring.ingest.pipeline import Counting

PROJECT = "demo-cvplus"
KINDS = ("user_reads", "snapshot_reads", "opt_out_reads", "listed")


def count_listings() -> None:
    """Count the documents a collection listing returns (not counted by every tree)."""
    listing = CollectionReference.list_documents

    def counted(self: CollectionReference, *args: Any, **kwargs: Any) -> Any:
        for ref in listing(self, *args, **kwargs):
            _firestore.OPERATIONS["listed"] += 1
            yield ref

    CollectionReference.list_documents = counted  # type: ignore[method-assign]


def reads(call: Callable[[], Any]) -> int:
    """Documents read by `call`."""
    before = {k: _firestore.OPERATIONS[k] for k in KINDS}
    call()
    return sum(_firestore.OPERATIONS[k] - before[k] for k in KINDS)


def seed(db: firestore.Client, today: dt.datetime, users: int, opt_outs: int) -> None:
    """Today's user days (a generation and a session each) and the opt-out records."""
    batch, pending = db.batch(), 0
    for i in range(users + opt_outs):
        if i < users:
            ref = db.collection("user_days").document(user_day_id(today, f"user-{i}"))
            body: dict[str, Any] = {
                "day": today, "userId": f"user-{i}", "c": {"gen": 1, "ev": {"session_start": 1}},
            }  # fmt: skip
        else:
            ref = db.collection("analytics_opt_outs").document(f"user-{i - users}")
            body = {"at": today}  # made earlier (the last minute's are read again, see OptOuts)
        batch.set(ref, body)
        pending += 1
        if pending == 400:
            batch.commit()
            batch, pending = db.batch(), 0
    batch.commit()


def main() -> int:
    """Seed, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--opt-outs", type=int, default=200)
    args = parser.parse_args()
    count_listings()
    firestore_port, functions_port = free_ports(2)
    with bench_stack(PROJECT, firestore_port, functions_port) as (_, db):
        now = dt.datetime.now(dt.UTC)
        today = now.replace(hour=0, minute=0, second=0, microsecond=0)
        seed(db, today, args.users, args.opt_outs)
        store = FirestoreStore(db, cache=None)
        engine = AnalyticsEngine(store, PerformanceMonitor(store), Counting(16), lambda: now)
        window = Window(start=now - dt.timedelta(hours=24), end=now)
        print(f"/user-insights reads: {args.users} active users today, {args.opt_outs} opt-outs")
        refresh = getattr(engine, "refresh_open_days", None)
        if refresh is not None:
            print(f"  tick, open days computed:   {reads(lambda: refresh(now)):>6}")
        shown: dict[str, Any] = {}

        def request() -> None:
            shown.update(engine.user_insights(window))

        print(f"  first request:              {reads(request):>6}")
        print(f"  second request:             {reads(request):>6}")
        print(f"  today's activeUsers shown:  {shown['days'][-1]['activeUsers']:>6}")
        exports = FirestoreExportSource(db)
        print(f"  opt-out lookup (first):     {reads(exports.opted_out_users):>6}")
        print(f"  opt-out lookup (next):      {reads(exports.opted_out_users):>6}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
