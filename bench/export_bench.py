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

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "functions"))

from video_monitoring.config.settings import DashboardSettings
from video_monitoring.dashboard.files import DATASETS, FORMATS, encode, row_of

CPU_SHARE = 6  # one core here against a sixth of a vCPU deployed
ENCODING_SHARE = 2  # the encoding's part of the deadline is one half
SAFETY = CPU_SHARE * ENCODING_SHARE


def generations(rows: int) -> Iterator[dict[str, Any]]:
    """`rows` generation rows shaped like the recorded metrics."""
    dataset = DATASETS["generations"]
    start = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    for i in range(rows):
        created = start + dt.timedelta(seconds=i)
        yield row_of(
            dataset,
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
    args = parser.parse_args()
    settings = DashboardSettings()
    deadline = settings.request_deadline_seconds
    print(
        f"export encoding ({args.rows} generation rows, best of {args.repeat}); cap = rate x "
        f"{deadline:g} s / {SAFETY} (a sixth of a vCPU, half the deadline), "
        f"at most {settings.export_max_rows}"
    )
    for fmt in FORMATS:
        best, wall, size = max(rate(fmt, args.rows) for _ in range(args.repeat))
        configured = settings.sync_export_caps()[fmt]
        print(
            f"  {fmt:6s} {best:9.0f} rows/CPU-s ({wall:7.0f} rows/s wall)  "
            f"{size / args.rows:6.0f} B/row  cap {cap(best, deadline, settings.export_max_rows):7d}"
            f"  (configured {configured})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
