"""On-call tiers: an escalation level's own recipients hear the escalation (and only they), and
what follows goes to the configured recipients and every tier reached; real channels address
them (mail To header, one SMS per number)."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.unit.test_alert_manager import degraded_world
from video_monitoring.alerting.channels.base import Notification
from video_monitoring.alerting.rules import AlertRule, parse_rule
from video_monitoring.core.errors import InvalidArgument

ONCALL = {"email": ["oncall@acme.example"], "sms": ["+15550001111", "+15550002222"]}


def with_tier(rule: AlertRule) -> AlertRule:
    doc = rule.to_doc()
    doc["escalation"] = [{"afterMinutes": 15, "channels": ["sms", "email"], "recipients": ONCALL}]
    doc["repeatIntervalMinutes"] = 10
    return AlertRule.model_validate(doc)


def test_the_tier_hears_the_escalation_and_everything_after_it() -> None:
    world = degraded_world()
    world.manager.rule_book.seed_default_rules()
    rule = world.alerts.rules["low_success_rate"]
    world.alerts.put_rule(with_tier(rule), "ops", world.clock.now)
    world.tick()
    world.tick()  # fired at NOW + 5 min, to the configured recipients
    first = [n for n in world.channels["email"].sent if n.rule_id == "low_success_rate"]
    assert {n.recipients for n in first} == {()}
    for _ in range(3):
        world.tick()  # NOW + 20: escalation
    escalated = [n for n in world.channels["sms"].sent if n.event == "escalated"]
    assert {n.recipients for n in escalated} == {("+15550001111", "+15550002222")}
    mails = [n for n in world.channels["email"].sent if n.event == "escalated"]
    assert {n.recipients for n in mails} == {("oncall@acme.example",)}
    world.tick()
    world.tick()  # NOW + 30: ten minutes after the escalation, a repeat to everyone told
    repeats = [
        n for n in world.channels["email"].sent
        if n.event == "repeat" and n.rule_id == "low_success_rate" and n.level == 1
    ]  # fmt: skip
    assert repeats and {n.recipients for n in repeats} == {("*", "oncall@acme.example")}
    slack = [
        n for n in world.channels["slack"].sent
        if n.event == "repeat" and n.rule_id == "low_success_rate" and n.level == 1
    ]  # fmt: skip
    assert slack and {n.recipients for n in slack} == {
        ()
    }  # no tier on Slack: its configured webhook


def test_channels_address_the_tier() -> None:
    note = Notification(
        "a", "r", "overall", "escalated", "critical", "successRate", 0.8, 0.95, "lt", "1h", 1,
        dt.datetime(2026, 11, 30, tzinfo=dt.UTC), "https://console/alerts/a",
        recipients=("*", "oncall@acme.example"),
    )  # fmt: skip
    assert note.addressed_to(["ops@acme.example"]) == ["ops@acme.example", "oncall@acme.example"]
    only = Notification(**{**note.__dict__, "recipients": ("+15550001111",)})
    assert only.addressed_to(["+15559999999"]) == ["+15550001111"]
    plain = Notification(**{**note.__dict__, "recipients": ()})
    assert plain.addressed_to(["ops@acme.example"]) == ["ops@acme.example"]


@pytest.mark.parametrize(
    ("recipients", "field"),
    [({"email": ["not-an-address"]}, "email"), ({"sms": ["5550001111"]}, "sms"),
     ({"pager": ["x"]}, "pager")],
)  # fmt: skip
def test_tier_recipients_are_validated(recipients: dict[str, list[str]], field: str) -> None:
    doc = {"afterMinutes": 15, "channels": ["sms"], "recipients": recipients}
    with pytest.raises(ValueError, match=field):
        AlertRule.model_validate({"ruleId": "r", "metric": "successRate", "escalation": [doc]})


def test_a_slack_tier_without_a_webhook_is_a_delivery_error_naming_it() -> None:
    from pydantic import SecretStr

    from video_monitoring.adapters.http_transport import RequestsTransport
    from video_monitoring.alerting.channels.base import DeliveryError
    from video_monitoring.alerting.channels.slack import SlackChannel

    note = Notification(
        "a", "r", "overall", "escalated", "critical", "successRate", 0.8, 0.95, "lt", "1h", 1,
        dt.datetime(2026, 11, 30, tzinfo=dt.UTC), "https://console/alerts/a",
        recipients=("leads",),
    )  # fmt: skip
    channel = SlackChannel(
        SecretStr("http://127.0.0.1:9/never"), 1.0, {"oncall": SecretStr("x")},
        http=RequestsTransport(),
    )  # fmt: skip
    with pytest.raises(DeliveryError, match="no webhook for tier 'leads'"):
        channel.send(note)


@pytest.mark.parametrize(
    ("channel", "bad", "message"),
    [
        ("email", "oncall-at-acme", "not an email address: 'oncall-at-acme'"),
        ("sms", "5550001111", "not an E.164 phone number (+ and digits): '5550001111'"),
        ("slack", "On Call", "not a Slack tier name (a-z, 0-9, - and _): 'On Call'"),
    ],
)
def test_a_tier_recipient_in_the_wrong_form_is_a_400_naming_it(
    channel: str, bad: str, message: str
) -> None:
    good = {"email": ["a@b.example"], "sms": ["+15550001111"], "slack": ["oncall"]}
    level = {"afterMinutes": 15, "channels": ["sms", "email", "slack"],
             "recipients": {**good, channel: [*good[channel], bad]}}  # fmt: skip
    body = {"ruleId": "r", "metric": "total", "escalation": [level]}
    with pytest.raises(InvalidArgument) as raised:
        parse_rule(body)
    assert str(raised.value) == f"escalation.0.recipients.{channel}: Value error, {message}"
