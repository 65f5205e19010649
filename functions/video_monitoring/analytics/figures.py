"""Analytics engine: app-event rollups and the dashboard's cross-cutting figures."""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from video_monitoring.analytics import forecast, user_insights
from video_monitoring.analytics.insights import (
    business_metrics,
    counted_as_other,
    providers_comparison,
    quality_insights,
    upgrades_of,
)
from video_monitoring.analytics.performance import (
    PerformanceMonitor,
    check_trend_points,
    generation_time,
    system_metrics_json,
)
from video_monitoring.analytics.usage_patterns import UsagePatterns
from video_monitoring.config import constants
from video_monitoring.core.clock import Clock, utc_now
from video_monitoring.core.errors import InvalidArgument
from video_monitoring.core.models import Window, rfc3339
from video_monitoring.ingest import counters
from video_monitoring.ingest.monitoring_store import MonitoringStore, OpenAlert, UserActivity
from video_monitoring.ingest.pipeline import (
    DEFAULT_COUNTING,
    Counting,
)
from video_monitoring.ingest.rollup import (
    Granularity,
    Totals,
    floor_time,
    merge_cells,
    statuses,
    step,
)
from video_monitoring.warehouse.archive import Cells, TrendArchive

log = logging.getLogger(__name__)

# The series figures /trends can forecast, read from one trend point.
TREND_METRICS: dict[str, Callable[[Mapping[str, Any]], float | None]] = {
    "total": lambda p: p["total"],
    "completed": lambda p: p["completed"],
    "failed": lambda p: p["failed"],
    "successRate": lambda p: p["successRate"],
    "costUsd": lambda p: p["costUsd"],
    "avgGenerationSeconds": lambda p: p["generationTimeSeconds"]["avg"],
    "p95GenerationSeconds": lambda p: p["generationTimeSeconds"]["p95"],
    "avgQualityScore": lambda p: p["avgQualityScore"],
    "avgUserRating": lambda p: p["avgUserRating"],
    "revenueUsd": lambda p: p["revenueUsd"],
    "upgrades": lambda p: p["upgrades"],
    "conversionRate": lambda p: p["conversionRate"],
}
METRIC_BOUNDS = {"successRate": (0.0, 1.0), "avgQualityScore": (0.0, 10.0),
                 "avgUserRating": (1.0, 5.0)}  # fmt: skip
# A day's user snapshot is taken this long after the day ends (late events settle first).
SNAPSHOT_SETTLE = dt.timedelta(hours=1)
# Days the tick keeps user figures of until their final snapshot (the 7 ending today: normally
# today and yesterday, more after an outage), and how old those may get: /user-insights shows an
# open day as of at most that (plus a tick).
OPEN_DAYS = 7
OPEN_DAY_REFRESH = dt.timedelta(minutes=15)
DAY_KEYS = frozenset(
    {
        "activeUsers", "generations", "generationsPerActiveUser", "sessions",
        "sessionsPerActiveUser", "engagement", "upgraders", "segments",
    }
)  # fmt: skip
# Buckets that ended less than this before the window's end are shown but not fitted.
SETTLE = dt.timedelta(minutes=15)


def _day_point(
    day: dt.datetime,
    stored: Mapping[dt.datetime, Any],
    opened: Mapping[dt.datetime, Any],
    live: Mapping[dt.datetime, list[Any]],
    horizon: dt.datetime,
) -> dict[str, Any]:
    """One day of `/user-insights`: its snapshot, else the tick's figures, else computed."""
    if day in stored:
        figures = {k: v for k, v in stored[day].items() if k in DAY_KEYS}
        return {"day": day, "source": "snapshot", **figures, "asOf": stored[day].get("computedAt")}
    if day in opened:
        figures = {k: v for k, v in opened[day].items() if k in DAY_KEYS}
        return {"day": day, "source": "live", **figures, "asOf": opened[day]["computedAt"]}
    # BigQuery's days; an open day the tick has not computed yet (asOf null): zeros.
    figures = user_insights.day_figures(live.get(day, []))
    kind = "bigquery" if day < horizon else "live"
    return {"day": day, "source": kind, **figures, "asOf": None}


