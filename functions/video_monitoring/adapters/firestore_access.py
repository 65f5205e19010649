"""The dashboard's access records on Firestore: the audit log and the per-user token buckets."""

from __future__ import annotations

import datetime as dt
from typing import Any

from google.api_core.exceptions import Aborted
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from video_monitoring.adapters._firestore import FirestoreAdapter, count
from video_monitoring.config import constants
from video_monitoring.core.audit_log import AuditFilter
from video_monitoring.dashboard.access import AuditEntry, Bucket, take_token
from video_monitoring.privacy.retention import EXPIRE_FIELD, Retention


class FirestoreAuditLog(FirestoreAdapter):
    """AuditLog on Firestore: one document per entry (auto id), written synchronously so an
    action is never served without its record."""

    def record(self, entry: AuditEntry) -> None:
        """Append one entry."""
        self.client.collection(constants.AUDIT_LOG).add(entry.to_doc())

    def page(self, wanted: AuditFilter) -> list[tuple[str, dict[str, Any]]]:
        """One page newest first (composite indexes on uid, action and both, then `at`
        descending; firestore.indexes.json), resuming after the position of the last one."""
        query: Any = self.client.collection(constants.AUDIT_LOG)
        if wanted.actor is not None:
            query = query.where(filter=FieldFilter("uid", "==", wanted.actor))
        if wanted.action is not None:
            query = query.where(filter=FieldFilter("action", "==", wanted.action))
        if wanted.start is not None:
            query = query.where(filter=FieldFilter("at", ">=", wanted.start))
        if wanted.end is not None:
            query = query.where(filter=FieldFilter("at", "<", wanted.end))
        query = query.order_by("at", direction=firestore.Query.DESCENDING).order_by(
            "__name__", direction=firestore.Query.DESCENDING
        )
        if wanted.after is not None:
            query = query.start_after({"at": wanted.after.at, "__name__": wanted.after.entry_id})
        return [(snap.id, snap.to_dict() or {}) for snap in query.limit(wanted.limit).stream()]


class FirestoreDenialCounter(FirestoreAdapter):
    """DenialCounter on Firestore: one `access_denials` document per minute holding how many
    calls were refused in it (an increment, no read), expiring with the raw retention; however
    many calls are refused, storage grows by at most one small document a minute."""

    def __init__(self, retention: Retention, client: firestore.Client | None = None) -> None:
        super().__init__(client)
        self._retention = retention

    def record(self, at: dt.datetime) -> None:
        """Count one refused call in the minute of `at`."""
        minute = at.astimezone(dt.UTC).replace(second=0, microsecond=0)
        ref = self.client.collection(constants.ACCESS_DENIALS).document(
            minute.strftime("%Y%m%dT%H%M")
        )
        ref.set(
            {
                "minute": minute,
                "count": firestore.Increment(1),
                EXPIRE_FIELD: self._retention.raw_until(minute),
            },
            merge=True,
        )


class FirestoreRateLimiter(FirestoreAdapter):
    """RateLimiter on Firestore: one bucket document per key (caller and route class, so the
    collection grows with callers, never with requests), updated in a transaction, so
    concurrent function instances share the limit. An admitted request costs one read and one
    write; a refused one a read only (its bucket is left as it was: refilling is continuous,
    so the old state says the same)."""

    def __init__(
        self, capacity: int, period: dt.timedelta, client: firestore.Client | None = None
    ) -> None:
        super().__init__(client)
        self._capacity = capacity
        self._period = period

    def take(self, key: str, now: dt.datetime) -> float | None:
        """None when allowed, else seconds until a token is free."""
        client = self.client
        ref = client.collection(constants.RATE_LIMITS).document(key)
        outcome: list[float | None] = [None]

        @firestore.transactional
        def run(transaction: firestore.Transaction) -> None:
            snap = ref.get(transaction=transaction)
            data = snap.to_dict() if snap.exists else None
            bucket = Bucket(float(data["tokens"]), data["updated"]) if data else None
            after, wait = take_token(bucket, now, self._capacity, self._period)
            if wait is None:
                transaction.set(ref, {"tokens": after.tokens, "updated": after.updated})
            outcome[0] = wait

        try:
            run(client.transaction(max_attempts=20))
        except (ValueError, Aborted):
            # The bucket stayed contended through every attempt: refuse (fail closed) and ask
            # for a retry shortly, rather than let a burst through unmetered.
            return 1.0
        count(limiter_reads=1, limiter_writes=int(outcome[0] is None))
        return outcome[0]
