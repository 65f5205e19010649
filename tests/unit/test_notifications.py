"""Each channel against a real local server: SMTP inbox, Slack, Twilio and webhook receivers."""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import time
from urllib.parse import parse_qs

import pytest
from pydantic import SecretStr

from local_stack.receivers import HttpReceiver, SmtpInbox, free_port
from video_monitoring.adapters.http_transport import RequestsTransport
from video_monitoring.adapters.smtp import SmtpTransport
from video_monitoring.alerting.channels.base import Channel, Notification
from video_monitoring.alerting.channels.mail import EmailChannel, SmtpServer
from video_monitoring.alerting.channels.slack import SlackChannel
from video_monitoring.alerting.channels.sms import SmsChannel, TwilioAccount
from video_monitoring.alerting.channels.webhook import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookChannel,
    verify_signature,
)
from video_monitoring.alerting.notifications import (
    RetryPolicy,
    channels_from_settings,
    deliver,
    deliver_all,
)
from video_monitoring.config.settings import NotificationSettings

NOTE = Notification(
    alert_id="low_success_rate__provider-pika__20261125T120500",
    rule_id="low_success_rate",
    scope="provider:pika",
    event="firing",
    severity="critical",
    metric="successRate",
    value=0.75,
    threshold=0.95,
    comparator="lt",
    window="1h",
    level=0,
    occurred_at=dt.datetime(2026, 11, 25, 12, 5, tzinfo=dt.UTC),
    dashboard_url="http://127.0.0.1:5001/p/us-central1/video_analytics_dashboard/alerts/x",
    description="Success rate below 95%",
)
FAST = RetryPolicy(attempts=3, base_delay_seconds=0.01, max_delay_seconds=0.02, timeout_seconds=0.3)
SECRET = "s3cr3t-signing-key"
HTTP = RequestsTransport()


def test_email_arrives_over_smtp_naming_rule_scope_value_threshold_window_and_link() -> None:
    with SmtpInbox() as inbox:
        server = SmtpServer(inbox.host, inbox.port, tls="none")
        recipients = ["ops@example.com", "oncall@example.com"]
        channel = EmailChannel("monitor@example.com", recipients, SmtpTransport(server))
        assert deliver(channel, NOTE, FAST).ok
        (message,) = inbox.messages
    assert message["To"] == "ops@example.com, oncall@example.com"
    assert "low_success_rate" in message["Subject"] and "provider:pika" in message["Subject"]
    body = message.get_content()
    for text in ("successRate = 0.75", "lt 0.95", "Window:    1h", NOTE.dashboard_url):
        assert text in body


def test_slack_gets_block_kit_and_a_500_is_a_failure() -> None:
    with HttpReceiver() as slack:
        channel = SlackChannel(SecretStr(slack.url + "/services/T/B/X"), http=HTTP)
        assert deliver(channel, NOTE, FAST).ok
        payload = json.loads(slack.requests[0].body)
        assert payload["text"] == NOTE.subject()
        types = [block["type"] for block in payload["blocks"]]
        assert types == ["header", "section", "context"]
        fields = " ".join(f["text"] for f in payload["blocks"][1]["fields"])
        assert "provider:pika" in fields and "lt 0.95" in fields and "1h" in fields
        assert NOTE.dashboard_url in payload["blocks"][2]["elements"][0]["text"]
        slack.mode = "error"
        failed = deliver(channel, NOTE, FAST, sleep=lambda _: None)
        assert not failed.ok and failed.attempts == 3 and failed.error == "slack: HTTP 500"


def test_sms_speaks_twilio_form_fields_with_basic_auth_one_request_per_recipient() -> None:
    with HttpReceiver("created") as twilio:
        channel = SmsChannel(TwilioAccount(twilio.url, "AC123", SecretStr("tok")), "+15550000000",
                             ["+15551111111", "+15552222222"], http=HTTP)  # fmt: skip
        assert deliver(channel, NOTE, FAST).ok
        assert [r.path for r in twilio.requests] == ["/2010-04-01/Accounts/AC123/Messages.json"] * 2
        first = twilio.requests[0]
        form = parse_qs(first.body.decode())
        assert form["To"] == ["+15551111111"] and form["From"] == ["+15550000000"]
        assert "low_success_rate" in form["Body"][0] and len(form["Body"][0]) <= 320
        assert first.headers["Authorization"] == "Basic " + base64.b64encode(b"AC123:tok").decode()
        assert parse_qs(twilio.requests[1].body.decode())["To"] == ["+15552222222"]


