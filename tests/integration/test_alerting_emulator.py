"""Alerting end to end: generations through real trigger delivery, `aggregate_and_alert` run as
Cloud Scheduler runs it, and every channel received by a real local server."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from local_stack.receivers import Receivers
from tests.conftest import WEBHOOK_SECRET
from tests.integration.support import Stack, wait_until
from video_monitoring.alerting.channels.webhook import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    verify_signature,
)

EXPECTED = {
    ("low_success_rate", "provider:pika"),
    ("slow_generation", "provider:pika"),
    ("low_success_rate", "overall"),  # 70 of 80: Wilson upper bound 93.1% < 95%
}


def generation(provider: str, status: str, seconds: float, created: dt.datetime) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "userId": "u-alerting",
        "provider": provider,
        "status": status,
        "createdAt": created,
        "startedAt": created + dt.timedelta(seconds=2),
        "completedAt": created + dt.timedelta(seconds=seconds),
        "userTier": "premium",
        "costUsd": 0.2,
    }
    if status == "failed":
        doc["error"] = {"code": "provider_5xx", "message": "upstream", "retryable": True}
    return doc


def degraded_traffic(stack: Stack, db: firestore.Client) -> dt.datetime:
    """40 healthy runway and 40 slow, failing pika generations in the last hour (on the clean
    store each test starts with), all recorded; returns the minute they were written."""
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    batch = db.batch()
    for i in range(40):
        created = now - dt.timedelta(minutes=50 - i)
        batch.set(db.collection("video_generations").document(f"al-runway-{i}"),
                  generation("runway", "completed", 40, created))  # fmt: skip
        status = "completed" if i % 4 else "failed"
        batch.set(db.collection("video_generations").document(f"al-pika-{i}"),
                  generation("pika", status, 150, created))  # fmt: skip
    batch.commit()
    metrics = db.collection("video_generation_metrics")
    wait_until(lambda: sum(1 for _ in metrics.select([]).stream()) == 80)
    stack.settle()
    return now


def outbox(db: firestore.Client, channel: str) -> list[dict[str, Any]]:
    query = db.collection("alert_notifications").where(filter=FieldFilter("channel", "==", channel))
    return [snap.to_dict() or {} for snap in query.stream()]


def open_instances(db: firestore.Client) -> set[tuple[str, str]]:
    query = db.collection("alert_instances").where(filter=FieldFilter("open", "==", True))
    docs = [snap.to_dict() or {} for snap in query.stream()]
    return {(d["ruleId"], d["scope"]) for d in docs if d["status"] != "pending"}


def test_degraded_provider_alerts_once_per_rule_and_scope_on_every_channel(
    stack: Stack, db: firestore.Client, receivers: Receivers
) -> None:
    now = degraded_traffic(stack, db)

    inbox, slack, sms, webhook = receivers.inbox, receivers.slack, receivers.sms, receivers.webhook
    before = (len(inbox.messages), len(slack.requests), len(sms.requests), len(webhook.requests))
    webhook.mode = "error"  # the webhook receiver is down for the first delivery

    assert stack.run_schedule("aggregate_and_alert", now) == 200
    assert open_instances(db) == set()  # pending: the default rules need two evaluations
    assert stack.run_schedule("aggregate_and_alert", now + dt.timedelta(minutes=5)) == 200
    assert open_instances(db) == EXPECTED

    new_mail = inbox.messages[before[0] :]
    new_slack = slack.requests[before[1] :]
    assert len(new_mail) == 3 and len(new_slack) == 3
    assert len(sms.requests) == before[2]  # SMS only on escalation
    subjects = sorted(m["Subject"] for m in new_mail)
    assert all(s.startswith("[FIRING]") for s in subjects)
    assert any("slow_generation (provider:pika)" in s for s in subjects)
    failed_webhooks = webhook.requests[before[3] :]
    assert len(failed_webhooks) == 4  # two alerts owe a webhook, two attempts each, all 500

    # A rerun of the same tick sends nothing and opens nothing.
    assert stack.run_schedule("aggregate_and_alert", now + dt.timedelta(minutes=5)) == 200
    assert len(inbox.messages) == before[0] + 3 and len(slack.requests) == before[1] + 3
    assert open_instances(db) == EXPECTED

    # The receiver is back: the next run delivers each owed webhook exactly once, signed.
    webhook.mode = "ok"
    assert stack.run_schedule("aggregate_and_alert", now + dt.timedelta(minutes=7)) == 200
    delivered = webhook.delivered()[-2:]
    assert len(webhook.requests) == before[3] + 6
    bodies = sorted(json.loads(r.body)["scope"] for r in delivered)
    assert bodies == ["overall", "provider:pika"]
    for request in delivered:
        assert verify_signature(
            WEBHOOK_SECRET, request.headers[TIMESTAMP_HEADER], request.body,
            request.headers[SIGNATURE_HEADER], time.time(),
        )  # fmt: skip
    assert len(slack.requests) == before[1] + 3  # nothing re-sent to healthy channels

    # Twenty minutes after firing, unacknowledged critical alerts escalate to SMS, once each.
    assert stack.run_schedule("aggregate_and_alert", now + dt.timedelta(minutes=20)) == 200
    assert stack.run_schedule("aggregate_and_alert", now + dt.timedelta(minutes=20)) == 200
    texts = sorted(r.body.decode() for r in sms.requests[before[2] :])
    assert len(texts) == 2 and all("ESCALATED" in t for t in texts)

    # Every tick wrote one system metrics document per window and scope.
    ids = {snap.id for snap in db.collection("system_performance_metrics").stream()}
    tick = now.strftime("%Y%m%dT%H%M")
    scopes = {"overall", "provider-pika", "provider-runway", "tier-free", "tier-premium"}
    assert {i for i in ids if i.startswith(tick)} == {
        f"{tick}__{w}__{s}" for w in ("5m", "1h", "24h") for s in scopes
    }
    pika = db.collection("system_performance_metrics").document(f"{tick}__1h__provider-pika")
    body = pika.get().to_dict() or {}
    assert body["generations"]["total"] == 40 and body["successRate"] == 30 / 40


def test_receivers_timing_out_or_refusing_connections_lose_no_alert(
    stack: Stack, db: firestore.Client, receivers: Receivers
) -> None:
    now = degraded_traffic(stack, db)
    slack, webhook, inbox = receivers.slack, receivers.webhook, receivers.inbox
    mails_before, hooks_before = len(inbox.messages), len(webhook.delivered())
    slack.mode, slack.slow_seconds = "slow", 3.0  # answers after the 1 s client timeout
    webhook.pause()  # connection refused
    try:
        assert stack.run_schedule("aggregate_and_alert", now) == 200
        started = time.monotonic()
        assert stack.run_schedule("aggregate_and_alert", now + dt.timedelta(minutes=5)) == 200
        assert time.monotonic() - started < 60  # a hanging receiver does not hang the run
        assert open_instances(db) == EXPECTED
        # Email is unaffected; Slack and the webhook are owed, retrying, nothing abandoned.
        assert len(inbox.messages) == mails_before + 3
        slack_owed = outbox(db, "slack")
        assert len(slack_owed) == 3
        assert all(e["status"] == "retrying" for e in slack_owed)
        assert all("timed out" in (e["lastError"] or "").lower() for e in slack_owed)
        hooks_owed = outbox(db, "webhook")
        assert len(hooks_owed) == 2
        assert all(e["status"] == "retrying" and e["lastError"] for e in hooks_owed)
    finally:
        slack.mode = "ok"
        webhook.resume()
    # Receivers are back: the next run delivers every owed message.
    assert stack.run_schedule("aggregate_and_alert", now + dt.timedelta(minutes=7)) == 200
    owed = outbox(db, "slack") + outbox(db, "webhook")
    assert len(owed) == 5 and all(e["status"] == "sent" for e in owed)
    new_hooks = webhook.delivered()[hooks_before:]
    assert sorted(json.loads(r.body)["scope"] for r in new_hooks) == ["overall", "provider:pika"]
    slack_alerts = {json.loads(r.body)["text"] for r in slack.delivered()}
    assert len(slack_alerts) >= 3  # every alert reached Slack (a timed-out try may repeat one)
    # The failures are recorded on the alerts.
    instances = [snap.to_dict() or {} for snap in db.collection("alert_instances").stream()]
    slack_outcomes = [
        outcome
        for inst in instances
        for key, outcome in (inst.get("deliveries") or {}).items()
        if key.startswith("slack")
    ]
    assert len(slack_outcomes) == 3 and all(o["status"] == "sent" for o in slack_outcomes)


def test_an_on_call_tier_is_paged_on_its_own_numbers_and_address(
    stack: Stack, db: firestore.Client, receivers: Receivers
) -> None:
    """A rule whose escalation level names the on-call tier's phones, address and Slack tier:
    fifteen minutes after firing the SMS receiver gets one message per tier number (not the
    configured one), the SMTP inbox one mail to the tier's address, and Slack one post on the
    tier's own webhook."""
    now = degraded_traffic(stack, db)
    assert stack.run_schedule("aggregate_and_alert", now) == 200  # seeds the default rules
    rules = db.collection("alert_rules")
    rule = rules.document("slow_generation").get().to_dict() or {}
    rule["escalation"] = [{
        "afterMinutes": 15, "channels": ["sms", "email", "slack"],
        "recipients": {"sms": ["+15550001111", "+15550002222"], "email": ["oncall@example.com"],
                       "slack": ["oncall"]},
    }]  # fmt: skip
    rules.document("slow_generation").set(rule)
    sms_before, mail_before = len(receivers.sms.requests), len(receivers.inbox.messages)
    slack_before = len(receivers.slack.requests)
    assert stack.run_schedule("aggregate_and_alert", now + dt.timedelta(minutes=5)) == 200
    assert stack.run_schedule("aggregate_and_alert", now + dt.timedelta(minutes=21)) == 200
    texts = [r for r in receivers.sms.requests[sms_before:] if b"slow_generation" in r.body]
    numbers = sorted(r.body.decode().split("To=")[1].split("&")[0] for r in texts)
    assert numbers == ["%2B15550001111", "%2B15550002222"]
    escalated = [
        m for m in receivers.inbox.messages[mail_before:]
        if "ESCALATED" in str(m["Subject"]) and "slow_generation" in str(m["Subject"])
    ]  # fmt: skip
    assert [m["To"] for m in escalated] == ["oncall@example.com"]
    posted = [
        r.path for r in receivers.slack.requests[slack_before:]
        if "ESCALATED" in r.body.decode() and "slow_generation" in r.body.decode()
    ]  # fmt: skip
    assert posted == ["/services/T0/B1/oncall"]  # the tier's webhook, not the team's
