"""Rows of the BigQuery export (docs/interfaces.md §8), one model per table: the single source
of the tables' schemas and of the rows written to them. Pure: no BigQuery client here.

Each model lists the exported columns with their types; `bq_schema` derives the table schema
from the annotations (STRING, INTEGER, FLOAT, BOOLEAN, TIMESTAMP, REPEATED STRING; maps are
exported as JSON text), and `export_line` turns a Firestore document into an NDJSON row.
`userId` can be pseudonymised with a keyed HMAC (the key comes from settings or Secret Manager).
"""

from __future__ import annotations

import datetime as dt
import json
import types
import typing
from collections.abc import Mapping
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, PlainSerializer

from video_monitoring.config.constants import EVENT_SOURCE_MONITOR
from video_monitoring.core.models import AppEvent
from video_monitoring.core.values import plain
from video_monitoring.privacy.pseudonyms import ANONYMOUS, pseudonym


def _json_text(value: dict[str, Any]) -> str:
    """Valid JSON whatever the map holds: times as RFC 3339, non-finite numbers as null, bytes
    as base64 (core.values.plain)."""
    return json.dumps(plain(value), separators=(",", ":"), sort_keys=True, allow_nan=False)


# A map column: exported as JSON text (the schema sees the dict, see _column).
JsonMap = Annotated[dict[str, Any], PlainSerializer(_json_text, return_type=str)]


class _Row(BaseModel):
    # A non-finite number is a validation error naming its field (the row is skipped).
    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)


class GenerationMetricsRow(_Row):
    """`generation_metrics`: one row per generation created that day, keyed by generationId."""

    generationId: str
    userId: str
    provider: str
    model: str | None = None
    status: str
    userTier: str
    createdAt: dt.datetime
    startedAt: dt.datetime | None = None
    completedAt: dt.datetime | None = None
    generationSeconds: float | None = None
    queueSeconds: float | None = None
    renderSeconds: float | None = None
    attempts: int | None = None
    fallbackFrom: str | None = None
    errorCode: str | None = None
    errorRetryable: bool | None = None
    qualityScore: float | None = None
    userRating: float | None = None
    costUsd: float | None = None
    outputSeconds: float | None = None
    resolution: str | None = None
    features: list[str] = []


class AnalyticsEventRow(_Row):
    """`analytics_events`: app events and the monitor's own, by `timestamp`."""

    eventId: str
    type: str
    userId: str
    timestamp: dt.datetime
    sessionId: str | None = None
    generationId: str | None = None
    amountUsd: float | None = None
    source: str | None = None
    properties: JsonMap | None = None


class AlertInstanceRow(_Row):
    """`alert_instances`, by `openedAt`."""

    alertId: str
    ruleId: str
    scope: str
    status: str
    severity: str
    metric: str
    value: float | None = None
    threshold: float
    window: str
    openedAt: dt.datetime
    firedAt: dt.datetime | None = None
    acknowledgedAt: dt.datetime | None = None
    acknowledgedBy: str | None = None
    resolvedAt: dt.datetime | None = None
    resolvedBy: str | None = None
    resolution: str | None = None
    level: int | None = None


class SystemMetricsRow(_Row):
    """`system_performance_metrics`, by `tick`; `metricsId` is the document id
    (`{tick}__{window}__{scope}`)."""

    metricsId: str
    tick: dt.datetime
    windowName: str
    scope: str
    windowStart: dt.datetime
    windowEnd: dt.datetime
    generations: JsonMap | None = None
    successRate: float | None = None
    generationTimeSeconds: JsonMap | None = None
    errors: JsonMap | None = None
    retryRate: float | None = None
    fallbackRate: float | None = None
    costUsd: float | None = None
    costPerOutputSecondUsd: float | None = None
    throughputPerHour: float | None = None
    backlog: int | None = None
    stuckJobs: int | None = None
    # What backtests replay beyond Firestore's retention (alerting/backtest.py): the scope's
    # kind, each rule metric's value, and its measurement (value, samples, successes).
    scopeKind: str | None = None
    ruleMetrics: JsonMap | None = None
    ruleMeasurements: JsonMap | None = None


# Table -> (row model, Firestore collection, the day's time field, the id column).
TABLES: dict[str, tuple[type[_Row], str, str, str]] = {
    "generation_metrics": (
        GenerationMetricsRow, "video_generation_metrics", "createdAt", "generationId",
    ),
    "analytics_events": (AnalyticsEventRow, "analytics_events", "timestamp", "eventId"),
    "alert_instances": (AlertInstanceRow, "alert_instances", "openedAt", "alertId"),
    "system_performance_metrics": (
        SystemMetricsRow, "system_performance_metrics", "tick", "metricsId",
    ),
}  # fmt: skip

_SCALARS = {
    str: "STRING",
    int: "INTEGER",
    float: "FLOAT",
    bool: "BOOLEAN",
    dt.datetime: "TIMESTAMP",
}


def _unwrap(annotation: Any) -> tuple[Any, str]:
    """An annotation without its Optional, and the column's mode."""
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        return args[0], "NULLABLE"
    return annotation, "REQUIRED"


def _column(name: str, annotation: Any) -> dict[str, str]:
    annotation, mode = _unwrap(annotation)
    origin = get_origin(annotation)
    if origin is list:
        (item,) = get_args(annotation)
        return {"name": name, "type": _SCALARS[item], "mode": "REPEATED"}
    if origin is dict:
        return {"name": name, "type": "STRING", "mode": mode}  # JSON text
    return {"name": name, "type": _SCALARS[annotation], "mode": mode}


def bq_schema(model: type[_Row]) -> list[dict[str, str]]:
    """The BigQuery schema (name, type, mode) of a row model, in field order."""
    hints = typing.get_type_hints(model)
    return [_column(name, hints[name]) for name in model.model_fields]


def json_columns(model: type[_Row]) -> frozenset[str]:
    """The columns holding maps, exported as JSON text."""
    hints = typing.get_type_hints(model)
    return frozenset(
        name for name in model.model_fields if get_origin(_unwrap(hints[name])[0]) is dict
    )


def check_counted(table: str, data: Mapping[str, Any]) -> None:
    """Raise pydantic's ValidationError for an app event the pipeline rejects (it is in
    `rejected_events`, not in any figure), so BigQuery holds exactly what the dashboards count
    and figures rebuilt from it (warehouse/archive.py) match the rollups. Generation metrics are the
    pipeline's own records, and the monitor's lifecycle events are not app events."""
    if table == "analytics_events" and data.get("source") != EVENT_SOURCE_MONITOR:
        AppEvent.model_validate(data)


def export_line(
    table: str, doc_id: str, data: Mapping[str, Any], pseudonym_key: bytes | None = None
) -> bytes:
    """One NDJSON line (without the newline) of the table from a Firestore document (id column
    filled from the document id when absent), serialised by pydantic-core: times as RFC 3339
    UTC, maps as JSON text. Raises pydantic's ValidationError for a document that does not fit
    the table (non-finite numbers included)."""
    model, _, _, id_column = TABLES[table]
    row = model.model_validate({id_column: doc_id, **data})
    user_id = getattr(row, "userId", None)
    if pseudonym_key is not None and isinstance(user_id, str) and user_id not in ANONYMOUS:
        row = row.model_copy(update={"userId": pseudonym(user_id, pseudonym_key)})
    return row.model_dump_json().encode()
