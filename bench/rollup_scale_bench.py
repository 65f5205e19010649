"""Rollups at scale: dashboard reads before and after the fold, against a naive scan.

Part 1, for 1,000, 6,000 and 20,000 finished generations (each size on a wiped stack) written
with `createdAt` spread over the last 29 days, as a new user would write them: p50 of `/summary`
for a 30-day window before any scheduled tick, the tick that folds the rollups (its time), p50
after it, and the naive answer (stream the generation documents and compute the figures in
Python); documents read per request and p50 of the other rollup endpoints in both states.
Targets: folded rollups >= 20x faster than the scan at 20k, reads per request flat from 1k to
20k (ratio <= 1.1), unfolded within 2x of folded.

Part 2 writes, directly, the rollup layout that 100 generations/s leaves with ROLLUP_SHARDS=384
(30 days of folded buckets and the journal of the open minute and the one before it) and prints
documents read and p50 per endpoint on it.

`--layout old` writes part 2 in the layout of the previous design (shards per minute, hour and
day; closed minutes waiting out the compaction grace), to be run from a checkout of that design.
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

import requests
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from benchlib import bench_stack, finished_generation, percentile, store_counters
from local_stack.harness import Stack
from local_stack.ports import free_ports
from local_stack.stack import LocalStack
from local_stack.tokens import emulator_token
from video_monitoring.config import constants
from video_monitoring.core.models import GenerationDocument
from video_monitoring.ingest import rollup, sketch

PROJECT = "demo-cvplus"
ENDPOINTS: tuple[tuple[str, dict[str, str]], ...] = (
    ("/summary", {}),
    ("/performance", {}),
    ("/trends", {"granularity": "day"}),
    ("/providers", {}),
    ("/business", {}),
)
MAIN = (Path(__file__).resolve().parents[1] / "functions" / "main.py").read_text()
# The scheduled function that folds the rollups: its own in this design, aggregate_and_alert's
# compaction in the previous one.
TICK = "fold_rollups" if "def fold_rollups" in MAIN else "aggregate_and_alert"


class Client:
    """An analytics user of the dashboard."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.base = stack.functions_url("video_analytics_dashboard")
        self.session = requests.Session()
        token = emulator_token("bench", "analytics", PROJECT)
        self.session.headers["Authorization"] = f"Bearer {token}"

    def get(self, path: str, params: dict[str, str]) -> requests.Response:
        response = self.session.get(
            self.base + path, params={"window": "30d", **params}, timeout=120
        )
        response.raise_for_status()
        return response

    def measure(self, path: str, params: dict[str, str], samples: int) -> tuple[float, float]:
        """p50 ms and rollup documents read per request (after one request not counted)."""
        self.get(path, params)
        before = store_counters(self.stack, ("rollup_reads",))["rollup_reads"]
        times = []
        for _ in range(samples):
            t0 = time.perf_counter()
            self.get(path, params)
            times.append(time.perf_counter() - t0)
        reads = store_counters(self.stack, ("rollup_reads",))["rollup_reads"] - before
        return percentile(times, 0.5) * 1000, reads / samples


def load(stack: LocalStack, db: firestore.Client, count: int) -> float:
    """`count` finished generations over the last 29 days through the real triggers; seconds
    until the dashboard counts them all."""
    rng = random.Random(count)
    now = dt.datetime.now(dt.UTC)
    t0 = time.perf_counter()
    batch = db.batch()
    for i in range(count):
        created = now - dt.timedelta(minutes=rng.uniform(5, 29 * 24 * 60))
        doc = finished_generation(rng, created, pika_failure=0.2, users=2000)
        doc.update(outputSeconds=10.0, qualityScore=round(rng.uniform(6, 10), 2))
        if rng.random() < 0.3:
            doc["userRating"] = rng.randint(1, 5)
        batch.set(db.collection("video_generations").document(f"s-{count}-{i}"), doc)
        if i % 400 == 399:
            batch.commit()
            batch = db.batch()
    batch.commit()
    client = Client(stack)
    deadline = time.monotonic() + 3600
    while client.get("/summary", {}).json()["generations"]["total"] != count:
        if time.monotonic() > deadline:
            raise SystemExit(f"pipeline did not reach {count} generations")
        time.sleep(2)
    seconds = time.perf_counter() - t0
    settle(stack)  # the lifecycle events' deliveries go on after the last generation counts
    return seconds


