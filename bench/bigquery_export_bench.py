"""The nightly BigQuery export at 10,000 and 100,000 generation metrics in one day, on the real
parts: the Firestore emulator holding the metrics documents and the BigQuery API emulator
receiving them through google-cloud-bigquery. Each export runs in a fresh process, which reports
its wall time split into Firestore reading, row building, BigQuery loads and the replacing
transaction, and its peak resident set.

Targets (issue 6): >= 5,000 rows/s and peak RSS <= 300 MB at 100,000 rows; 50,000 shows the
memory bound is reached (a queue of at most 10,000 documents, one chunk being built and at most
two in flight) and stays flat. The emulator's
paged range reads scan its whole database per page, so the Firestore share is reported apart.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "functions"))
sys.path.insert(0, str(ROOT))
PROJECT = "demo-bench"
FIRESTORE_PORT, FUNCTIONS_PORT = 18480, 15401
BQ_PORT, BQ_GRPC_PORT = 19450, 19460
# The last size is the one the targets are checked at.
SIZES = {dt.date(2026, 10, 1): 10_000, dt.date(2026, 10, 2): 50_000, dt.date(2026, 10, 3): 100_000}


def metrics_doc(i: int, day: dt.date) -> dict[str, Any]:
    """A stored metrics document as the pipeline writes it (the export's input)."""
    created = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC) + dt.timedelta(
        seconds=i * 86_400 / 100_000
    )
    failed = i % 10 == 0
    return {
        "generationId": f"{day:%m%d}-{i:07d}", "userId": f"user-{i % 5000}",
        "provider": ("runway", "pika", "heygen")[i % 3], "model": "gen-3", "userTier": "free",
        "status": "failed" if failed else "completed", "createdAt": created,
        "startedAt": created + dt.timedelta(seconds=2),
        "completedAt": created + dt.timedelta(seconds=61),
        "generationSeconds": None if failed else 61.0, "queueSeconds": 2.0, "renderSeconds": 59.0,
        "attempts": 1, "fallbackFrom": None, "errorCode": "timeout" if failed else None,
        "errorRetryable": True if failed else None, "qualityScore": None if failed else 8.5,
        "userRating": None, "costUsd": 0.42, "outputSeconds": 10.0, "resolution": "1080p",
        "features": ["hd_export"], "contribution": {"bucket": "x"}, "emitted": {"requested": "x"},
    }  # fmt: skip


def seed(db: Any, day: dt.date, n: int) -> None:
    """n metrics documents in the day, written in parallel batches of 500."""

    def write(start: int) -> None:
        batch = db.batch()
        for i in range(start, min(start + 500, n)):
            doc = metrics_doc(i, day)
            batch.set(db.collection("video_generation_metrics").document(doc["generationId"]), doc)
        batch.commit()

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(write, range(0, n, 500)))


