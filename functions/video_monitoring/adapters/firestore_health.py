"""Firestore adapter of the monitor's health: the tick's heartbeat, and what the other
collections say about the pipeline, the outbox and the export (aggregation counts and one-document
reads; nothing scales with the history)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from video_monitoring.adapters._firestore import FirestoreAdapter
from video_monitoring.analytics.health import (
    ABANDONED_SPAN,
    QUARANTINE_SPAN,
    RECENT,
    ExportStatus,
    HealthInputs,
)
from video_monitoring.config import constants

TICK = "aggregate_and_alert"
WAITING = ["pending", "retrying", "sending"]


class FirestoreHealth(FirestoreAdapter):
    """HealthSource on Firestore."""

    def record_tick(self, at: dt.datetime) -> None:
        """The tick scheduled at `at` finished (`monitor_heartbeats/aggregate_and_alert`); a rerun
        of an older tick never moves the heartbeat back."""
        ref = self.client.collection(constants.HEARTBEATS).document(TICK)
        previous = (ref.get().to_dict() or {}).get("at")
        if previous is None or previous < at:
            ref.set({"at": at, "finishedAt": firestore.SERVER_TIMESTAMP})

    def health_inputs(self, now: dt.datetime, queued: int, stuck: int) -> HealthInputs:
        """Everything `assess` needs, read at `now` (the queue counts come from the caller,
        which reads them for the system metrics anyway)."""
        beat = self.client.collection(constants.HEARTBEATS).document(TICK).get()
        last_tick = (beat.to_dict() or {}).get("at") if beat.exists else None
        waiting = [
            _minute(snap.id)
            for journal in (constants.ROLLUP_SHARDS, constants.EVENT_ROLLUP_SHARDS)
            for snap in self.client.collection(journal)
            .order_by("__name__")
            .limit(1)
            .select([])
            .stream()
        ]
        since = now - RECENT
        return HealthInputs(
            now=now,
            last_tick=last_tick,
            oldest_unfolded=min(waiting, default=None),
            changes_last_hour=self._count(constants.METRICS, FieldFilter("updatedAt", ">=", since)),
            rejected_last_hour=sum(
                self._count(name, FieldFilter("rejectedAt", ">=", since))
                for name in (constants.REJECTED, constants.REJECTED_EVENTS)
            ),
            outbox_backlog=self._count(
                constants.ALERT_NOTIFICATIONS, FieldFilter("status", "in", WAITING)
            ),
            abandoned_last_day=self._count(
                constants.ALERT_NOTIFICATIONS,
                FieldFilter("status", "==", "abandoned"),
                FieldFilter("lastAttemptAt", ">=", now - ABANDONED_SPAN),
            ),
            last_export=self._last_export(),
            queued=queued,
            stuck=stuck,
            quarantined=self._count(constants.ROLLUP_QUARANTINE),
            quarantined_last_day=self._count(
                constants.ROLLUP_QUARANTINE,
                FieldFilter("quarantinedAt", ">=", now - QUARANTINE_SPAN),
            ),
            denied_last_hour=self._denied_since(since),
        )

    def _denied_since(self, since: dt.datetime) -> int:
        # One aggregation over the per-minute counters since the minute `since` falls in.
        query: Any = self.client.collection(constants.ACCESS_DENIALS).where(
            filter=FieldFilter("minute", ">=", since.replace(second=0, microsecond=0))
        )
        total = query.sum("count", alias="n").get()[0][0].value
        return int(total or 0)

    def _count(self, collection: str, *filters: FieldFilter) -> int:
        query: Any = self.client.collection(collection)
        for condition in filters:
            query = query.where(filter=condition)
        result = query.count(alias="n").get()
        return int(result[0][0].value)

    def _last_export(self) -> ExportStatus | None:
        runs = list(
            self.client.collection(constants.EXPORT_RUNS)
            .order_by("day", direction=firestore.Query.DESCENDING)
            .limit(1)
            .stream()
        )
        if not runs:
            return None
        run = runs[0].to_dict() or {}
        tables = run.get("tables") or {}
        return ExportStatus(
            day=str(run.get("day")),
            status=str(run.get("status")),
            finished_at=run.get("finishedAt"),
            rows={name: int(t.get("rows", 0)) for name, t in tables.items()},
            error=run.get("error"),
        )


def _minute(journal_id: str) -> dt.datetime:
    """The arrival minute a journal document's id starts with (`{YYYYMMDDTHHMM}_{shard}`)."""
    return dt.datetime.strptime(journal_id.split("_", 1)[0], "%Y%m%dT%H%M").replace(tzinfo=dt.UTC)
