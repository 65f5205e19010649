"""Performance monitor: windowed system metrics and trends from the real-time rollups (the
ingest service, ingest/service.py, records each generation into them)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from video_monitoring.alerting import slo_objectives
from video_monitoring.alerting.backtest import measurement_json
from video_monitoring.alerting.metrics import (
    RULE_WINDOWS,
    TIERS,
    Snapshot,
    measure,
    parse_scope,
    system_metrics_id,
)
from video_monitoring.alerting.rules import OVERALL_ONLY, STORED_METRICS
from video_monitoring.config import constants
from video_monitoring.core.errors import InvalidArgument
from video_monitoring.core.models import Window
from video_monitoring.ingest import counters, sketch
from video_monitoring.ingest.monitoring_store import MonitoringStore, RollupDoc
from video_monitoring.ingest.rollup import (
    BucketRange,
    Granularity,
    Totals,
    bucket_starts,
    business_point,
    cover,
    floor_time,
    merge_cells,
    ratio,
    statuses,
    step,
)

log = logging.getLogger(__name__)
PERCENTILES = (0.5, 0.95, 0.99)
PERFORMANCE_METRICS = frozenset(
    {
        "successRate", "failureRate", "retryRate", "fallbackRate", "avgGenerationSeconds",
        "p95GenerationSeconds", "avgQueueSeconds", "avgQualityScore", "avgUserRating",
        "costPerOutputSecondUsd", "throughputPerHour", "total",
    }
)  # fmt: skip


MAX_TREND_POINTS = 2000


@dataclass(frozen=True)
class SystemMetrics:
    """Windowed system metrics, computed from rollups only."""

    window: Window
    totals: Totals

    def to_json(self) -> dict[str, Any]:
        """JSON form used by the dashboard and the scheduled run."""
        return system_metrics_json(self.totals, self.window)


def check_trend_points(window: Window, granularity: Granularity) -> None:
    """A 400 when the window has more buckets of the granularity than a response serves."""
    points = int((window.end - floor_time(window.start, granularity)) / step(granularity)) + 1
    if points > MAX_TREND_POINTS:
        raise InvalidArgument(
            f"granularity: {granularity} over this window gives {points} points; "
            f"at most {MAX_TREND_POINTS} are served, choose a coarser granularity"
        )


def generation_time(totals: Totals) -> dict[str, float | None]:
    """Average and sketch percentiles of completed generations' time, in seconds."""
    p50, p95, p99 = sketch.quantiles(totals.bins(counters.GENERATION_TIME_BINS), PERCENTILES)
    return {"avg": totals.mean(counters.GENERATION_TIME), "p50": p50, "p95": p95, "p99": p99}


def system_metrics_json(totals: Totals, window: Window) -> dict[str, Any]:
    """Every system figure of a window (definitions in docs/figures.md)."""
    counts = statuses(totals)
    completed, failed = counts["completed"], counts["failed"]
    terminal_attempted = totals.samples(counters.ATTEMPTS)
    hours = (window.end - window.start).total_seconds() / 3600
    cost = totals.sum(counters.COST)
    output = totals.sum(counters.OUTPUT)
    return {
        "window": window.to_json(),
        "provider": window.provider,
        "generations": {
            "total": totals.count(),
            **counts,
            "inProgress": counts["queued"] + counts["processing"],
        },
        "successRate": ratio(completed, completed + failed),
        "generationTimeSeconds": generation_time(totals),
        "queueSeconds": {
            "avg": totals.mean(counters.QUEUE),
            "samples": totals.samples(counters.QUEUE),
        },
        "renderSeconds": {
            "avg": totals.mean(counters.RENDER),
            "samples": totals.samples(counters.RENDER),
        },
        "errors": totals.members(counters.ERRORS),
        "retryRate": ratio(totals.get(counters.RETRIED), terminal_attempted),
        "fallbackRate": ratio(totals.get(counters.FALLBACK), terminal_attempted),
        "avgAttempts": totals.mean(counters.ATTEMPTS),
        "costUsd": cost,
        # Cost that bought no output (docs/figures.md): failed jobs, and retries' failed tries.
        "failedCostUsd": totals.sum(counters.FAILED_COST),
        "retryWasteUsd": totals.get(counters.RETRY_WASTE) / counters.MICRO_USD,
        "costPerOutputSecondUsd": ratio(cost, output) if totals.samples(counters.OUTPUT) else None,
        "throughputPerHour": ratio(completed, hours),
    }


