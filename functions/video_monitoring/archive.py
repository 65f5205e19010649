"""Trend points from the BigQuery archive, for windows older than Firestore keeps aggregates.

`/trends` answers from the rollups while they exist (ROLLUP_RETENTION_DAYS); buckets before that
horizon come from BigQuery's `generation_metrics` instead, in the same shape, and the response
says which source answered. Counts, success rate, average time and cost are exact sums over the
exported rows; the time percentiles are BigQuery's APPROX_QUANTILES over 100 quantiles (exact
for small buckets, approximate for large ones: the documented BigQuery behaviour, not the
rollups' 1 % sketch bound).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from video_monitoring.models import Window
from video_monitoring.rollup import Granularity, floor_time, step

_UNITS = {"minute": "MINUTE", "hour": "HOUR", "day": "DAY"}


class TrendArchive(Protocol):
    """Where trend points older than the rollups come from (BigQuery)."""

    def trend_points(self, window: Window, granularity: Granularity) -> list[dict[str, Any]]:
        """One point per bucket of the window (empty buckets included), as the rollups give."""
        ...


def trend_sql(table: str, granularity: Granularity, by_provider: bool) -> str:
    """Per bucket: counts by status, average and quantiles of completed generations' time,
    cost. Parameters: @start, @end (and @provider)."""
    unit = _UNITS[granularity]
    completed_time = "IF(status = 'completed', generationSeconds, NULL)"
    provider = " AND provider = @provider" if by_provider else ""
    return (
        f"SELECT TIMESTAMP_TRUNC(createdAt, {unit}) AS bucket, COUNT(*) AS total, "
        "COUNTIF(status = 'completed') AS completed, COUNTIF(status = 'failed') AS failed, "
        f"AVG({completed_time}) AS avg_seconds, "
        f"APPROX_QUANTILES({completed_time}, 100) AS quantiles, "
        "SUM(costUsd) AS cost "
        f"FROM `{table}` WHERE createdAt >= @start AND createdAt < @end{provider} "
        "GROUP BY bucket ORDER BY bucket"
    )


def points_from_rows(
    rows: Iterable[Mapping[str, Any]], window: Window, granularity: Granularity
) -> list[dict[str, Any]]:
    """Every bucket of the window, from the query's rows (a bucket without rows is zero)."""
    by_bucket = {floor_time(row["bucket"], granularity): row for row in rows}
    points = []
    bucket = floor_time(window.start, granularity)
    while bucket < window.end:
        row = by_bucket.get(bucket)
        points.append(_point(bucket, row))
        bucket += step(granularity)
    return points


def _point(bucket: dt.datetime, row: Mapping[str, Any] | None) -> dict[str, Any]:
    if row is None:
        row = {"total": 0, "completed": 0, "failed": 0, "quantiles": None, "cost": None}
    completed, failed = int(row["completed"]), int(row["failed"])
    quantiles = [q for q in (row.get("quantiles") or [])]
    valid = len(quantiles) == 101 and all(q is not None for q in quantiles)

    def at(percent: int) -> float | None:
        return float(quantiles[percent]) if valid else None

    avg = row.get("avg_seconds")
    return {
        "start": bucket,
        "total": int(row["total"]),
        "completed": completed,
        "failed": failed,
        "successRate": completed / (completed + failed) if completed + failed else None,
        "generationTimeSeconds": {
            "avg": None if avg is None else float(avg),
            "p50": at(50),
            "p95": at(95),
            "p99": at(99),
        },
        "costUsd": float(row.get("cost") or 0.0),
    }
