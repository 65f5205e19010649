"""What alerting keeps: the state of each (rule, scope), alert instances with their history, and
the transitions the state machine returns with the notifications they owe."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["pending", "firing", "acknowledged", "suppressed", "resolved"]
OPEN_STATUSES: frozenset[str] = frozenset({"pending", "firing", "acknowledged", "suppressed"})
Condition = Literal["breach", "clear", "nodata"]


@dataclass(frozen=True)
class Measurement:
    """A metric's value in one window and scope, with what a judge needs to trust it."""

    value: float | None
    samples: int
    successes: int | None = None  # rate metrics: numerator (value = successes / samples)
    baseline: tuple[float, ...] = ()  # anomaly rules: the same hour on previous days


@dataclass(frozen=True)
class Judgement:
    """What one evaluation concluded, kept on the instance for the operator."""

    condition: Condition
    value: float | None
    samples: int
    bound: float | None = None  # the Wilson bound or z-score actually compared
    reason: str = ""


@dataclass(frozen=True)
class HistoryEntry:
    """Who did what to an alert instance, and when."""

    at: dt.datetime
    action: str
    by: str
    detail: str = ""

    def to_doc(self) -> dict[str, Any]:
        """Stored form."""
        return {"at": self.at, "action": self.action, "by": self.by, "detail": self.detail}


@dataclass(frozen=True)
class Instance:
    """One alert instance: a (rule, scope) from first breach until it is resolved."""

    instance_id: str
    rule_id: str
    scope: str
    status: Status
    severity: str
    metric: str
    comparator: str
    threshold: float
    window: str
    value: float | None
    samples: int
    opened_at: dt.datetime
    fired_at: dt.datetime | None = None
    level: int = 0
    last_notified_at: dt.datetime | None = None
    acknowledged_at: dt.datetime | None = None
    acknowledged_by: str | None = None
    suppressed_until: dt.datetime | None = None
    resumes_as: Status | None = None  # status to return to when a suppression ends
    resolved_at: dt.datetime | None = None
    resolved_by: str | None = None
    resolution: str | None = None
    notification_seq: int = 0
    history: tuple[HistoryEntry, ...] = ()

    @property
    def is_open(self) -> bool:
        """Not resolved."""
        return self.status in OPEN_STATUSES

    def to_doc(self) -> dict[str, Any]:
        """The `alert_instances` document."""
        return {
            "alertId": self.instance_id,
            "ruleId": self.rule_id,
            "scope": self.scope,
            "status": self.status,
            "open": self.is_open,
            "severity": self.severity,
            "metric": self.metric,
            "comparator": self.comparator,
            "threshold": self.threshold,
            "window": self.window,
            "value": self.value,
            "samples": self.samples,
            "openedAt": self.opened_at,
            "firedAt": self.fired_at,
            "level": self.level,
            "lastNotifiedAt": self.last_notified_at,
            "acknowledgedAt": self.acknowledged_at,
            "acknowledgedBy": self.acknowledged_by,
            "suppressedUntil": self.suppressed_until,
            "resumesAs": self.resumes_as,
            "resolvedAt": self.resolved_at,
            "resolvedBy": self.resolved_by,
            "resolution": self.resolution,
            "notificationSeq": self.notification_seq,
            "history": [h.to_doc() for h in self.history],
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Instance:
        """Inverse of to_doc."""
        return cls(
            instance_id=doc["alertId"],
            rule_id=doc["ruleId"],
            scope=doc["scope"],
            status=doc["status"],
            severity=doc["severity"],
            metric=doc["metric"],
            comparator=doc["comparator"],
            threshold=float(doc["threshold"]),
            window=doc["window"],
            value=doc.get("value"),
            samples=int(doc.get("samples") or 0),
            opened_at=doc["openedAt"],
            fired_at=doc.get("firedAt"),
            level=int(doc.get("level") or 0),
            last_notified_at=doc.get("lastNotifiedAt"),
            acknowledged_at=doc.get("acknowledgedAt"),
            acknowledged_by=doc.get("acknowledgedBy"),
            suppressed_until=doc.get("suppressedUntil"),
            resumes_as=doc.get("resumesAs"),
            resolved_at=doc.get("resolvedAt"),
            resolved_by=doc.get("resolvedBy"),
            resolution=doc.get("resolution"),
            notification_seq=int(doc.get("notificationSeq") or 0),
            history=tuple(
                HistoryEntry(h["at"], h["action"], h["by"], h.get("detail", ""))
                for h in doc.get("history") or []
            ),
        )


@dataclass(frozen=True)
class AlertState:
    """Evaluation memory of one (rule, scope)."""

    rule_id: str
    scope: str
    breach_streak: int = 0
    clear_streak: int = 0
    last_tick: dt.datetime | None = None
    open_instance_id: str | None = None

    def to_doc(self) -> dict[str, Any]:
        """The `alert_states` document."""
        return {
            "ruleId": self.rule_id,
            "scope": self.scope,
            "breachStreak": self.breach_streak,
            "clearStreak": self.clear_streak,
            "lastTick": self.last_tick,
            "openInstanceId": self.open_instance_id,
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> AlertState:
        """Inverse of to_doc."""
        return cls(
            rule_id=doc["ruleId"],
            scope=doc["scope"],
            breach_streak=int(doc.get("breachStreak") or 0),
            clear_streak=int(doc.get("clearStreak") or 0),
            last_tick=doc.get("lastTick"),
            open_instance_id=doc.get("openInstanceId"),
        )


@dataclass(frozen=True)
class Outbound:
    """A notification owed: which instance, which event, which channels, in what order."""

    instance_id: str
    seq: int
    event: str
    level: int
    channels: tuple[str, ...]
    at: dt.datetime
    # Per channel, who receives it when not the channel's configured recipients: addresses or
    # numbers, "*" standing for the configured ones (on-call tiers; see EscalationLevel).
    recipients: tuple[tuple[str, tuple[str, ...]], ...] = ()
    detail: str = ""  # what a rule's action did (provider controls)

    def recipients_of(self, channel: str) -> tuple[str, ...]:
        """Who receives it on `channel` (empty: the channel's configured recipients)."""
        return dict(self.recipients).get(channel, ())


@dataclass(frozen=True)
class Transition:
    """The result of an evaluation or action: new state, instance (None: delete it), messages."""

    state: AlertState
    instance: Instance | None
    delete_instance_id: str | None = None
    outbound: tuple[Outbound, ...] = ()
    judgement: Judgement | None = None
    changed: bool = True
    notes: list[str] = field(default_factory=list)


def state_key(rule_id: str, scope: str) -> str:
    """Id of the (rule, scope) state document."""
    return f"{rule_id}__{scope.replace(':', '-')}"


def instance_id_for(rule_id: str, scope: str, opened_at: dt.datetime) -> str:
    """Deterministic id: a rerun of the tick that opened it opens the same document."""
    return f"{state_key(rule_id, scope)}__{opened_at.strftime('%Y%m%dT%H%M%S')}"
