"""What the alerting service needs from storage (the AlertStore protocol), and the outbox
documents a transition owes: one per message and channel, with a deterministic id so a rerun that
owes the same message writes the same document."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from video_monitoring.alerting.backtest import StoredRun
from video_monitoring.alerting.channels.base import Notification
from video_monitoring.alerting.records import AlertState, Instance, Outbound, Transition
from video_monitoring.alerting.rules import SCOPE_KINDS, AlertRule

Compute = Callable[[AlertState | None, Instance | None], Transition | None]


@dataclass(frozen=True)
class OutboxEntry:
    """One message to one channel, as stored in `alert_notifications`: what the channel says
    (the notification, without the dashboard link, which the manager adds) and how its delivery
    went so far."""

    entry_id: str
    channel: str
    seq: int
    notification: Notification
    attempts: int = 0
    runs: int = 0

    @classmethod
    def from_doc(cls, entry_id: str, data: Mapping[str, Any]) -> OutboxEntry:
        """The entry from its stored document (written by `outbox_docs`)."""
        value = data.get("value")
        return cls(
            entry_id=entry_id,
            channel=str(data["channel"]),
            seq=int(data["seq"]),
            notification=Notification(
                alert_id=str(data["alertId"]),
                rule_id=str(data["ruleId"]),
                scope=str(data["scope"]),
                event=str(data["event"]),
                severity=str(data["severity"]),
                metric=str(data["metric"]),
                value=None if value is None else float(value),
                threshold=float(data["threshold"]),
                comparator=str(data["comparator"]),
                window=str(data["window"]),
                level=int(data.get("level") or 0),
                occurred_at=data["occurredAt"],
                dashboard_url="",
                description=str(data.get("description") or ""),
                recipients=tuple(str(r) for r in data.get("recipients") or ()),
                detail=str(data.get("detail") or ""),
            ),
            attempts=int(data.get("attempts") or 0),
            runs=int(data.get("runs") or 0),
        )

    @property
    def alert_id(self) -> str:
        """The alert instance the message is about."""
        return self.notification.alert_id

    @property
    def delivery_key(self) -> str:
        """Key of this message's delivery record on its instance: channel and sequence."""
        return delivery_key(self.channel, self.seq)


@dataclass(frozen=True)
class Delivery:
    """How one message about an alert went to one channel: its outbox record as the console
    shows it (status pending, sending, retrying, sent or abandoned)."""

    channel: str
    seq: int
    event: str
    status: str
    attempts: int
    last_error: str | None
    created_at: dt.datetime | None
    sent_at: dt.datetime | None

    @classmethod
    def from_doc(cls, data: Mapping[str, Any]) -> Delivery:
        """The record from its `alert_notifications` document."""
        error = data.get("lastError")
        return cls(
            channel=str(data["channel"]),
            seq=int(data["seq"]),
            event=str(data.get("event") or ""),
            status=str(data.get("status") or "pending"),
            attempts=int(data.get("attempts") or 0),
            last_error=None if error is None else str(error),
            created_at=data.get("createdAt"),
            sent_at=data.get("sentAt"),
        )

    def to_json(self) -> dict[str, Any]:
        """The API form (GET /alerts/{alertId})."""
        return {
            "channel": self.channel,
            "seq": self.seq,
            "event": self.event,
            "status": self.status,
            "attempts": self.attempts,
            "lastError": self.last_error,
            "createdAt": self.created_at,
            "sentAt": self.sent_at,
        }


@dataclass(frozen=True)
class FigurePoint:
    """A rule metric's value in one scope and window as one scheduled run measured it."""

    at: dt.datetime
    value: float | None


def outbox_id(instance_id: str, seq: int, channel: str) -> str:
    """Deterministic: a rerun that owes the same message writes the same document."""
    return f"{instance_id}__{seq:03d}__{channel}"


def delivery_key(channel: str, seq: int) -> str:
    """Key of a message's delivery record on its instance: channel and sequence number."""
    return f"{channel}_{seq:03d}"


def outbox_docs(transition: Transition, rule: AlertRule | None) -> list[tuple[str, dict[str, Any]]]:
    """The outbox documents a transition owes, with everything a channel needs to speak; each
    is due from the time it was owed (the tick, or the moment of an admin's action)."""
    instance = transition.instance
    docs: list[tuple[str, dict[str, Any]]] = []
    if instance is None:
        return docs
    for out in transition.outbound:
        for channel in out.channels:
            docs.append((outbox_id(out.instance_id, out.seq, channel), _outbox_doc(
                out, channel, instance, rule, out.at
            )))  # fmt: skip
    return docs


