"""Digests, pure: the daily or weekly summary people read without being paged, built from the
dashboard's own figures of the period and the period before.

A digest has: headline figures against their targets with the change on the previous period;
the providers that regressed most; the alerts of the period with time to acknowledge and to
resolve; the error budgets of the objectives at the period's end; provider controls the rules
and admins changed; ranked recommendations (`analytics/recommend.py`); and in weekly digests
the capacity outlook (providers nearing 80% of capacity, month spend against budgets).
`build_digest` takes plain JSON (what the API answers), so the figures are the dashboard's, not
a second computation.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from video_monitoring.config.settings import Target

PeriodKind = Literal["daily", "weekly", "monthly", "quarterly"]
# Reviews: periods of whole calendar months (a quarter starts in January, April, July, October).
MONTHS: dict[str, int] = {"monthly": 1, "quarterly": 3}
# Digests go out after this hour (UTC) the day after their period ends.
SEND_HOUR = 7
# (name, label, how to read it from a /summary answer, unit, target name, better)
HEADLINE: tuple[tuple[str, str, tuple[str, ...], str, str | None, str], ...] = (
    ("generations", "Generations", ("generations", "total"), "count", None, "higher"),
    ("successRate", "Success rate", ("generations", "successRate"), "ratio", "successRate",
     "higher"),
    ("avgGenerationSeconds", "Average generation time", ("generationTimeSeconds", "avg"), "s",
     "avgGenerationSeconds", "lower"),
    ("p95GenerationSeconds", "p95 generation time", ("generationTimeSeconds", "p95"), "s", None,
     "lower"),
    ("qualityScore", "Quality score", ("quality", "avgScore"), "score", "qualityScore", "higher"),
    ("satisfaction", "User rating", ("satisfaction", "avgRating"), "stars", "satisfaction",
     "higher"),
    ("costUsd", "Provider cost", ("costUsd",), "usd", None, "lower"),
    ("revenueUsd", "Revenue", ("business", "revenueUsd"), "usd", None, "higher"),
    ("conversionRate", "Premium conversion", ("business", "conversionRate"), "ratio", None,
     "higher"),
)  # fmt: skip
# A provider regressed when a figure moved this much the wrong way (and it had this many jobs).
REGRESSION_MIN_GENERATIONS = 20
REGRESSIONS = (
    ("successRate", ("successRate",), "higher", 0.01),
    ("p95GenerationSeconds", ("generationTimeSeconds", "p95"), "lower", 0.10),
    ("costPerOutputSecondUsd", ("costPerOutputSecondUsd",), "lower", 0.10),
    ("qualityScore", ("quality", "avgScore"), "higher", 0.02),
)


@dataclass(frozen=True)
class Period:
    """A whole UTC day, ISO week (Monday to Monday), calendar month or quarter."""

    kind: PeriodKind
    start: dt.datetime
    end: dt.datetime

    @property
    def key(self) -> str:
        """Stable id: `daily-2026-11-29`, `weekly-2026-11-23` (the Monday), `monthly-2026-11-01`,
        `quarterly-2026-10-01` (the first day)."""
        return f"{self.kind}-{self.start:%Y-%m-%d}"

    def previous(self) -> Period:
        """The period just before: of the same length, or the calendar month or quarter."""
        months = MONTHS.get(self.kind)
        if months is not None:
            return Period(self.kind, add_months(self.start, -months), self.start)
        return Period(self.kind, self.start - (self.end - self.start), self.start)

    def to_json(self) -> dict[str, Any]:
        """Served form."""
        return {"kind": self.kind, "key": self.key, "from": self.start, "to": self.end}


def add_months(moment: dt.datetime, months: int) -> dt.datetime:
    """The same day and time `months` calendar months later (earlier when negative); the day
    must exist in every month (reviews start on the first)."""
    index = moment.year * 12 + moment.month - 1 + months
    return moment.replace(year=index // 12, month=index % 12 + 1)


def period_from(kind: PeriodKind, start: dt.datetime) -> Period:
    """The month or quarter that starts at `start` (a UTC midnight on its first day)."""
    return Period(kind, start, add_months(start, MONTHS[kind]))


def last_complete(kind: PeriodKind, now: dt.datetime) -> Period:
    """The latest whole period that ended before `now`."""
    today = now.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if kind == "daily":
        return Period(kind, today - dt.timedelta(days=1), today)
    if kind in MONTHS:
        first = today.replace(day=1)
        current = add_months(first, -((first.month - 1) % MONTHS[kind]))
        return period_from(kind, add_months(current, -MONTHS[kind]))
    monday = today - dt.timedelta(days=today.weekday())
    return Period(kind, monday - dt.timedelta(days=7), monday)


def due(kind: PeriodKind, now: dt.datetime) -> Period | None:
    """The period whose digest is due at `now` (from SEND_HOUR the day after it ended), or None
    before then."""
    period = last_complete(kind, now)
    send_from = period.end + dt.timedelta(hours=SEND_HOUR)
    return period if now >= send_from else None


def dig(data: Mapping[str, Any], path: Sequence[str]) -> Any:
    """A nested value, None where any step is missing."""
    value: Any = data
    for part in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def change(now: float | None, before: float | None) -> float | None:
    """Relative change (0.1 = +10%); None without both values or from zero."""
    if now is None or before is None or before == 0:
        return None
    return (now - before) / abs(before)


def headline(
    summary: Mapping[str, Any], previous: Mapping[str, Any], targets: Mapping[str, Target]
) -> list[dict[str, Any]]:
    """Each headline figure, its previous value and change, and its target if it has one."""
    rows = []
    for name, label, path, unit, target_name, better in HEADLINE:
        value, before = dig(summary, path), dig(previous, path)
        target = targets.get(target_name) if target_name else None
        met = None
        if target is not None and value is not None:
            met = value >= target.value if target.direction == "min" else value <= target.value
        rows.append({
            "name": name, "label": label, "unit": unit, "value": value, "previous": before,
            "change": change(value, before), "better": better,
            "target": None if target is None else target.to_json(), "met": met,
        })  # fmt: skip
    return rows


def regressions(
    providers: Sequence[Mapping[str, Any]], previous: Sequence[Mapping[str, Any]], top: int = 5
) -> list[dict[str, Any]]:
    """Provider figures that moved the wrong way by more than their tolerance, worst first."""
    before = {p["provider"]: p for p in previous}
    found = []
    for row in providers:
        old = before.get(row["provider"])
        if old is None or dig(row, ("generations", "total")) < REGRESSION_MIN_GENERATIONS:
            continue
        for metric, path, better, tolerance in REGRESSIONS:
            value, was = dig(row, path), dig(old, path)
            if value is None or was is None:
                continue
            if metric == "successRate":
                worse = was - value  # percentage points
            else:
                moved = change(value, was)
                worse = None if moved is None else (moved if better == "lower" else -moved)
            if worse is not None and worse > tolerance:
                found.append({"provider": row["provider"], "metric": metric, "value": value,
                              "previous": was, "worseBy": worse})  # fmt: skip
    found.sort(key=lambda r: (-r["worseBy"], r["provider"], r["metric"]))
    return found[:top]


def _minutes(start: Any, end: Any) -> float | None:
    if not isinstance(start, dt.datetime) or not isinstance(end, dt.datetime):
        return None
    return round((end - start).total_seconds() / 60, 1)


def alert_summary(alerts: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Alerts that fired in the period: time to acknowledge and to resolve (from firing)."""
    items = []
    for a in alerts:
        if not a.get("firedAt"):
            continue  # pending ones that never fired paged nobody
        items.append({
            "alertId": a["alertId"], "ruleId": a["ruleId"], "scope": a["scope"],
            "severity": a["severity"], "firedAt": a["firedAt"],
            "ackMinutes": _minutes(a["firedAt"], a.get("acknowledgedAt")),
            "resolveMinutes": _minutes(a["firedAt"], a.get("resolvedAt")),
            "resolution": a.get("resolution"), "status": a["status"],
        })  # fmt: skip
    items.sort(key=lambda i: i["firedAt"])
    acks = [i["ackMinutes"] for i in items if i["ackMinutes"] is not None]
    fixes = [i["resolveMinutes"] for i in items if i["resolveMinutes"] is not None]
    by_rule: dict[str, int] = {}
    for item in items:
        by_rule[item["ruleId"]] = by_rule.get(item["ruleId"], 0) + 1
    return {
        "fired": len(items),
        "critical": sum(1 for i in items if i["severity"] == "critical"),
        "byRule": dict(sorted(by_rule.items(), key=lambda kv: (-kv[1], kv[0]))),
        "medianAckMinutes": statistics.median(acks) if acks else None,
        "medianResolveMinutes": statistics.median(fixes) if fixes else None,
        "unacknowledged": sum(1 for i in items if i["ackMinutes"] is None),
        "items": items,
    }


