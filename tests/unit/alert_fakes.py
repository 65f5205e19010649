"""In-memory AlertStore and a recording channel, for the alert manager's unit tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from video_monitoring.alerting.alert_store import (
    Compute,
    Delivery,
    FigurePoint,
    OutboxEntry,
    outbox_docs,
)
from video_monitoring.alerting.backtest import StoredRun, stored_run
from video_monitoring.alerting.channels.base import DeliveryError, Notification
from video_monitoring.alerting.controls import Change, ProviderControl
from video_monitoring.alerting.metrics import system_metrics_id
from video_monitoring.alerting.records import AlertState, Instance, Transition
from video_monitoring.alerting.rules import SCOPE_KINDS, AlertRule


class FakeAlertStore:
    """Dicts instead of collections; `transact` applies atomically like the Firestore one."""

    def __init__(self) -> None:
        self.rules: dict[str, AlertRule] = {}
        self.states: dict[str, AlertState] = {}
        self.instances: dict[str, Instance] = {}
        self.outbox: dict[str, dict[str, Any]] = {}
        self.delivered: dict[str, dict[str, Any]] = {}
        self.system_metrics: dict[str, dict[str, Any]] = {}
        self.seeded: set[str] = set()  # rules created by seeding and never edited
        self.controls: dict[str, ProviderControl] = {}

    def seed_rules(self, rules: Iterable[AlertRule]) -> list[str]:
        """Create missing rules; replace seeded ones nobody edited when the default changed."""
        changed = []
        for rule in rules:
            stored = self.rules.get(rule.rule_id)
            if stored is None or (rule.rule_id in self.seeded and stored != rule):
                self.rules[rule.rule_id] = rule
                self.seeded.add(rule.rule_id)
                changed.append(rule.rule_id)
        return changed

    def load_rules(self) -> tuple[list[AlertRule], list[str]]:
        """All rules."""
        return list(self.rules.values()), []

    def get_rule(self, rule_id: str) -> AlertRule | None:
        """One rule."""
        return self.rules.get(rule_id)

    def put_rule(self, rule: AlertRule, by: str, now: dt.datetime) -> None:
        """Replace (an edited rule is no longer a seeded default)."""
        self.rules[rule.rule_id] = rule
        self.seeded.discard(rule.rule_id)

    def create_rule(self, rule: AlertRule, by: str, now: dt.datetime) -> bool:
        """Create unless the id is taken."""
        if rule.rule_id in self.rules:
            return False
        self.rules[rule.rule_id] = rule
        return True

    def delete_rule(self, rule_id: str) -> None:
        """The rule and its states."""
        self.rules.pop(rule_id, None)
        self.seeded.discard(rule_id)
        self.states = {k: v for k, v in self.states.items() if v.rule_id != rule_id}

    def load_states(self) -> dict[str, AlertState]:
        """All states."""
        return dict(self.states)

    def load_instances(self, open_only: bool) -> dict[str, Instance]:
        """Instances."""
        return {k: v for k, v in self.instances.items() if v.is_open or not open_only}

    def get_instance(self, instance_id: str) -> Instance | None:
        """One instance."""
        return self.instances.get(instance_id)

    def instances_opened(self, start: dt.datetime, end: dt.datetime) -> list[Instance]:
        """Opened in the window, newest first."""
        found = [i for i in self.instances.values() if start <= i.opened_at < end]
        return sorted(found, key=lambda i: i.opened_at, reverse=True)

    def transact(
        self, key: str, instance_id: str | None, rule: AlertRule | None, compute: Compute
    ) -> Transition | None:
        """Read, compute, write."""
        state = self.states.get(key)
        wanted = instance_id or (state.open_instance_id if state else None)
        result = compute(state, self.instances.get(wanted or ""))
        if result is None or not result.changed:
            return result
        self.states[key] = result.state
        if result.delete_instance_id:
            self.instances.pop(result.delete_instance_id, None)
        if result.instance is not None:
            self.instances[result.instance.instance_id] = result.instance
        for entry_id, doc in outbox_docs(result, rule):
            self.outbox[entry_id] = doc
        return result

    def due_notifications(self, now: dt.datetime, limit: int) -> list[OutboxEntry]:
        """Entries not sent and due."""
        due = [
            OutboxEntry.from_doc(k, v)
            for k, v in sorted(self.outbox.items(), key=lambda kv: kv[1]["nextAttemptAt"])
            if v["status"] in ("pending", "retrying", "sending") and v["nextAttemptAt"] <= now
        ]
        return due[:limit]

    def claim_notification(self, entry_id: str, now: dt.datetime, lease: dt.timedelta) -> bool:
        """Claim unless sent or leased."""
        doc = self.outbox[entry_id]
        if doc["status"] == "sent" or doc["nextAttemptAt"] > now:
            return False
        doc.update(status="sending", nextAttemptAt=now + lease)
        return True

    def finish_notification(self, entry: OutboxEntry, update: Mapping[str, Any]) -> None:
        """Record outcome."""
        self.outbox[entry.entry_id].update(update)
        self.delivered[f"{entry.alert_id}/{entry.delivery_key}"] = dict(update)

    def write_system_metrics(self, docs: Iterable[tuple[str, Mapping[str, Any]]]) -> int:
        """Overwrite by id."""
        count = 0
        for doc_id, doc in docs:
            self.system_metrics[doc_id] = dict(doc)
            count += 1
        return count

    def deliveries(self, alert_id: str) -> list[Delivery]:
        """The alert's outbox records, by sequence then channel."""
        records = [Delivery.from_doc(d) for d in self.outbox.values() if d["alertId"] == alert_id]
        return sorted(records, key=lambda d: (d.seq, d.channel))

    def rule_values(
        self, metric: str, scope: str, window: str, ticks: list[dt.datetime]
    ) -> list[float | None]:
        """From the system metric documents written, by their deterministic ids."""
        docs = [self.system_metrics.get(system_metrics_id(t, window, scope)) for t in ticks]
        return [None if d is None else d["ruleMetrics"].get(metric) for d in docs]

    def figure(
        self, metric: str, scope: str, window: str, start: dt.datetime, end: dt.datetime
    ) -> list[FigurePoint]:
        """From the system metric documents written, oldest first."""
        docs = sorted(
            (d for d in self.system_metrics.values()
             if d["scope"] == scope and d["windowName"] == window and start <= d["tick"] < end),
            key=lambda d: d["tick"],
        )  # fmt: skip
        return [FigurePoint(d["tick"], d["ruleMetrics"].get(metric)) for d in docs]

    def rule_runs(
        self,
        metric: str,
        window: str,
        start: dt.datetime,
        end: dt.datetime,
        kinds: Sequence[str] = SCOPE_KINDS,
    ) -> list[StoredRun]:
        """From the system metric documents written, oldest first."""
        docs = sorted(
            (d for d in self.system_metrics.values()
             if d["windowName"] == window and start <= d["tick"] < end
             and d["scopeKind"] in kinds),
            key=lambda d: d["tick"],
        )  # fmt: skip
        return [stored_run(d, metric) for d in docs]

    def load_controls(self) -> dict[str, ProviderControl]:
        """The control documents."""
        return dict(self.controls)

    def transact_controls(
        self, compute: Callable[[dict[str, ProviderControl]], list[Change]]
    ) -> list[Change]:
        """Compute on a copy, write the changed ones."""
        changes = compute(dict(self.controls))
        for change in changes:
            self.controls[change.after.provider] = change.after
        return changes


class RecordingChannel:
    """A channel that records what it was asked to send, failing the first `fail` times."""

    def __init__(self, name: str, fail: int = 0) -> None:
        self.name = name
        self.fail = fail
        self.sent: list[Notification] = []

    def send(self, notification: Notification) -> None:
        """Record, or raise while failures remain."""
        if self.fail > 0:
            self.fail -= 1
            raise DeliveryError(f"{self.name} refused")
        self.sent.append(notification)

    def events(self) -> list[tuple[str, str, str]]:
        """(event, rule, scope) of every message received."""
        return [(n.event, n.rule_id, n.scope) for n in self.sent]
