"""Pure planning of one generation change: what to write so the rollups match the source document.

Given the source document as it is now and the contribution stored for it, the plan is the new
contribution, the rollup increments `new - old`, and the metrics document, lifecycle events and
rejection record that go with it. The handler commits a plan on a precondition and checks the
source after committing; docs/design.md ("Exactly once") argues why that gives an exactly-once
effect under at-least-once, unordered, concurrent delivery.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import ValidationError

from video_monitoring.config import constants
from video_monitoring.core.models import (
    GenerationDocument,
    describe_validation_error,
    parse_generation,
)
from video_monitoring.ingest import counters
from video_monitoring.ingest.bounds import DEFAULT_BOUNDS, Bounds
from video_monitoring.ingest.rollup import (
    Contribution,
    RollupDelta,
    UserDay,
    contribution,
    deltas,
    user_day,
    user_day_deltas,
)
from video_monitoring.privacy.retention import DEFAULT_RETENTION, EXPIRE_FIELD, Retention

_TERMINAL_EVENT = {
    "completed": constants.EVENT_GENERATION_COMPLETED,
    "failed": constants.EVENT_GENERATION_FAILED,
    "cancelled": constants.EVENT_GENERATION_CANCELLED,
}
_BOOKKEEPING = ("recordedAt", "updatedAt")
# Source fields a rejection record copies (when of the right type) so the drift audit can count
# rejected documents per hour and status next to the stored records (ingest/drift_audit.py).
AUDITED_FIELDS = {"createdAt": dt.datetime, "timestamp": dt.datetime, "status": str}


@dataclass(frozen=True)
class Counting:
    """How a change is counted: rollup shards per bucket, the bounds that map open-ended values
    (providers, error codes, features, event types) to counters, and the retention."""

    shards: int = 16
    bounds: Bounds = DEFAULT_BOUNDS
    retention: Retention = DEFAULT_RETENTION


DEFAULT_COUNTING = Counting()


@dataclass(frozen=True)
class SourceState:
    """The generation document as the transaction read it (data None when it does not exist)."""

    data: Mapping[str, Any] | None
    update_time: dt.datetime | None = None


@dataclass(frozen=True)
class StoredRecord:
    """A stored record as read back (`video_generation_metrics/{id}`, `event_contributions/{id}`):
    what it counts, what the monitor already emitted for it, and its fields, which the next
    plan's record is compared with whole (an unchanged record is not written again)."""

    fields: Mapping[str, Any]  # every field but the bookkeeping times, as stored
    contribution: Contribution | None = None
    user_day: UserDay | None = None
    emitted: Mapping[str, str] = field(default_factory=dict)
    erased: bool = False  # anonymised by a user erasure: counted as it was, never changed again
    recorded_at: dt.datetime | None = None

    @classmethod
    def from_doc(cls, data: Mapping[str, Any]) -> StoredRecord:
        """The record from its stored document."""
        raw = data.get("contribution")
        recorded_at = data.get("recordedAt")
        return cls(
            fields={k: v for k, v in data.items() if k not in _BOOKKEEPING},
            contribution=Contribution.from_doc(raw) if raw else None,
            user_day=UserDay.from_doc(data.get("userDay")),
            emitted={str(k): str(v) for k, v in (data.get("emitted") or {}).items()},
            erased=bool(data.get("erased")),
            recorded_at=recorded_at if isinstance(recorded_at, dt.datetime) else None,
        )


@dataclass(frozen=True)
class Rejection:
    """A stored rejection record: why the source document is not counted."""

    reason: str
    audited: Mapping[str, Any] = field(default_factory=dict)  # see AUDITED_FIELDS

    @classmethod
    def from_doc(cls, data: Mapping[str, Any]) -> Rejection:
        """The rejection from its stored document."""
        return cls(str(data.get("reason", "")), audited_fields(data))


def audited_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    """The AUDITED_FIELDS a document holds with the type the audit counts them by."""
    return {
        name: data[name]
        for name, kind in AUDITED_FIELDS.items()
        if isinstance(data.get(name), kind)
    }


@dataclass(frozen=True)
class StoredState:
    """What the system stored for this generation (or app event) so far."""

    metrics: StoredRecord | None
    rejected: Rejection | None

    @classmethod
    def from_docs(
        cls, metrics: Mapping[str, Any] | None, rejected: Mapping[str, Any] | None
    ) -> StoredState:
        """The state from the stored documents as read (None: absent)."""
        return cls(
            StoredRecord.from_doc(metrics) if metrics is not None else None,
            Rejection.from_doc(rejected) if rejected is not None else None,
        )


