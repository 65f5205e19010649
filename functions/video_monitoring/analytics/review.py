"""Monthly and quarterly reviews, pure: which period a request names, its label, and the figures
a review adds to a digest of the same period (cost per output second against the period before,
the providers side by side, and the daily series its charts draw)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from video_monitoring.analytics.digest_content import (
    MONTHS,
    Period,
    change,
    period_from,
)
from video_monitoring.core.errors import InvalidArgument
from video_monitoring.core.models import rfc3339

ReviewKind = Literal["monthly", "quarterly"]
REVIEW_KINDS: tuple[ReviewKind, ...] = ("monthly", "quarterly")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# Before any generation was recorded; keeps the period before the first one within the calendar.
EARLIEST = dt.date(2000, 1, 1)


def review_period(kind: ReviewKind, first: str, now: dt.datetime) -> Period:
    """The month or quarter starting on `first` (YYYY-MM-DD), which must have ended by `now`,
    or a 400 naming `from`."""
    day = None
    if _DATE.fullmatch(first):
        try:
            day = dt.date.fromisoformat(first)
        except ValueError:
            day = None
    if day is None:
        raise InvalidArgument(f"from: expected a date YYYY-MM-DD, e.g. 2026-10-01; got {first!r}")
    if day.day != 1 or (day.month - 1) % MONTHS[kind]:
        which = "month" if kind == "monthly" else "quarter (January, April, July or October)"
        raise InvalidArgument(f"from: a {kind} review starts on the first day of a {which}; "
                              f"got {first!r}")  # fmt: skip
    if day < EARLIEST:
        raise InvalidArgument(f"from: reviews start from {EARLIEST}; got {first!r}")
    if day > now.date():  # also keeps the period's end within the calendar (year 9999)
        raise InvalidArgument(f"from: {first} is in the future; a review covers a period that "
                              "has ended")  # fmt: skip
    period = period_from(kind, dt.datetime(day.year, day.month, 1, tzinfo=dt.UTC))
    if period.end > now:
        raise InvalidArgument(f"from: the review of {label(period)} can be read once the period "
                              f"has ended, from {rfc3339(period.end)}")  # fmt: skip
    return period


def label(period: Period) -> str:
    """`November 2026`, `2026 Q4`."""
    if period.kind == "quarterly":
        return f"{period.start.year} Q{(period.start.month - 1) // 3 + 1}"
    return f"{period.start:%B %Y}"


def file_name(period: Period) -> str:
    """The PDF's name: `review-monthly-2026-11-01.pdf`."""
    return f"review-{period.key}.pdf"


def cost_per_output_row(value: float | None, before: float | None) -> dict[str, Any]:
    """The headline row of cost per output second (no target; lower is better)."""
    return {
        "name": "costPerOutputSecondUsd", "label": "Cost per output second", "unit": "usd/s",
        "value": value, "previous": before, "change": change(value, before), "better": "lower",
        "target": None, "met": None,
    }  # fmt: skip


def daily_points(series: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """What the review's charts draw of each day of /trends: volume, success, p95 time, cost."""
    return [
        {
            "start": s["start"], "total": s["total"], "successRate": s["successRate"],
            "p95GenerationSeconds": (s.get("generationTimeSeconds") or {}).get("p95"),
            "costUsd": s.get("costUsd"),
        }
        for s in series
    ]  # fmt: skip


def build_review(
    digest: Mapping[str, Any],
    cost_per_output: tuple[float | None, float | None],
    providers: Sequence[Mapping[str, Any]],
    series: Sequence[Mapping[str, Any]],
    source: str | None,
) -> dict[str, Any]:
    """The review of a period: its digest with cost per output second after the provider cost
    in the headline, every provider's row, the daily series and where the figures were read
    (`firestore`, `bigquery` or `bigquery+firestore`)."""
    rows = list(digest["headline"])
    at = next((i + 1 for i, r in enumerate(rows) if r["name"] == "costUsd"), len(rows))
    rows.insert(at, cost_per_output_row(*cost_per_output))
    return {**digest, "headline": rows, "providers": list(providers),
            "series": daily_points(series), "source": source}  # fmt: skip
