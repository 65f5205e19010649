"""Alert notification channels, each speaking its real protocol.

- email: SMTP (smtplib), a plain-text `EmailMessage`;
- Slack: an incoming-webhook POST with Block Kit `blocks` and a `text` fallback;
- SMS: Twilio's REST shape, `POST {base}/2010-04-01/Accounts/{sid}/Messages.json`, form fields
  `To`, `From`, `Body`, HTTP basic auth (sid, token); one request per recipient;
- webhook: a JSON POST signed with HMAC-SHA256 over `"{timestamp}.{body}"`
  (`X-Monitor-Timestamp`, `X-Monitor-Signature: sha256=<hex>`); receivers check it with
  `verify_signature`.

Secrets (SMTP password, Slack and webhook URLs, Twilio token, webhook secret) are `SecretStr`
settings: in production they are bound from Secret Manager as environment variables of the
function; they never appear in logs, errors or reprs.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import hmac
import json
import logging
import smtplib
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any, Protocol

import requests
from pydantic import SecretStr

from video_monitoring.config.settings import NotificationSettings

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Monitor-Signature"
TIMESTAMP_HEADER = "X-Monitor-Timestamp"


@dataclass(frozen=True)
class Notification:
    """What every channel says about one alert state change."""

    alert_id: str
    rule_id: str
    scope: str
    event: str
    severity: str
    metric: str
    value: float | None
    threshold: float
    comparator: str
    window: str
    level: int
    occurred_at: dt.datetime
    dashboard_url: str
    description: str = ""

    def value_text(self) -> str:
        """The value, or 'no data'."""
        return "no data" if self.value is None else f"{self.value:.4g}"

    def subject(self) -> str:
        """One line: event, severity, rule, scope, value against threshold."""
        sign = ">" if self.comparator == "gt" else "<"
        return (
            f"[{self.event.upper()}] {self.severity}: {self.rule_id} ({self.scope}) "
            f"{self.metric} {self.value_text()} {sign} {self.threshold:g} over {self.window}"
        )

    def text(self) -> str:
        """Plain-text body."""
        return "\n".join(
            [
                self.subject(),
                "",
                f"Rule:      {self.rule_id} {self.description}".rstrip(),
                f"Scope:     {self.scope}",
                f"Event:     {self.event} (escalation level {self.level})",
                f"Metric:    {self.metric} = {self.value_text()}",
                f"Threshold: {self.comparator} {self.threshold:g}",
                f"Window:    {self.window}",
                f"At:        {self.occurred_at.astimezone(dt.UTC).isoformat()}",
                f"Dashboard: {self.dashboard_url}",
            ]
        )

    def to_json(self) -> dict[str, Any]:
        """The webhook payload (stable, documented in the README)."""
        return {
            "alertId": self.alert_id,
            "ruleId": self.rule_id,
            "scope": self.scope,
            "event": self.event,
            "severity": self.severity,
            "metric": self.metric,
            "value": self.value,
            "threshold": self.threshold,
            "comparator": self.comparator,
            "window": self.window,
            "level": self.level,
            "occurredAt": self.occurred_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
            "dashboardUrl": self.dashboard_url,
            "description": self.description,
        }


class DeliveryError(Exception):
    """A channel could not deliver; the message never carries a secret."""


class Channel(Protocol):
    """One way of telling people."""

    name: str

    def send(self, notification: Notification) -> None:
        """Deliver or raise DeliveryError."""
        ...


def _post(url: str, timeout: float, what: str, **kwargs: Any) -> requests.Response:
    try:
        response = requests.post(url, timeout=timeout, **kwargs)
    except requests.Timeout:
        raise DeliveryError(f"{what}: timed out after {timeout:g} s") from None
    except requests.ConnectionError:
        raise DeliveryError(f"{what}: connection failed") from None
    if not 200 <= response.status_code < 300:
        raise DeliveryError(f"{what}: HTTP {response.status_code}")
    return response


class EmailChannel:
    """SMTP."""

    name = "email"

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        recipients: list[str],
        username: str | None = None,
        password: SecretStr | None = None,
        starttls: bool = False,
        timeout: float = 5.0,
    ) -> None:
        self._host, self._port, self._sender, self._recipients = host, port, sender, recipients
        self._username, self._password, self._starttls = username, password, starttls
        self.timeout = timeout

    def send(self, notification: Notification) -> None:
        """One message to every recipient."""
        message = EmailMessage()
        message["Subject"] = notification.subject()
        message["From"] = self._sender
        message["To"] = ", ".join(self._recipients)
        message["Date"] = email.utils.format_datetime(notification.occurred_at)
        message["Message-ID"] = email.utils.make_msgid(domain="video-monitoring")
        message.set_content(notification.text())
        try:
            with smtplib.SMTP(self._host, self._port, timeout=self.timeout) as smtp:
                if self._starttls:
                    smtp.starttls()
                if self._username and self._password is not None:
                    smtp.login(self._username, self._password.get_secret_value())
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as error:
            raise DeliveryError(f"email: {type(error).__name__}") from None


class SlackChannel:
    """Slack incoming webhook with Block Kit."""

    name = "slack"

    def __init__(self, webhook_url: SecretStr, timeout: float = 5.0) -> None:
        self._url = webhook_url
        self.timeout = timeout

    @staticmethod
    def payload(n: Notification) -> dict[str, Any]:
        """Block Kit message with a text fallback."""
        fields = [
            ("Rule", n.rule_id), ("Scope", n.scope), ("Value", f"{n.metric} = {n.value_text()}"),
            ("Threshold", f"{n.comparator} {n.threshold:g}"), ("Window", n.window),
            ("Severity", n.severity),
        ]  # fmt: skip
        return {
            "text": n.subject(),
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": n.subject()[:150]}},
                {
                    "type": "section",
                    "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{v}"} for k, v in fields],
                },
                {
                    "type": "context",
                    "elements": [
                        {"type": "mrkdwn", "text": f"<{n.dashboard_url}|Open in the dashboard>"}
                    ],
                },
            ],
        }

    def send(self, notification: Notification) -> None:
        """Slack answers 200 `ok`."""
        response = _post(
            self._url.get_secret_value(), self.timeout, "slack", json=self.payload(notification)
        )
        if response.text.strip() != "ok":
            raise DeliveryError("slack: unexpected answer")


class SmsChannel:
    """Twilio's Messages REST API."""

    name = "sms"

    def __init__(
        self,
        base_url: str,
        account_sid: str,
        auth_token: SecretStr,
        from_number: str,
        to_numbers: list[str],
        timeout: float = 5.0,
    ) -> None:
        self._base, self._sid, self._token = base_url.rstrip("/"), account_sid, auth_token
        self._from, self._to = from_number, to_numbers
        self.timeout = timeout

    def send(self, notification: Notification) -> None:
        """One message per recipient."""
        url = f"{self._base}/2010-04-01/Accounts/{self._sid}/Messages.json"
        body = f"{notification.subject()} {notification.dashboard_url}"[:320]
        for number in self._to:
            _post(
                url, self.timeout, "sms",
                data={"To": number, "From": self._from, "Body": body},
                auth=(self._sid, self._token.get_secret_value()),
            )  # fmt: skip


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex>` of HMAC-SHA256 over `timestamp.body`."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def verify_signature(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    now: float,
    tolerance_seconds: float = 300,
) -> bool:
    """For receivers: the signature matches and the timestamp is recent (replay protection)."""
    try:
        age = abs(now - float(timestamp))
    except ValueError:
        return False
    return age <= tolerance_seconds and hmac.compare_digest(
        sign(secret, timestamp, body), signature
    )


class WebhookChannel:
    """Generic signed JSON webhook."""

    name = "webhook"

    def __init__(
        self,
        url: SecretStr,
        secret: SecretStr,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._url, self._secret, self.timeout, self._clock = url, secret, timeout, clock

    def send(self, notification: Notification) -> None:
        """POST the payload with timestamp and signature headers."""
        body = json.dumps(notification.to_json(), separators=(",", ":")).encode()
        timestamp = str(int(self._clock()))
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(self._secret.get_secret_value(), timestamp, body),
        }
        _post(self._url.get_secret_value(), self.timeout, "webhook", data=body, headers=headers)


@dataclass(frozen=True)
class RetryPolicy:
    """Attempts within one delivery, exponential backoff with a cap, per-request timeout."""

    attempts: int = 4
    base_delay_seconds: float = 0.5
    max_delay_seconds: float = 8.0
    timeout_seconds: float = 5.0

    def delay(self, retry: int) -> float:
        """Sleep before retry number `retry` (0-based)."""
        return float(min(self.base_delay_seconds * 2**retry, self.max_delay_seconds))


@dataclass(frozen=True)
class DeliveryResult:
    """Outcome of delivering one notification on one channel."""

    channel: str
    ok: bool
    attempts: int
    error: str | None


def deliver(
    channel: Channel,
    notification: Notification,
    policy: RetryPolicy = RetryPolicy(),
    sleep: Callable[[float], None] = time.sleep,
) -> DeliveryResult:
    """Send with retries; never raises."""
    error: str | None = None
    for attempt in range(1, policy.attempts + 1):
        try:
            channel.send(notification)
        except DeliveryError as failure:
            error = str(failure)
        except Exception as failure:  # a channel bug must not stop the run
            error = f"{channel.name}: {type(failure).__name__}"
        else:
            log.info("alert %s: %s delivered (attempt %d)", notification.alert_id,
                     channel.name, attempt)  # fmt: skip
            return DeliveryResult(channel.name, True, attempt, None)
        log.warning("alert %s: %s attempt %d failed: %s", notification.alert_id, channel.name,
                    attempt, error)  # fmt: skip
        if attempt < policy.attempts:
            sleep(policy.delay(attempt - 1))
    return DeliveryResult(channel.name, False, policy.attempts, error)


def deliver_all(
    channels: Mapping[str, Channel],
    names: Iterable[str],
    notification: Notification,
    policy: RetryPolicy = RetryPolicy(),
    sleep: Callable[[float], None] = time.sleep,
) -> list[DeliveryResult]:
    """Each named channel independently and concurrently; results in the order of names."""
    wanted = list(names)

    def one(name: str) -> DeliveryResult:
        channel = channels.get(name)
        if channel is None:
            return DeliveryResult(name, False, 0, f"channel {name} is not configured")
        return deliver(channel, notification, policy, sleep)

    if not wanted:
        return []
    with ThreadPoolExecutor(max_workers=len(wanted)) as pool:
        return list(pool.map(one, wanted))


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def channels_from_settings(s: NotificationSettings) -> dict[str, Channel]:
    """Only the channels whose required settings are present."""
    channels: dict[str, Channel] = {}
    timeout = s.notify_timeout_seconds
    if s.smtp_host and s.alert_email_from and _split(s.alert_email_to):
        channels["email"] = EmailChannel(
            s.smtp_host, s.smtp_port, s.alert_email_from, _split(s.alert_email_to),
            s.smtp_username, s.smtp_password, s.smtp_starttls, timeout,
        )  # fmt: skip
    if s.slack_webhook_url is not None:
        channels["slack"] = SlackChannel(s.slack_webhook_url, timeout)
    if (
        s.twilio_account_sid
        and s.twilio_auth_token is not None
        and s.twilio_from_number
        and _split(s.alert_sms_to)
    ):
        channels["sms"] = SmsChannel(
            s.twilio_base_url, s.twilio_account_sid, s.twilio_auth_token,
            s.twilio_from_number, _split(s.alert_sms_to), timeout,
        )  # fmt: skip
    if s.alert_webhook_url is not None and s.alert_webhook_secret is not None:
        channels["webhook"] = WebhookChannel(s.alert_webhook_url, s.alert_webhook_secret, timeout)
    return channels
