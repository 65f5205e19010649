"""Cost of one scheduled `aggregate_and_alert` run on the local stack, by history size.

Prints, for 1,000 and then 20,000 generations in the last day: the run's duration (p50 and max of
several ticks, after a first run that compacts) and the Firestore documents it reads, by kind, with
the ratio 20k / 1k (target <= 1.5 for both).
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "functions"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests
from google.cloud import firestore

from benchlib import (
    bench_stack,
    empty_query_ms,
    finished_generation,
    store_counters,
    wait_for_count,
    write_generations,
)
from local_stack.stack import LocalStack
from local_stack.tokens import emulator_token

PROJECT = "demo-cvplus"
READ_KINDS = ("rollup_reads", "compaction_reads", "backlog_reads", "alert_reads")
COUNTERS = (*READ_KINDS, "queries")


def day_total(stack: LocalStack) -> int:
    """Generations the 24 h summary counts now."""
    token = emulator_token("bench", "analytics", PROJECT)
    response = requests.get(
        stack.functions_url("video_analytics_dashboard", "/summary"),
        params={"window": "24h"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )
    response.raise_for_status()
    return int(response.json()["generations"]["total"])


def load(stack: LocalStack, db: firestore.Client, count: int, total: int, now: dt.datetime) -> None:
    """`count` finished generations between 22 h and 2 h ago, one write each, until the day's
    summary counts `total`."""
    rng = random.Random(count)

    def docs() -> Iterator[tuple[str, dict[str, Any]]]:
        for i in range(count):
            created = now - dt.timedelta(minutes=rng.uniform(120, 22 * 60))
            yield f"b-{total}-{i}", finished_generation(rng, created, pika_failure=0.25, users=1000)

    write_generations(db, docs())
    wait_for_count(lambda: day_total(stack), total)


def tick(stack: LocalStack, when: dt.datetime) -> tuple[float, dict[str, int]]:
    """One scheduled run: seconds, and documents read by kind."""
    before = store_counters(stack, COUNTERS)
    started = time.perf_counter()
    response = stack.run_schedule("aggregate_and_alert", when)
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    after = store_counters(stack, COUNTERS)
    return elapsed, {k: after[k] - before[k] for k in COUNTERS}


def measure(
    stack: LocalStack, first: dt.datetime, runs: int
) -> tuple[float, float, dict[str, int]]:
    """A compacting run, then `runs` ticks 5 minutes apart: p50 and max seconds, reads per run."""
    tick(stack, first)
    times, reads = [], []
    for i in range(1, runs + 1):
        elapsed, read = tick(stack, first + dt.timedelta(minutes=5 * i))
        times.append(elapsed)
        reads.append(read)
    per_run = {k: round(statistics.mean(r[k] for r in reads)) for k in COUNTERS}
    return statistics.median(times), max(times), per_run


def main() -> int:
    """Load 1k, measure; load up to 20k, measure; print both and the ratios."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--large", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=4)
    args = parser.parse_args()
    with bench_stack(PROJECT, 18690, 15611) as (stack, db):
        now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
        print("aggregate_and_alert benchmark on the local stack (emulator + functions host)")
        load(stack, db, args.small, args.small, now)
        small = measure(stack, now, args.runs)
        small_floor = empty_query_ms(db)
        started = time.monotonic()
        load(stack, db, args.large - args.small, args.large, now)
        print(f"  (loaded {args.large - args.small} more in {time.monotonic() - started:.0f} s)")
        large = measure(stack, now + dt.timedelta(minutes=5 * (args.runs + 1)), args.runs)
        large_floor = empty_query_ms(db)
        for label, (p50, worst, reads), floor in (
            (args.small, small, small_floor),
            (args.large, large, large_floor),
        ):
            queries = reads.pop("queries")
            print(
                f"  {label:6d} generations in the day: run p50 {p50 * 1000:7.1f} ms  "
                f"max {worst * 1000:7.1f} ms  reads/run {sum(reads.values()):5d} {reads}; "
                f"{queries} queries/run; emulator empty-query floor {floor:.1f} ms"
            )
        time_ratio = large[0] / small[0]
        read_ratio = sum(large[2].values()) / max(sum(small[2].values()), 1)
        for name, ratio in (("duration", time_ratio), ("reads", read_ratio)):
            verdict = "OK" if ratio <= 1.5 else "OVER TARGET"
            print(f"  ratio 20k/1k {name}: {ratio:.2f} (target <= 1.5): {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
