"""Expiry fields on the emulator, through real trigger delivery: the pipeline's records and
aggregates carry `expireAt`, and a client's app event gets one stamped without being counted
twice."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from google.cloud import firestore

from tests.integration.support import Stack, summary, wait_until, whole_day

pytestmark = pytest.mark.integration
DAY, WINDOW = whole_day(2)
RAW = dt.timedelta(days=90)  # RAW_RETENTION_DAYS default
AGGREGATE = dt.timedelta(days=760)  # ROLLUP_RETENTION_DAYS default


def fields(ref: firestore.DocumentReference) -> dict[str, Any]:
    return ref.get().to_dict() or {}


def test_records_and_aggregates_carry_their_expiry(stack: Stack, db: firestore.Client) -> None:
    created = DAY + dt.timedelta(hours=3, minutes=7)
    db.collection("video_generations").document("ttl-1").set(
        {"userId": "u-ttl", "provider": "runway", "status": "queued", "createdAt": created,
         "userTier": "free"}
    )  # fmt: skip
    event_time = DAY + dt.timedelta(hours=4)
    events = db.collection("analytics_events")
    events.document("app-ttl").set(
        {"type": "premium_upgrade", "userId": "u-ttl", "timestamp": event_time, "amountUsd": 5.0}
    )
    wait_until(
        lambda: (events.document("app-ttl").get().to_dict() or {}).get("expireAt") is not None
    )
    stack.settle()

    assert fields(events.document("app-ttl"))["expireAt"] == event_time + RAW
    body = summary(stack, WINDOW)
    assert body["business"]["upgrades"] == 1  # the stamping write counted nothing again
    assert body["business"]["revenueUsd"] == 5.0
    assert (
        fields(db.collection("event_contributions").document("app-ttl"))["expireAt"]
        == event_time + RAW
    )
    metrics = fields(db.collection("video_generation_metrics").document("ttl-1"))
    assert metrics["expireAt"] == created + RAW
    lifecycle = fields(events.document("gen_ttl-1_requested"))
    assert lifecycle["expireAt"] == created + RAW
    journal = [d.to_dict() or {} for d in db.collection("generation_rollup_shards").stream()]
    assert journal
    assert all(j["expireAt"] == j["epoch"] + AGGREGATE for j in journal)
    days = [d.to_dict() or {} for d in db.collection("user_days").stream()]
    assert days
    assert all(d["expireAt"] == d["day"] + AGGREGATE for d in days)