def _outbox_doc(
    out: Outbound, channel: str, instance: Instance, rule: AlertRule | None, now: dt.datetime
) -> dict[str, Any]:
    return {
        "alertId": out.instance_id,
        "seq": out.seq,
        "event": out.event,
        "level": out.level,
        "channel": channel,
        "ruleId": instance.rule_id,
        "scope": instance.scope,
        "severity": instance.severity,
        "metric": instance.metric,
        "value": instance.value,
        "threshold": instance.threshold,
        "comparator": instance.comparator,
        "window": instance.window,
        "description": rule.description if rule is not None else "",
        "recipients": list(out.recipients_of(channel)),
        "detail": out.detail,
        "occurredAt": out.at,
        "status": "pending",
        "attempts": 0,
        "runs": 0,
        "lastError": None,
        "createdAt": now,
        "nextAttemptAt": now,
        "sentAt": None,
    }


class AlertStore(Protocol):
    """What the alert manager needs from storage."""

    def seed_rules(self, rules: Iterable[AlertRule]) -> list[str]:
        """Create the rules that do not exist yet and bring defaults nobody edited up to date;
        ids created or updated. An edited rule is never overwritten."""
        ...

    def load_rules(self) -> tuple[list[AlertRule], list[str]]:
        """Valid rules, and one message per stored rule that does not validate."""
        ...

    def get_rule(self, rule_id: str) -> AlertRule | None:
        """One rule."""
        ...

    def put_rule(self, rule: AlertRule, by: str, now: dt.datetime) -> None:
        """Create or replace a rule."""
        ...

    def create_rule(self, rule: AlertRule, by: str, now: dt.datetime) -> bool:
        """Create a rule; False when one with its id exists (nothing written)."""
        ...

    def delete_rule(self, rule_id: str) -> None:
        """Delete a rule and every (rule, scope) state of it."""
        ...

    def load_states(self) -> dict[str, AlertState]:
        """Every (rule, scope) state by state key."""
        ...

    def load_instances(self, open_only: bool) -> dict[str, Instance]:
        """Alert instances by id."""
        ...

    def get_instance(self, instance_id: str) -> Instance | None:
        """One instance."""
        ...

    def instances_opened(self, start: dt.datetime, end: dt.datetime) -> list[Instance]:
        """Instances opened in [start, end), newest first."""
        ...

    def transact(
        self, key: str, instance_id: str | None, rule: AlertRule | None, compute: Compute
    ) -> Transition | None:
        """Atomically: read state `key` and the instance (given, or the state's open one),
        compute, write state, instance and outbox."""
        ...

    def due_notifications(self, now: dt.datetime, limit: int) -> list[OutboxEntry]:
        """Outbox entries waiting for delivery whose next attempt is due."""
        ...

    def claim_notification(self, entry_id: str, now: dt.datetime, lease: dt.timedelta) -> bool:
        """Take an entry for delivery; False when another run holds or finished it."""
        ...

    def finish_notification(self, entry: OutboxEntry, update: Mapping[str, Any]) -> None:
        """Record a delivery outcome on the entry and on its alert instance."""
        ...

    def write_system_metrics(self, docs: Iterable[tuple[str, Mapping[str, Any]]]) -> int:
        """Overwrite `system_performance_metrics` documents by id; count written."""
        ...

    def deliveries(self, alert_id: str) -> list[Delivery]:
        """Every message owed about an alert, by sequence then channel."""
        ...

    def figure(
        self, metric: str, scope: str, window: str, start: dt.datetime, end: dt.datetime
    ) -> list[FigurePoint]:
        """A rule metric of one scope and rule window as each run in [start, end) measured it
        (from the system metric documents), oldest first."""
        ...

    def rule_values(
        self, metric: str, scope: str, window: str, ticks: list[dt.datetime]
    ) -> list[float | None]:
        """A rule metric as the runs at exactly these ticks measured it (None where no run
        did), in the order given."""
        ...

    def rule_runs(
        self,
        metric: str,
        window: str,
        start: dt.datetime,
        end: dt.datetime,
        kinds: Sequence[str] = SCOPE_KINDS,
    ) -> list[StoredRun]:
        """The measurement of a rule metric in one rule window by each run in [start, end), in
        every scope of these kinds (what a backtest replays)."""
        ...
