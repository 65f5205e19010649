"""Analytics engine: the dashboard's cross-cutting figures. This slice serves the summary."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from video_monitoring.models import Window
from video_monitoring.performance_monitor import PerformanceMonitor, generation_time
from video_monitoring.rollup import MICRO_USD, MILLI, merge_cells, statuses
from video_monitoring.storage import MonitoringStore


class AnalyticsEngine:
    """Combines rollups, events and alerts into dashboard answers."""

    def __init__(self, store: MonitoringStore, monitor: PerformanceMonitor) -> None:
        self._store = store
        self._monitor = monitor

    def get_analytics_summary(self, window: Window) -> dict[str, Any]:
        """CONTRACT §6 `/summary`; every figure is defined in the README."""
        cells = self._monitor.cells(window)
        totals = merge_cells(cells, provider=window.provider)
        counts = statuses(totals)
        completed, failed = counts["completed"], counts["failed"]
        upgrades = self._store.upgrades(window.start, window.end)
        free_generations = merge_cells(cells, provider=window.provider, tier="free").count()
        revenue = sum(float(u.get("amountUsd") or 0) for u in upgrades)
        alerts = [
            a
            for a in self._store.open_alerts()
            if window.provider is None
            or a.get("scope", {}).get("provider") in (None, window.provider)
        ]
        return {
            "window": window.to_json(),
            "provider": window.provider,
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
            "quality": {"avgScore": totals.mean("q", MILLI), "scored": totals.samples("q")},
            "satisfaction": {"avgRating": totals.mean("r", MILLI), "rated": totals.samples("r")},
            "costUsd": totals.sum("cost", MICRO_USD),
            "business": {
                "revenueUsd": round(revenue, 6),
                "upgrades": len(upgrades),
                "conversionRate": None
                if free_generations == 0
                else len(upgrades) / free_generations,
            },
            "alerts": {
                "active": len(alerts),
                "critical": sum(1 for a in alerts if a.get("severity") == "critical"),
            },
        }


def _ratio(numerator: float, denominator: float) -> float | None:
    return None if denominator <= 0 else numerator / denominator


def _in_scope(alert: Mapping[str, Any], provider: str | None) -> bool:
    scope = alert.get("scope") or {}
    return provider is None or scope.get("provider") in (None, provider)
