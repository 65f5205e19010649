"""The ingest write path: bring one generation's or one app event's contribution (its stored
record and its rollup increments) in line with its source document, exactly once however often
the change is delivered (the planners in pipeline and events, the store's reconcile)."""

from __future__ import annotations

import logging

from video_monitoring.core.clock import Clock, utc_now
from video_monitoring.ingest.bounds import DEFAULT_BOUNDS, Bounds
from video_monitoring.ingest.events import plan_event_change
from video_monitoring.ingest.monitoring_store import EVENT_LEDGER, MonitoringStore, Planner
from video_monitoring.ingest.pipeline import Counting, Plan, SourceState, StoredState, plan_change
from video_monitoring.privacy.retention import DEFAULT_RETENTION, Retention

log = logging.getLogger(__name__)


class IngestService:
    """Records generations into metrics and rollups, and app events into the event rollups."""

    def __init__(
        self,
        store: MonitoringStore,
        shards: int = 16,
        clock: Clock = utc_now,
        bounds: Bounds = DEFAULT_BOUNDS,
        retention: Retention = DEFAULT_RETENTION,
    ) -> None:
        self._store = store
        self._clock = clock
        self._counting = Counting(shards, bounds, retention)

    def record_generation_metrics(self, generation_id: str) -> Plan:
        """Bring one generation's metrics and rollup contribution in line with its document."""
        plan = self._store.reconcile(generation_id, self.generation_planner(generation_id))
        if plan.outcome == "rejected":
            log.warning("generation %s rejected: %s", generation_id, plan.reason)
        return plan

    def generation_planner(self, generation_id: str) -> Planner:
        """The pipeline's planner for one generation, at this moment."""
        now = self._clock()

        def plan(source: SourceState, stored: StoredState) -> Plan:
            return plan_change(generation_id, source, stored, now, self._counting)

        return plan

    def record_app_event(self, event_id: str) -> Plan:
        """Bring one app event's contribution to the event rollups in line with its document."""
        plan = self._store.reconcile(event_id, self.event_planner(event_id), EVENT_LEDGER)
        if plan.outcome == "rejected":
            log.warning("analytics event %s rejected: %s", event_id, plan.reason)
        return plan

    def event_planner(self, event_id: str) -> Planner:
        """The event pipeline's planner for one event, at this moment."""
        now = self._clock()

        def plan(source: SourceState, stored: StoredState) -> Plan:
            return plan_event_change(event_id, source, stored, now, self._counting)

        return plan