class AnalyticsEngine:
    """Combines rollups, events and alerts into dashboard answers."""

    def __init__(
        self,
        store: MonitoringStore,
        monitor: PerformanceMonitor,
        counting: Counting = DEFAULT_COUNTING,
        clock: Clock = utc_now,
        archive: TrendArchive | None = None,
        stuck_after: dt.timedelta = dt.timedelta(minutes=30),
    ) -> None:
        self._store = store
        self._stuck_after = stuck_after
        self._monitor = monitor
        self._archive = archive
        self._counting = counting
        self._shards = counting.shards
        self._clock = clock
        self._bounds = counting.bounds
        self._retention = counting.retention
        self.patterns = UsagePatterns(store, self._retention, self._bounds, clock, archive)

    def quality(self, window: Window) -> dict[str, Any]:
        """docs/interfaces.md §6 `/quality` (definitions in docs/figures.md)."""
        cells, events = self.cells(window), self.event_totals(window).values()
        others = counted_as_other(cells, events)
        quality = quality_insights(cells, window)
        return {**quality, "countedAsOther": others, "source": self.source(window)}

    def counted_as_other(self, window: Window) -> dict[str, int]:
        """Per bounded field, the values of the window counted under `other`."""
        return counted_as_other(self.cells(window), self.event_totals(window).values())

    def provider_comparison(self, window: Window) -> dict[str, Any]:
        """docs/interfaces.md §6 `/providers`: every provider side by side."""
        return {**providers_comparison(self.cells(window), window), "source": self.source(window)}

    def system_metrics(self, window: Window) -> dict[str, Any]:
        """docs/interfaces.md §6 `/performance`: the system figures of a window, and the queue
        now (generations queued or processing, and those processing for longer than the stuck
        limit) in the window's provider scope."""
        totals = merge_cells(self.cells(window), provider=window.provider)
        now = self._clock()
        scope = f"provider:{window.provider}" if window.provider else "overall"
        in_flight, stuck = self._store.backlog(now - self._stuck_after).get(scope, (0, 0))
        queue = {
            "asOf": now,
            "inProgress": in_flight,
            "stuck": stuck,
            "stuckAfterMinutes": int(self._stuck_after.total_seconds() // 60),
        }
        return {
            **system_metrics_json(totals, window),
            "queue": queue,
            "source": self.source(window),
        }

    def business(self, window: Window) -> dict[str, Any]:
        """docs/interfaces.md §6 `/business` (definitions in docs/figures.md)."""
        with ThreadPoolExecutor(max_workers=2) as pool:
            cells = pool.submit(self.cells, window)
            events = pool.submit(self.event_totals, window)
            result = business_metrics(cells.result(), events.result(), window)
        result["source"] = self.source(window)
        days = []
        day = floor_time(window.start, "day")
        while day < window.end:
            days.append(day)
            day += dt.timedelta(days=1)
        stored = self._store.daily_snapshots(constants.USER_BEHAVIOR_INSIGHTS, days)
        latest = max(stored) if stored else None
        result["retention"] = {
            "snapshotDay": latest,
            "days7": stored[latest]["retention7"] if latest else None,
            "days30": stored[latest]["retention30"] if latest else None,
        }
        return result

    def trends(
        self, window: Window, granularity: Granularity, metric: str, horizon: int
    ) -> dict[str, Any]:
        """docs/interfaces.md §6 `/trends`: one point per bucket, a Holt forecast of `metric` for
        the next `horizon` buckets with a 95% prediction interval, and anomalous points. Only whole
        buckets inside the window are fitted (a partial first or last bucket is not). Buckets
        before the rollups' retention horizon come from the BigQuery archive; `source` says
        which answered."""
        points, source = self._trend_points(window, granularity)
        size = step(granularity)
        settled_before = window.end - SETTLE
        eligible: list[tuple[dt.datetime, float | None]] = []
        for point in points:
            point["complete"] = (
                point["start"] >= window.start and point["start"] + size <= window.end
            )
            # The newest buckets still have generations running; they would bias the fit.
            point["fitted"] = point["complete"] and point["start"] + size <= settled_before
            if point["fitted"]:
                value = TREND_METRICS[metric](point)
                eligible.append((point["start"], None if value is None else float(value)))
        fitted = forecast.fill_gaps(eligible)
        observed = {start for start, value in eligible if value is not None}
        model = forecast.fit([v for _, v in fitted])
        low, high = METRIC_BOUNDS.get(metric, (0.0, math.inf))
        result: dict[str, Any] = {
            "window": window.to_json(),
            "granularity": granularity,
            "metric": metric,
            "source": source,
            "series": points,
            "forecast": None,
            "anomalies": [],
        }
        if model is None:
            result["forecastUnavailable"] = (
                f"needs at least {forecast.MIN_POINTS} whole {granularity}s with a value"
            )
            return result
        last = fitted[-1][0]
        result["forecast"] = {
            "method": "holt-linear",
            "alpha": model.alpha,
            "beta": model.beta,
            "sigma": model.sigma,
            "points": [
                {
                    "start": last + size * h,
                    "value": min(max(value, low), high),
                    "lower": min(max(lower, low), high),
                    "upper": min(max(upper, low), high),
                }
                for h, (value, lower, upper) in enumerate(forecast.forecast(model, horizon), 1)
            ],
        }
        result["anomalies"] = [
            {
                "start": fitted[i][0],
                "value": fitted[i][1],
                "expected": fitted[i][1] - model.errors[i - 2],
            }
            for i in forecast.anomalies(model)
            if fitted[i][0] in observed  # an interpolated gap is not an observation
        ]
        return result

    def _trend_points(
        self, window: Window, granularity: Granularity
    ) -> tuple[list[dict[str, Any]], str]:
        """The window's points: from the rollups from the retention horizon on, from the
        archive before it."""
        old, recent = self._split(window)
        points = []
        if old is not None:
            check_trend_points(window, granularity)
            points += self._archive_or_fail().trend_points(old, granularity)
        if recent is not None:
            points += self._monitor.performance_trends(recent, granularity)
        return points, self.source(window)

    def cells(self, window: Window) -> Cells:
        """The window's generation rollup cells: from the rollups from the retention horizon on,
        rebuilt from the archive before it (warehouse/archive.py)."""
        old, recent = self._split(window)
        cells: Cells = []
        if old is not None:
            cells += self._archive_or_fail().cells(old, self._bounds)
        if recent is not None:
            cells += self._monitor.cells(recent)
        return cells

    def event_totals(self, window: Window) -> dict[str, Totals]:
        """App-event counters of the window per event type, from the same sources as cells."""
        old, recent = self._split(window)
        result = self._monitor.event_totals(recent) if recent is not None else {}
        if old is not None:
            for event_type, flat in self._archive_or_fail().event_cells(old, self._bounds):
                result.setdefault(event_type, Totals()).add(flat)
        return result

    def source(self, window: Window) -> str:
        """Which store answers for the window: `firestore`, `bigquery` or
        `bigquery+firestore`."""
        old, recent = self._split(window)
        return "+".join(
            name for name, part in (("bigquery", old), ("firestore", recent)) if part is not None
        )

    def _split(self, window: Window) -> tuple[Window | None, Window | None]:
        """The window's part before the aggregates' retention horizon (for the archive) and its
        part from the horizon on (for the rollups); None for an empty part. The horizon is the
        first UTC midnight whose day of aggregates has not reached its expiry, so no bucket is
        split and none is read after TTL may delete it."""
        horizon = self._retention.aggregate_horizon(self._clock())
        if window.start >= horizon:
            return None, window
        old = Window(start=window.start, end=min(window.end, horizon), provider=window.provider)
        if window.end <= horizon:
            return old, None
        return old, Window(start=horizon, end=window.end, provider=window.provider)

    def _archive_or_fail(self) -> TrendArchive:
        """The archive, or a 400 naming `from` when there is none."""
        if self._archive is None:
            horizon = self._retention.aggregate_horizon(self._clock())
            raise InvalidArgument(
                f"from: Firestore keeps aggregates for {self._retention.aggregate_days} days "
                f"(since {rfc3339(horizon)}) and no BigQuery archive is configured"
            )
        return self._archive

    def snapshot_user_behavior(
        self, now: dt.datetime, settle: dt.timedelta = SNAPSHOT_SETTLE
    ) -> bool:
        """Store the daily snapshots of the last UTC day that closed at least `settle` ago, once
        (True when written): `business_metrics/{day}` and `quality_insights/{day}` (the day's
        figures as /business and /quality give them) and `user_behavior_insights/{day}` (from
        the user activity since `user_insights.activity_since`: the 31 days ending that day and
        the cohort weeks with their lookback). The user snapshot is written last, so
        its presence means the day is done."""
        day = floor_time(now - settle, "day") - dt.timedelta(days=1)
        if self._store.daily_snapshots(constants.USER_BEHAVIOR_INSIGHTS, [day]):
            return False
        whole_day = Window(start=day, end=day + dt.timedelta(days=1))
        stamp = {"day": day, "computedAt": now}
        self._store.put_daily_snapshot(
            constants.BUSINESS_METRICS, day, {**self.business(whole_day), **stamp}
        )
        self._store.put_daily_snapshot(
            constants.QUALITY_INSIGHTS, day, {**self.quality(whole_day), **stamp}
        )
        activity = self._consenting(
            self._store.user_days(user_insights.activity_since(day), day + dt.timedelta(days=1))
        )
        body = user_insights.snapshot(activity, day)
        self._store.put_daily_snapshot(constants.USER_BEHAVIOR_INSIGHTS, day, {**body, **stamp})
        return True

    def refresh_open_days(self, now: dt.datetime) -> int:
        """Store the user figures of each open day (of the OPEN_DAYS ending today, those without
        a final snapshot) whose stored figures are older than OPEN_DAY_REFRESH, from its user
        days less the opted-out users (one range read); how many days were written."""
        today = floor_time(now, "day")
        days = [today - n * dt.timedelta(days=1) for n in range(OPEN_DAYS - 1, -1, -1)]
        final = self._store.daily_snapshots(constants.USER_BEHAVIOR_INSIGHTS, days)
        open_days = [d for d in days if d not in final]
        stored = self._store.daily_snapshots(constants.USER_BEHAVIOR_OPEN_DAYS, open_days)
        due = [
            d
            for d in open_days
            if d not in stored or stored[d]["computedAt"] <= now - OPEN_DAY_REFRESH
        ]
        if not due:
            return 0
        by_day: dict[dt.datetime, list[UserActivity]] = {}
        for activity in self._consenting(
            self._store.user_days(due[0], due[-1] + dt.timedelta(days=1))
        ):
            by_day.setdefault(activity.day, []).append(activity)
        for day in due:
            figures = user_insights.day_figures(by_day.get(day, []))
            body = {"day": day, **figures, "computedAt": now}
            self._store.put_daily_snapshot(constants.USER_BEHAVIOR_OPEN_DAYS, day, body)
        return len(due)

    def _consenting(self, activity: Iterable[UserActivity]) -> list[UserActivity]:
        """User activity without the users who opted out of analytics."""
        opted_out = self._store.opted_out_users()
        return [a for a in activity if a.user_id not in opted_out]

    def user_insights(self, window: Window) -> dict[str, Any]:
        """docs/interfaces.md §6 `/user-insights`: per UTC day the window touches, activity,
        engagement and segments (from the daily snapshot, or for days without one the tick's
        figures of the open days, `refresh_open_days`; days before the aggregates' retention
        horizon from the BigQuery archive's rows); retention and churn
        risk of the latest snapshot day (rebuilt from the archive for the last archived day
        when the window has no stored snapshot)."""
        first = floor_time(window.start, "day")
        days = []
        while first < window.end:
            days.append(first)
            first += dt.timedelta(days=1)
        horizon = self._retention.aggregate_horizon(self._clock())
        old_days = [d for d in days if d < horizon]
        stored = self._store.daily_snapshots(
            constants.USER_BEHAVIOR_INSIGHTS, [d for d in days if d >= horizon]
        )
        missing = [d for d in days if d >= horizon and d not in stored]
        # The tick's figures of open days: one document per day, whatever the users.
        opened = (
            self._store.daily_snapshots(constants.USER_BEHAVIOR_OPEN_DAYS, missing)
            if missing
            else {}
        )
        live: dict[dt.datetime, list[Any]] = {}
        archived: list[UserActivity] = []
        rebuilt: dict[str, Any] | None = None
        if old_days:
            last = old_days[-1]
            # Without a stored snapshot, the last archived day's retention needs its 30 days
            # and its cohorts their weeks.
            first = user_insights.activity_since(last)
            since = old_days[0] if stored else min(old_days[0], first)
            archived = self._archive_or_fail().user_days(
                since, last + dt.timedelta(days=1), self._store.opted_out_users(), self._bounds
            )
            for activity in archived:
                if activity.day >= old_days[0]:
                    live.setdefault(activity.day, []).append(activity)
            if not stored:
                rebuilt = user_insights.snapshot(archived, last)
        series = [_day_point(day, stored, opened, live, horizon) for day in days]
        latest_day: dt.datetime | None = None
        latest: Mapping[str, Any] | None = None
        if stored:
            latest_day = max(stored)
            latest = stored[latest_day]
        elif rebuilt is not None:
            latest_day, latest = old_days[-1], rebuilt
        user_days = sum(p["activeUsers"] for p in series)
        return {
            "window": window.to_json(),
            "source": self.source(window),
            "days": series,
            "totals": {
                "activeUserDays": user_days,
                "averageDailyActiveUsers": user_days / len(series) if series else None,
                "generations": sum(p["generations"] for p in series),
                "sessions": sum(p["sessions"] for p in series),
            },
            "latestSnapshotDay": latest_day,
            "retention7": latest["retention7"] if latest else None,
            "retention30": latest["retention30"] if latest else None,
            "churnRisk": latest["churnRisk"] if latest else None,
            "cohorts": latest.get("cohorts") if latest else None,
            **self.patterns.figures(window),
        }

    def summary(self, window: Window) -> dict[str, Any]:
        """docs/interfaces.md §6 `/summary`; every figure is defined in docs/figures.md."""
        # Three independent reads, issued together.
        with ThreadPoolExecutor(max_workers=3) as pool:
            cells_future = pool.submit(self.cells, window)
            events_future = pool.submit(self.event_totals, window)
            alerts_future = pool.submit(self._store.open_alerts)
            cells = cells_future.result()
            upgrades, revenue = upgrades_of(events_future.result())
            open_alerts = alerts_future.result()
        totals = merge_cells(cells, provider=window.provider)
        counts = statuses(totals)
        completed, failed = counts["completed"], counts["failed"]
        free_generations = merge_cells(cells, provider=window.provider, tier="free").count()
        alerts = [a for a in open_alerts if _in_scope(a, window.provider)]
        return {
            "window": window.to_json(),
            "provider": window.provider,
            "source": self.source(window),
            "generations": {
                "total": totals.count(),
                "completed": completed,
                "failed": failed,
                "cancelled": counts["cancelled"],
                "inProgress": counts["queued"] + counts["processing"],
                "successRate": None
                if completed + failed == 0
                else completed / (completed + failed),
            },
            "generationTimeSeconds": generation_time(totals),
            "quality": {
                "avgScore": totals.mean(counters.QUALITY),
                "scored": totals.samples(counters.QUALITY),
            },
            "satisfaction": {
                "avgRating": totals.mean(counters.RATING),
                "rated": totals.samples(counters.RATING),
            },
            "costUsd": totals.sum(counters.COST),
            "business": {
                "revenueUsd": round(revenue, 6),
                "upgrades": upgrades,
                "conversionRate": None if free_generations == 0 else upgrades / free_generations,
            },
            "alerts": {
                "active": len(alerts),
                "critical": sum(1 for a in alerts if a.severity == "critical"),
            },
        }


def _in_scope(alert: OpenAlert, provider: str | None) -> bool:
    """Every alert without a provider filter; with one, the alerts scoped to that provider
    (as GET /alerts?provider= filters)."""
    return provider is None or alert.scope == f"provider:{provider}"
