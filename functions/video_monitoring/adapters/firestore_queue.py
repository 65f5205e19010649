"""The queue and provider capacity on Firestore: exact counts of the stored generation records by
status (`count()` aggregations: one billed read per 1,000 index entries, whatever the queue's
age), the oldest queued job (one ordered query each), the jobs started in a window (projected
reads) and the `provider_capacity` documents."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from google.cloud.firestore_v1.base_query import FieldFilter

from video_monitoring.adapters._firestore import FirestoreAdapter, count, counted
from video_monitoring.analytics.capacity import ProviderCapacity
from video_monitoring.analytics.queue import OVERALL, QueueNow, Start
from video_monitoring.config import constants

QUERY_WORKERS = 8  # concurrent count and ordered queries of one `now` (the client is shared)


class FirestoreQueue(FirestoreAdapter):
    """QueueSource and CapacityStore on the `video_generation_metrics` ledger, whose status
    follows each source document exactly once (rejected documents never reach it)."""

    def _count(self, *filters: FieldFilter) -> int:
        query: Any = self.client.collection(constants.METRICS)
        for condition in filters:
            query = query.where(filter=condition)
        result = query.count(alias="n").get()
        count(queue_counts=1)
        return int(result[0][0].value)

    def _oldest(self, provider: str | None) -> dt.datetime | None:
        query: Any = self.client.collection(constants.METRICS).where(
            filter=FieldFilter("status", "==", "queued")
        )
        if provider is not None:
            query = query.where(filter=FieldFilter("provider", "==", provider))
        query = query.order_by("createdAt").limit(1).select(["createdAt"])
        for snap in list(counted("queue_reads", query.stream())):
            created = (snap.to_dict() or {}).get("createdAt")
            return created if isinstance(created, dt.datetime) else None
        return None

    def _status_count(self, status: str, scope: str) -> int:
        provider = [] if scope == OVERALL else [FieldFilter("provider", "==", scope)]
        return self._count(FieldFilter("status", "==", status), *provider)

    def now(self, providers: Sequence[str]) -> QueueNow:
        """Counts overall and per provider, the oldest queued job overall and per provider.
        The queries are independent, so they run side by side (each waits on the network)."""
        scopes = (OVERALL, *providers)
        with ThreadPoolExecutor(max_workers=QUERY_WORKERS) as pool:
            queued_at = {s: pool.submit(self._status_count, "queued", s) for s in scopes}
            processing_at = {s: pool.submit(self._status_count, "processing", s) for s in scopes}
            queued = {s: f.result() for s, f in queued_at.items()}
            processing = {s: f.result() for s, f in processing_at.items()}
            # Only where something is queued: the rest have no oldest queued job.
            oldest_at = {s: pool.submit(self._oldest_of, s) for s in scopes if queued[s]}
            found = {s: f.result() for s, f in oldest_at.items()}
        oldest = {s: found.get(s) for s in scopes}
        return QueueNow(queued, processing, oldest)

    def _oldest_of(self, scope: str) -> dt.datetime | None:
        return self._oldest(None if scope == OVERALL else scope)

    def starts(self, start: dt.datetime, end: dt.datetime, limit: int) -> list[Start]:
        """Jobs started in [start, end), projected to three fields."""
        query = (
            self.client.collection(constants.METRICS)
            .where(filter=FieldFilter("startedAt", ">=", start))
            .where(filter=FieldFilter("startedAt", "<", end))
            .select(["provider", "createdAt", "startedAt"])
            .limit(limit)
        )
        out = []
        for snap in counted("queue_reads", query.stream()):
            data = snap.to_dict() or {}
            out.append(Start(str(data.get("provider")), data["createdAt"], data["startedAt"]))
        return out

    def arrivals(
        self, start: dt.datetime, end: dt.datetime, providers: Sequence[str]
    ) -> dict[str, int]:
        """Jobs created in [start, end): count() overall and per provider."""
        window = (FieldFilter("createdAt", ">=", start), FieldFilter("createdAt", "<", end))
        out = {OVERALL: self._count(*window)}
        for provider in providers:
            out[provider] = self._count(FieldFilter("provider", "==", provider), *window)
        return out

    def unstarted_ends(self, start: dt.datetime, end: dt.datetime) -> list[str]:
        """Providers of jobs that ended in [start, end) with no start (few: cancellations and
        failures while queued)."""
        query = (
            self.client.collection(constants.METRICS)
            .where(filter=FieldFilter("startedAt", "==", None))
            .where(filter=FieldFilter("completedAt", ">=", start))
            .where(filter=FieldFilter("completedAt", "<", end))
            .select(["provider"])
        )
        snaps = counted("queue_reads", query.stream())
        return [str((snap.to_dict() or {}).get("provider")) for snap in snaps]

    def capacities(self) -> dict[str, ProviderCapacity]:
        """Every `provider_capacity` document (one per configured provider)."""
        out = {}
        for snap in counted(
            "capacity_reads", self.client.collection(constants.PROVIDER_CAPACITY).stream()
        ):
            data = snap.to_dict() or {}
            fields = {f.alias: data.get(f.alias) for f in ProviderCapacity.model_fields.values()}
            out[snap.id] = ProviderCapacity.model_validate(fields)
        return out

    def put_capacity(
        self, provider: str, capacity: ProviderCapacity, by: str, now: dt.datetime
    ) -> None:
        """Replace one provider's limits."""
        self.client.collection(constants.PROVIDER_CAPACITY).document(provider).set(
            {**capacity.to_doc(), "updatedBy": by, "updatedAt": now}
        )
