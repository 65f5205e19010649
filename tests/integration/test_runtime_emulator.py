"""The functions' own runtime on the real stack: deliveries driven through the functions host
(real trigger deliveries from the emulator, and malformed ones posted to the host's trigger
endpoint, which fail), then `GET /system` `functions` compared with the counts the test caused,
and the `function_errors` rule fired by the tick."""

from __future__ import annotations

import datetime as dt
import time

import pytest
import requests
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from tests.integration.support import Stack, summary, wait_until

pytestmark = pytest.mark.integration
WRITTEN = 5  # generations written: one delivery each, handled
BROKEN = 3  # deliveries whose body is no DocumentEventData: the handler raises
TRIGGER = "on_generation_written"


def generation(n: int, at: dt.datetime) -> dict[str, object]:
    """A valid completed generation."""
    return {
        "userId": f"user-{n}", "provider": "runway", "status": "completed", "userTier": "free",
        "createdAt": at - dt.timedelta(minutes=3), "startedAt": at - dt.timedelta(minutes=2),
        "completedAt": at - dt.timedelta(minutes=1), "costUsd": 0.5,
    }  # fmt: skip


def minute_floor(at: dt.datetime) -> dt.datetime:
    return at.replace(second=0, microsecond=0)


def window(start: dt.datetime, minutes: int) -> dict[str, str]:
    """A window from the minute of `start`, `minutes` long (past the test's last call)."""
    first = minute_floor(start)
    return {"from": first.isoformat(), "to": (first + dt.timedelta(minutes=minutes)).isoformat()}


def break_deliveries(stack: Stack, doc_id: str, count: int) -> list[int]:
    """POST a recorded delivery again with a body that is no protobuf: the statuses."""
    event = stack.recorded(doc_id)[0]
    statuses = []
    for _ in range(count):
        response = requests.post(
            f"{stack.functions_base}{event['path']}",
            data=b"\x0a\xff\xff\xff\x0f not a DocumentEventData",
            headers={**event["headers"], "content-type": "application/protobuf"},
            timeout=30,
        )
        statuses.append(response.status_code)
    return statuses


def firing(db: firestore.Client, rule: str) -> list[str]:
    """Scopes in which the rule's alert is firing."""
    query = db.collection("alert_instances").where(filter=FieldFilter("ruleId", "==", rule))
    docs = (s.to_dict() or {} for s in query.stream())
    return sorted(str(d.get("scope")) for d in docs if d.get("status") == "firing")


def test_system_functions_count_the_deliveries_and_function_errors_fires(
    stack: Stack, db: firestore.Client
) -> None:
    t0 = dt.datetime.now(dt.UTC)
    started = time.monotonic()
    for n in range(WRITTEN):
        db.collection("video_generations").document(f"rt-{n}").set(generation(n, t0))
    ledger = db.collection("video_generation_metrics")
    wait_until(lambda: len(list(ledger.select([]).stream())) == WRITTEN, timeout=60)
    stack.settle()
    assert break_deliveries(stack, "rt-0", BROKEN) == [500] * BROKEN
    stack.settle()
    elapsed_ms = (time.monotonic() - started) * 1000
    minutes = int((dt.datetime.now(dt.UTC) - minute_floor(t0)).total_seconds() // 60) + 2

    body = summary(stack, window(t0, minutes), "/system")
    rows = {row["function"]: row for row in body["functions"]}
    assert body["runtime"]["source"] == "local" and body["runtime"]["error"] is None
    trigger = rows[TRIGGER]
    assert (trigger["executions"], trigger["errors"]) == (WRITTEN + BROKEN, BROKEN)
    assert trigger["errorRate"] == pytest.approx(BROKEN / (WRITTEN + BROKEN))
    assert 0 < trigger["p95ExecutionMs"] <= elapsed_ms
    assert trigger["activeInstances"] >= 1
    # Each handled generation wrote its lifecycle events, each written once: one delivery of
    # the events' trigger apiece. Nothing else ran (the dashboard's call ends after its answer).
    events = len(list(db.collection("analytics_events").select([]).stream()))
    assert events >= WRITTEN
    caused = {TRIGGER: WRITTEN + BROKEN, "on_analytics_event_written": events}
    assert {name: row["executions"] for name, row in rows.items()} == {
        name: caused.get(name, 0) for name in rows
    }
    assert rows["on_analytics_event_written"]["errors"] == 0
    # Every handled change wrote its ledger record (and more): the store's writes, per minute.
    runtime = body["runtime"]
    assert runtime["firestoreWrites"] >= WRITTEN
    assert runtime["firestoreWritesPerMinute"] == pytest.approx(
        runtime["firestoreWrites"] / minutes
    )
    assert runtime["firestoreReadsPerMinute"] == pytest.approx(runtime["firestoreReads"] / minutes)

    # Another window (the first is cached): the GET /system above counts as one execution.
    again = summary(stack, window(t0, minutes + 1), "/system")
    rows = {row["function"]: row for row in again["functions"]}
    assert (rows["video_analytics_dashboard"]["executions"], rows[TRIGGER]["errors"]) == (1, BROKEN)

    # The tick reads the last 10 minutes: three failed deliveries fire function_errors.
    assert firing(db, "function_errors") == []
    assert stack.run_schedule("aggregate_and_alert") == 200
    assert firing(db, "function_errors") == ["overall"]
