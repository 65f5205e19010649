"""A stalled channel against the real tick: a webhook receiver that sleeps 30 s and a mail server
that never answers cannot delay the rule evaluation or the heartbeat; what they did not take is
retried by a later tick and delivered, not lost. The tick runs in this process on the services
the deployed function builds, with the channels pointed at those servers; generations go
through the real trigger on the Firestore emulator."""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

from google.cloud import firestore

from local_stack.receivers import HttpReceiver, Receivers, SilentServer
from tests.integration.support import Stack, wait_until
from tests.integration.test_alerting_emulator import EXPECTED, degraded_traffic, open_instances
from video_monitoring.adapters.firestore_alerts import FirestoreAlertStore
from video_monitoring.alerting.alert_store import OutboxEntry
from video_monitoring.alerting.dispatch import CLAIM_LEASE
from video_monitoring.config.settings import (
    BigQuerySettings,
    DashboardSettings,
    NotificationSettings,
    Settings,
)
from video_monitoring.runtime.bootstrap import build
from video_monitoring.runtime.handlers import LiveTick
from video_monitoring.runtime.tick import run_tick

BUDGET = 3.0  # seconds the tick gives its deliveries
CHANNEL_TIMEOUT = 20.0  # each send's own timeout: longer than the budget, shorter than the stall


def settings(smtp_port: int, webhook: str, budget: float = BUDGET) -> Settings:
    """Email and webhook alerting as a deployment would configure it."""
    return Settings(
        dashboard=DashboardSettings(dashboard_base_url="http://console.example"),
        bigquery=BigQuerySettings(bigquery_enabled=False),
        notifications=NotificationSettings(
            alert_channels="email,webhook", smtp_host="127.0.0.1", smtp_port=smtp_port,
            alert_email_from="monitor@example.com", alert_email_to="ops@example.com",
            smtp_tls="none",  # the local inbox speaks plain SMTP
            alert_webhook_url=webhook + "/alerts", alert_webhook_secret="budget-secret",
            notify_attempts=2, notify_base_delay_seconds=0.1,
            notify_timeout_seconds=CHANNEL_TIMEOUT, notify_budget_seconds=budget,
        ),
    )  # fmt: skip


def owed(db: firestore.Client) -> dict[str, dict[str, Any]]:
    """The email and webhook messages of the outbox, by id."""
    docs = db.collection("alert_notifications").stream()
    found = {snap.id: snap.to_dict() or {} for snap in docs}
    return {k: v for k, v in found.items() if v.get("channel") in ("email", "webhook")}


def heartbeat(db: firestore.Client) -> dt.datetime | None:
    snap = db.collection("monitor_heartbeats").document("aggregate_and_alert").get()
    at = (snap.to_dict() or {}).get("at") if snap.exists else None
    return at if isinstance(at, dt.datetime) else None


def test_a_stalled_channel_delays_neither_evaluation_nor_the_heartbeat(
    stack: Stack, db: firestore.Client, receivers: Receivers
) -> None:
    now = degraded_traffic(stack, db)
    mail = SilentServer(hold_seconds=30)
    webhook = HttpReceiver("slow", slow_seconds=30)
    try:
        stalled = LiveTick(build(settings(mail.port, webhook.url)))
        run_tick(stalled, now)  # the default rules need two evaluations: nothing owed yet
        assert open_instances(db) == set() and owed(db) == {}

        fires = now + dt.timedelta(minutes=5)
        started = time.monotonic()
        beat_after: list[float] = []

        def watch() -> None:
            while time.monotonic() - started < 90 and not beat_after:
                if heartbeat(db) == fires:
                    beat_after.append(time.monotonic() - started)
                time.sleep(0.2)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        tick = run_tick(stalled, fires)
        took = time.monotonic() - started
        watcher.join(timeout=95)

        # Evaluated and beat on time; the tick itself took its budget, not the 30 s stall
        # (before, the heartbeat waited for two 20 s attempts on each stalled channel).
        assert open_instances(db) == EXPECTED
        assert beat_after and beat_after[0] < 25, f"heartbeat after {beat_after} s"
        assert took < 25, f"the tick took {took:.1f} s"
        assert webhook.requests and mail.accepted  # both channels were tried and stalled
        assert not any(d.ok for d in tick.report.deliveries)
        messages = owed(db)
        assert messages and {d["status"] for d in messages.values()} <= {"sending", "retrying"}

        # The sends left running give up at their own timeout and are marked for retry.
        wait_until(
            lambda: {d["status"] for d in owed(db).values()} == {"retrying"},
            timeout=CHANNEL_TIMEOUT + 30,
        )

        # The channels are back: a later tick delivers every owed message exactly once.
        webhook.mode = "ok"
        # (A budget that a loaded machine cannot overrun: this part is about exactly once.)
        healthy = LiveTick(build(settings(receivers.inbox.port, webhook.url, budget=30.0)))
        inbox_before, hooks_before = len(receivers.inbox.messages), len(webhook.requests)
        run_tick(healthy, now + dt.timedelta(minutes=10))
        delivered = owed(db)
        assert {d["status"] for d in delivered.values()} == {"sent"}
        emails = [d for d in delivered.values() if d["channel"] == "email"]
        hooks = [d for d in delivered.values() if d["channel"] == "webhook"]
        assert len(receivers.inbox.messages) - inbox_before == len(emails) > 0
        assert len(webhook.requests) - hooks_before == len(hooks) > 0
    finally:
        mail.stop()
        webhook.stop()


def test_a_send_that_outlived_its_lease_never_overwrites_the_later_runs_outcome(
    stack: Stack, db: firestore.Client
) -> None:
    at = dt.datetime.now(dt.UTC).replace(microsecond=0)
    alert_id, entry_id = "budget_rule__overall__1", "budget_rule__overall__1__1__email"
    doc = {
        "alertId": alert_id, "seq": 1, "event": "fired", "level": 0, "channel": "email",
        "ruleId": "budget_rule", "scope": "overall", "severity": "critical",
        "metric": "successRate", "value": 0.5, "threshold": 0.95, "comparator": "lt",
        "window": "1h", "occurredAt": at, "status": "pending", "attempts": 0, "runs": 0,
        "lastError": None, "createdAt": at, "nextAttemptAt": at, "sentAt": None,
    }  # fmt: skip
    db.collection("alert_notifications").document(entry_id).set(doc)
    db.collection("alert_instances").document(alert_id).set({"deliveries": {}})
    entry = OutboxEntry.from_doc(entry_id, doc)
    stalled, later = FirestoreAlertStore(db), FirestoreAlertStore(db)
    assert stalled.claim_notification(entry_id, at, CLAIM_LEASE)
    # The stalled send outlives its lease: the next tick claims the message and sends it.
    next_tick = at + dt.timedelta(minutes=5)
    assert later.claim_notification(entry_id, next_tick, CLAIM_LEASE)
    later.finish_notification(entry, {"status": "sent", "sentAt": next_tick, "runs": 1})
    # The stalled send then gives up; its outcome must not turn the sent message into a retry.
    retry = {"status": "retrying", "runs": 1, "nextAttemptAt": at + dt.timedelta(minutes=1)}
    stalled.finish_notification(entry, retry)
    stored = db.collection("alert_notifications").document(entry_id).get().to_dict() or {}
    assert stored["status"] == "sent" and stored["sentAt"] == next_tick
    instance = db.collection("alert_instances").document(alert_id).get().to_dict() or {}
    assert instance["deliveries"]["email_001"]["status"] == "sent"