def test_webhook_is_signed_and_the_signature_checks_body_and_age() -> None:
    with HttpReceiver() as hook:
        channel = WebhookChannel(SecretStr(hook.url + "/alerts"), SecretStr(SECRET), http=HTTP)
        assert deliver(channel, NOTE, FAST).ok
        request = hook.requests[0]
    body, stamp = request.body, request.headers[TIMESTAMP_HEADER]
    signature = request.headers[SIGNATURE_HEADER]
    assert json.loads(body)["alertId"] == NOTE.alert_id
    now = time.time()
    assert verify_signature(SECRET, stamp, body, signature, now)
    assert not verify_signature(SECRET, stamp, body.replace(b"0.75", b"0.99"), signature, now)
    assert not verify_signature("other-key", stamp, body, signature, now)
    assert not verify_signature(SECRET, stamp, body, signature, now + 3600)


def test_retries_back_off_exponentially_with_a_cap_and_recover() -> None:
    class Flaky:
        name = "flaky"

        def __init__(self) -> None:
            self.calls = 0

        def send(self, notification: Notification) -> None:
            self.calls += 1
            if self.calls < 4:
                raise RuntimeError("boom")

    sleeps: list[float] = []
    policy = RetryPolicy(attempts=5, base_delay_seconds=1.0, max_delay_seconds=3.0)
    result = deliver(Flaky(), NOTE, policy, sleep=sleeps.append)
    assert result.ok and result.attempts == 4
    assert sleeps == [1.0, 2.0, 3.0]


@pytest.mark.parametrize("fault", ["timeout", "refused", "500"])
def test_broken_receivers_fail_cleanly_without_raising(fault: str) -> None:
    with HttpReceiver("slow" if fault == "timeout" else "error", slow_seconds=1.0) as hook:
        url = f"http://127.0.0.1:{free_port()}/x" if fault == "refused" else hook.url
        channel = WebhookChannel(SecretStr(url), SecretStr(SECRET), timeout=0.2, http=HTTP)
        result = deliver(channel, NOTE, FAST, sleep=lambda _: None)
    assert not result.ok and result.attempts == 3
    assert result.error is not None and result.error.startswith("webhook:")


def test_one_broken_channel_never_blocks_the_others() -> None:
    with HttpReceiver() as slack, HttpReceiver("error") as hook:
        channels: dict[str, Channel] = {
            "slack": SlackChannel(SecretStr(slack.url), http=HTTP),
            "webhook": WebhookChannel(SecretStr(hook.url), SecretStr(SECRET), http=HTTP),
        }
        results = deliver_all(channels, ["webhook", "slack", "sms"], NOTE, FAST, lambda _: None)
    assert [(r.channel, r.ok) for r in results] == [
        ("webhook", False), ("slack", True), ("sms", False),
    ]  # fmt: skip
    assert results[2].error == "channel sms is not configured"
    assert len(slack.requests) == 1


def test_secrets_stay_out_of_errors_logs_and_reprs(caplog: pytest.LogCaptureFixture) -> None:
    token = "xoxb-very-secret-token"
    settings = NotificationSettings(
        slack_webhook_url=SecretStr(f"http://127.0.0.1:{free_port()}/{token}"),
        smtp_host="127.0.0.1", smtp_port=free_port(), smtp_password=SecretStr(token),
        smtp_username="u", alert_email_from="m@example.com", alert_email_to="o@example.com",
        alert_webhook_url=SecretStr(f"http://127.0.0.1:{free_port()}/{token}"),
        alert_webhook_secret=SecretStr(token),
    )  # fmt: skip
    assert token not in repr(settings)
    channels = channels_from_settings(settings, HTTP, SmtpTransport)
    assert set(channels) == {"slack", "email", "webhook"}
    with caplog.at_level(logging.DEBUG):
        results = deliver_all(channels, list(channels), NOTE, FAST, lambda _: None)
    assert [r.channel for r in results] == list(channels)  # every channel tried and failed
    assert all(not r.ok and r.error for r in results)
    assert all(token not in (r.error or "") for r in results)
    assert token not in caplog.text
