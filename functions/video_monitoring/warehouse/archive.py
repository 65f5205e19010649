"""The BigQuery archive, for windows older than Firestore keeps aggregates.

The dashboard answers from the rollups while they exist (ROLLUP_RETENTION_DAYS); before that
horizon it reads BigQuery instead, in the same shape, and each response says which source
answered.

- `/trends`: per bucket from `generation_metrics`. Counts, success rate, average time and cost
  are exact sums over the exported rows; the time percentiles are BigQuery's APPROX_QUANTILES
  over 100 quantiles (exact for small buckets, approximate for large ones: the documented
  BigQuery behaviour, not the rollups' 1 % sketch bound).
- Every other rollup-based endpoint (`/summary`, `/performance`, `/quality`, `/providers`,
  `/business`): the rollup cells themselves are rebuilt in SQL, one per (provider, tier) and
  one per event type, with the counters `rollup.contribution` and `events.event_contribution`
  give: the same fixed-point rounding (half to even, as Python's `round`), the same sketch bins
  (`CEIL(LN(seconds) / LN(gamma))`, the divisor passed in so both sides divide by the same
  double) and the same keys (providers, event types, error codes and features mapped here, in
  Python, through the pipeline's `Bounds`, `other/<field>` counters included). The figure code
  then runs unchanged, so a window answered from BigQuery gives the figures the rollups gave for
  it, percentiles within the same sketch bound.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from video_monitoring.config.constants import EVENT_PREMIUM_UPGRADE, EVENT_SOURCE_MONITOR
from video_monitoring.core.models import Window
from video_monitoring.ingest import counters as counter_keys
from video_monitoring.ingest import sketch
from video_monitoring.ingest.bounds import (
    DEFAULT_BOUNDS,
    FIELD_ERROR,
    FIELD_EVENT_TYPE,
    FIELD_PROVIDER,
    Bounds,
)
from video_monitoring.ingest.counters import MICRO_USD, MILLI, Count, Measure
from video_monitoring.ingest.monitoring_store import UserActivity
from video_monitoring.ingest.rollup import (
    Granularity,
    Values,
    business_point,
    cell_key,
    count_features,
    count_other,
    floor_time,
    step,
)
from video_monitoring.privacy.pseudonyms import ANONYMOUS

_UNITS = {"minute": "MINUTE", "hour": "HOUR", "day": "DAY"}


# Rollup cells as the figure code takes them: (cell key, flat counters).
Cells = list[tuple[str, Mapping[str, Any]]]


class TrendArchive(Protocol):
    """Where figures older than the rollups come from (BigQuery)."""

    def trend_points(self, window: Window, granularity: Granularity) -> list[dict[str, Any]]:
        """One point per bucket of the window (empty buckets included), as the rollups give."""
        ...

    def cells(self, window: Window, bounds: Bounds) -> Cells:
        """The generation rollup cells of the window: one per (provider, tier)."""
        ...

    def event_cells(self, window: Window, bounds: Bounds) -> Cells:
        """The event rollup cells of the window: one per event type."""
        ...

    def user_days(
        self,
        start: dt.datetime,
        end: dt.datetime,
        excluded: frozenset[str],
        bounds: Bounds = DEFAULT_BOUNDS,
    ) -> list[UserActivity]:
        """Each user's activity on each UTC day starting in [start, end), as `user_days` holds
        it, without the excluded users (opted out) and the anonymised rows."""
        ...

    def session_events(
        self, start: dt.datetime, end: dt.datetime, excluded: frozenset[str]
    ) -> list[dict[str, Any]]:
        """The counted session events timestamped in [start, end), without the excluded users."""
        ...


def trend_sql(table: str, granularity: Granularity, by_provider: bool) -> str:
    """Per bucket: counts by status, average and quantiles of completed generations' time,
    cost, average quality score and user rating. Parameters: @start, @end (and @provider)."""
    unit = _UNITS[granularity]
    completed_time = "IF(status = 'completed', generationSeconds, NULL)"
    provider = " AND provider = @provider" if by_provider else ""
    return (
        f"SELECT TIMESTAMP_TRUNC(createdAt, {unit}) AS bucket, COUNT(*) AS total, "
        "COUNTIF(status = 'completed') AS completed, COUNTIF(status = 'failed') AS failed, "
        f"AVG({completed_time}) AS avg_seconds, "
        f"APPROX_QUANTILES({completed_time}, 100) AS quantiles, "
        "SUM(costUsd) AS cost, AVG(qualityScore) AS avg_quality, AVG(userRating) AS avg_rating, "
        "COUNTIF(userTier = 'free') AS free_n "
        f"FROM `{table}` WHERE createdAt >= @start AND createdAt < @end{provider} "
        "GROUP BY bucket ORDER BY bucket"
    )


def upgrade_trend_sql(table: str, granularity: Granularity) -> str:
    """Per bucket: premium upgrades and their fixed-point revenue (as the event rollups count
    them). Parameters: @start, @end."""
    unit = _UNITS[granularity]
    return (
        f"SELECT TIMESTAMP_TRUNC(timestamp, {unit}) AS bucket, COUNT(*) AS upgrades, "
        f"SUM({fixed_sql('amountUsd', MICRO_USD)}) AS rev_sum FROM `{table}` "
        f"WHERE timestamp >= @start AND timestamp < @end AND type = '{EVENT_PREMIUM_UPGRADE}' "
        f"AND (source IS NULL OR source != '{EVENT_SOURCE_MONITOR}') "
        "GROUP BY bucket ORDER BY bucket"
    )


def points_from_rows(
    rows: Iterable[Mapping[str, Any]],
    window: Window,
    granularity: Granularity,
    upgrade_rows: Iterable[Mapping[str, Any]] = (),
) -> list[dict[str, Any]]:
    """Every bucket of the window, from the queries' rows (a bucket without rows is zero)."""
    by_bucket = {floor_time(row["bucket"], granularity): row for row in rows}
    bought = {floor_time(row["bucket"], granularity): row for row in upgrade_rows}
    points = []
    bucket = floor_time(window.start, granularity)
    while bucket < window.end:
        row = by_bucket.get(bucket)
        upgrades = bought.get(bucket) or {"upgrades": 0, "rev_sum": 0}
        revenue = int(upgrades["rev_sum"] or 0) / MICRO_USD
        free = int((row or {}).get("free_n") or 0)
        point = _point(bucket, row) | business_point(int(upgrades["upgrades"]), revenue, free)
        points.append(point)
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
        "avgQualityScore": _float(row.get("avg_quality")),
        "avgUserRating": _float(row.get("avg_rating")),
    }


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def fixed_sql(column: str, scale: int) -> str:
    """`rollup.fixed(column, scale)` in SQL: the product rounded half to even (Python's round;
    BigQuery's ROUND alone rounds half away from zero), NULL stays NULL."""
    v = f"({column} * {scale})"
    return (
        f"CAST(CASE WHEN ABS({v} - TRUNC({v})) = 0.5 THEN 2 * ROUND({v} / 2) "
        f"ELSE ROUND({v}) END AS INT64)"
    )


