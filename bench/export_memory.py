"""Peak memory of /export's file writing, by row count: each format and size runs in a fresh
process that streams generated generation rows through the same encoder the endpoint uses and
reports its peak resident set (target: flat in the row count, under 200 MB at 100,000 rows)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "functions"))


def run_one(fmt: str, rows: int) -> dict[str, float]:
    """In this process: encode `rows` rows, discard the bytes, report peak RSS and time."""
    from video_monitoring.dashboard.files import DATASETS, encode, row_of

    dataset = DATASETS["generations"]
    start = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)

    def docs() -> Iterator[dict[str, Any]]:
        for i in range(rows):
            created = start + dt.timedelta(seconds=i)
            yield row_of(
                dataset,
                f"g{i:07d}",
                {
                    "userId": f"user-{i % 5000}", "provider": "runway", "status": "completed",
                    "userTier": "free", "createdAt": created,
                    "completedAt": created + dt.timedelta(seconds=61), "generationSeconds": 61.0,
                    "costUsd": 0.42, "qualityScore": 8.5, "features": ["custom_avatar"],
                    "errorCode": None, "resolution": "1080p",
                },
            )  # fmt: skip

    t0 = time.perf_counter()
    size = 0
    for chunk in encode(dataset, fmt, docs()):
        size += len(chunk)
    elapsed = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"peak_mb": peak_mb, "seconds": elapsed, "bytes": size}


def main() -> int:
    """Each format at 10,000 and 100,000 rows, in fresh processes."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--one", nargs=2, metavar=("FORMAT", "ROWS"))
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one[0], int(args.one[1]))))
        return 0
    print("export memory (fresh process per run; peak resident set)")
    worst = 0.0
    for fmt in ("csv", "xlsx", "ndjson", "pdf"):
        results = {}
        for rows in (10_000, 100_000):
            out = subprocess.run(
                [sys.executable, __file__, "--one", fmt, str(rows)],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            results[rows] = json.loads(out.stdout)
        small, large = results[10_000], results[100_000]
        if fmt in ("csv", "xlsx"):
            worst = max(worst, large["peak_mb"])
        print(
            f"  {fmt:6s} 10k rows: {small['peak_mb']:6.1f} MB   "
            f"100k rows: {large['peak_mb']:6.1f} MB"
            f"  ({large['bytes'] / 1e6:6.1f} MB file, {100_000 / large['seconds']:8.0f} rows/s)"
        )
    verdict = "OK" if worst <= 200 else "OVER TARGET"
    print(f"  peak at 100k rows (csv, xlsx): {worst:.1f} MB (target <= 200 MB, flat): {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
