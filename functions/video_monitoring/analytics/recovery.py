"""Error recovery from the rollups: the recovery rate, failures per error code over time (the
window's top codes plus `other`), retryable against permanent failures, and the fallback matrix
(docs/recovery.md defines each figure)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from video_monitoring.config.constants import DEFAULT_ERROR_CLASSES, OTHER
from video_monitoring.core.clock import Clock, utc_now
from video_monitoring.core.errors import InvalidArgument
from video_monitoring.core.models import Window, rfc3339
from video_monitoring.ingest import counters
from video_monitoring.ingest.monitoring_store import MonitoringStore
from video_monitoring.ingest.rollup import (
    Granularity,
    Totals,
    cover,
    floor_time,
    merge_cells,
    ratio,
    split_cell,
    step,
)
from video_monitoring.privacy.retention import DEFAULT_RETENTION, Retention

ErrorClass = Literal["retryable", "permanent"]
RETRYABLE: ErrorClass = "retryable"
PERMANENT: ErrorClass = "permanent"
UNCLASSIFIED = "unclassified"
# Codes charted one by one; every other code of the window is summed under `other`.
TOP_CODES = 8
# Buckets an answer serves at most (a coarser granularity is asked for beyond).
MAX_POINTS = 2000
Cells = list[tuple[str, Mapping[str, Any]]]


def recovery_rate(totals: Totals) -> dict[str, Any]:
    """Of the finished generations retried or taken over, how many completed."""
    attempted, recovered = (
        int(totals.get(counters.RECOVERY_TRIED)),
        int(totals.get(counters.RECOVERED)),
    )
    return {
        "attempted": attempted,
        "recovered": recovered,
        "unrecovered": attempted - recovered,
        "rate": ratio(recovered, attempted),
    }


@dataclass(frozen=True)
class CodeCount:
    """Failed generations of one error code, split by class."""

    code: str
    retryable: int = 0
    permanent: int = 0
    unclassified: int = 0

    @property
    def failed(self) -> int:
        """Every failure of the code."""
        return self.retryable + self.permanent + self.unclassified

    def to_json(self, classes: Mapping[str, ErrorClass]) -> dict[str, Any]:
        """One row of `errors.codes`."""
        return {
            "code": self.code,
            "failed": self.failed,
            "retryable": self.retryable,
            "permanent": self.permanent,
            "unclassified": self.unclassified,
            "classifiedBy": "table" if self.code in classes and self.code != OTHER else "flag",
        }


def code_counts(totals: Totals, classes: Mapping[str, ErrorClass]) -> dict[str, CodeCount]:
    """Failures per error code: a code the table classifies counts wholly in its class; any
    other code (and `other`) by each document's `error.retryable` flag; failures recorded
    before flags were counted, of a code the table does not list, are unclassified."""
    flagged = totals.members(counters.ERROR_RETRYABLE)
    unflagged = totals.members(counters.ERROR_PERMANENT)
    result = {}
    for code, failed in totals.members(counters.ERRORS).items():
        known = classes.get(code) if code != OTHER else None
        if known == RETRYABLE:
            result[code] = CodeCount(code, retryable=failed)
        elif known == PERMANENT:
            result[code] = CodeCount(code, permanent=failed)
        else:
            r, p = flagged.get(code, 0), unflagged.get(code, 0)
            result[code] = CodeCount(code, r, p, failed - r - p)
    return result


def top_codes(counts: Mapping[str, CodeCount], n: int = TOP_CODES) -> list[str]:
    """The window's `n` most frequent codes (ties by name); `other` is never one of them."""
    ranked = sorted((c for c in counts.values() if c.code != OTHER), key=_rank)
    return [c.code for c in ranked[:n]]


def _rank(count: CodeCount) -> tuple[int, str]:
    return -count.failed, count.code


def by_class(counts: Iterable[CodeCount]) -> dict[str, int]:
    """Failures per class over some codes."""
    listed = list(counts)
    return {
        RETRYABLE: sum(c.retryable for c in listed),
        PERMANENT: sum(c.permanent for c in listed),
        UNCLASSIFIED: sum(c.unclassified for c in listed),
    }


def series_point(
    start: dt.datetime, totals: Totals, top: list[str], classes: Mapping[str, ErrorClass]
) -> dict[str, Any]:
    """One bucket: its failures per top code and `other`, and per class."""
    counts = code_counts(totals, classes)
    codes = {code: counts[code].failed if code in counts else 0 for code in top}
    codes[OTHER] = sum(c.failed for code, c in counts.items() if code not in top)
    return {
        "start": start,
        "failed": totals.count("failed"),
        **by_class(counts.values()),
        "codes": codes,
    }


