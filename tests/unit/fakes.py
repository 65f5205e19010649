"""In-memory stand-in for the Firestore adapter, implementing the same MonitoringStore interface."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from video_monitoring.pipeline import Plan, SourceState, StoredState
from video_monitoring.rollup import BucketRange, flatten, nest
from video_monitoring.storage import Planner, RollupDoc, rollup_doc_id, tally_backlog


class FakeStore:
    """Dicts instead of collections; reconcile applies a plan atomically like the transaction."""

    def __init__(self) -> None:
        self.source: dict[str, dict[str, Any]] = {}
        self.metrics: dict[str, dict[str, Any]] = {}
        self.rejected: dict[str, dict[str, Any]] = {}
        self.events: dict[str, dict[str, Any]] = {}
        self.rollup_docs: dict[str, dict[str, Any]] = {}
        self.alerts: list[dict[str, Any]] = []
        self.reconciles = 0

    def reconcile(self, generation_id: str, planner: Planner) -> Plan:
        """Plan against the current dicts and apply the plan."""
        self.reconciles += 1
        data = self.source.get(generation_id)
        plan = planner(
            SourceState(data=dict(data) if data is not None else None),
            StoredState(
                metrics=self.metrics.get(generation_id), rejected=self.rejected.get(generation_id)
            ),
        )
        for delta in plan.rollup_deltas:
            doc_id = rollup_doc_id(delta.granularity, delta.bucket_start, delta.shard)
            doc = self.rollup_docs.setdefault(
                doc_id,
                {"g": delta.granularity, "start": delta.bucket_start, "shard": delta.shard},
            )
            cells = doc.setdefault("cells", {})
            flat = flatten(cells.get(delta.cell, {}))
            for key, value in delta.values.items():
                flat[key] = flat.get(key, 0) + value
            cells[delta.cell] = nest(flat)
        if plan.metrics is not None:
            self.metrics[generation_id] = plan.metrics
        if plan.delete_metrics:
            self.metrics.pop(generation_id, None)
        for event_id, body in plan.events:
            self.events[event_id] = body
        if plan.rejected is not None:
            self.rejected[generation_id] = plan.rejected
        if plan.delete_rejected:
            self.rejected.pop(generation_id, None)
        return plan

    def rollups(self, ranges: Iterable[BucketRange]) -> list[RollupDoc]:
        """Documents whose granularity and start fall in one of the ranges."""
        found: list[RollupDoc] = []
        for r in ranges:
            for doc in self.rollup_docs.values():
                if doc["g"] == r.granularity and r.start <= doc["start"] < r.end:
                    found.append(RollupDoc(doc["g"], doc["start"], doc["shard"], doc["cells"]))
        return found

    def upgrades(self, start: dt.datetime, end: dt.datetime) -> list[Mapping[str, Any]]:
        """premium_upgrade events in [start, end)."""
        return [
            e
            for e in self.events.values()
            if e.get("type") == "premium_upgrade" and start <= e["timestamp"] < end
        ]

    def open_alerts(self) -> list[Mapping[str, Any]]:
        """Firing or acknowledged alerts."""
        return [a for a in self.alerts if a.get("status") in ("firing", "acknowledged")]

    def backlog(self, stuck_before: dt.datetime) -> dict[str, tuple[int, int]]:
        """Same tally as the Firestore adapter, over the in-memory metrics."""
        flying = [m for m in self.metrics.values() if m.get("status") in ("queued", "processing")]
        return tally_backlog(flying, stuck_before)


class FixedClock:
    """A clock the test moves by hand."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        """Move forward."""
        self.now += dt.timedelta(**delta)