# Fixed-point sums of a generation, as rollup.contribution adds them: name -> (column, scale).
# `out` counts only timed (completed) generations and `rt` only completed ones.
_SUMS: dict[Measure, str] = {
    counter_keys.GENERATION_TIME: "generationSeconds",
    counter_keys.OUTPUT: "IF(generationSeconds IS NULL, NULL, outputSeconds)",
    counter_keys.QUEUE: "queueSeconds",
    counter_keys.RENDER: "IF(status = 'completed', renderSeconds, NULL)",
    counter_keys.COST: "costUsd",
    counter_keys.QUALITY: "qualityScore",
    counter_keys.RATING: "userRating",
}
# The quality x rating cross sums, as cell_sql names their columns.
PAIR_COLUMNS: tuple[tuple[Count, str], ...] = (
    (counter_keys.RATED_PAIRS, "qr_n"), (counter_keys.PAIR_QUALITY, "qr_q"),
    (counter_keys.PAIR_RATING, "qr_r"),
    (counter_keys.PAIR_QUALITY_SQUARES, "qr_qq"), (counter_keys.PAIR_RATING_SQUARES, "qr_rr"),
    (counter_keys.PAIR_PRODUCTS, "qr_qr"),
)  # fmt: skip
_WHERE = "WHERE createdAt >= @start AND createdAt < @end"