class PerformanceMonitor:
    """Answers windowed performance questions from the rollups."""

    def __init__(self, store: MonitoringStore) -> None:
        self._store = store

    def cells(self, window: Window) -> list[tuple[str, Mapping[str, Any]]]:
        """Every rollup cell inside the window, read from a number of documents bounded by the
        number of buckets that tile it (times the shards of buckets not yet compacted)."""
        return cells_of(self._store.rollups(cover(window.start, window.end)))

    def window_cells(
        self, end: dt.datetime, lengths: Mapping[str, dt.timedelta]
    ) -> dict[str, list[tuple[str, Mapping[str, Any]]]]:
        """The cells of several windows ending at `end`, by name, in one read of their buckets."""
        covers = {name: cover(end - length, end) for name, length in lengths.items()}
        docs = self._store.rollups([r for ranges in covers.values() for r in ranges])
        return {name: cells_of(docs_in(docs, ranges)) for name, ranges in covers.items()}

    def event_totals(self, window: Window) -> dict[str, Totals]:
        """App-event counters inside the window, per event type (from the event rollups)."""
        result: dict[str, Totals] = {}
        docs = self._store.rollups(cover(window.start, window.end), constants.EVENT_ROLLUPS)
        for event_type, flat in cells_of(docs):
            result.setdefault(event_type, Totals()).add(flat)
        return result

    def totals(self, window: Window, tier: str | None = None) -> Totals:
        """Sum of every rollup cell inside the window (optionally one provider or tier)."""
        return merge_cells(self.cells(window), provider=window.provider, tier=tier)

    def system_metrics(self, window: Window) -> SystemMetrics:
        """System metrics of a window."""
        return SystemMetrics(window, self.totals(window))

    def performance_trends(self, window: Window, granularity: Granularity) -> list[dict[str, Any]]:
        """One point per bucket of the granularity: counts, success rate, time percentiles."""
        start = floor_time(window.start, granularity)
        check_trend_points(window, granularity)
        ranges = cover(window.start, window.end, coarsest=granularity)
        docs = self._store.rollups(ranges)
        series: dict[dt.datetime, list[RollupDoc]] = {}
        for doc in docs:
            series.setdefault(floor_time(doc.start, granularity), []).append(doc)
        # Premium upgrades per bucket (app events carry no provider: the whole product's).
        upgrades: dict[dt.datetime, Totals] = {}
        for doc in self._store.rollups(ranges, constants.EVENT_ROLLUPS):
            bucket_upgrades = upgrades.setdefault(floor_time(doc.start, granularity), Totals())
            bucket_upgrades.add(doc.cells.get(constants.EVENT_PREMIUM_UPGRADE, {}))
        result = []
        bucket = start
        while bucket < window.end:
            cells = [(cell, n) for d in series.get(bucket, []) for cell, n in d.cells.items()]
            totals = merge_cells(cells, provider=window.provider)
            free = merge_cells(cells, provider=window.provider, tier="free").count()
            bought = upgrades.get(bucket, Totals())
            counts = statuses(totals)
            completed, failed = counts["completed"], counts["failed"]
            result.append(
                {
                    "start": bucket,
                    "total": totals.count(),
                    "completed": completed,
                    "failed": failed,
                    "successRate": ratio(completed, completed + failed),
                    "generationTimeSeconds": generation_time(totals),
                    "costUsd": totals.sum(counters.COST),
                    "avgQualityScore": totals.mean(counters.QUALITY),
                    "avgUserRating": totals.mean(counters.RATING),
                    **business_point(bought.count(), bought.sum(counters.REVENUE), free),
                }
            )
            bucket += step(granularity)
        return result

    def snapshot(
        self,
        tick: dt.datetime,
        anomaly_days: int = 0,
        burn_windows: bool = False,
    ) -> Snapshot:
        """Cells of every rule window (and with `burn_windows` every burn window) ending at the
        tick (minute-aligned), and for anomaly rules the whole hours of the same hour on the
        previous `anomaly_days` days."""
        end = floor_time(tick, "minute")
        # The burn-rate rules' windows too (30m, 6h) when one is enabled.
        lengths = RULE_WINDOWS | (slo_objectives.BURN_WINDOWS if burn_windows else {})
        windows = {name: Window(start=end - length, end=end) for name, length in lengths.items()}
        covers = {name: cover(w.start, w.end) for name, w in windows.items()}
        hours: list[BucketRange] = []
        if anomaly_days:
            last = floor_time(tick, "hour") - dt.timedelta(hours=1)
            starts = [last - dt.timedelta(days=d) for d in range(anomaly_days + 1)]
            hours = [BucketRange("hour", s, s + dt.timedelta(hours=1)) for s in starts]
        # One read per rollup collection for every window at once (the windows overlap).
        everything = [r for ranges in covers.values() for r in ranges] + hours
        docs = self._store.rollups(everything)
        event_docs = self._store.rollups(
            [r for rs in covers.values() for r in rs], constants.EVENT_ROLLUPS
        )
        cells = {name: cells_of(docs_in(docs, ranges)) for name, ranges in covers.items()}
        counts, revenue = {}, {}
        for name, ranges in covers.items():
            upgrades = Totals()
            for doc in docs_in(event_docs, ranges):
                upgrades.add(doc.cells.get(constants.EVENT_PREMIUM_UPGRADE, {}))
            counts[name] = upgrades.count()
            revenue[name] = upgrades.sum(counters.REVENUE)
        hour_cells: dict[dt.datetime, list[tuple[str, Mapping[str, Any]]]] = {}
        for doc in docs_in(docs, hours):
            hour_cells.setdefault(doc.start, []).extend(doc.cells.items())
        return Snapshot(tick, cells, windows, counts, hour_cells, revenue=revenue)

    def system_metric_documents(
        self, snapshot: Snapshot, backlog: Mapping[str, tuple[int, int]]
    ) -> list[tuple[str, dict[str, Any]]]:
        """`system_performance_metrics` documents of a tick: every window, overall and per
        provider and tier, with deterministic ids (a rerun of the tick overwrites them)."""
        scopes = ["overall", *(f"provider:{p}" for p in snapshot.providers())]
        scopes += [f"tier:{t}" for t in TIERS]
        docs = []
        for name in RULE_WINDOWS:
            for scope in scopes:
                scoped = snapshot.scope_totals(name, scope)
                provider, tier = parse_scope(scope)
                queued_processing, stuck = backlog.get(scope, (0, 0))
                body = system_metrics_json(scoped.totals, scoped.window)
                measured = {
                    m: measure(m, scoped)
                    for m in sorted(STORED_METRICS)
                    if scope == "overall" or m not in OVERALL_ONLY
                }
                body |= {
                    "tick": snapshot.tick,
                    "windowName": name,
                    "scope": scope,
                    "scopeKind": scope.partition(":")[0],  # what backtests filter on
                    "provider": provider,
                    "tier": tier,
                    "windowStart": scoped.window.start,
                    "windowEnd": scoped.window.end,
                    "backlog": queued_processing,
                    "stuckJobs": stuck,
                    # Each rule metric as the rules see it this run (an alert's page charts it).
                    "ruleMetrics": {m: measured[m].value for m in measured},
                    # ... and what judging it needs (samples, successes): backtests replay them.
                    "ruleMeasurements": {m: measurement_json(measured[m]) for m in measured},
                }
                docs.append((system_metrics_id(snapshot.tick, name, scope), body))
        return docs


def docs_in(docs: list[RollupDoc], ranges: list[BucketRange]) -> list[RollupDoc]:
    """The documents of the buckets that the ranges tile."""
    wanted = {(r.granularity, start) for r in ranges for start in bucket_starts(r)}
    return [doc for doc in docs if (doc.granularity, doc.start) in wanted]


def cells_of(docs: list[RollupDoc]) -> list[tuple[str, Mapping[str, float]]]:
    """All (flat) cells of some rollup documents."""
    return [(cell, flat) for doc in docs for cell, flat in doc.cells.items()]
