"""`/export`: a window of one dataset as csv, ndjson or json, streamed in pages.

Rows are read from Firestore a page at a time and written out as they come, so memory does not
grow with the row count. Before streaming, an aggregation count checks the row cap (a 400 names
it, rather than a silently cut file). CSV cells that a spreadsheet would run as a formula (a
string starting with `=`, `+`, `-`, `@`, tab or carriage return) are prefixed with `'`.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import json
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from video_monitoring import constants as c
from video_monitoring.models import Window, rfc3339

FORMATS = {"csv": "text/csv", "ndjson": "application/x-ndjson", "json": "application/json"}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PAGE = 500


@dataclass(frozen=True)
class Dataset:
    """One exportable collection: where it lives, its time field, its columns."""

    name: str
    collection: str
    time_field: str
    columns: tuple[str, ...]
    provider_field: str | None = None


DATASETS: dict[str, Dataset] = {
    "generations": Dataset(
        "generations", c.METRICS, "createdAt",
        ("generationId", "userId", "provider", "model", "status", "userTier", "createdAt",
         "startedAt", "completedAt", "generationSeconds", "queueSeconds", "renderSeconds",
         "attempts", "fallbackFrom", "errorCode", "errorRetryable", "qualityScore", "userRating",
         "costUsd", "outputSeconds", "resolution", "features"),
        provider_field="provider",
    ),
    "events": Dataset(
        "events", c.EVENTS, "timestamp",
        ("eventId", "type", "userId", "timestamp", "sessionId", "generationId", "amountUsd",
         "source", "properties"),
    ),
    "alerts": Dataset(
        "alerts", c.ALERT_INSTANCES, "openedAt",
        ("alertId", "ruleId", "scope", "status", "severity", "metric", "comparator", "threshold",
         "window", "value", "samples", "openedAt", "firedAt", "acknowledgedAt", "acknowledgedBy",
         "resolvedAt", "resolvedBy", "resolution", "level"),
    ),
    "system": Dataset(
        "system", c.SYSTEM_METRICS, "tick",
        ("tick", "windowName", "scope", "windowStart", "windowEnd", "generations", "successRate",
         "generationTimeSeconds", "queueSeconds", "renderSeconds", "errors", "retryRate",
         "fallbackRate", "avgAttempts", "costUsd", "costPerOutputSecondUsd", "throughputPerHour",
         "backlog", "stuckJobs"),
    ),
}  # fmt: skip


class ExportSource(Protocol):
    """Where rows come from (Firestore in production, a list in unit tests)."""

    def count(self, dataset: Dataset, window: Window) -> int:
        """Rows of the dataset in the window."""
        ...

    def rows(self, dataset: Dataset, window: Window) -> Iterator[tuple[str, Mapping[str, Any]]]:
        """(document id, fields) of the window's rows, oldest first, read page by page."""
        ...


def plain(value: Any) -> Any:
    """A JSON-ready value for anything Firestore can hold: times as RFC 3339, geo points as
    {lat, lng}, references as their path, bytes as base64, non-finite numbers as null; maps and
    lists recursively. Raw app events can hold any of these."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dt.datetime):
        return rfc3339(value)
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if hasattr(value, "latitude") and hasattr(value, "longitude"):
        return {"lat": value.latitude, "lng": value.longitude}
    if hasattr(value, "path"):
        return str(value.path)
    return str(value)


def row_of(dataset: Dataset, doc_id: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """The exported columns of one document (its id fills a missing id column)."""
    id_column = dataset.columns[0]
    row = {column: plain(data.get(column)) for column in dataset.columns}
    if row.get(id_column) is None and id_column.endswith("Id"):
        row[id_column] = doc_id
    return row


def safe_cell(value: Any) -> str:
    """A CSV cell: nested values as JSON; strings that a spreadsheet would evaluate made inert."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    text = (
        value
        if isinstance(value, str)
        else json.dumps(value, separators=(",", ":"), allow_nan=False)
    )
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def encode(dataset: Dataset, fmt: str, rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    """The file, chunk by chunk."""
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(dataset.columns)
        for row in rows:
            writer.writerow([safe_cell(row[column]) for column in dataset.columns])
            if buffer.tell() > 64 * 1024:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()
    elif fmt == "ndjson":
        for row in rows:
            yield json.dumps(row, separators=(",", ":"), allow_nan=False) + "\n"
    else:
        yield "["
        for i, row in enumerate(rows):
            yield ("," if i else "") + json.dumps(row, separators=(",", ":"), allow_nan=False)
        yield "]"


def file_name(dataset: Dataset, fmt: str, window: Window) -> str:
    """`{dataset}_{from}_{to}[_{provider}].{fmt}`, times compact UTC."""
    stamp = "%Y%m%dT%H%MZ"
    parts = [dataset.name, window.start.strftime(stamp), window.end.strftime(stamp)]
    if window.provider and dataset.provider_field:
        parts.append(window.provider)
    return "_".join(parts) + "." + fmt
