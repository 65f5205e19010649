"""Delivering alert notifications: the channels the settings turn on (alerting/channels/, one
module per channel), and delivery with retries and exponential backoff, each channel on its own
so one failing channel never holds up another. Secrets (SMTP password, Slack and webhook URLs,
Twilio token, webhook secret) are `SecretStr` settings: bound from Secret Manager as environment
variables of the function in production, never in logs, errors or reprs."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from video_monitoring.alerting.channels.base import (
    Channel,
    DeliveryError,
    HttpTransport,
    Notification,
)
from video_monitoring.alerting.channels.mail import EmailChannel, MailConnector, SmtpServer
from video_monitoring.alerting.channels.slack import SlackChannel
from video_monitoring.alerting.channels.sms import SmsChannel, TwilioAccount
from video_monitoring.alerting.channels.webhook import WebhookChannel
from video_monitoring.config.settings import NotificationSettings
from video_monitoring.core.backoff import Backoff
from video_monitoring.core.budget import Budget

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """Attempts within one delivery, exponential backoff with a cap, per-request timeout."""

    attempts: int = 4
    base_delay_seconds: float = 0.5
    max_delay_seconds: float = 8.0
    timeout_seconds: float = 5.0

    @property
    def backoff(self) -> Backoff:
        """The waits between attempts."""
        return Backoff(self.base_delay_seconds, self.max_delay_seconds, retries=self.attempts - 1)

    def delay(self, retry: int) -> float:
        """Sleep before retry number `retry` (0-based)."""
        return self.backoff.delay(retry)


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
    budget: Budget | None = None,
) -> DeliveryResult:
    """Send with retries, none started once the budget is spent (a later run retries);
    never raises."""
    error: str | None = None
    for attempt in range(1, policy.attempts + 1):
        if attempt > 1 and budget is not None and budget.spent():
            return DeliveryResult(channel.name, False, attempt - 1, f"{error}; time budget spent")
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


@dataclass(frozen=True)
class Delivery:
    """How alerts reach people: the channels by name, the retry policy of each delivery, and
    how a retry waits (injected, so a test does not)."""

    channels: Mapping[str, Channel]
    policy: RetryPolicy = RetryPolicy()
    sleep: Callable[[float], None] = time.sleep


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def channels_from_settings(
    s: NotificationSettings, http: HttpTransport, mail: MailConnector
) -> dict[str, Channel]:
    """Only the channels whose required settings are present, and of those only the ones
    `ALERT_CHANNELS` names when it is set; the web channels POST through `http`, email goes
    through the transport `mail` opens to the SMTP server."""
    channels = _configured(s, http, mail)
    named = {c.strip() for c in s.alert_channels.split(",") if c.strip()}
    return {name: channel for name, channel in channels.items() if not named or name in named}


def _configured(
    s: NotificationSettings, http: HttpTransport, mail: MailConnector
) -> dict[str, Channel]:
    channels: dict[str, Channel] = {}
    timeout = s.notify_timeout_seconds
    if s.smtp_host and s.alert_email_from and _split(s.alert_email_to):
        server = SmtpServer(
            s.smtp_host, s.smtp_port, s.smtp_username, s.smtp_password, s.smtp_tls, timeout,
            s.smtp_ca_bundle,
        )  # fmt: skip
        channels["email"] = EmailChannel(s.alert_email_from, _split(s.alert_email_to), mail(server))
    if s.slack_webhook_url is not None:
        channels["slack"] = SlackChannel(
            s.slack_webhook_url, timeout, s.slack_tier_webhooks(), http=http
        )
    if (
        s.twilio_account_sid
        and s.twilio_auth_token is not None
        and s.twilio_from_number
        and _split(s.alert_sms_to)
    ):
        channels["sms"] = SmsChannel(
            TwilioAccount(s.twilio_base_url, s.twilio_account_sid, s.twilio_auth_token),
            s.twilio_from_number, _split(s.alert_sms_to), timeout, http=http,
        )  # fmt: skip
    if s.alert_webhook_url is not None and s.alert_webhook_secret is not None:
        channels["webhook"] = WebhookChannel(
            s.alert_webhook_url, s.alert_webhook_secret, timeout, http=http
        )
    return channels
