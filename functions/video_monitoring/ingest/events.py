"""Pure planning of one app-event change: exact event rollups under at-least-once delivery.

App events (docs/interfaces.md §2: sessions, views, shares, downloads, upgrades, features) are
counted into `event_rollups`, bucketed like the generation rollups, so the business figures of any
window are read from a number of documents bounded by the number of buckets, however many events
exist.
The mechanism is the generation pipeline's (see `pipeline`): each delivery re-reads the event
document as it is now and the contribution stored for it in `event_contributions/{eventId}`,
and commits the difference together with the new stored contribution on the precondition that
the stored contribution did not change meanwhile. Duplicates therefore write nothing, a corrected
amount moves the totals by the difference, a deleted event takes its contribution back, and a
malformed event is recorded in `rejected_events` with its reason and counted once it is fixed.
The monitor's own lifecycle events (`source: "monitor"`) carry no contribution.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from video_monitoring.config import constants
from video_monitoring.core.models import AppEvent
from video_monitoring.ingest import counters
from video_monitoring.ingest.bounds import DEFAULT_BOUNDS, FIELD_EVENT_TYPE, Bounds
from video_monitoring.ingest.counters import MICRO_USD
from video_monitoring.ingest.pipeline import (
    Counting,
    Plan,
    SourceState,
    StoredState,
    changed_record,
    expiry,
    frozen,
    rejection,
    stored_contribution,
    stored_user_day,
    withdrawal,
)
from video_monitoring.ingest.rollup import (
    Contribution,
    count_features,
    count_other,
    deltas,
    fixed,
    shard_of,
    user_day,
    user_day_deltas,
)
from video_monitoring.privacy.retention import EXPIRE_FIELD


def is_monitor_event(data: Mapping[str, Any] | None) -> bool:
    """Whether a document is one of the monitor's own lifecycle events."""
    return data is not None and data.get("source") == constants.EVENT_SOURCE_MONITOR


def event_contribution(
    event_id: str, event: AppEvent, shards: int, bounds: Bounds = DEFAULT_BOUNDS
) -> Contribution:
    """Counters one app event adds to its type's cell: one occurrence, revenue for upgrades,
    the feature for `feature_used` (type and feature mapped through the bounds)."""
    cell = bounds.event_type(event.type)
    values: dict[str, int] = {counters.EVENTS.key: 1}
    count_other(values, FIELD_EVENT_TYPE, cell)
    if event.amountUsd is not None:
        values[counters.REVENUE.sum_key] = fixed(event.amountUsd, counters.REVENUE.scale)
        values[counters.REVENUE.n_key] = 1
    feature = event.properties.get("feature")
    if event.type == "feature_used" and isinstance(feature, str) and feature:
        count_features(values, [feature], bounds)
    return Contribution(
        created_at=event.timestamp,
        cell=cell,
        shard=shard_of(event_id, shards),
        values=values,
    )


def plan_event_change(
    event_id: str,
    source: SourceState,
    stored: StoredState,
    now: dt.datetime,
    counting: Counting,
) -> Plan:
    """Plan the writes for one analytics event; never raises for a bad document. An event
    deleted after the raw retention (Firestore TTL) stays counted, and so does one of an erased
    user."""
    bounds, retention = counting.bounds, counting.retention
    settled = frozen(source, stored, now, retention)
    if settled is not None:
        return settled
    if (source.data or {}).get("erased"):
        return Plan(outcome="erased")  # anonymised by an erasure: counted as it was, or not at all
    old = stored_contribution(stored.metrics)
    if source.data is None or is_monitor_event(source.data):
        outcome = "removed" if old else "ignored" if source.data is not None else "unchanged"
        return withdrawal(outcome, stored)
    try:
        event = AppEvent.model_validate(dict(source.data))
    except ValidationError as error:
        return rejection({"eventId": event_id}, source, stored, error, now, retention)
    if stored.metrics is None and retention.raw_expired(event.timestamp, now):
        return expiry(stored)
    new = event_contribution(event_id, event, counting.shards, bounds)
    day_values = {counters.USER_EVENTS.key(bounds.event_type(event.type)): 1}
    if event.amountUsd is not None:
        day_values[counters.USER_REVENUE.key] = fixed(event.amountUsd, MICRO_USD)
    new_day = user_day(event.userId, event.timestamp, day_values)
    body = {
        "eventId": event_id,
        "type": event.type,
        "userId": event.userId,
        "timestamp": event.timestamp,
        "contribution": new.to_doc(),
        "userDay": new_day.to_doc(),
        EXPIRE_FIELD: retention.raw_until(event.timestamp),
    }
    record = changed_record(body, stored, now)
    return Plan(
        outcome="recorded" if old is None else "updated" if record else "unchanged",
        metrics=record,
        rollup_deltas=deltas(old, new),
        user_deltas=user_day_deltas(stored_user_day(stored), new_day),
        delete_rejected=stored.rejected is not None,
    )
