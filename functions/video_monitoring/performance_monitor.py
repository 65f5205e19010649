"""Performance monitor: per-generation metrics, real-time rollups, windowed system metrics."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from video_monitoring import sketch
from video_monitoring.alert_manager import DEFAULT_RULES, AlertRule, Breach, check_thresholds
from video_monitoring.clock import Clock, utc_now
from video_monitoring.errors import InvalidArgument
from video_monitoring.models import Window
from video_monitoring.pipeline import Plan, SourceState, StoredState, plan_change
from video_monitoring.rollup import (
    MICRO_USD,
    MILLI,
    MS,
    Granularity,
    Totals,
    cover,
    floor_time,
    merge_cells,
    statuses,
    step,
)
from video_monitoring.storage import MonitoringStore, RollupDoc

log = logging.getLogger(__name__)
PERCENTILES = (0.5, 0.95, 0.99)
MAX_TREND_POINTS = 2000


@dataclass(frozen=True)
class SystemMetrics:
    """Windowed system metrics, computed from rollups only."""

    window: Window
    totals: Totals

    def to_json(self) -> dict[str, Any]:
        """JSON form used by the dashboard and the scheduled run."""
        return system_metrics_json(self.totals, self.window)

    def alert_inputs(self) -> tuple[dict[str, float | None], dict[str, int]]:
        """Metric values and their sample sizes, as alert rules name them."""
        t = self.totals
        completed, failed = t.count("completed"), t.count("failed")
        values: dict[str, float | None] = {
            "avgGenerationSeconds": t.mean("gt", MS),
            "successRate": _ratio(completed, completed + failed),
            "avgQualityScore": t.mean("q", MILLI),
            "avgUserRating": t.mean("r", MILLI),
        }
        samples = {
            "avgGenerationSeconds": t.samples("gt"),
            "successRate": completed + failed,
            "avgQualityScore": t.samples("q"),
            "avgUserRating": t.samples("r"),
        }
        return values, samples


def _ratio(numerator: float, denominator: float) -> float | None:
    return None if denominator <= 0 else numerator / denominator


def generation_time(totals: Totals) -> dict[str, float | None]:
    """Average and sketch percentiles of completed generations' time, in seconds."""
    p50, p95, p99 = sketch.quantiles(totals.bins("gt"), PERCENTILES)
    return {"avg": totals.mean("gt", MS), "p50": p50, "p95": p95, "p99": p99}


def system_metrics_json(totals: Totals, window: Window) -> dict[str, Any]:
    """Every system figure of a window (definitions in the README)."""
    counts = statuses(totals)
    completed, failed = counts["completed"], counts["failed"]
    terminal_attempted = totals.samples("att")
    hours = (window.end - window.start).total_seconds() / 3600
    cost = totals.sum("cost", MICRO_USD)
    output = totals.sum("out", MS)
    return {
        "window": window.to_json(),
        "provider": window.provider,
        "generations": {
            "total": totals.count(),
            **counts,
            "inProgress": counts["queued"] + counts["processing"],
        },
        "successRate": _ratio(completed, completed + failed),
        "generationTimeSeconds": generation_time(totals),
        "queueSeconds": {"avg": totals.mean("qt", MS), "samples": totals.samples("qt")},
        "renderSeconds": {"avg": totals.mean("rt", MS), "samples": totals.samples("rt")},
        "errors": totals.by_prefix("err/"),
        "retryRate": _ratio(totals.get("retried"), terminal_attempted),
        "fallbackRate": _ratio(totals.get("fallback"), terminal_attempted),
        "avgAttempts": totals.mean("att", 1),
        "costUsd": cost,
        "costPerOutputSecondUsd": _ratio(cost, output) if totals.samples("out") else None,
        "throughputPerHour": _ratio(completed, hours),
    }


class PerformanceMonitor:
    """Records generations into metrics and rollups; answers windowed performance questions."""

    def __init__(self, store: MonitoringStore, shards: int, clock: Clock = utc_now) -> None:
        self._store = store
        self._shards = shards
        self._clock = clock

    def record_generation_metrics(self, generation_id: str) -> Plan:
        """Bring one generation's metrics and rollup contribution in line with its document."""
        now = self._clock()

        def planner(source: SourceState, stored: StoredState) -> Plan:
            return plan_change(generation_id, source, stored, now, self._shards)

        plan = self._store.reconcile(generation_id, planner)
        if plan.outcome == "rejected":
            log.warning("generation %s rejected: %s", generation_id, plan.reason)
        return plan

    # The seed had separate calls for the first write and for updates; both reconcile the same way.
    update_generation_metrics = record_generation_metrics

    def cells(self, window: Window) -> list[tuple[str, Mapping[str, Any]]]:
        """Every rollup cell inside the window, read from a number of documents bounded by the
        number of buckets that tile it (times the shards of buckets not yet compacted)."""
        return cells_of(self._store.rollups(cover(window.start, window.end)))

    def totals(self, window: Window, tier: str | None = None) -> Totals:
        """Sum of every rollup cell inside the window (optionally one provider or tier)."""
        return merge_cells(self.cells(window), provider=window.provider, tier=tier)

    def calculate_system_metrics(self, window: Window) -> SystemMetrics:
        """System metrics of a window."""
        return SystemMetrics(window, self.totals(window))

    def get_performance_trends(
        self, window: Window, granularity: Granularity
    ) -> list[dict[str, Any]]:
        """One point per bucket of the granularity: counts, success rate, time percentiles."""
        start = floor_time(window.start, granularity)
        points = int((window.end - start) / step(granularity)) + 1
        if points > MAX_TREND_POINTS:
            raise InvalidArgument(
                f"granularity: {granularity} over this window gives {points} points; "
                f"at most {MAX_TREND_POINTS} are served, choose a coarser granularity"
            )
        docs = self._store.rollups(cover(window.start, window.end, coarsest=granularity))
        series: dict[dt.datetime, list[RollupDoc]] = {}
        for doc in docs:
            series.setdefault(floor_time(doc.start, granularity), []).append(doc)
        result = []
        bucket = start
        while bucket < window.end:
            bucket_docs = series.get(bucket, [])
            totals = merge_cells(
                ((cell, n) for d in bucket_docs for cell, n in d.cells.items()),
                provider=window.provider,
            )
            counts = statuses(totals)
            completed, failed = counts["completed"], counts["failed"]
            result.append(
                {
                    "start": bucket,
                    "total": totals.count(),
                    "completed": completed,
                    "failed": failed,
                    "successRate": _ratio(completed, completed + failed),
                    "generationTimeSeconds": generation_time(totals),
                    "costUsd": totals.sum("cost", MICRO_USD),
                }
            )
            bucket += step(granularity)
        return result

    def check_performance_alerts(
        self, window: Window, rules: tuple[AlertRule, ...] = DEFAULT_RULES
    ) -> list[Breach]:
        """Performance rules breached in the window (notifying is the alert manager's job)."""
        values, samples = self.calculate_system_metrics(window).alert_inputs()
        wanted = [r for r in rules if r.metric in values]
        return check_thresholds(values, samples, wanted)


def cells_of(docs: list[RollupDoc]) -> list[tuple[str, Mapping[str, Any]]]:
    """All cells of some rollup documents."""
    return [(cell, nested) for doc in docs for cell, nested in doc.cells.items()]