def cell_sql(table: str) -> str:
    """Per (provider, tier, status): the plain counters of the generation cells.
    Parameters: @start, @end."""
    # Columns are named fx_<counter>: `out` alone is a keyword.
    fixed_columns = ", ".join(
        f"{fixed_sql(col, m.scale)} AS fx_{m.key}" for m, col in _SUMS.items()
    )
    sums = ", ".join(
        f"COUNT(fx_{m.key}) AS {m.key}_n, SUM(fx_{m.key}) AS {m.key}_sum" for m in _SUMS
    )
    return (
        f"WITH g AS (SELECT provider, userTier AS tier, status, COALESCE(attempts, 1) AS attempts, "
        f"fallbackFrom, ARRAY_LENGTH(features) AS features, {fixed_columns} "
        f"FROM `{table}` {_WHERE}) "
        f"SELECT provider, tier, status, COUNT(*) AS n, {sums}, "
        "SUM(attempts) AS att_sum, COUNTIF(attempts > 1) AS retried, "
        "COUNTIF(fallbackFrom IS NOT NULL AND fallbackFrom != '') AS fallback, "
        "COUNTIF(attempts > 1 OR (fallbackFrom IS NOT NULL AND fallbackFrom != '')) AS rcv, "
        "COUNT(IF(fx_r IS NULL, NULL, fx_q)) AS qr_n, SUM(IF(fx_r IS NULL, NULL, fx_q)) AS qr_q, "
        "SUM(IF(fx_q IS NULL, NULL, fx_r)) AS qr_r, "
        "SUM(IF(fx_r IS NULL, NULL, fx_q * fx_q)) AS qr_qq, "
        "SUM(IF(fx_q IS NULL, NULL, fx_r * fx_r)) AS qr_rr, SUM(fx_q * fx_r) AS qr_qr, "
        "COUNTIF(features > 0) AS feat_any, "
        "SUM(IF(status = 'completed' AND attempts > 1, DIV(fx_cost * (attempts - 1), attempts), "
        "NULL)) AS costw "
        "FROM g GROUP BY provider, tier, status"
    )


def keyed_cell_sql(table: str) -> str:
    """Per (provider, tier): the keyed counters of the generation cells, one row per key:
    `b` sketch bins of completed generations' time (NULL for the zero bin), `err` failed
    generations' error codes, `qb` quality bands (count and fixed-point rating sum), `feat` each
    distinct feature list (mapped to counter names in Python). Parameters: @start, @end,
    @log_gamma, @zero."""
    seconds = "generationSeconds"
    bin_index = (
        f"IF({seconds} < @zero, NULL, "
        f"CAST(CEIL(LN(GREATEST({seconds}, @zero)) / @log_gamma) AS INT64))"
    )
    band = "LEAST(CAST(FLOOR(qualityScore) AS INT64), 9)"
    rating = fixed_sql("userRating", MILLI)
    parts = [
        f"SELECT 'b' AS kind, provider, userTier AS tier, CAST({bin_index} AS STRING) AS key, "
        f"COUNT(*) AS n, 0 AS total FROM `{table}` {_WHERE} AND {seconds} IS NOT NULL "
        "GROUP BY provider, tier, key",
        f"SELECT 'err' AS kind, provider, userTier AS tier, errorCode AS key, COUNT(*) AS n, "
        f"0 AS total FROM `{table}` {_WHERE} AND status = 'failed' AND errorCode IS NOT NULL "
        "GROUP BY provider, tier, key",
        f"SELECT 'qb' AS kind, provider, userTier AS tier, CAST({band} AS STRING) AS key, "
        f"COUNT(*) AS n, SUM({rating}) AS total FROM `{table}` {_WHERE} "
        "AND qualityScore IS NOT NULL AND userRating IS NOT NULL "
        "GROUP BY provider, tier, key",
        f"SELECT 'feat' AS kind, provider, userTier AS tier, TO_JSON_STRING(features) AS key, "
        f"COUNT(*) AS n, 0 AS total FROM `{table}` {_WHERE} AND ARRAY_LENGTH(features) > 0 "
        "GROUP BY provider, tier, key",
    ]
    return " UNION ALL ".join(f"({part})" for part in parts)


