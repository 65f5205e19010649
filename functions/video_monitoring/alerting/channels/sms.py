"""SMS through Twilio's REST API: one form POST per recipient, HTTP basic auth (sid, token)."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import SecretStr

from video_monitoring.alerting.channels.base import HttpPost, HttpTransport, Notification, http_post


@dataclass(frozen=True)
class TwilioAccount:
    """The Twilio API and the account messages are sent from (TWILIO_* settings)."""

    base_url: str
    account_sid: str
    auth_token: SecretStr


class SmsChannel:
    """Twilio's Messages REST API."""

    name = "sms"

    def __init__(
        self,
        account: TwilioAccount,
        from_number: str,
        to_numbers: list[str],
        timeout: float = 5.0,
        *,
        http: HttpTransport,
    ) -> None:
        self._http = http
        self._base = account.base_url.rstrip("/")
        self._sid, self._token = account.account_sid, account.auth_token
        self._from, self._to = from_number, to_numbers
        self.timeout = timeout

    def send(self, notification: Notification) -> None:
        """One message per recipient."""
        url = f"{self._base}/2010-04-01/Accounts/{self._sid}/Messages.json"
        body = f"{notification.subject()} {notification.dashboard_url}"[:320]
        for number in notification.addressed_to(self._to):
            http_post(self._http, HttpPost(
                url, "sms", self.timeout,
                data={"To": number, "From": self._from, "Body": body},
                auth=(self._sid, self._token.get_secret_value()),
            ))  # fmt: skip
