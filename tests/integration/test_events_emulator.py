"""App events counted exactly once into the event rollups, through real trigger delivery."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from tests.integration.support import Stack, summary, wait_until, whole_day

pytestmark = pytest.mark.integration
DAY, WINDOW = whole_day(2)


def upgrade(amount: Any, hour: int = 5) -> dict[str, Any]:
    return {
        "type": "premium_upgrade",
        "userId": "buyer-1",
        "timestamp": DAY + dt.timedelta(hours=hour),
        "amountUsd": amount,
    }


def event_rollups(db: firestore.Client) -> dict[str, Any]:
    """Every event rollup document, compacted or shard, by collection and id."""
    return {
        f"{name}/{d.id}": d.to_dict()
        for name in ("event_rollups", "event_rollup_shards")
        for d in db.collection(name).stream()
    }


def business(stack: Stack) -> tuple[int, float]:
    body = summary(stack, WINDOW)["business"]
    return body["upgrades"], body["revenueUsd"]


def test_upgrades_count_once_under_redelivery_and_follow_corrections(
    stack: Stack, db: firestore.Client
) -> None:
    events = db.collection("analytics_events")
    events.document("up-1").set(upgrade(9.99))
    events.document("up-2").set(upgrade(20.0, hour=7))
    wait_until(lambda: business(stack) == (2, 29.99))
    first = stack.recorded("up-1")[0]
    rollups = event_rollups(db)
    assert rollups
    for _ in range(3):
        assert stack.replay(first) < 300
    assert business(stack) == (2, 29.99)
    assert event_rollups(db) == rollups

    events.document("up-1").set(upgrade(4.99))  # a corrected amount
    wait_until(lambda: business(stack) == (2, 24.99))
    events.document("up-2").delete()
    wait_until(lambda: business(stack) == (1, 4.99))
    assert stack.replay(first) < 300  # the oldest state again: the document decides
    assert business(stack) == (1, 4.99)
    assert stack.trigger_failures("on_analytics_event_written") == 0


def test_a_malformed_event_is_rejected_then_counted_once_fixed(
    stack: Stack, db: firestore.Client
) -> None:
    ref = db.collection("analytics_events").document("bad-1")
    ref.set(upgrade("nine dollars"))
    rejected = db.collection("rejected_events").document("bad-1")
    wait_until(lambda: rejected.get().exists)
    assert "amountUsd" in (rejected.get().to_dict() or {})["reason"]
    assert business(stack) == (0, 0.0)
    assert stack.trigger_failures("on_analytics_event_written") == 0
    ref.set(upgrade(12.5))
    wait_until(lambda: business(stack) == (1, 12.5))
    assert not rejected.get().exists


def test_the_monitors_own_events_are_not_counted(stack: Stack, db: firestore.Client) -> None:
    handled = stack.trigger_successes("on_analytics_event_written")  # the session's so far
    created = DAY + dt.timedelta(hours=2)
    db.collection("video_generations").document("g-ev").set(
        {
            "userId": "u1",
            "provider": "runway",
            "status": "completed",
            "createdAt": created,
            "startedAt": created + dt.timedelta(seconds=3),
            "completedAt": created + dt.timedelta(seconds=60),
            "userTier": "free",
        }
    )
    monitor_events = db.collection("analytics_events").where(
        filter=FieldFilter("generationId", "==", "g-ev")
    )
    wait_until(lambda: len(list(monitor_events.stream())) == 3)
    stack.settle()
    # The trigger did handle the three events (so "nothing counted" below is its doing).
    assert stack.trigger_successes("on_analytics_event_written") - handled >= 3
    assert list(db.collection("event_contributions").stream()) == []
    assert event_rollups(db) == {}
