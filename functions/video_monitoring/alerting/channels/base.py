"""What every channel shares: the notification it speaks about, the channel protocol, the delivery
error (whose message never carries a secret), and the HTTP transport the web channels POST
through (adapters/http_transport.py implements it)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


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
    # Who receives it when not the channel's configured recipients ("*" stands for them).
    recipients: tuple[str, ...] = ()
    # What a rule's action did (events provider_paused, provider_probing, provider_restored,
    # provider_pause_blocked), in one sentence.
    detail: str = ""

    def addressed_to(self, configured: Sequence[str]) -> list[str]:
        """The channel's recipients for this message: its own, or the tier's, or both."""
        if not self.recipients:
            return list(configured)
        out: list[str] = []
        for who in self.recipients:
            for person in configured if who == "*" else (who,):
                if person not in out:
                    out.append(person)
        return out

    def value_text(self) -> str:
        """The value, or 'no data'."""
        return "no data" if self.value is None else f"{self.value:.4g}"

    def subject(self) -> str:
        """One line: event, severity, rule, scope, value against threshold."""
        sign = ">" if self.comparator == "gt" else "<"
        if self.detail:
            return f"[{self.event.upper()}] {self.rule_id} ({self.scope}): {self.detail}"
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
            + ([f"Action:    {self.detail}"] if self.detail else [])
        )

    def to_json(self) -> dict[str, Any]:
        """The webhook payload (stable: receivers parse it)."""
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
            "detail": self.detail,
        }


class DeliveryError(Exception):
    """A channel could not deliver; the message never carries a secret."""


class Channel(Protocol):
    """One way of telling people."""

    name: str

    def send(self, notification: Notification) -> None:
        """Deliver or raise DeliveryError."""
        ...


@dataclass(frozen=True)
class HttpAnswer:
    """What a web channel reads of an HTTP response."""

    status: int
    text: str


@dataclass(frozen=True)
class HttpPost:
    """One POST: where (its URL may hold a secret, so it is never in the repr), what it
    delivers (named in errors), its timeout, its body (JSON, a form or raw bytes), headers and
    basic auth."""

    url: str = field(repr=False)
    what: str
    timeout: float
    json: Any = None
    data: bytes | Mapping[str, str] | None = None
    headers: Mapping[str, str] | None = None
    auth: tuple[str, str] | None = field(default=None, repr=False)


class HttpTransport(Protocol):
    """Sends one HTTP POST."""

    def post(self, request: HttpPost) -> HttpAnswer:
        """The response, whatever its status; DeliveryError naming `what` when none came."""
        ...


def http_post(http: HttpTransport, request: HttpPost) -> HttpAnswer:
    """A 2xx response, or DeliveryError naming `what` and the status."""
    response = http.post(request)
    if not 200 <= response.status < 300:
        raise DeliveryError(f"{request.what}: HTTP {response.status}")
    return response
