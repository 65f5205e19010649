"""GET /health and the rules on the monitor itself, on the real stack: a stale tick makes /health
503 and `monitor_stale` fire when ticks resume; a burst of malformed documents fires
`pipeline_rejections`; the heartbeat never moves back."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import requests
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from tests.integration.support import Stack, token, wait_until

pytestmark = pytest.mark.integration


def health(stack: Stack, role: str | None = None) -> tuple[int, dict[str, Any]]:
    headers = {} if role is None else {"Authorization": f"Bearer {token(role)}"}
    response = requests.get(
        stack.url("video_analytics_dashboard", "/health"), headers=headers, timeout=30
    )
    body: dict[str, Any] = response.json()
    return response.status_code, body


def firing(db: firestore.Client, rule: str) -> list[str]:
    query = db.collection("alert_instances").where(filter=FieldFilter("ruleId", "==", rule))
    return [str((s.to_dict() or {}).get("status")) for s in query.stream()]


def test_a_stale_tick_degrades_health_and_fires_monitor_stale_when_ticks_resume(
    stack: Stack, db: firestore.Client
) -> None:
    status, body = health(stack)
    assert status == 503
    assert body == {
        "status": "degraded",
        "reasons": ["the scheduled tick aggregate_and_alert has not run yet"],
    }
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    long_ago = now - dt.timedelta(minutes=40)
    assert stack.run_schedule("aggregate_and_alert", long_ago) == 200
    status, body = health(stack, "analytics")
    assert status == 503
    assert body["reasons"][0].startswith("the scheduled tick aggregate_and_alert has not run for 4")
    assert body["lastTick"] == long_ago.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert body["outbox"] == {"backlog": 0, "abandoned24h": 0}
    assert firing(db, "monitor_stale") == []  # the first run had no previous tick to measure

    # Ticks resume: the first one sees a 40-minute gap and raises monitor_stale at once.
    assert stack.run_schedule("aggregate_and_alert", now) == 200
    assert firing(db, "monitor_stale") == ["firing"]
    status, body = health(stack)
    assert (status, body) == (200, {"status": "ok"})
    # A rerun of the old tick does not move the heartbeat back.
    assert stack.run_schedule("aggregate_and_alert", long_ago) == 200
    assert health(stack, "analytics")[1]["lastTick"] == now.strftime("%Y-%m-%dT%H:%M:%SZ")
    # The next regular run clears it.
    assert stack.run_schedule("aggregate_and_alert", now + dt.timedelta(minutes=5)) == 200
    assert firing(db, "monitor_stale") == ["resolved"]


def test_a_burst_of_malformed_documents_fires_pipeline_rejections(
    stack: Stack, db: firestore.Client
) -> None:
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    batch = db.batch()
    for i in range(30):
        batch.set(
            db.collection("video_generations").document(f"ok-{i}"),
            {"userId": f"u{i}", "provider": "runway", "status": "queued",
             "createdAt": now - dt.timedelta(minutes=5), "userTier": "free"},
        )  # fmt: skip
    for i in range(10):
        batch.set(
            db.collection("video_generations").document(f"bad-{i}"),
            {"userId": f"u{i}", "provider": "runway", "status": "exploded"},
        )
    batch.commit()
    rejected = db.collection("rejected_generations")
    wait_until(lambda: sum(1 for _ in rejected.select([]).stream()) == 10, 60)
    stack.settle()
    assert stack.run_schedule("aggregate_and_alert", now) == 200
    assert firing(db, "pipeline_rejections") == ["firing"]
    status, body = health(stack, "analytics")
    assert status == 503
    assert "10 documents rejected in the last hour (25.0% of changes)" in body["reasons"]
    assert body["rejectedLastHour"] == 10 and body["changesLastHour"] == 30
    assert body["queue"] == {"inProgress": 30, "stuck": 0}