def slo_summary(status: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Each objective's budget overall, and every other scope whose budget is at risk or
    exhausted, from GET /slos's answer (worst first after overall)."""
    if not status:
        return []
    found = []
    for objective in status.get("objectives", []):
        scopes = objective.get("budgets", [])
        shown = [s for s in scopes if s["scope"] == "overall"]
        worse = [s for s in scopes if s["scope"] != "overall"
                 and s["status"] in ("at_risk", "exhausted")]  # fmt: skip
        worse.sort(key=lambda s: (s["budgetRemaining"], s["scope"]))
        for scope in shown + worse:
            found.append({
                "sloId": objective["sloId"], "description": objective["description"],
                "target": objective["target"], "windowDays": objective["windowDays"],
                "scope": scope["scope"], "sli": scope["sli"],
                "budgetRemaining": scope["budgetRemaining"], "status": scope["status"],
            })  # fmt: skip
    return found


def capacity_summary(providers: Sequence[Mapping[str, Any]] | None) -> dict[str, Any] | None:
    """From GET /capacity's rows at the period's end: the providers whose peak-hour forecast
    reaches 80% of capacity within 14 days (soonest first) and each budgeted provider's month
    forecast against its budget (largest share first). None without rows (daily digests)."""
    if providers is None:
        return None
    crossing = []
    budgets = []
    for row in providers:
        forecast = row.get("forecast") or {}
        if forecast.get("crosses80At") is not None:
            crossing.append({
                "provider": row["provider"], "crosses80At": forecast["crosses80At"],
                "headroom": forecast["headroom"], "capacityPerHour": forecast["capacityPerHour"],
                "peakPerHour": max(d["peakPerHour"] for d in forecast["days"]),
                "limitedBy": forecast["limitedBy"],
            })  # fmt: skip
        if row.get("monthlyBudgetUsd") is not None:
            budgets.append({
                "provider": row["provider"], "monthToDateUsd": row["monthToDateUsd"],
                "forecastMonthUsd": row["forecastMonthUsd"],
                "monthlyBudgetUsd": row["monthlyBudgetUsd"],
                "budgetForecastShare": row["budgetForecastShare"],
                "over": (row["budgetForecastShare"] or 0.0) > 1.0,
            })  # fmt: skip
    crossing.sort(key=lambda r: (r["crosses80At"], r["provider"]))
    budgets.sort(key=lambda r: (-(r["budgetForecastShare"] or 0.0), r["provider"]))
    return {"crossing": crossing, "budgets": budgets}


@dataclass(frozen=True)
class DigestFigures:
    """What a digest is made of: the API's summary and provider comparison of the period and
    of the one before, the targets, the alerts opened, the provider control changes, the
    ranked recommendations, the trend points and the objectives' status (None: no SLOs)."""

    summary: Mapping[str, Any]
    previous: Mapping[str, Any]
    providers: Sequence[Mapping[str, Any]]
    previous_providers: Sequence[Mapping[str, Any]]
    targets: Mapping[str, Target]
    alerts: Sequence[Mapping[str, Any]]
    controls: Sequence[Mapping[str, Any]]
    recommendations: Sequence[Mapping[str, Any]]
    series: Sequence[Mapping[str, Any]]
    slos: Mapping[str, Any] | None = None
    capacity: Sequence[Mapping[str, Any]] | None = None  # GET /capacity's rows (weekly only)


def build_digest(period: Period, figures: DigestFigures) -> dict[str, Any]:
    """The digest of a period, as JSON (what every channel renders and the API serves)."""
    return {
        "period": period.to_json(),
        "previous": period.previous().to_json(),
        "headline": headline(figures.summary, figures.previous, figures.targets),
        "regressions": regressions(figures.providers, figures.previous_providers),
        "alerts": alert_summary(figures.alerts),
        "slos": slo_summary(figures.slos),
        "controls": list(figures.controls),
        "recommendations": list(figures.recommendations),
        "series": list(figures.series),
        "capacity": capacity_summary(figures.capacity),
    }