def naive(db: firestore.Client) -> dict[str, Any]:
    """The figures of `/summary` from the generation documents themselves."""
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
    query = db.collection("video_generations").where(filter=FieldFilter("createdAt", ">=", start))
    counts: dict[str, int] = {}
    times: list[float] = []
    cost = 0.0
    for snap in query.stream():
        doc = GenerationDocument.model_validate(snap.to_dict())
        counts[doc.status] = counts.get(doc.status, 0) + 1
        cost += doc.costUsd or 0.0
        if doc.generation_seconds is not None:
            times.append(doc.generation_seconds)
    times.sort()
    return {
        "total": sum(counts.values()),
        "completed": counts.get("completed", 0),
        "costUsd": cost,
        "p95": times[int(0.95 * (len(times) - 1))] if times else None,
    }


def naive_ms(db: firestore.Client, samples: int) -> tuple[float, int]:
    """p50 ms of the naive answer, and the generations it counted."""
    times, total = [], 0
    for _ in range(samples):
        t0 = time.perf_counter()
        total = naive(db)["total"]
        times.append(time.perf_counter() - t0)
    return percentile(times, 0.5) * 1000, total


def documents(db: firestore.Client) -> int:
    """Rollup documents of both kinds (folded buckets and anything waiting to be folded)."""
    return sum(
        sum(1 for _ in db.collection(name).select([]).stream())
        for name in (constants.ROLLUPS, constants.ROLLUP_SHARDS)
    )


def settle(stack: LocalStack) -> None:
    """Wait until the host has had no trigger delivery for 3 s (the suite's own wait)."""
    Stack(stack, stack.functions_base).settle(quiet=3.0, timeout=1800)


def wipe(stack: LocalStack) -> None:
    """An empty database, for sure: the emulator delivers a delete event for every document a
    wipe removes, and a handler that read a stored record before the wipe removed it would write
    a straggling (negative) journal entry after it. So wipe, wait until the deliveries stop,
    and wipe again."""
    stack.wipe()
    settle(stack)
    stack.wipe()


def summary_with_cache(stack: LocalStack, samples: int) -> tuple[float, float]:
    """p50 and reads of `/summary` from a host with the instance cache (then without again)."""
    restart_host(stack, 32)
    result = Client(stack).measure("/summary", {}, samples)
    restart_host(stack, 0)
    return result