@dataclass(frozen=True)
class Plan:
    """Writes that bring the system's state in line with the source document."""

    outcome: str
    metrics: dict[str, Any] | None = None
    delete_metrics: bool = False
    rollup_deltas: list[RollupDelta] = field(default_factory=list)
    user_deltas: list[UserDay] = field(default_factory=list)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    rejected: dict[str, Any] | None = None
    delete_rejected: bool = False
    reason: str | None = None

    @property
    def writes(self) -> int:
        """Documents this plan writes (the rollup deltas of one shard share one journal
        document)."""
        return (
            int(self.metrics is not None)
            + int(self.delete_metrics)
            + len({delta.shard for delta in self.rollup_deltas})
            + len(self.user_deltas)
            + len(self.events)
            + int(self.rejected is not None)
            + int(self.delete_rejected)
        )


def plan_change(
    generation_id: str,
    source: SourceState,
    stored: StoredState,
    now: dt.datetime,
    counting: Counting,
) -> Plan:
    """Plan the writes for one generation; never raises for a bad document."""
    retention = counting.retention
    settled = frozen(source, stored, now, retention)
    if settled is not None:
        return settled
    old = stored_contribution(stored.metrics)
    if source.data is None:
        return withdrawal("removed" if old else "unchanged", stored)
    try:
        doc = parse_generation(dict(source.data))
    except ValidationError as error:
        return rejection({"generationId": generation_id}, source, stored, error, now, retention)
    if stored.metrics is None and retention.raw_expired(doc.createdAt, now):
        return expiry(stored)
    new = grandfathered(old, contribution(generation_id, doc, counting.shards, counting.bounds))
    new_day = generation_user_day(doc)
    emitted = dict(stored.metrics.emitted) if stored.metrics is not None else {}
    events = _lifecycle_events(generation_id, doc, emitted, retention)
    body = metrics_document(generation_id, doc, new, emitted)
    body[EXPIRE_FIELD] = retention.raw_until(doc.createdAt)
    body["userDay"] = new_day.to_doc()
    metrics = changed_record(body, stored, now)
    rollup = deltas(old, new)
    outcome = "recorded" if stored.metrics is None else "updated" if metrics else "unchanged"
    return Plan(
        outcome=outcome,
        metrics=metrics,
        rollup_deltas=rollup,
        user_deltas=user_day_deltas(stored_user_day(stored), new_day),
        events=events,
        delete_rejected=stored.rejected is not None,
    )


def grandfathered(old: Contribution | None, new: Contribution) -> Contribution:
    """The stored contribution when it differs from the new one only by counters added since
    it was stored (counters.LATER_GENERATION_KEYS): an unchanged generation keeps counting as
    it did, and gains them on its next change."""
    if old is None or not old.same_place(new):
        return new
    # Every stored counter unchanged and only later counters new: the record predates them.
    # (No real change adds only later counters: each comes with an older one, or swaps a key.)
    added = set(new.values) - set(old.values)
    kept = all(new.values.get(key) == value for key, value in old.values.items())
    return old if kept and added and all(map(counters.later_generation_key, added)) else new


def generation_user_day(doc: GenerationDocument) -> UserDay:
    """A generation's part of its user's day: one generation, its status, premium or not."""
    # Flat keys that nest without collisions ("gen" cannot be a leaf and a map at once).
    values = {counters.USER_GENERATIONS.key: 1, counters.USER_STATUS.key(doc.status): 1}
    if doc.userTier == "premium":
        values[counters.USER_PREMIUM.key] = 1
    return user_day(doc.userId, doc.createdAt, values)


def stored_contribution(record: StoredRecord | None) -> Contribution | None:
    """The contribution a stored record (metrics document or event record) says is counted."""
    return record.contribution if record is not None else None


def stored_user_day(stored: StoredState) -> UserDay | None:
    """The user-day activity the stored record says is counted."""
    return stored.metrics.user_day if stored.metrics is not None else None


def withdrawal(outcome: str, stored: StoredState) -> Plan:
    """Take back everything the stored record counts, and delete it and any rejection."""
    return Plan(
        outcome=outcome,
        delete_metrics=stored.metrics is not None,
        rollup_deltas=deltas(stored_contribution(stored.metrics), None),
        user_deltas=user_day_deltas(stored_user_day(stored), None),
        delete_rejected=stored.rejected is not None,
    )


def frozen(
    source: SourceState, stored: StoredState, now: dt.datetime, retention: Retention
) -> Plan | None:
    """The plan for a record no change may touch any more, or None: a record anonymised by a
    user erasure stays as counted whatever its source does (privacy/erasure.py), and a source
    deleted after the raw retention (Firestore TTL) keeps what it contributed
    (privacy/retention.py)."""
    if stored.metrics is not None and stored.metrics.erased:
        return Plan(outcome="erased")
    old = stored_contribution(stored.metrics)
    if source.data is None and old is not None and retention.raw_expired(old.created_at, now):
        return expiry(stored)
    return None


