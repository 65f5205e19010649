"""Synchronous /export encoding rate per format, and the per-format row caps it implies.

Generation rows (the widest dataset) go through the same encoder the endpoint uses; the figure
is rows per second of this process's CPU time (one core; wall time on a shared machine depends
on its other work, and is printed beside it), the best of `--repeat` runs. The cap a request
may encode within its deadline is

    cap = rate x REQUEST_DEADLINE_SECONDS / SAFETY, rounded down to two significant digits and
    at most EXPORT_MAX_ROWS,

where SAFETY = 6 x 2: a deployed dashboard instance (256 MB, gen2) has a sixth of a vCPU, and
the encoding gets half of the deadline (the count, the Firestore pages and the PDF's figures
the other half).

`--from-firestore` measures the whole synchronous path instead: the rows are stored in the
Firestore emulator and read back page by page through the endpoint's own source, then encoded,
all in this process (the client's protobuf decoding costs more CPU than the encoding). The same
SAFETY divides it: the half of the deadline held back now covers the count, a cold start and the
waits on Firestore that CPU time does not show. The configured caps come from this mode.

    .venv/bin/python bench/export_bench.py --rows 20000   (both; --encoding-only, --from-firestore)
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "functions"))

from google.cloud import firestore

from benchlib import bench_stack
from local_stack.ports import free_ports
from video_monitoring.adapters.firestore_exports import FirestoreExportSource
from video_monitoring.config.settings import DashboardSettings
from video_monitoring.core.models import Window
from video_monitoring.dashboard.files import DATASETS, FORMATS, encode, export_chunks, row_of

CPU_SHARE = 6  # one core here against a sixth of a vCPU deployed
ENCODING_SHARE = 2  # the encoding's part of the deadline is one half
SAFETY = CPU_SHARE * ENCODING_SHARE


START = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def generations(rows: int) -> Iterator[dict[str, Any]]:
    """`rows` generation rows shaped like the recorded metrics."""
    dataset = DATASETS["generations"]
    for doc_id, data in metric_documents(rows):
        yield row_of(dataset, doc_id, data)


def metric_documents(rows: int) -> Iterator[tuple[str, dict[str, Any]]]:
    """`rows` recorded generation metrics, one second apart from START."""
    for i in range(rows):
        created = START + dt.timedelta(seconds=i)
        yield (
            f"g{i:07d}",
            {
                "userId": f"user-{i % 5000}", "provider": "runway", "status": "completed",
                "userTier": "free", "createdAt": created, "startedAt": created,
                "completedAt": created + dt.timedelta(seconds=61), "generationSeconds": 61.0,
                "queueSeconds": 1.5, "renderSeconds": 59.5, "attempts": 1, "costUsd": 0.42,
                "qualityScore": 8.5, "userRating": 4, "outputSeconds": 12.0,
                "features": ["custom_avatar"], "errorCode": None, "resolution": "1080p",
                "model": "gen-3",
            },
        )  # fmt: skip


def rate(fmt: str, rows: int) -> tuple[float, float, int]:
    """Rows per CPU second and per wall second of encoding `rows` rows in `fmt`, and the
    file's size in bytes."""
    dataset = DATASETS["generations"]
    cpu, wall = time.process_time(), time.perf_counter()
    size = sum(len(chunk) for chunk in encode(dataset, fmt, generations(rows)))
    return rows / (time.process_time() - cpu), rows / (time.perf_counter() - wall), size


def whole_rate(source: FirestoreExportSource, fmt: str, rows: int) -> tuple[float, float, int]:
    """Like `rate`, but reading the rows from Firestore through the endpoint's source."""
    dataset = DATASETS["generations"]
    window = Window(start=START, end=START + dt.timedelta(seconds=rows))
    cpu, wall = time.process_time(), time.perf_counter()
    size = sum(len(chunk) for chunk in export_chunks(source, dataset, fmt, window, None))
    return rows / (time.process_time() - cpu), rows / (time.perf_counter() - wall), size


def store(client: firestore.Client, rows: int) -> None:
    """Write the metric documents in batches of 500."""
    metrics = client.collection(DATASETS["generations"].collection)
    batch = client.batch()
    for i, (doc_id, data) in enumerate(metric_documents(rows), 1):
        batch.set(metrics.document(doc_id), data)
        if i % 500 == 0:
            batch.commit()
            batch = client.batch()
    batch.commit()


def cap(rows_per_second: float, deadline: float, ceiling: int) -> int:
    """The synchronous cap the rate implies (two significant digits, at most `ceiling`)."""
    raw = rows_per_second * deadline / SAFETY
    step = 10 ** max(0, int(math.log10(raw)) - 1)
    return min(ceiling, int(raw // step * step))


def main() -> int:
    """Each format at `--rows` rows; prints the rate and the cap it implies."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument(
        "--from-firestore", action="store_true", help="only the whole path (the caps' source)"
    )
    parser.add_argument("--encoding-only", action="store_true", help="no Firestore emulator")
    args = parser.parse_args()
    if not args.from_firestore:
        encoding(args.rows, args.repeat)
    if not args.encoding_only:
        whole_path(args.rows, args.repeat)
    return 0


def encoding(rows: int, repeat: int) -> None:
    """Each format's encoding alone; prints the rate and the cap it would imply."""
    settings = DashboardSettings()
    deadline = settings.request_deadline_seconds
    print(
        f"export encoding alone ({rows} generation rows, best of {repeat}); cap = rate x "
        f"{deadline:g} s / {SAFETY} (a sixth of a vCPU, half the deadline), "
        f"at most {settings.export_max_rows}"
    )
    for fmt in FORMATS:
        best, wall, size = max(rate(fmt, rows) for _ in range(repeat))
        configured = settings.sync_export_caps()[fmt]
        print(
            f"  {fmt:6s} {best:9.0f} rows/CPU-s ({wall:7.0f} rows/s wall)  "
            f"{size / rows:6.0f} B/row  cap {cap(best, deadline, settings.export_max_rows):7d}"
            f"  (configured {configured})"
        )


def whole_path(rows: int, repeat: int) -> None:
    """Each format read from the emulator and encoded; prints the rate and the cap it implies."""
    settings = DashboardSettings()
    deadline = settings.request_deadline_seconds
    firestore_port, functions_port = free_ports(2)
    with bench_stack("demo-export-bench", firestore_port, functions_port) as (_, client):
        store(client, rows)
        source = FirestoreExportSource(client)
        print(
            f"export read + encoding ({rows} generation rows from the Firestore emulator, best "
            f"of {repeat}); cap = rate x {deadline:g} s / {SAFETY} (a sixth of a vCPU, half "
            "the deadline), "
            f"at most {settings.export_max_rows}"
        )
        for fmt in FORMATS:
            best, wall, size = max(whole_rate(source, fmt, rows) for _ in range(repeat))
            implied = cap(best, deadline, settings.export_max_rows)
            print(
                f"  {fmt:6s} {best:9.0f} rows/CPU-s ({wall:7.0f} rows/s wall)  "
                f"{size / rows:6.0f} B/row  cap {implied:7d}"
                f"  (configured {settings.sync_export_caps()[fmt]})"
            )


if __name__ == "__main__":
    raise SystemExit(main())
