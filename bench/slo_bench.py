"""Error budgets on the local stack: generations spread over the last 28 days (real trigger
delivery), then GET /slos (every objective's 28-day budget and its 5 min, 30 min, 1 h and 6 h
burn rates, overall and per provider): p50 and max over several calls and the documents read per
call. The baseline ratio is against one GET /summary of the same 28 days. Then a scheduled tick
with the four burn-rate rules turned on: its documents read and time."""

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

PROJECT = "demo-bench-slo"
KINDS = ("rollup_reads", "alert_reads", "queries")
BURN_RULES = ("slo_success_fast_burn", "slo_success_slow_burn", "slo_latency_fast_burn",
              "slo_latency_slow_burn")  # fmt: skip


def call(
    stack: LocalStack,
    method: str,
    path: str,
    params: dict[str, str] | None = None,
    body: Any = None,
) -> tuple[float, dict[str, Any]]:
    token = emulator_token("bench", "admin", PROJECT)
    started = time.perf_counter()
    response = requests.request(
        method, stack.functions_url("video_analytics_dashboard", path), params=params, json=body,
        headers={"Authorization": f"Bearer {token}"}, timeout=120,
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    answer: dict[str, Any] = response.json()
    return elapsed, answer


def load(stack: LocalStack, db: firestore.Client, count: int, end: dt.datetime) -> None:
    """`count` finished generations over the 28 days before `end`, one write each; a tenth of
    them in the last 6 hours, so every burn window has traffic."""
    rng = random.Random(count)

    def docs() -> Iterator[tuple[str, dict[str, Any]]]:
        for i in range(count):
            span = 6 * 60 if i % 10 == 0 else 28 * 24 * 60 - 10
            created = end - dt.timedelta(minutes=rng.uniform(10, span))
            yield f"s-{i}", finished_generation(rng, created, pika_failure=0.25, users=2000)

    write_generations(db, docs())
    window = {"from": (end - dt.timedelta(days=28)).isoformat(), "to": end.isoformat()}
    wait_for_count(lambda: call(stack, "GET", "/summary", window)[1]["generations"]["total"], count)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--generations", type=int, default=8000)
    parser.add_argument("--calls", type=int, default=5)
    args = parser.parse_args()
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    with bench_stack(PROJECT, 18800, 15721) as (stack, db):
        print("error budget benchmark on the local stack (emulator + functions host)")
        started = time.monotonic()
        load(stack, db, args.generations, now)
        print(f"  loaded {args.generations} generations over 28 days in "
              f"{time.monotonic() - started:.0f} s")  # fmt: skip
        window = {"from": (now - dt.timedelta(days=28)).isoformat(), "to": now.isoformat()}
        times, reads, summaries = [], [], []
        status: dict[str, Any] = {}
        for _ in range(args.calls):
            before = store_counters(stack, KINDS)
            elapsed, status = call(stack, "GET", "/slos")
            after = store_counters(stack, KINDS)
            times.append(elapsed)
            reads.append({k: after[k] - before[k] for k in KINDS})
            summaries.append(call(stack, "GET", "/summary", window)[0])
        per_call = {k: round(statistics.mean(r[k] for r in reads)) for k in KINDS}
        p50, summary_p50 = statistics.median(times), statistics.median(summaries)
        budgets = sum(len(o["budgets"]) for o in status["objectives"])
        print(f"  GET /slos: p50 {p50 * 1000:.0f} ms, max {max(times) * 1000:.0f} ms over "
              f"{args.calls} calls ({len(status['objectives'])} objectives, {budgets} budgets); "
              f"per call {per_call}")  # fmt: skip
        print(f"  baseline GET /summary of the same 28 days: p50 {summary_p50 * 1000:.0f} ms; "
              f"ratio slos/summary {p50 / summary_p50:.1f}")  # fmt: skip
        overall = status["objectives"][0]["budgets"][0]
        generations = call(stack, "GET", "/summary", window)[1]["generations"]
        counted = (generations["completed"] + generations["failed"], generations["failed"])
        same = "yes" if (overall["valid"], overall["bad"]) == counted else "NO"
        print(f"  the success budget counts the summary's completed and failed: {same} "
              f"({overall['valid']} valid, {overall['bad']} bad, "
              f"{overall['budgetRemaining']:.0%} left)")  # fmt: skip

        for rule_id in BURN_RULES:
            rule = call(stack, "GET", f"/alert-rules/{rule_id}")[1]["rule"]
            call(stack, "PUT", f"/alert-rules/{rule_id}", body={**rule, "enabled": True})
        tick_times, tick_reads = [], []
        for i in range(3):
            before = store_counters(stack, KINDS)
            t0 = time.perf_counter()
            stack.run_schedule("aggregate_and_alert", now + i * dt.timedelta(minutes=5),
                               timeout=300).raise_for_status()  # fmt: skip
            tick_times.append(time.perf_counter() - t0)
            after = store_counters(stack, KINDS)
            tick_reads.append(after["rollup_reads"] - before["rollup_reads"])
        query = db.collection("alert_instances")
        firing = sorted({(d.get("ruleId"), d.get("scope")) for d in
                         (s.to_dict() or {} for s in query.stream())
                         if str(d.get("ruleId", "")).startswith("slo_")})  # fmt: skip
        print(f"  a tick with the burn-rate rules on: p50 {statistics.median(tick_times):.2f} s, "
              f"{round(statistics.mean(tick_reads))} rollup documents read; "
              f"burn alerts opened {firing}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