def part1(stack: LocalStack, db: firestore.Client, sizes: list[int], samples: int) -> None:
    client = Client(stack)
    rows = []
    cached: list[tuple[int, tuple[float, float], tuple[float, float]]] = []
    for size in sizes:
        wipe(stack)
        seconds = load(stack, db, size)
        journal_docs = sum(1 for _ in db.collection(constants.ROLLUP_SHARDS).select([]).stream())
        docs_before = documents(db)
        before = {path: client.measure(path, params, samples) for path, params in ENDPOINTS}
        cached_before = summary_with_cache(stack, samples)
        t0 = time.perf_counter()
        ticks = 0
        while True:  # one tick per minute in production; here back to back until all is folded
            ticks += 1
            stack.run_schedule(TICK, dt.datetime.now(dt.UTC) + dt.timedelta(minutes=2), 1800)
            if TICK != "fold_rollups":
                break  # the previous design's compaction leaves open buckets' shards by design
            if not any(True for _ in db.collection(constants.ROLLUP_SHARDS).limit(1).stream()):
                break
        tick = time.perf_counter() - t0
        docs_after = documents(db)
        after = {path: client.measure(path, params, samples) for path, params in ENDPOINTS}
        cached.append((size, cached_before, summary_with_cache(stack, samples)))
        scan, counted = naive_ms(db, max(3, samples // 3))
        assert counted == size, (counted, size)
        rows.append((size, seconds, docs_before, tick, docs_after, before, after, scan))
        print(
            f"  {size} generations loaded in {seconds:.0f} s; {ticks} tick(s) folded {size} "
            f"journal entries from {journal_docs} documents in {tick:.1f} s "
            f"({size / tick:.0f} entries/s, {journal_docs / tick:.1f} documents/s)",
            flush=True,
        )
    print(f"\n  /summary 30d ({TICK} as the tick)")
    print(
        f"  {'generations':>11s} {'unfolded p50':>12s} {'docs':>6s} {'fold s':>7s} "
        f"{'folded p50':>10s} {'docs':>6s} {'scan p50':>9s} {'scan/folded':>11s} "
        f"{'unfolded/folded':>15s}"
    )
    for size, _, docs_before, tick, docs_after, before, after, scan in rows:
        b, a = before["/summary"][0], after["/summary"][0]
        print(
            f"  {size:11d} {b:10.0f}ms {docs_before:6d} {tick:7.1f} {a:8.0f}ms {docs_after:6d} "
            f"{scan:7.0f}ms {scan / a:11.1f} {b / a:15.2f}"
        )
    print("\n  per endpoint: p50 ms / documents read per request, unfolded -> folded")
    print("  " + f"{'endpoint':14s}" + "".join(f"{s:>30d}" for s, *_ in rows))
    for path, _ in ENDPOINTS:
        cells = []
        for _, _, _, _, _, before, after, _ in rows:
            (bp, br), (ap, ar) = before[path], after[path]
            cells.append(f"{bp:.0f}/{br:.0f} -> {ap:.0f}/{ar:.0f}")
        print("  " + f"{path:14s}" + "".join(f"{cell:>30s}" for cell in cells))
    print("\n  /summary 30d from a host with the instance cache (the default): p50 ms / reads")
    for size, (bp, br), (ap, ar) in cached:
        print(f"  {size:11d} unfolded {bp:5.0f} / {br:4.0f}   folded {ap:5.0f} / {ar:4.0f}   "
              f"unfolded/folded {bp / ap:.2f}")  # fmt: skip
    first, last = rows[0][6]["/summary"][1], rows[-1][6]["/summary"][1]
    print(
        f"\n  folded reads per /summary {rows[0][0]} -> {rows[-1][0]}: {first:.0f} -> {last:.0f} "
        f"(ratio {last / first:.2f}, target <= 1.1)"
    )


def template_cells(rng: random.Random, generations: int) -> dict[str, dict[str, float]]:
    """The cells that `generations` generations of one minute add up to."""
    cells: dict[str, dict[str, float]] = {}
    now = dt.datetime.now(dt.UTC)
    for i in range(generations):
        doc = finished_generation(rng, now, pika_failure=0.2, users=2000)
        doc.update(outputSeconds=10.0, qualityScore=round(rng.uniform(6, 10), 2))
        if rng.random() < 0.3:
            doc["userRating"] = rng.randint(1, 5)
        part = rollup.contribution(f"t{i}", GenerationDocument.model_validate(doc), 384)
        acc = cells.setdefault(part.cell, {})
        for key, value in part.values.items():
            acc[key] = acc.get(key, 0) + value
    return cells


def write_all(db: firestore.Client, docs: list[tuple[str, str, dict[str, Any]]]) -> None:
    """Write (collection, id, body) documents in batches of 100 (a commit is at most 4 MB)."""
    for i in range(0, len(docs), 100):
        batch = db.batch()
        for collection, doc_id, body in docs[i : i + 100]:
            batch.set(db.collection(collection).document(doc_id), body)
        batch.commit()


def folded_bucket(granularity: str, start: dt.datetime, blob: bytes) -> dict[str, Any]:
    return {
        "g": granularity,
        "start": start,
        "end": start + rollup.step(granularity),  # type: ignore[arg-type]
        "shard": -1,
        "blob": blob,
    }


def journal_docs(
    epoch: dt.datetime, changes: int, now: dt.datetime, rng: random.Random
) -> list[tuple[str, str, dict[str, Any]]]:
    """384 journal documents of one arrival minute, `changes` entries each, for generations
    created in the last 10 minutes."""
    from video_monitoring.ingest import journal

    docs = []
    for shard in range(384):
        entries = {}
        for k in range(changes):
            created = now - dt.timedelta(seconds=rng.uniform(0, 600))
            doc = finished_generation(rng, created, pika_failure=0.2, users=2000)
            part = rollup.contribution(f"x{shard}-{k}", GenerationDocument.model_validate(doc), 384)
            entries[f"{shard}x{k}"] = journal.entry_text(rollup.deltas(None, part)[0])
        docs.append((constants.ROLLUP_SHARDS, journal.journal_doc_id(epoch, shard),
                     {"epoch": epoch, "shard": shard, "d": entries}))  # fmt: skip
    return docs


CHANGES_PER_SHARD = 350 * 60 // 384  # one minute of 350 changes/s over 384 documents


def layout_new(db: firestore.Client, now: dt.datetime, rng: random.Random) -> str:
    """Folded minute, hour and day buckets of 30 days, the fold log, and the journal of 100
    generations/s (350 changes/s) over 384 shards half-way through the open minute."""
    from video_monitoring.adapters import firestore_rollups
    from video_monitoring.ingest import journal

    minute = rollup.floor_time(now, "minute")
    blob = firestore_rollups.encode_cells(template_cells(rng, 300))
    docs: list[tuple[str, str, dict[str, Any]]] = []
    for granularity, count in (("day", 31), ("hour", 31 * 24), ("minute", 30 * 24 * 60)):
        start = rollup.floor_time(minute, granularity)  # type: ignore[arg-type]
        for i in range(1, count + 1):
            bucket = start - i * rollup.step(granularity)  # type: ignore[arg-type]
            doc_id = firestore_rollups.rollup_doc_id(granularity, bucket, None)
            docs.append((constants.ROLLUPS, doc_id, folded_bucket(granularity, bucket, blob)))
    docs += journal_docs(minute, CHANGES_PER_SHARD // 2, now, rng)
    # The fold log a running system has (the folds of the last minutes changed only the
    # open buckets and the ones the journal's late changes touched).
    log = journal.FoldLog("bench", 100_000, 90_000, {})
    docs.append((constants.FOLD_LOGS, constants.ROLLUPS, log.to_doc()))
    write_all(db, docs)
    return f"{len(docs)} documents: 31 days of minutes, hours and days folded, 384 journal"


def layout_old(db: firestore.Client, now: dt.datetime, rng: random.Random) -> str:
    """The previous design's layout at 100 generations/s: 384 shards of the open minute, hour
    and day, of the ~12 closed minutes waiting out the compaction grace, compacted otherwise."""
    from video_monitoring.adapters import firestore_rollups

    minute = rollup.floor_time(now, "minute")
    cells = template_cells(rng, 300)
    blob = firestore_rollups.encode_cells(cells)
    small = template_cells(rng, 1)
    docs: list[tuple[str, str, dict[str, Any]]] = []
    for granularity, count in (("day", 31), ("hour", 31 * 24), ("minute", 30 * 24 * 60)):
        start = rollup.floor_time(minute, granularity)  # type: ignore[arg-type]
        for i in range(1, count + 1):
            bucket = start - i * rollup.step(granularity)  # type: ignore[arg-type]
            if granularity == "minute" and i <= 12:
                continue
            doc_id = firestore_rollups.rollup_doc_id(granularity, bucket, None)
            docs.append((constants.ROLLUPS, doc_id, folded_bucket(granularity, bucket, blob)))
    live = [("minute", minute - i * rollup.step("minute")) for i in range(13)]
    live += [("hour", rollup.floor_time(minute, "hour")), ("day", rollup.floor_time(minute, "day"))]
    for granularity, bucket in live:
        for shard in range(384):
            body = folded_bucket(granularity, bucket, b"")
            body.pop("blob")
            body["shard"] = shard
            body["cells"] = {cell: rollup.nest({k: int(v) for k, v in flat.items()})
                             for cell, flat in small.items()}  # fmt: skip
            doc_id = firestore_rollups.rollup_doc_id(granularity, bucket, shard)
            docs.append((constants.ROLLUP_SHARDS, doc_id, body))
    write_all(db, docs)
    return f"{len(docs)} documents: {len(live)} live buckets x 384 shards, the rest compacted"


def restart_host(stack: LocalStack, cache_mb: int) -> None:
    """The functions host again, with or without its instance cache of folded documents."""
    stack.stop_host()
    stack.host_env["ROLLUP_CACHE_MB"] = str(cache_mb)
    stack.start_host()


def endpoints_with_cache(stack: LocalStack, samples: int, title: str) -> None:
    """p50 and reads per request of every endpoint, the host's cache off and then on."""
    results = {}
    for cache_mb in (0, 32):
        restart_host(stack, cache_mb)
        client = Client(stack)
        results[cache_mb] = {
            path: client.measure(path, params, samples) for path, params in ENDPOINTS
        }
    print(f"\n  {title}")
    print(f"  {'endpoint':14s} {'p50 ms':>8s} {'reads/request':>14s}   with instance cache: "
          f"{'p50 ms':>8s} {'reads/request':>14s}")  # fmt: skip
    for path, _ in ENDPOINTS:
        (cold_p50, cold_reads), (warm_p50, warm_reads) = results[0][path], results[32][path]
        print(f"  {path:14s} {cold_p50:8.0f} {cold_reads:14.0f}   {'':21s}"
              f"{warm_p50:8.0f} {warm_reads:14.0f}")  # fmt: skip
    restart_host(stack, 0)


def part2(stack: LocalStack, db: firestore.Client, layout: str, samples: int) -> None:
    wipe(stack)
    rng = random.Random(384)
    now = dt.datetime.now(dt.UTC)
    t0 = time.perf_counter()
    described = (layout_new if layout == "new" else layout_old)(db, now, rng)
    seconds = time.perf_counter() - t0
    title = (f"layout of 100 generations/s, ROLLUP_SHARDS=384 ({layout}): {described}, "
             f"written in {seconds:.0f} s")  # fmt: skip
    if layout == "old":  # no instance cache in that design
        client = Client(stack)
        print(f"\n  {title}\n  {'endpoint':14s} {'p50 ms':>8s} {'reads/request':>14s}")
        for path, params in ENDPOINTS:
            p50, reads = client.measure(path, params, samples)
            print(f"  {path:14s} {p50:8.0f} {reads:14.0f}")
        return
    endpoints_with_cache(stack, samples, f"{title}; mid-minute")
    # The seconds after a minute turns, before its fold has drained it: the closed minute's
    # full journal too.
    write_all(db, journal_docs(rollup.floor_time(now, "minute") - dt.timedelta(minutes=1),
                               CHANGES_PER_SHARD, now, rng))  # fmt: skip
    endpoints_with_cache(stack, samples, "the same with the previous minute's 384 journal "
                         "documents not folded yet")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000,6000,20000")
    parser.add_argument("--samples", type=int, default=9)
    parser.add_argument("--layout", choices=("new", "old"), default="new")
    parser.add_argument("--skip-sizes", action="store_true")
    parser.add_argument("--skip-layout", action="store_true")
    args = parser.parse_args()
    firestore_port, functions_port = free_ports(2)
    # Every figure first without the instance cache of folded documents (each request reads
    # everything it needs), then with it where this design has one.
    env = {"ROLLUP_CACHE_MB": "0"}
    with bench_stack(PROJECT, firestore_port, functions_port, env=env) as (stack, db):
        print(f"rollups at scale on the local stack (sketch error bound {sketch.ALPHA:.0%})")
        if not args.skip_sizes:
            sizes = [int(s) for s in args.sizes.split(",")]
            part1(stack, db, sizes, args.samples)
            if args.layout == "new":
                endpoints_with_cache(stack, args.samples, f"{sizes[-1]} generations, folded")
        if not args.skip_layout:
            part2(stack, db, args.layout, args.samples)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
