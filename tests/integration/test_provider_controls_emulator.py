"""On the real stack: an admin gives `low_success_rate` a pause_provider action over HTTP; the
degraded provider's alert fires through real trigger delivery and scheduled runs, its control
document opens, the generation service's reference reader drains its traffic, Slack hears of
it, the alert page shows it; after the cooldown it probes; an admin's release holds it closed;
every change is in the audit log."""

from __future__ import annotations

import datetime as dt

import pytest
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from clients.provider_controls import ProviderControlsReader
from local_stack.receivers import Receivers
from tests.integration.support import Stack, api
from tests.integration.test_alerting_emulator import degraded_traffic

pytestmark = pytest.mark.integration
USUAL = {"runway": 0.6, "pika": 0.4}


def test_a_rule_pauses_probes_and_an_admin_releases_the_degraded_provider(
    stack: Stack, db: firestore.Client, receivers: Receivers
) -> None:
    now = degraded_traffic(stack, db)
    assert stack.run_schedule("aggregate_and_alert", now) == 200  # seeds the default rules
    status, body = api(stack, "GET", "/alert-rules/low_success_rate")
    rule = body["rule"]
    rule["actions"] = [{"type": "pause_provider", "cooldownMinutes": 15, "probeShare": 0.2}]
    status, _ = api(stack, "PUT", "/alert-rules/low_success_rate", rule)
    assert status == 200
    bad = {**rule, "actions": [{"type": "pause_provider", "probeShare": 2}]}
    status, body = api(stack, "PUT", "/alert-rules/low_success_rate", bad)
    assert status == 400 and body["error"]["message"].startswith("actions.0.probeShare:")

    slack_before = len(receivers.slack.requests)
    fired_at = now + dt.timedelta(minutes=5)
    assert stack.run_schedule("aggregate_and_alert", fired_at) == 200
    control = db.collection("provider_controls").document("pika").get().to_dict() or {}
    assert (control["state"], control["weight"], control["by"]) == ("open", 0.0, "rule")
    assert control["until"] == fired_at + dt.timedelta(minutes=15)
    assert db.collection("provider_controls").document("runway").get().exists is False

    reader = ProviderControlsReader(db, max_age_seconds=0)
    assert all(reader.choose(USUAL, r / 50) == "runway" for r in range(50))
    posted = [r.body.decode() for r in receivers.slack.requests[slack_before:]]
    assert sum("PROVIDER_PAUSED" in p and "pika paused (weight 0)" in p for p in posted) == 1

    status, page = api(stack, "GET", f"/alerts/{control['alertId']}", role="analytics")
    assert status == 200 and page["providerControl"]["state"] == "open"
    assert page["alert"]["history"][-1]["action"] == "provider_paused"

    # After the cooldown, still firing: probe traffic (a fifth of pika's usual share).
    assert stack.run_schedule("aggregate_and_alert", fired_at + dt.timedelta(minutes=15)) == 200
    status, body = api(stack, "GET", "/provider-controls", role="analytics")
    (pika,) = [c for c in body["controls"] if c["provider"] == "pika"]
    assert (pika["state"], pika["weight"]) == ("half_open", 0.2)
    shares = [reader.choose(USUAL, r / 1000) for r in range(1000)]
    assert shares.count("pika") == pytest.approx(1000 * 0.08 / 0.68, abs=2)

    # An analytics user may not act; an admin releases, and the firing alert does not re-pause.
    assert api(stack, "POST", "/provider-controls/pika/release", {}, role="analytics")[0] == 403
    slack_before = len(receivers.slack.requests)
    status, body = api(stack, "POST", "/provider-controls/pika/release", {"reason": "fixed"})
    assert status == 200 and body["control"]["state"] == "closed"
    posted = [r.body.decode() for r in receivers.slack.requests[slack_before:]]
    assert sum("PROVIDER_RESTORED" in p for p in posted) == 1  # told at once, not next run
    assert body["control"]["by"] == "admin-uid" and body["control"]["manual"] is True
    assert stack.run_schedule("aggregate_and_alert", fired_at + dt.timedelta(minutes=20)) == 200
    stored = db.collection("provider_controls").document("pika").get().to_dict() or {}
    assert stored["state"] == "closed" and stored["weight"] == 1.0
    status, body = api(stack, "POST", "/provider-controls/pika/release", {})
    assert status == 409 and body["error"]["message"].startswith("provider:")
    status, body = api(stack, "POST", "/provider-controls/pika/pause", {"minutes": 0})
    assert status == 400 and body["error"]["message"].startswith("minutes:")

    audit = db.collection("audit_log").where(filter=FieldFilter("target", "==", "pika")).stream()
    actions = sorted((d.get("action"), d.get("uid"), d.get("outcome")) for d in audit)
    assert actions == sorted([
        ("provider.provider_paused", "rule", "ok"),
        ("provider.provider_probing", "rule", "ok"),
        ("provider.provider_restored", "admin-uid", "ok"),
        ("provider.release", "admin-uid", "ok"),
        ("provider.release", "admin-uid", "failed"),
        ("provider.pause", "admin-uid", "failed"),
    ])  # fmt: skip
