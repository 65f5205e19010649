"""A weekly digest build on the local stack: generations spread over the last whole ISO week and
the week before (real trigger delivery), then GET /digest?period=weekly (the same build the
tick mails): p50 and max seconds over several calls, documents read per build, and the size of
the email it renders (text, HTML and PNG charts). The baseline ratio is against one
GET /summary of the same week (the digest needs two summaries, two provider comparisons,
the trends, the alerts and the audit log)."""

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
    finished_generation,
    store_counters,
    wait_for_count,
    write_generations,
)
from local_stack.stack import LocalStack
from local_stack.tokens import emulator_token
from video_monitoring.analytics import digest_render as render
from video_monitoring.analytics.digest_content import last_complete

PROJECT = "demo-bench-digest"
KINDS = ("rollup_reads", "alert_reads", "queries")


def get(stack: LocalStack, path: str, params: dict[str, str]) -> tuple[float, dict[str, Any]]:
    token = emulator_token("bench", "analytics", PROJECT)
    started = time.perf_counter()
    response = requests.get(stack.functions_url("video_analytics_dashboard", path), params=params,
                            headers={"Authorization": f"Bearer {token}"}, timeout=120)  # fmt: skip
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return elapsed, body


def load(stack: LocalStack, db: firestore.Client, count: int, start: dt.datetime) -> None:
    """`count` finished generations over the two weeks from `start`, one write each."""
    rng = random.Random(count)

    def docs() -> Iterator[tuple[str, dict[str, Any]]]:
        for i in range(count):
            created = start + dt.timedelta(minutes=rng.uniform(0, 14 * 24 * 60 - 60))
            yield f"d-{i}", finished_generation(rng, created, pika_failure=0.25, users=1000)

    write_generations(db, docs())
    window = {"from": start.isoformat(), "to": (start + dt.timedelta(days=14)).isoformat()}
    wait_for_count(lambda: get(stack, "/summary", window)[1]["generations"]["total"], count)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--generations", type=int, default=5000)
    parser.add_argument("--calls", type=int, default=5)
    args = parser.parse_args()
    week = last_complete("weekly", dt.datetime.now(dt.UTC))
    with bench_stack(PROJECT, 18790, 15711) as (stack, db):
        print("weekly digest benchmark on the local stack (emulator + functions host)")
        started = time.monotonic()
        load(stack, db, args.generations, week.start - dt.timedelta(days=7))
        print(f"  loaded {args.generations} generations over two weeks in "
              f"{time.monotonic() - started:.0f} s")  # fmt: skip
        window = {"from": week.start.isoformat(), "to": week.end.isoformat()}
        times, reads, summaries = [], [], []
        digest: dict[str, Any] = {}
        for _ in range(args.calls):
            before = store_counters(stack, KINDS)
            elapsed, digest = get(stack, "/digest", {"period": "weekly"})
            after = store_counters(stack, KINDS)
            times.append(elapsed)
            reads.append({k: after[k] - before[k] for k in KINDS})
            summaries.append(get(stack, "/summary", window)[0])
        per_build = {k: round(statistics.mean(r[k] for r in reads)) for k in KINDS}
        text = render.text(digest, "https://console.example/")
        html = render.to_html(digest, "https://console.example/")
        charts = render.charts(digest)
        size = len(text.encode()) + len(html.encode()) + sum(len(c) for c in charts.values())
        p50, summary_p50 = statistics.median(times), statistics.median(summaries)
        print(f"  GET /digest?period=weekly: p50 {p50 * 1000:.0f} ms, max {max(times) * 1000:.0f}"
              f" ms over {args.calls} builds; per build {per_build}")  # fmt: skip
        print(f"  baseline GET /summary of the same week: p50 {summary_p50 * 1000:.0f} ms; "
              f"ratio digest/summary {p50 / summary_p50:.1f}")  # fmt: skip
        print(
            f"  the email: {len(text)} characters of text, {len(html)} of HTML, "
            f"{len(charts)} PNG charts of {sum(len(c) for c in charts.values())} bytes; "
            f"{size / 1024:.1f} KB in all; {len(digest['recommendations'])} recommendations"
        )
        total = next(r["value"] for r in digest["headline"] if r["name"] == "generations")
        summary_total = get(stack, "/summary", window)[1]["generations"]["total"]
        same = "yes" if total == summary_total else "NO"
        print(f"  the digest's generations ({total}) are the week's summary's: {same}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