def expiry(stored: StoredState) -> Plan:
    """A source older than the raw retention: its stored record goes (or stays gone), and what
    it contributed stays counted (expiry never changes a figure)."""
    return Plan(
        outcome="expired",
        delete_metrics=stored.metrics is not None,
        delete_rejected=stored.rejected is not None,
    )


def rejection(
    identity: Mapping[str, str],
    source: SourceState,
    stored: StoredState,
    error: ValidationError,
    now: dt.datetime,
    retention: Retention = DEFAULT_RETENTION,
) -> Plan:
    """Take back what was counted and record why the document is rejected, with its time and
    status for the audit's counts (the record is rewritten only when one of those changes);
    `identity` names the document ({id field: id})."""
    assert source.data is not None
    reason = describe_validation_error(error)
    audited = audited_fields(source.data)
    rejected = None
    old = stored.rejected
    if old is None or old.reason != reason or dict(old.audited) != audited:
        rejected = {
            **audited,
            **identity,
            "reason": reason,
            "rejectedAt": now,
            "sourceUpdateTime": source.update_time,
            # Field names are free text up to 1,500 bytes each: keep the record small.
            "fields": [name[:64] for name in sorted(source.data.keys())[:100]],
            EXPIRE_FIELD: retention.raw_until(now),
        }
    withdrawn = withdrawal("rejected", stored)
    return replace(withdrawn, delete_rejected=False, rejected=rejected, reason=reason)


def changed_record(
    body: dict[str, Any], stored: StoredState, now: dt.datetime
) -> dict[str, Any] | None:
    """The stored record to write (body plus bookkeeping times), or None when unchanged."""
    record = stored.metrics
    if record is not None and body == record.fields:
        return None
    recorded_at = record.recorded_at if record is not None and record.recorded_at else now
    return {**body, "recordedAt": recorded_at, "updatedAt": now}


def _lifecycle_events(
    generation_id: str, doc: GenerationDocument, emitted: dict[str, str], retention: Retention
) -> list[tuple[str, dict[str, Any]]]:
    """The monitor's own events, each written once (ids are deterministic; `emitted` remembers)."""
    wanted: list[tuple[str, str, dt.datetime]] = [
        ("requested", constants.EVENT_GENERATION_REQUESTED, doc.createdAt)
    ]
    if doc.startedAt is not None:
        wanted.append(("started", constants.EVENT_GENERATION_STARTED, doc.startedAt))
    if doc.status in _TERMINAL_EVENT and doc.completedAt is not None:
        wanted.append(("terminal", _TERMINAL_EVENT[doc.status], doc.completedAt))
    events: list[tuple[str, dict[str, Any]]] = []
    for kind, event_type, timestamp in wanted:
        if emitted.get(kind) == event_type:
            continue
        emitted[kind] = event_type
        properties: dict[str, Any] = {
            "provider": doc.provider,
            "userTier": doc.userTier,
            "status": doc.status,
        }
        if doc.model:
            properties["model"] = doc.model
        if kind == "terminal" and doc.error is not None:
            properties["errorCode"] = doc.error.code
        events.append(
            (
                f"gen_{generation_id}_{kind}",
                {
                    "type": event_type,
                    "userId": doc.userId,
                    "timestamp": timestamp,
                    "generationId": generation_id,
                    "source": constants.EVENT_SOURCE_MONITOR,
                    "properties": properties,
                    EXPIRE_FIELD: retention.raw_until(timestamp),
                },
            )
        )
    return events


def metrics_document(
    generation_id: str,
    doc: GenerationDocument,
    contrib: Contribution,
    emitted: Mapping[str, str],
) -> dict[str, Any]:
    """The stored `video_generation_metrics` document (without bookkeeping times)."""
    return {
        "generationId": generation_id,
        "userId": doc.userId,
        "provider": doc.provider,
        "model": doc.model,
        "status": doc.status,
        "userTier": doc.userTier,
        "createdAt": doc.createdAt,
        "startedAt": doc.startedAt,
        "completedAt": doc.completedAt,
        "generationSeconds": doc.generation_seconds,
        "queueSeconds": doc.queue_seconds,
        "renderSeconds": doc.render_seconds,
        "attempts": doc.attempts,
        "fallbackFrom": doc.fallbackFrom,
        "errorCode": doc.error.code if doc.error else None,
        "errorRetryable": doc.error.retryable if doc.error else None,
        "qualityScore": doc.qualityScore,
        "userRating": doc.userRating,
        "costUsd": doc.costUsd,
        "outputSeconds": doc.outputSeconds,
        "resolution": doc.resolution,
        "features": list(doc.features),
        "contribution": contrib.to_doc(),
        "emitted": dict(emitted),
    }
