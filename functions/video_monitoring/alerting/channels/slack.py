"""Slack: an incoming-webhook POST with Block Kit blocks and a text fallback."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import SecretStr

from video_monitoring.alerting.channels.base import (
    DeliveryError,
    HttpPost,
    HttpTransport,
    Notification,
    http_post,
)


class SlackChannel:
    """Slack incoming webhook with Block Kit."""

    name = "slack"

    def __init__(
        self,
        webhook_url: SecretStr,
        timeout: float = 5.0,
        tiers: Mapping[str, SecretStr] | None = None,
        *,
        http: HttpTransport,
    ) -> None:
        self._url = webhook_url
        self._http = http
        self._tiers = dict(tiers or {})
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

    def post(self, payload: dict[str, Any]) -> None:
        """Any message (a digest) to the configured webhook."""
        request = HttpPost(self._url.get_secret_value(), "slack", self.timeout, json=payload)
        response = http_post(self._http, request)
        if response.text.strip() != "ok":
            raise DeliveryError("slack: unexpected answer")

    def send(self, notification: Notification) -> None:
        """To the configured webhook, or the on-call tiers' (by name; "*" is the configured
        one). Slack answers 200 `ok`."""
        urls = []
        for who in notification.addressed_to(["*"]):
            if who == "*":
                urls.append(self._url)
            elif who in self._tiers:
                urls.append(self._tiers[who])
            else:
                raise DeliveryError(f"slack: no webhook for tier {who!r} (SLACK_TIERS)")
        for url in urls:
            request = HttpPost(
                url.get_secret_value(), "slack", self.timeout, json=self.payload(notification)
            )
            response = http_post(self._http, request)
            if response.text.strip() != "ok":
                raise DeliveryError("slack: unexpected answer")