class Timed:
    """Wraps the source and warehouse to split the wall time by phase."""

    def __init__(self, source: Any, warehouse: Any) -> None:
        self.source, self.warehouse = source, warehouse
        self.seconds = {"firestore": 0.0, "load": 0.0, "replace": 0.0, "setup": 0.0}

    def documents(self, *args: Any) -> Iterator[tuple[str, Mapping[str, Any]]]:
        pages = self.source.documents(*args)
        while True:
            t0 = time.perf_counter()
            try:
                item = next(pages)
            except StopIteration:
                self.seconds["firestore"] += time.perf_counter() - t0
                return
            self.seconds["firestore"] += time.perf_counter() - t0
            yield item

    def opted_out_users(self) -> frozenset[str]:
        result: frozenset[str] = self.source.opted_out_users()
        return result

    def _timed(self, phase: str, call: Any, *args: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return call(*args)
        finally:
            self.seconds[phase] += time.perf_counter() - t0

    def ensure_tables(self) -> None:
        self._timed("setup", self.warehouse.ensure_tables)

    def new_staging(self, table: str, day: dt.date) -> str:
        name: str = self._timed("setup", self.warehouse.new_staging, table, day)
        return name

    def load(self, staging: str, table: str, ndjson: bytes) -> None:
        self._timed("load", self.warehouse.load, staging, table, ndjson)

    def replace_day(self, day: dt.date, staged: Mapping[str, str]) -> None:
        self._timed("replace", self.warehouse.replace_day, day, staged)

    def erasure_ledger(self) -> frozenset[str]:
        keys: frozenset[str] = self._timed("replace", self.warehouse.erasure_ledger)
        return keys

    def anonymise_day(self, day: dt.date, keys: frozenset[str]) -> int:
        rows: int = self._timed("replace", self.warehouse.anonymise_day, day, keys)
        return rows

    def drop(self, staging: str) -> None:
        self._timed("setup", self.warehouse.drop, staging)


class NoRuns:
    def record(self, run: Any) -> None:
        pass


def run_one(day: dt.date) -> dict[str, Any]:
    """In this process: export the day and report time by phase and peak RSS."""
    from google.cloud import firestore

    from video_monitoring.adapters.bigquery import BigQueryWarehouse, bigquery_client
    from video_monitoring.adapters.firestore_exports import FirestoreDaySource
    from video_monitoring.config.settings import BigQuerySettings
    from video_monitoring.warehouse.nightly import ExportOptions, export_day

    settings = BigQuerySettings(
        bigquery_api_endpoint=f"http://127.0.0.1:{BQ_PORT}", bigquery_project=PROJECT
    )
    warehouse = BigQueryWarehouse(bigquery_client(settings, PROJECT), "video_monitoring")
    timed = Timed(FirestoreDaySource(firestore.Client(project=PROJECT)), warehouse)
    baseline_mb = _high_water_mb()
    t0 = time.perf_counter()
    run = export_day(
        timed,
        timed,
        day,
        ExportOptions("bench"),
        now=lambda: dt.datetime.now(dt.UTC),
        runs=NoRuns(),
    )
    elapsed = time.perf_counter() - t0
    table = f"`{warehouse.dataset}.generation_metrics`"
    (check,) = warehouse.query(
        f"SELECT COUNT(*) AS n, COUNT(DISTINCT generationId) AS ids FROM {table} "
        "WHERE createdAt >= @start AND createdAt < @end",
        start=dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC),
        end=dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC) + dt.timedelta(days=1),
    )
    return {
        "rows": run.tables["generation_metrics"].rows,
        "in_bigquery": check["n"],
        "distinct_ids": check["ids"],
        "seconds": elapsed,
        "phases": timed.seconds,
        # VmHWM, not ru_maxrss: after fork+exec ru_maxrss keeps the parent's larger peak.
        "peak_mb": _high_water_mb(),
        "baseline_mb": baseline_mb,
    }


def _high_water_mb() -> float:
    """VmHWM (peak resident set so far) from /proc."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    """Start both emulators, seed, export each size in a fresh process, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--one", metavar="DAY")
    args, _ = parser.parse_known_args()
    if args.one:
        print(json.dumps(run_one(dt.date.fromisoformat(args.one))))
        return 0

    from benchlib import bench_stack
    from local_stack.bigquery_emulator import start_bigquery_emulator

    work = ROOT / ".stack" / "bench-bigquery"
    with (
        bench_stack(PROJECT, FIRESTORE_PORT, FUNCTIONS_PORT, log_dir=work) as (_, db),
        start_bigquery_emulator(PROJECT, BQ_PORT, BQ_GRPC_PORT, work / "bigquery"),
    ):
        t0 = time.perf_counter()
        for day, n in SIZES.items():
            seed(db, day, n)
        print(
            f"bigquery export (seeded {sum(SIZES.values())} metrics documents in "
            f"{time.perf_counter() - t0:.0f} s; fresh process per export)"
        )
        ok = True
        for day, n in SIZES.items():
            out = subprocess.run(
                [sys.executable, __file__, "--one", day.isoformat()],
                capture_output=True, text=True, check=True, env=os.environ,
            )  # fmt: skip
            result = json.loads(out.stdout)
            phases = result["phases"]
            exact = result["rows"] == result["in_bigquery"] == result["distinct_ids"] == n
            rate = n / result["seconds"]
            beyond = n / max(result["seconds"] - phases["firestore"], 1e-9)
            print(
                f"  {n:7d} rows: {result['seconds']:6.1f} s = {rate:7.0f} rows/s; "
                f"peak RSS {result['peak_mb']:6.1f} MB ({result['baseline_mb']:.1f} before the "
                f"export); exact in BigQuery: {exact}\n"
                f"           firestore reads {phases['firestore']:5.1f} s, loads "
                f"{phases['load']:5.1f} s, replace {phases['replace']:4.1f} s, tables "
                f"{phases['setup']:4.1f} s; without the Firestore reads: {beyond:7.0f} rows/s"
            )
            ok = ok and exact
        verdict_rate = "OK" if rate >= 5000 else "UNDER TARGET"
        verdict_mem = "OK" if result["peak_mb"] <= 300 else "OVER TARGET"
        print(f"  100k: {rate:.0f} rows/s (target >= 5000): {verdict_rate}")
        print(f"  100k: peak RSS {result['peak_mb']:.1f} MB (target <= 300 MB): {verdict_mem}")
        return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
