"""What operators do with alerts: list them, read one with its figure and deliveries, and
acknowledge, resolve or suppress one, through the same transactions as the scheduled run so an
action never races it into two open instances or a lost update."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from video_monitoring.alerting import state_machine
from video_monitoring.alerting.alert_store import AlertStore
from video_monitoring.alerting.dispatch import Dispatcher
from video_monitoring.alerting.records import AlertState, Instance, Transition, state_key
from video_monitoring.alerting.rules import AlertRule
from video_monitoring.core.budget import Budget
from video_monitoring.core.errors import Conflict, InvalidArgument, NotFound

# An alert's page charts its rule's figure from this long before it opened until this long after
# it was resolved.
FIGURE_BEFORE = dt.timedelta(hours=6)
FIGURE_AFTER = dt.timedelta(hours=1)
BURN_FIGURE = (
    "the scheduled runs do not store a burn-rate rule's burn; GET /slos (the overview's "
    "Error budgets) gives the objective's burn rates now"
)
# An admin's action notifies at once for this long, well inside its request's deadline; what a
# slow channel has not sent by then goes out with a later tick.
ACTION_NOTIFY_SECONDS = 10.0


@dataclass(frozen=True)
class AlertQuery:
    """Filters of GET /alerts: a window for the history, and optional scope, status, severity,
    rule and metric filters applied to both the open alerts and the history."""

    start: dt.datetime
    end: dt.datetime
    provider: str | None = None
    status: str | None = None  # an instance status, or "open"
    severity: str | None = None
    rule_id: str | None = None
    limit: int = 100
    metrics: frozenset[str] | None = None  # only alerts on these metrics

    def keeps(self, inst: Instance) -> bool:
        """Whether an instance passes every filter."""
        if self.provider is not None and inst.scope != f"provider:{self.provider}":
            return False
        if self.status == "open" and not inst.is_open:
            return False
        if self.status not in (None, "open") and inst.status != self.status:
            return False
        if self.severity is not None and inst.severity != self.severity:
            return False
        if self.metrics is not None and inst.metric not in self.metrics:
            return False
        return self.rule_id is None or inst.rule_id == self.rule_id


class AlertActions:
    """Alerts listed, read and acted on by operators."""

    def __init__(
        self, store: AlertStore, clock: Callable[[], dt.datetime], dispatcher: Dispatcher
    ) -> None:
        self._store = store
        self._clock = clock
        self._dispatcher = dispatcher

    def _act(
        self, alert_id: str, action: Callable[[AlertRule, AlertState, Instance], Transition]
    ) -> Instance:
        instance = self._store.get_instance(alert_id)
        if instance is None:
            raise NotFound(f"alertId: no alert {alert_id!r}")
        rule = self._store.get_rule(instance.rule_id)
        if rule is None:
            raise Conflict(f"alertId: the rule {instance.rule_id!r} of this alert was deleted")
        problems: list[str] = []

        def compute(state: AlertState | None, current: Instance | None) -> Transition | None:
            if current is None:
                problems.append("the alert disappeared")
                return None
            try:
                return action(rule, state or AlertState(rule.rule_id, current.scope), current)
            except ValueError as error:
                problems.append(str(error))
                return None

        key = state_key(instance.rule_id, instance.scope)
        result = self._store.transact(key, alert_id, rule, compute)
        if result is None or result.instance is None:
            raise Conflict(f"alertId: {problems[-1] if problems else 'no change'}")
        self._dispatcher.dispatch(self._clock(), Budget(ACTION_NOTIFY_SECONDS))
        return result.instance

    def acknowledge(self, alert_id: str, by: str, note: str = "") -> Instance:
        """Stop escalation and repeats; the alert still resolves when its condition clears."""
        now = self._clock()
        return self._act(
            alert_id,
            lambda rule, state, inst: _keep_state(
                state, state_machine.acknowledge(rule, inst, by, now, note)
            ),
        )

    def resolve(self, alert_id: str, by: str, note: str = "") -> Instance:
        """Close by hand."""
        now = self._clock()
        return self._act(
            alert_id,
            lambda rule, state, inst: state_machine.resolve(rule, state, inst, by, now, note),
        )

    def suppress(self, alert_id: str, minutes: int, by: str, note: str = "") -> Instance:
        """Silence until now + minutes (1 minute to 7 days)."""
        if not 1 <= minutes <= 7 * 24 * 60:
            raise InvalidArgument("minutes: expected an integer from 1 to 10080")
        now = self._clock()
        return self._act(
            alert_id,
            lambda rule, state, inst: _keep_state(
                state, state_machine.suppress(rule, inst, minutes, by, now, note)
            ),
        )

    def alerts(self, query: AlertQuery) -> dict[str, Any]:
        """Open alerts now and the history of alerts opened in a window, both filtered."""
        active = [i for i in self._store.load_instances(open_only=True).values() if query.keeps(i)]
        rank = {"critical": 0, "warning": 1, "info": 2}
        active.sort(key=lambda i: (rank.get(i.severity, 3), i.opened_at))
        history = [
            i for i in self._store.instances_opened(query.start, query.end) if query.keeps(i)
        ]
        counts: dict[str, dict[str, int]] = {"bySeverity": {}, "byStatus": {}}
        for inst in active:
            for key, value in (("bySeverity", inst.severity), ("byStatus", inst.status)):
                counts[key][value] = counts[key].get(value, 0) + 1
        return {
            "active": [i.to_doc() for i in active],
            "counts": counts,
            "history": [i.to_doc() for i in history[: query.limit]],
            "historyTotal": len(history),
            "historyTruncated": len(history) > query.limit,
        }

    def alert(self, alert_id: str) -> dict[str, Any]:
        """One alert as its console page shows it: the instance with its history, the rule as
        stored now, every message owed about it and how it went, and the rule's figure in the
        alert's scope from FIGURE_BEFORE its opening until FIGURE_AFTER its resolution (or now)."""
        instance = self._store.get_instance(alert_id)
        if instance is None:
            raise NotFound(f"alertId: no alert {alert_id!r}")
        now = self._clock()
        start = instance.opened_at - FIGURE_BEFORE
        end = min(now, (instance.resolved_at or now) + FIGURE_AFTER) + dt.timedelta(seconds=1)
        points = self._store.figure(instance.metric, instance.scope, instance.window, start, end)
        rule = self._store.get_rule(instance.rule_id)
        return {
            "alert": instance.to_doc(),
            "rule": None if rule is None else rule.to_doc(),
            "deliveries": [d.to_json() for d in self._store.deliveries(alert_id)],
            "figure": {
                "metric": instance.metric,
                "scope": instance.scope,
                "window": instance.window,
                "comparator": instance.comparator,
                "threshold": instance.threshold,
                "from": start,
                "to": end,
                "points": [{"at": p.at, "value": p.value} for p in points],
                # A burn rate depends on the rule's objective and windows: runs do not store it.
                "unavailable": BURN_FIGURE
                if rule is not None and rule.kind == "burn_rate"
                else None,
            },
        }


def _keep_state(state: AlertState, transition: Transition) -> Transition:
    """Actions that do not touch the evaluation memory keep the stored state as it is."""
    return Transition(state, transition.instance, outbound=transition.outbound)
