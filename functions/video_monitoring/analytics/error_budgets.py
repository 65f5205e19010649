"""Service level objectives served: every objective's error budget over its rolling window,
overall and per provider (and tier when asked), with the burn rates the burn-rate rules judge.

The objectives are data (`slo_objectives`, alerting/slo_objectives.py); the figures come from
the rollup cells in one read of every window's buckets, so they are as exact as the counts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Protocol

from video_monitoring.alerting import slo_objectives
from video_monitoring.alerting.metrics import TIERS
from video_monitoring.alerting.slo_objectives import DEFAULT_OBJECTIVES, Objective
from video_monitoring.core.clock import Clock, utc_now
from video_monitoring.core.errors import NotFound
from video_monitoring.core.models import rfc3339
from video_monitoring.ingest import sketch
from video_monitoring.ingest.rollup import floor_time, merge_cells, split_cell

Cells = list[tuple[str, Mapping[str, Any]]]


class ObjectiveStore(Protocol):
    """Where objectives live (Firestore `slo_objectives`; a dict in unit tests)."""

    def load(self) -> tuple[list[Objective], list[str]]:
        """Every stored objective, and problems with those that no longer validate."""
        ...

    def seed(self, objectives: tuple[Objective, ...]) -> list[str]:
        """Create the missing ones; ids created."""
        ...

    def put(self, objective: Objective, by: str, now: dt.datetime) -> None:
        """Replace one objective."""
        ...


class WindowCells(Protocol):
    """The rollup cells of windows ending at a time (PerformanceMonitor)."""

    def window_cells(
        self, end: dt.datetime, lengths: Mapping[str, dt.timedelta]
    ) -> dict[str, Cells]:
        """Cells of each named window, in one read."""
        ...


def _scopes(objective: Objective, budget_cells: Cells) -> list[str]:
    scopes = ["overall"] if "overall" in objective.scopes else []
    if "provider" in objective.scopes:
        scopes += [f"provider:{p}" for p in sorted({split_cell(key)[0] for key, _ in budget_cells})]
    if "tier" in objective.scopes:
        scopes += [f"tier:{t}" for t in TIERS]
    return scopes


def _totals(cells: Cells, scope: str) -> Any:
    kind, _, value = scope.partition(":")
    provider = value if kind == "provider" else None
    tier = value if kind == "tier" else None
    return merge_cells(cells, provider=provider, tier=tier)


def scope_status(objective: Objective, scope: str, cells: Mapping[str, Cells]) -> dict[str, Any]:
    """One scope's budget over the objective's window and its burn rates."""
    measured = slo_objectives.counts(objective, _totals(cells[f"{objective.window_days}d"], scope))
    budget = slo_objectives.budget_json(objective, measured)
    burns = {
        name: slo_objectives.burn_rate(
            objective, slo_objectives.counts(objective, _totals(cells[name], scope))
        )
        for name in slo_objectives.BURN_WINDOWS
    }
    kind, _, value = scope.partition(":")
    return {
        "scope": scope,
        "provider": value if kind == "provider" else None,
        "tier": value if kind == "tier" else None,
        **budget,
        "burnRates": burns,
        "hoursToExhaustion": slo_objectives.hours_to_exhaustion(
            objective, budget["budgetRemaining"], burns["6h"]
        ),
    }


def objective_status(
    objective: Objective, cells: Mapping[str, Cells], end: dt.datetime
) -> dict[str, Any]:
    """An objective with its window and every scope's status."""
    body = objective.to_doc()
    body["window"] = {"start": rfc3339(end - objective.window), "end": rfc3339(end)}
    if objective.threshold_seconds is not None:
        # Sketch bins: times inside this band may be classified either side of the threshold.
        t = objective.threshold_seconds
        body["uncertainSeconds"] = [t / (1 + sketch.ALPHA), t / (1 - sketch.ALPHA)]
    if not objective.enabled:
        body["budgets"] = []
        return body
    budget_cells = cells[f"{objective.window_days}d"]
    body["budgets"] = [scope_status(objective, s, cells) for s in _scopes(objective, budget_cells)]
    return body


class SloService:
    """Objectives (seeded on first use), their status, and admin edits."""

    def __init__(self, store: ObjectiveStore, monitor: WindowCells, clock: Clock = utc_now) -> None:
        self._store = store
        self._monitor = monitor
        self._clock = clock

    def objectives(self) -> dict[str, Objective]:
        """Every valid objective by id, the missing defaults created first."""
        stored, problems = self._store.load()
        known = {o.slo_id for o in stored} | {p.partition(":")[0] for p in problems}
        if any(o.slo_id not in known for o in DEFAULT_OBJECTIVES):
            self._store.seed(DEFAULT_OBJECTIVES)
            stored, problems = self._store.load()
        return {o.slo_id: o for o in stored}

    def objective(self, slo_id: str) -> Objective:
        """One objective, or NotFound."""
        found = self.objectives().get(slo_id)
        if found is None:
            raise NotFound(f"sloId: no objective {slo_id!r}")
        return found

    def update(self, objective: Objective, by: str) -> Objective:
        """Replace (or add) an objective."""
        self._store.put(objective, by, self._clock())
        return objective

    def status(self, now: dt.datetime | None = None) -> dict[str, Any]:
        """Every objective's budget and burn rates at `now` (minute-aligned); a disabled one is
        listed without budgets."""
        end = floor_time(now or self._clock(), "minute")
        objectives = sorted(self.objectives().values(), key=_order)
        enabled = [o for o in objectives if o.enabled]
        lengths = dict(slo_objectives.BURN_WINDOWS)
        lengths |= {f"{o.window_days}d": o.window for o in enabled}
        cells = self._monitor.window_cells(end, lengths) if enabled else {}
        return {
            "at": rfc3339(end),
            "objectives": [objective_status(o, cells, end) for o in objectives],
        }


def _order(objective: Objective) -> tuple[bool, str]:
    """Success objectives first, then by id."""
    return objective.sli != "success", objective.slo_id