def recovery_cell_sql(table: str) -> str:
    """Per (provider, tier): the recovery counters keyed by a free value, in keyed_cell_sql's
    columns: `errc` failed generations per retryable flag and error code, `fbk` finished
    generations per outcome and provider taken over from. Parameters: @start, @end. (A query
    of its own: the BigQuery emulator mis-binds keyed_cell_sql's grouping with more parts.)"""
    parts = [
        # The flag (r or p) then the code: the error code by its retryable flag.
        f"SELECT 'errc' AS kind, provider, userTier AS tier, "
        f"CONCAT(IF(errorRetryable, 'r', 'p'), errorCode) AS key, COUNT(*) AS n, 0 AS total "
        f"FROM `{table}` {_WHERE} AND status = 'failed' AND errorCode IS NOT NULL "
        "GROUP BY provider, tier, errorRetryable, errorCode",
        # The outcome (c or f) then the provider taken over from.
        f"SELECT 'fbk' AS kind, provider, userTier AS tier, "
        f"CONCAT(IF(status = 'completed', 'c', 'f'), fallbackFrom) AS key, COUNT(*) AS n, "
        f"0 AS total FROM `{table}` {_WHERE} AND status IN ('completed', 'failed') "
        "AND fallbackFrom IS NOT NULL AND fallbackFrom != '' "
        "GROUP BY provider, tier, status, fallbackFrom",
    ]
    return " UNION ALL ".join(f"({part})" for part in parts)


def keyed_params() -> dict[str, float]:
    """The sketch's constants for keyed_cell_sql, as the doubles Python divides by."""
    return {"log_gamma": sketch.LOG_GAMMA, "zero": sketch.MIN_POSITIVE}


