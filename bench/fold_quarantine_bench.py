"""What one poison journal entry costs the fold: time, transactions, reads and bucket writes of
a fold of N healthy entries, against the same fold with one poison entry added.

Two poisons: an entry whose text is not an entry (quarantined as its page is read, no
splitting), and an entry adding a 80,000-character cell to an app event minute bucket already
~1 MB compressed, so every transaction writing that bucket fails (the chunk is split down to
it). The N entries arrive in one minute over 16 shards and fall in the 60 minutes before it, so
they fit one chunk: the worst case for the splitting (about 2·log2(N) more transactions). Both
folds of a pair read the same oversized bucket document (its baseline entry adds to an existing
cell), so the difference is the splitting alone.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import sys
import time
import zlib
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "functions"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from google.cloud import firestore

from benchlib import bench_stack
from local_stack.ports import free_ports
from local_stack.stack import LocalStack
from video_monitoring.adapters import _firestore
from video_monitoring.adapters.firestore_rollups import journal_writes, rollup_doc_id
from video_monitoring.adapters.firestore_store import FirestoreStore
from video_monitoring.config import constants
from video_monitoring.ingest.rollup import RollupDelta, floor_time

PROJECT = "demo-cvplus"
SHARDS = 16


def oversized_cells(rng: random.Random, target: int = 1_030_000) -> dict[str, dict[str, int]]:
    """Cells whose compressed blob is just under `target` bytes."""
    cells: dict[str, dict[str, int]] = {}
    batch = 4096
    while batch:
        trial = cells | {rng.randbytes(24).hex(): {"n": 1} for _ in range(batch)}
        if len(zlib.compress(json.dumps(trial, separators=(",", ":")).encode(), 6)) > target:
            batch //= 2
        else:
            cells = trial
    return cells


def prepare(
    db: firestore.Client, n: int, poison: str | None, big: dict[str, Any], now: dt.datetime
) -> None:
    """N healthy app event entries (one adding to the oversized bucket's existing cell), and
    the poison asked for."""
    rng = random.Random(n)
    arrived = now - dt.timedelta(minutes=2)
    hour = floor_time(arrived, "hour") - dt.timedelta(hours=1)
    deltas = [
        RollupDelta("minute", hour + dt.timedelta(minutes=rng.randrange(60)), i % SHARDS,
                    rng.choice(("video_viewed", "session_start", "video_shared")), {"n": 1})
        for i in range(n - 1)
    ]  # fmt: skip
    deltas.append(RollupDelta("minute", big["start"], 0, big["cell"], {"n": 1}))
    if poison == "bucket":
        deltas.append(RollupDelta("minute", big["start"], 1, os.urandom(40_000).hex(), {"n": 1}))
    batch = db.batch()
    for count, delta in enumerate(deltas, 1):
        for doc_id, body in journal_writes([delta], arrived):
            batch.set(
                db.collection(constants.EVENT_ROLLUP_SHARDS).document(doc_id), body, merge=True
            )
        if count % 400 == 0:
            batch.commit()
            batch = db.batch()
    batch.commit()
    if poison == "text":
        first = next(iter(db.collection(constants.EVENT_ROLLUP_SHARDS).limit(1).stream()))
        first.reference.set({"d": {"poison": '["20261206T0700","x",{"n":'}}, merge=True)


def fold_once(
    local: LocalStack, db: firestore.Client, n: int, poison: str | None, rng: random.Random
) -> dict[str, Any]:
    """A fresh database, the entries, one fold: its figures."""
    local.wipe()
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    start = floor_time(now, "hour") - dt.timedelta(hours=1) + dt.timedelta(minutes=7)
    cells = oversized_cells(rng)
    blob = zlib.compress(json.dumps(cells, separators=(",", ":")).encode(), 6)
    db.collection(constants.EVENT_ROLLUPS).document(rollup_doc_id("minute", start, None)).set(
        {
            "g": "minute",
            "start": start,
            "end": start + dt.timedelta(minutes=1),
            "shard": -1,
            "blob": blob,
        }
    )
    prepare(db, n, poison, {"start": start, "cell": next(iter(cells))}, now)
    store = FirestoreStore(db, cache=None)
    reads = _firestore.OPERATIONS["fold_reads"]
    t0 = time.perf_counter()
    result = store.fold(now)
    seconds = time.perf_counter() - t0
    assert not list(db.collection(constants.EVENT_ROLLUP_SHARDS).stream()), (
        "the journal must end empty"
    )
    return {
        "seconds": seconds,
        "entries": result.entries,
        "quarantined": result.quarantined,
        "transactions": result.transactions,
        "failed": result.failed_transactions,
        "reads": _firestore.OPERATIONS["fold_reads"] - reads,
        "bucket writes": result.buckets,
    }


def main() -> int:
    """Print the figures of each N, healthy against one poison of each kind."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="250,1000,4000", help="healthy entries per fold")
    args = parser.parse_args()
    rng = random.Random(11)
    firestore_port, functions_port = free_ports(2)
    with bench_stack(PROJECT, firestore_port, functions_port) as (local, db):
        print("N      poison   seconds  entries  quarantined  transactions (failed)  reads  "
              "bucket writes")  # fmt: skip
        for n in (int(size) for size in args.sizes.split(",")):
            for poison in (None, "text", "bucket"):
                f = fold_once(local, db, n, poison, rng)
                print(f"{n:<6} {poison or 'none':<8} {f['seconds']:7.2f}  {f['entries']:7d}  "
                      f"{f['quarantined']:11d}  {f['transactions']:12d} ({f['failed']:3d})  "
                      f"{f['reads']:5d}  {f['bucket writes']:13d}", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
