"""On the real stack: a provider degrades and recovers through real trigger delivery while
`aggregate_and_alert` runs every 5 minutes; then GET /alert-rules/{ruleId}/backtest over those
runs names exactly the episodes the live alerts had, and another threshold replays as asked."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from tests.integration.support import Stack, summary, wait_until
from tests.integration.test_alerting_emulator import degraded_traffic, generation

pytestmark = pytest.mark.integration
TICK = dt.timedelta(minutes=5)


def live(db: firestore.Client, rule: str) -> list[tuple[str, dt.datetime, dt.datetime | None]]:
    query = db.collection("alert_instances").where(filter=FieldFilter("ruleId", "==", rule))
    docs = [s.to_dict() or {} for s in query.stream()]
    return sorted((d["scope"], d["firedAt"], d["resolvedAt"]) for d in docs if d.get("firedAt"))


def episodes(body: dict[str, Any]) -> list[tuple[str, dt.datetime | None, dt.datetime | None]]:
    def at(text: str | None) -> dt.datetime | None:
        return None if text is None else dt.datetime.fromisoformat(text.replace("Z", "+00:00"))

    return sorted((e["scope"], at(e["from"]), at(e["to"])) for e in body["episodes"])


def test_a_backtest_names_the_live_episodes_of_a_degraded_then_recovered_provider(
    stack: Stack, db: firestore.Client
) -> None:
    now = degraded_traffic(stack, db)  # pika slow and failing a quarter in the last hour
    batch = db.batch()
    for i in range(40):  # then pika recovers: healthy generations over the next 50 minutes
        created = now + dt.timedelta(minutes=10 + i * 1.25)
        batch.set(db.collection("video_generations").document(f"bt-pika-{i}"),
                  generation("pika", "completed", 40, created))  # fmt: skip
    batch.commit()
    metrics = db.collection("video_generation_metrics")
    wait_until(lambda: sum(1 for _ in metrics.select([]).stream()) == 120, timeout=60)
    stack.settle()
    runs = 16
    for i in range(runs):
        assert stack.run_schedule("aggregate_and_alert", now + i * TICK) == 200

    window = {"from": (now - TICK).isoformat(), "to": (now + runs * TICK).isoformat()}
    for rule in ("low_success_rate", "slow_generation"):
        expected = live(db, rule)
        assert any(scope == "provider:pika" and end for scope, _, end in expected), expected
        body = summary(stack, window, f"/alert-rules/{rule}/backtest")
        assert body["runs"] == runs and body["unmeasured"] == 0
        assert episodes(body) == expected
        assert body["firings"] == len(expected)

    # The same rule at 70%: pika at 75% (30 of 40) never breached it; nothing is stored.
    path = "/alert-rules/low_success_rate/backtest"
    strict = summary(stack, {**window, "threshold": "0.7"}, path)
    assert strict["threshold"] == 0.7 and strict["firings"] == 0
    stored = db.collection("alert_rules").document("low_success_rate").get().to_dict() or {}
    assert stored["threshold"] == 0.95  # nothing saved