@dataclass
class _CellSums:
    """Counters summed per generation cell, each row's provider mapped through the bounds."""

    bounds: Bounds
    cells: dict[str, Values] = field(default_factory=dict)

    def add(self, row: Mapping[str, Any], key: str, value: Any) -> None:
        """Add a row's value (none when NULL or zero) to one counter of the row's cell."""
        if value:
            cell = cell_key(self.bounds.provider(row["provider"]), row["tier"])
            values = self.cells.setdefault(cell, {})
            values[key] = values.get(key, 0) + int(value)

    def add_all(self, row: Mapping[str, Any], counters: Mapping[str, int]) -> None:
        """Add several counters to the row's cell."""
        for key, value in counters.items():
            self.add(row, key, value)

    def add_plain(self, row: Mapping[str, Any]) -> None:
        """Add a row of cell_sql: one (provider, tier, status) group's plain counters."""
        self.add(row, counter_keys.GENERATIONS.key, row["n"])
        self.add(row, counter_keys.STATUS.key(row["status"]), row["n"])
        others: Values = {}
        count_other(others, FIELD_PROVIDER, self.bounds.provider(row["provider"]), int(row["n"]))
        self.add_all(row, others)
        for measure in _SUMS:
            if row[f"{measure.key}_n"]:
                self.add(row, measure.sum_key, row[f"{measure.key}_sum"])
                self.add(row, measure.n_key, row[f"{measure.key}_n"])
        if row["status"] in ("completed", "failed"):
            self.add(row, counter_keys.ATTEMPTS.sum_key, row["att_sum"])
            self.add(row, counter_keys.ATTEMPTS.n_key, row["n"])
            self.add(row, counter_keys.RETRIED.key, row["retried"])
            self.add(row, counter_keys.FALLBACK.key, row["fallback"])
            self.add(row, counter_keys.RECOVERY_TRIED.key, row.get("rcv"))
            if row["status"] == "completed":
                self.add(row, counter_keys.RECOVERED.key, row.get("rcv"))
        for counter, column in PAIR_COLUMNS:
            self.add(row, counter.key, row[column])
        self.add(row, counter_keys.ANY_FEATURE.key, row["feat_any"])
        if row["status"] == "failed" and row["cost_n"]:
            self.add(row, counter_keys.FAILED_COST.sum_key, row["cost_sum"])
            self.add(row, counter_keys.FAILED_COST.n_key, row["cost_n"])
        self.add(row, counter_keys.RETRY_WASTE.key, row.get("costw"))

    def add_keyed(self, row: Mapping[str, Any]) -> None:
        """Add a row of keyed_cell_sql (a kind this code does not know adds nothing)."""
        adder = _KEYED_ADDERS.get(row["kind"])
        if adder is not None:
            adder(self, row)

    def add_bin(self, row: Mapping[str, Any]) -> None:
        """Generations in one sketch bin of generation time (key NULL: the zero bin)."""
        key = row["key"]
        self.add(
            row,
            counter_keys.GENERATION_TIME_BINS.key(sketch.ZERO_KEY if key is None else int(key)),
            row["n"],
        )

    def add_error(self, row: Mapping[str, Any]) -> None:
        """Failed generations with one error code, mapped through the bounds."""
        code = self.bounds.error_code(row["key"])
        errors: Values = {counter_keys.ERRORS.key(code): int(row["n"])}
        count_other(errors, FIELD_ERROR, code, int(row["n"]))
        self.add_all(row, errors)

    def add_error_flag(self, row: Mapping[str, Any]) -> None:
        """Failed generations with one error code and retryable flag (`r` or `p` first)."""
        key = str(row["key"])
        flagged = counter_keys.ERROR_RETRYABLE if key[0] == "r" else counter_keys.ERROR_PERMANENT
        self.add(row, flagged.key(self.bounds.error_code(key[1:])), row["n"])

    def add_fallback(self, row: Mapping[str, Any]) -> None:
        """Finished generations taken over from one provider (`c` completed or `f` first)."""
        key = str(row["key"])
        outcome = counter_keys.FALLBACK_COMPLETED if key[0] == "c" else counter_keys.FALLBACK_FAILED
        self.add(row, outcome.key(self.bounds.provider(key[1:])), row["n"])

    def add_band(self, row: Mapping[str, Any]) -> None:
        """Rated generations in one quality band, and the sum of their ratings."""
        band = int(row["key"])
        self.add(row, counter_keys.BAND_RATED.key(band), row["n"])
        self.add(row, counter_keys.BAND_RATING.key(band), row["total"])

    def add_features(self, row: Mapping[str, Any]) -> None:
        """Generations with one distinct feature list (JSON), mapped through the bounds."""
        features: Values = {}
        count_features(features, json.loads(row["key"]), self.bounds, int(row["n"]))
        self.add_all(row, features)


# How each kind of keyed_cell_sql row is added.
_KEYED_ADDERS: dict[str, Callable[[_CellSums, Mapping[str, Any]], None]] = {
    "b": _CellSums.add_bin,
    "err": _CellSums.add_error,
    "errc": _CellSums.add_error_flag,
    "fbk": _CellSums.add_fallback,
    "qb": _CellSums.add_band,
    "feat": _CellSums.add_features,
}


def cells_from_rows(
    plain: Iterable[Mapping[str, Any]],
    keyed: Iterable[Mapping[str, Any]],
    bounds: Bounds = DEFAULT_BOUNDS,
) -> Cells:
    """The generation cells from the rows of cell_sql and keyed_cell_sql."""
    sums = _CellSums(bounds)
    for row in plain:
        sums.add_plain(row)
    for row in keyed:
        sums.add_keyed(row)
    return [(key, values) for key, values in sorted(sums.cells.items())]


def event_cell_sql(table: str) -> str:
    """Per event type (and feature of `feature_used` events, as JSON): occurrences and the
    fixed-point revenue; the monitor's own lifecycle events are not app events.
    Parameters: @start, @end."""
    feature = "IF(type = 'feature_used', JSON_QUERY(properties, '$.feature'), NULL)"
    return (
        f"SELECT type, {feature} AS feature, COUNT(*) AS n, COUNT(amountUsd) AS rev_n, "
        f"SUM({fixed_sql('amountUsd', MICRO_USD)}) AS rev_sum FROM `{table}` "
        "WHERE timestamp >= @start AND timestamp < @end "
        f"AND (source IS NULL OR source != '{EVENT_SOURCE_MONITOR}') "
        "GROUP BY type, feature"
    )


