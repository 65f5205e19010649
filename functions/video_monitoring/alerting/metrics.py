"""Rule metrics: what a rule's metric is in one window and scope, computed from rollup cells.

A `Snapshot` holds the cells of every rule window read once per scheduled run; the system metrics
writer and every rule share it, so a run reads each window's rollups once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from video_monitoring.alerting import slo_objectives
from video_monitoring.alerting.records import Measurement
from video_monitoring.alerting.rules import LIVE_METRICS, SYSTEM_METRICS, AlertRule
from video_monitoring.core.models import Window
from video_monitoring.ingest import counters, sketch
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
    objectives: dict[str, slo_objectives.Objective] = field(default_factory=dict)
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
        long, short = (
            slo_objectives.counts(objective, self.scope_totals(w, scope).totals) for w in windows
        )
        return slo_objectives.burn_measurement(objective, long, short)


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


# Measures one metric from the totals of one scope and window.
_Measurer = Callable[[ScopeTotals], Measurement]


def _outcome_rate(outcome: str) -> _Measurer:
    """Share of finished generations that ended in `outcome` ("completed" or "failed")."""

    def rate(scoped: ScopeTotals) -> Measurement:
        t = scoped.totals
        completed, failed = t.count("completed"), t.count("failed")
        return _rate(t.count(outcome), completed + failed)

    return rate


def _attempt_rate(counter: counters.Count) -> _Measurer:
    """Share of terminal generations that carry `counter` (retried, fell back)."""

    def rate(scoped: ScopeTotals) -> Measurement:
        return _rate(scoped.totals.get(counter), scoped.totals.samples(counters.ATTEMPTS))

    return rate


def _mean(measured: counters.Measure) -> _Measurer:
    """Mean of one measure over its samples."""

    def mean(scoped: ScopeTotals) -> Measurement:
        return Measurement(scoped.totals.mean(measured), scoped.totals.samples(measured))

    return mean


def _recovery_rate(scoped: ScopeTotals) -> Measurement:
    """Of the finished generations retried or taken over, the share that completed."""
    return _rate(scoped.totals.get(counters.RECOVERED), scoped.totals.get(counters.RECOVERY_TRIED))


def _conversion_rate(scoped: ScopeTotals) -> Measurement:
    return _rate(scoped.upgrades, scoped.free_generations)


def _p95_generation_seconds(scoped: ScopeTotals) -> Measurement:
    t = scoped.totals
    (p95,) = sketch.quantiles(t.bins(counters.GENERATION_TIME_BINS), (0.95,))
    return Measurement(p95, t.samples(counters.GENERATION_TIME))


def _cost_per_output_second(scoped: ScopeTotals) -> Measurement:
    t = scoped.totals
    output = t.sum(counters.OUTPUT)
    value = t.sum(counters.COST) / output if output > 0 else None
    return Measurement(value, t.samples(counters.OUTPUT))


def _throughput_per_hour(scoped: ScopeTotals) -> Measurement:
    completed = scoped.totals.count("completed")
    hours = (scoped.window.end - scoped.window.start).total_seconds() / 3600
    return Measurement(completed / hours, completed)


def _total(scoped: ScopeTotals) -> Measurement:
    return Measurement(float(scoped.totals.count()), scoped.totals.count())


def _revenue(scoped: ScopeTotals) -> Measurement:
    # Judged once the window had traffic (its generations), however few upgrades it had.
    return Measurement(scoped.revenue, scoped.totals.count())


def _system_figure(metric: str, scoped: ScopeTotals) -> Measurement:
    value = scoped.system.get(metric)
    return Measurement(None if value is None else float(value), int(value is not None))


# How each rollup metric is measured from one scope's totals (definitions in docs/figures.md).
_MEASURES: dict[str, _Measurer] = {
    "successRate": _outcome_rate("completed"),
    "failureRate": _outcome_rate("failed"),
    "retryRate": _attempt_rate(counters.RETRIED),
    "fallbackRate": _attempt_rate(counters.FALLBACK),
    "recoveryRate": _recovery_rate,
    "conversionRate": _conversion_rate,
    "avgGenerationSeconds": _mean(counters.GENERATION_TIME),
    "p95GenerationSeconds": _p95_generation_seconds,
    "avgQueueSeconds": _mean(counters.QUEUE),
    "avgQualityScore": _mean(counters.QUALITY),
    "avgUserRating": _mean(counters.RATING),
    "costPerOutputSecondUsd": _cost_per_output_second,
    "throughputPerHour": _throughput_per_hour,
    "total": _total,
    "revenueUsd": _revenue,
}


# Live figures judged by how many values they summarise, and the figure that counts them.
LIVE_SAMPLES = {
    "queueWaitP95Seconds": "queueWaitSamples",
    "functionErrorRate": "functionExecutions",
    "functionP95Ms": "functionP95Samples",
}


def _live_figure(metric: str, scoped: ScopeTotals) -> Measurement:
    """A figure the tick read live (the queue, capacity): judged once it was measured; the wait
    percentile by the waits it was computed from."""
    value = scoped.live.get(metric)
    samples = int(value is not None)
    of = LIVE_SAMPLES.get(metric)
    if of is not None:
        samples = int(scoped.live.get(of) or 0)
    return Measurement(value, samples)


def measure(metric: str, scoped: ScopeTotals) -> Measurement:
    """A rule metric from the totals of one scope and window (definitions in docs/figures.md)."""
    measurer = _MEASURES.get(metric)
    if measurer is not None:
        return measurer(scoped)
    if metric in LIVE_METRICS:
        return _live_figure(metric, scoped)
    if metric in SYSTEM_METRICS:
        return _system_figure(metric, scoped)
    raise ValueError(f"unknown metric {metric}")


def scopes_for(rule: AlertRule, providers: Iterable[str], known: Iterable[str]) -> list[str]:
    """The scopes a rule is evaluated in: its kinds over what the data and its history show."""
    scopes: list[str] = []
    if "overall" in rule.scopes:
        scopes.append("overall")
    if "provider" in rule.scopes:
        seen = set(providers) | {s[len("provider:") :] for s in known if s.startswith("provider:")}
        scopes += [f"provider:{p}" for p in sorted(seen)]
    if "tier" in rule.scopes:
        scopes += [f"tier:{t}" for t in TIERS]
    return scopes
