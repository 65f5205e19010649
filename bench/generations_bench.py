"""The drill-down's pages on the Firestore emulator: time and documents read per page of
GET /generations' list, by page size and filter, by the code in this tree.

Writes `--generations` metrics records (default 5,000) over one day straight to
`video_generation_metrics` (providers, statuses and error codes mixed), then walks every list
below to its end through the same GenerationList and Firestore adapter the endpoint uses,
checking that each list gives every matching record exactly once, newest first. Prints per list:
pages, rows, p50 and max milliseconds per page, documents read per page; and the emulator's
empty-query floor (it scans its whole database per query; production serves from indexes).
"""

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

from benchlib import bench_stack, empty_query_ms, percentile
from local_stack.ports import free_ports
from video_monitoring.adapters import _firestore
from video_monitoring.adapters.firestore_generations import FirestoreGenerations
from video_monitoring.core.models import Window
from video_monitoring.dashboard.generation_list import (
    Cursor,
    GenerationFilter,
    GenerationList,
    cursor_params,
)

PROJECT = "demo-cvplus"
PROVIDERS = ("runway", "pika", "heygen", "synthesia", "d-id")
CODES = ("provider_5xx", "timeout", "content_policy")


def seed(db: firestore.Client, start: dt.datetime, count: int) -> list[tuple[str, dict[str, Any]]]:
    """`count` metrics records spread over the day from `start`, written in batches."""
    rng = random.Random(7)
    docs: list[tuple[str, dict[str, Any]]] = []
    batch, pending = db.batch(), 0
    for i in range(count):
        created = start + dt.timedelta(seconds=rng.uniform(0, 86_399))
        failed = rng.random() < 0.1
        doc_id = f"bench-{i:06d}"
        doc: dict[str, Any] = {
            "generationId": doc_id, "userId": f"user-{rng.randrange(800)}",
            "provider": rng.choice(PROVIDERS), "status": "failed" if failed else "completed",
            "userTier": "free", "createdAt": created, "costUsd": 0.25,
            "errorCode": rng.choice(CODES) if failed else None,
        }  # fmt: skip
        docs.append((doc_id, doc))
        batch.set(db.collection("video_generation_metrics").document(doc_id), doc)
        pending += 1
        if pending == 400:
            batch.commit()
            batch, pending = db.batch(), 0
    batch.commit()
    return docs


def walk(
    listing: GenerationList, wanted: GenerationFilter, limit: int, params: dict[str, str]
) -> tuple[list[str], list[float], int]:
    """Every page of a list: the ids in order, each page's seconds, documents read."""
    before = _firestore.OPERATIONS["generation_list_reads"]
    ids: list[str] = []
    times: list[float] = []
    after = None
    asked = cursor_params(params)
    while True:
        t0 = time.perf_counter()
        page = listing.page(wanted, asked, after, limit)
        times.append(time.perf_counter() - t0)
        ids.extend(row["generationId"] for row in page["generations"])
        if page["next"] is None:
            return ids, times, _firestore.OPERATIONS["generation_list_reads"] - before
        after = Cursor.decode(page["next"], wanted.window.provider).after


def main() -> int:
    """Seed, walk each list, print."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--generations", type=int, default=5000)
    args = parser.parse_args()
    firestore_port, functions_port = free_ports(2)
    with bench_stack(PROJECT, firestore_port, functions_port) as (_, db):
        start = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        docs = seed(db, start - dt.timedelta(days=1), args.generations)
        listing = GenerationList(FirestoreGenerations(db))
        window = Window(start=start - dt.timedelta(days=1), end=start)
        lists = [
            ("all", 50, {}),
            ("all", 500, {}),
            ("provider=pika", 50, {"provider": "pika"}),
            ("status=failed", 50, {"status": "failed"}),
            ("pika, failed, timeout", 50,
             {"provider": "pika", "status": "failed", "errorCode": "timeout"}),
        ]  # fmt: skip
        print(f"/generations pages: {args.generations} records over one day")
        for name, limit, params in lists:
            wanted = GenerationFilter(
                window.model_copy(update={"provider": params.get("provider")}),
                params.get("status"),
                params.get("errorCode"),
            )
            ids, times, reads = walk(listing, wanted, limit, params)
            fields = {"provider": "provider", "status": "status", "errorCode": "errorCode"}
            matching = sorted(
                ((d["createdAt"], i) for i, d in docs
                 if all(d[fields[k]] == v for k, v in params.items())),
                reverse=True,
            )  # fmt: skip
            exact = ids == [i for _, i in matching]
            print(
                f"  {name:<22} limit {limit:>3}: {len(times):>3} pages, {len(ids):>5} rows "
                f"(exactly once, newest first: {'yes' if exact else 'NO'}), "
                f"p50 {percentile(times, 0.5) * 1000:6.1f} ms, "
                f"max {max(times) * 1000:6.1f} ms, {reads / len(times):6.1f} documents per page"
            )
            if not exact:
                return 1
        print(f"  emulator empty-query floor: {empty_query_ms(db):.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