def event_cells_from_rows(
    rows: Iterable[Mapping[str, Any]], bounds: Bounds = DEFAULT_BOUNDS
) -> Cells:
    """The event cells from the rows of event_cell_sql (as events.event_contribution counts:
    a feature counts when it is a non-empty string)."""
    cells: dict[str, Values] = {}
    for row in rows:
        cell = bounds.event_type(row["type"])
        values = cells.setdefault(cell, {})
        counters: Values = {
            counter_keys.EVENTS.key: int(row["n"]),
            counter_keys.REVENUE.n_key: int(row["rev_n"] or 0),
            counter_keys.REVENUE.sum_key: int(row["rev_sum"] or 0),
        }
        count_other(counters, FIELD_EVENT_TYPE, cell, int(row["n"]))
        feature = json.loads(row["feature"]) if row["feature"] is not None else None
        if isinstance(feature, str) and feature:
            count_features(counters, [feature], bounds, int(row["n"]))
        for key, value in counters.items():
            if value:
                values[key] = values.get(key, 0) + value
    return [(key, values) for key, values in sorted(cells.items())]


def user_day_sql(generations: str, events: str) -> str:
    """Per UTC day and user: generations by status and tier, app events by type with their
    fixed-point amounts, without the anonymised rows (erased users have no user days; opted-out
    ones are left out of insights) and the users of the @excluded array (one parameter however
    many opted out). Parameters: @start, @end, @excluded."""
    placeholders = ", ".join(repr(a) for a in sorted(ANONYMOUS))
    users = f"userId NOT IN ({placeholders}) AND userId NOT IN UNNEST(@excluded)"
    amount = fixed_sql("amountUsd", MICRO_USD)
    return (
        "SELECT 'gen' AS kind, TIMESTAMP_TRUNC(createdAt, DAY) AS day, userId AS user, "
        "status AS key, userTier = 'premium' AS premium, COUNT(*) AS n, 0 AS total "
        f"FROM `{generations}` WHERE createdAt >= @start AND createdAt < @end AND {users} "
        "GROUP BY day, user, key, premium "
        "UNION ALL "
        "SELECT 'ev' AS kind, TIMESTAMP_TRUNC(timestamp, DAY) AS day, userId AS user, "
        f"type AS key, FALSE AS premium, COUNT(*) AS n, SUM({amount}) AS total "
        f"FROM `{events}` WHERE timestamp >= @start AND timestamp < @end AND {users} "
        f"AND (source IS NULL OR source != '{EVENT_SOURCE_MONITOR}') "
        "GROUP BY day, user, key, premium"
    )


def user_days_from_rows(
    rows: Iterable[Mapping[str, Any]], bounds: Bounds = DEFAULT_BOUNDS
) -> list[UserActivity]:
    """User activity from the rows of user_day_sql, with the counters the pipeline keeps
    (pipeline.generation_user_day, events.plan_event_change)."""
    days: dict[tuple[dt.datetime, str], Values] = {}
    for row in rows:
        counters = days.setdefault((floor_time(row["day"], "day"), row["user"]), {})
        n = int(row["n"])
        if row["kind"] == "gen":
            keys = [counter_keys.USER_GENERATIONS.key, counter_keys.USER_STATUS.key(row["key"])]
            keys += [counter_keys.USER_PREMIUM.key] if row["premium"] else []
            for key in keys:
                counters[key] = counters.get(key, 0) + n
        else:
            key = counter_keys.USER_EVENTS.key(bounds.event_type(row["key"]))
            counters[key] = counters.get(key, 0) + n
            if row["total"] is not None:
                revenue = counter_keys.USER_REVENUE.key
                counters[revenue] = counters.get(revenue, 0) + int(row["total"])
    return [UserActivity(day, user, counters) for (day, user), counters in sorted(days.items())]