def fallback_matrix(cells: Cells, provider: str | None = None) -> list[dict[str, Any]]:
    """Per (provider taken over from, provider that took over): finished generations, how
    many completed and failed, and the share that completed; most generations first."""
    pairs: dict[tuple[str, str], list[int]] = {}
    for key, flat in cells:
        to = split_cell(key)[0]
        if provider is not None and to != provider:
            continue
        cell = Totals(dict(flat))
        for index, family in enumerate((counters.FALLBACK_COMPLETED, counters.FALLBACK_FAILED)):
            for origin, n in cell.members(family).items():
                pairs.setdefault((origin, to), [0, 0])[index] += n
    rows = [
        {"from": origin, "to": to, "completed": done, "failed": failed, "total": done + failed,
         "recoveryRate": ratio(done, done + failed)}
        for (origin, to), (done, failed) in pairs.items()
        if done + failed
    ]  # fmt: skip
    return sorted(rows, key=lambda r: (-r["total"], r["from"], r["to"]))


def default_granularity(window: Window) -> Granularity:
    """Minutes up to 3 hours, hours up to 7 days, days beyond."""
    length = window.end - window.start
    if length <= dt.timedelta(hours=3):
        return "minute"
    return "hour" if length <= dt.timedelta(days=7) else "day"


def report(
    window: Window,
    granularity: Granularity,
    buckets: Mapping[dt.datetime, Cells],
    classes: Mapping[str, ErrorClass],
) -> dict[str, Any]:
    """`GET /recovery` from the window's cells per bucket of the granularity."""
    everything = [cell for cells in buckets.values() for cell in cells]
    totals = merge_cells(everything, provider=window.provider)
    counts = code_counts(totals, classes)
    top = top_codes(counts)
    rest = [c for code, c in counts.items() if code not in top]
    other = CodeCount(OTHER, *(sum(getattr(c, f) for c in rest) for f in _CLASS_FIELDS))
    classified = by_class(counts.values())
    failed = totals.count("failed")
    series = []
    bucket = floor_time(window.start, granularity)
    while bucket < window.end:
        cells = buckets.get(bucket, [])
        series.append(
            series_point(bucket, merge_cells(cells, provider=window.provider), top, classes)
        )
        bucket += step(granularity)
    return {
        "window": window.to_json(),
        "provider": window.provider,
        "granularity": granularity,
        "recovery": recovery_rate(totals),
        "errors": {
            "failed": failed,
            **classified,
            "retryableShare": ratio(classified[RETRYABLE], failed),
            "topCodes": top,
            "codes": [counts[code].to_json(classes) for code in top]
            + ([{**other.to_json(classes), "classifiedBy": "mixed"}] if other.failed else []),
        },
        "errorSeries": series,
        "fallbacks": fallback_matrix(everything, window.provider),
        "errorClasses": dict(sorted(classes.items())),
    }


_CLASS_FIELDS = ("retryable", "permanent", "unclassified")


class RecoveryService:
    """Reads a window's rollups once, per bucket, and answers `GET /recovery`."""

    def __init__(
        self,
        store: MonitoringStore,
        classes: Mapping[str, ErrorClass] = DEFAULT_ERROR_CLASSES,
        retention: Retention = DEFAULT_RETENTION,
        clock: Clock = utc_now,
    ) -> None:
        self._store = store
        self._classes = dict(classes)
        self._retention = retention
        self._clock = clock

    def report(self, window: Window, granularity: Granularity | None = None) -> dict[str, Any]:
        """The window's recovery figures; a 400 naming `from` before the rollups' horizon and
        naming `granularity` when it gives more than MAX_POINTS buckets."""
        horizon = self._retention.aggregate_horizon(self._clock())
        if window.start < horizon:
            raise InvalidArgument(
                f"from: recovery figures come from the rollups, kept for "
                f"{self._retention.aggregate_days} days (since {rfc3339(horizon)})"
            )
        size = granularity or default_granularity(window)
        points = (window.end - floor_time(window.start, size)) / step(size)
        if points > MAX_POINTS:
            raise InvalidArgument(
                f"granularity: {size} over this window gives more than {MAX_POINTS} points; "
                "choose a coarser granularity (minute, hour or day)"
            )
        buckets: dict[dt.datetime, Cells] = {}
        for doc in self._store.rollups(cover(window.start, window.end, coarsest=size)):
            cells = buckets.setdefault(floor_time(doc.start, size), [])
            cells.extend(doc.cells.items())
        return {**report(window, size, buckets, self._classes), "source": "firestore"}
