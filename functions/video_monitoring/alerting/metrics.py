"""Rule metrics: what a rule's metric is in one window and scope, computed from rollup cells.

A `Snapshot` holds the cells of every rule window read once per scheduled run; the system metrics
writer and every rule share it, so a run reads each window's rollups once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from video_monitoring.alerting import slo
from video_monitoring.alerting.records import Measurement
from video_monitoring.alerting.rules import LIVE_METRICS, SYSTEM_METRICS, AlertRule
from video_monitoring.core.models import Window
from video_monitoring.ingest import counters as k
from video_monitoring.ingest import sketch
from video_monitoring.ingest.rollup import Totals, merge_cells, split_cell

RULE_WINDOWS: dict[str, dt.timedelta] = {
    "5m": dt.timedelta(minutes=5),
    "1h": dt.timedelta(hours=1),
    "24h": dt.timedelta(hours=24),
}
TIERS = ("free", "premium")


@dataclass(frozen=True)
class ScopeTotals:
    """Totals of one scope in one window, plus what rates outside the rollups need."""

    window: Window
    totals: Totals
    upgrades: int = 0  # premium upgrades in the window (overall only)
    free_generations: int = 0  # free-tier generations in the window (overall only)
    system: Mapping[str, float | None] = field(default_factory=dict)  # overall only
    revenue: float = 0.0  # USD of the upgrades (overall only)
    live: Mapping[str, float | None] = field(default_factory=dict)  # measured now, this scope


@dataclass
class Snapshot:
    """Every window's cells, read once per run and shared by the metrics writer and the rules."""

    tick: dt.datetime
    cells: dict[str, list[tuple[str, Mapping[str, Any]]]]
    windows: dict[str, Window]
    upgrades: dict[str, int]
    hour_cells: dict[dt.datetime, list[tuple[str, Mapping[str, Any]]]] = field(default_factory=dict)
    # Figures about the monitor itself (overall scope only), e.g. "pipelineRepairs"; None: no data.
    system: dict[str, float | None] = field(default_factory=dict)
    revenue: dict[str, float] = field(default_factory=dict)  # USD of upgrades per window
    # The objectives burn-rate rules name, by id (the run reads them with the rules).
    objectives: dict[str, slo.Objective] = field(default_factory=dict)
    # Queue and capacity figures measured now, by scope (analytics/capacity.py live_figures).
    live: dict[str, dict[str, float | None]] = field(default_factory=dict)

    def providers(self) -> list[str]:
        """Providers with any generation in the widest window."""
        seen = {split_cell(key)[0] for cells in self.cells.values() for key, _ in cells}
        return sorted(seen)

    def scope_totals(self, window_name: str, scope: str) -> ScopeTotals:
        """Totals of one scope ("overall", "provider:x", "tier:y") in one window."""
        provider, tier = parse_scope(scope)
        cells = self.cells[window_name]
        totals = merge_cells(cells, provider=provider, tier=tier)
        free = merge_cells(cells, tier="free").count() if scope == "overall" else 0
        overall = scope == "overall"
        upgrades = self.upgrades.get(window_name, 0) if overall else 0
        system = self.system if overall else {}
        revenue = self.revenue.get(window_name, 0.0) if overall else 0.0
        live = self.live.get(scope, {})
        window = self.windows[window_name]
        return ScopeTotals(window, totals, upgrades, free, system, revenue, live)

    def burn(self, rule: AlertRule, scope: str) -> Measurement:
        """A burn-rate rule's measurement in one scope (no data: its objective is missing or
        disabled, or the snapshot lacks one of its windows)."""
        objective = self.objectives.get(rule.slo or "")
        windows = (rule.window, rule.short_window or "")
        if objective is None or not objective.enabled or not all(w in self.cells for w in windows):
            return Measurement(None, 0)
        long, short = (slo.counts(objective, self.scope_totals(w, scope).totals) for w in windows)
        return slo.burn_measurement(objective, long, short)


def system_metrics_id(tick: dt.datetime, window_name: str, scope: str) -> str:
    """`system_performance_metrics` document id of one run, window and scope."""
    key = tick.astimezone(dt.UTC).replace(second=0, microsecond=0).strftime("%Y%m%dT%H%M")
    return f"{key}__{window_name}__{scope.replace(':', '-')}"


def parse_scope(scope: str) -> tuple[str | None, str | None]:
    """(provider, tier) filters of a scope string."""
    kind, _, value = scope.partition(":")
    if kind == "provider":
        return value, None
    if kind == "tier":
        return None, value
    return None, None


def _rate(successes: float, trials: float) -> Measurement:
    k, n = int(successes), int(trials)
    return Measurement(None if n <= 0 else k / n, n, min(k, n) if n > 0 else None)


def measure(metric: str, scoped: ScopeTotals) -> Measurement:
    """A rule metric from the totals of one scope and window (definitions in docs/figures.md)."""
    t = scoped.totals
    completed, failed = t.count("completed"), t.count("failed")
    terminal = t.samples(k.ATTEMPTS)
    if metric == "successRate":
        return _rate(completed, completed + failed)
    if metric == "failureRate":
        return _rate(failed, completed + failed)
    if metric == "retryRate":
        return _rate(t.get(k.RETRIED), terminal)
    if metric == "fallbackRate":
        return _rate(t.get(k.FALLBACK), terminal)
    if metric == "conversionRate":
        return _rate(scoped.upgrades, scoped.free_generations)
    if metric == "avgGenerationSeconds":
        return Measurement(t.mean(k.GENERATION_TIME), t.samples(k.GENERATION_TIME))
    if metric == "p95GenerationSeconds":
        (p95,) = sketch.quantiles(t.bins(k.GENERATION_TIME_BINS), (0.95,))
        return Measurement(p95, t.samples(k.GENERATION_TIME))
    if metric == "avgQueueSeconds":
        return Measurement(t.mean(k.QUEUE), t.samples(k.QUEUE))
    if metric == "avgQualityScore":
        return Measurement(t.mean(k.QUALITY), t.samples(k.QUALITY))
    if metric == "avgUserRating":
        return Measurement(t.mean(k.RATING), t.samples(k.RATING))
    if metric == "costPerOutputSecondUsd":
        output = t.sum(k.OUTPUT)
        value = t.sum(k.COST) / output if output > 0 else None
        return Measurement(value, t.samples(k.OUTPUT))
    if metric == "throughputPerHour":
        hours = (scoped.window.end - scoped.window.start).total_seconds() / 3600
        return Measurement(completed / hours, completed)
    if metric == "total":
        return Measurement(float(t.count()), t.count())
    if metric == "revenueUsd":
        # Judged once the window had traffic (its generations), however few upgrades it had.
        return Measurement(scoped.revenue, t.count())
    if metric in LIVE_METRICS:
        value = scoped.live.get(metric)
        samples = int(value is not None)
        if metric == "queueWaitP95Seconds":
            samples = int(scoped.live.get("queueWaitSamples") or 0)
        return Measurement(value, samples)
    if metric in SYSTEM_METRICS:
        value = scoped.system.get(metric)
        return Measurement(None if value is None else float(value), int(value is not None))
    raise ValueError(f"unknown metric {metric}")
