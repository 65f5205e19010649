"""Alert manager: evaluates rules on the rollups, keeps alert lifecycles, escalates, notifies.

The scheduled run (`run`) does, per tick: measure every rule's metric in every scope from the
rollups, step each (rule, scope) through the state machine of `alert_engine` inside one
transaction (a rerun of the tick changes nothing), advance time-driven changes (escalation,
repeat, suppression expiry), then deliver what the outbox owes. Manual actions (acknowledge,
resolve, suppress) go through the same transactions, so they never race the scheduled run into
two open instances or a lost update.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from video_monitoring.alerting import catalog, engine
from video_monitoring.alerting.backtest import SplitRuns, WhatIf, backtest_rule
from video_monitoring.alerting.channels.base import Notification
from video_monitoring.alerting.metrics import (
    ScopeTotals,
    Snapshot,
    measure,
    parse_scope,
    scopes_for,
)
from video_monitoring.alerting.notifications import Delivery, DeliveryResult, deliver
from video_monitoring.alerting.records import (
    AlertState,
    Instance,
    Measurement,
    Transition,
    state_key,
)
from video_monitoring.alerting.rules import DEFAULT_RULES, AlertRule
from video_monitoring.alerting.store import AlertStore, OutboxEntry
from video_monitoring.core.budget import Budget, run_within
from video_monitoring.core.errors import Conflict, InvalidArgument, NotFound
from video_monitoring.core.logs import labelled
from video_monitoring.core.models import Window
from video_monitoring.ingest.rollup import floor_time, merge_cells

log = logging.getLogger(__name__)

OUTBOX_BATCH = 200
# An alert's page charts its rule's figure from this long before it opened until this long after
# it was resolved.
FIGURE_BEFORE = dt.timedelta(hours=6)
FIGURE_AFTER = dt.timedelta(hours=1)
CLAIM_LEASE = dt.timedelta(minutes=3)
BURN_FIGURE = (
    "the scheduled runs do not store a burn-rate rule's burn; GET /slos (the overview's "
    "Error budgets) gives the objective's burn rates now"
)
MAX_DELIVERY_RUNS = 12  # scheduled runs (about an hour at 5 minutes) before a message is given up
# An admin's action notifies at once for this long, well inside its request's deadline; what a
# slow channel has not sent by then goes out with a later tick.
ACTION_NOTIFY_SECONDS = 10.0


@dataclass(frozen=True)
class AlertQuery:
    """Filters of GET /alerts: a window for the history, and optional scope, status, severity
    and rule filters applied to both the open alerts and the history."""

    start: dt.datetime
    end: dt.datetime
    provider: str | None = None
    status: str | None = None  # an instance status, or "open"
    severity: str | None = None
    rule_id: str | None = None
    limit: int = 100

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
        return self.rule_id is None or inst.rule_id == self.rule_id


class RuleSet(NamedTuple):
    """The rules one run evaluates, and one message per stored rule that does not validate."""

    rules: tuple[AlertRule, ...]
    problems: tuple[str, ...]


@dataclass
class RunReport:
    """What one scheduled run did (logged, and returned to the local host and tests)."""

    evaluations: int = 0
    changes: int = 0
    fired: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    deliveries: list[DeliveryResult] = field(default_factory=list)
    rule_problems: list[str] = field(default_factory=list)


class AlertManager:
    """The alerting service: rules, the scheduled evaluation, operator actions, delivery."""

    def __init__(
        self,
        store: AlertStore,
        delivery: Delivery,
        dashboard_url: str,
        clock: Callable[[], dt.datetime],
        runs: SplitRuns | None = None,  # backtests beyond Firestore's retention (BigQuery)
        backtest_budget: Callable[[], Budget] = Budget.unlimited,  # each backtest's, from its start
    ) -> None:
        self._store = store
        self._runs = runs
        self._backtest_budget = backtest_budget
        self._channels = delivery.channels
        self._policy = delivery.policy
        self._dashboard_url = dashboard_url.rstrip("/")
        self._clock = clock
        self._sleep = delivery.sleep

    # -- rules -------------------------------------------------------------------------------

    def seed_default_rules(self) -> list[str]:
        """Create the docs/interfaces.md §7 rules that are missing; edited rules are left alone."""
        return self._store.seed_rules(DEFAULT_RULES)

    def rules(self) -> tuple[list[AlertRule], list[str]]:
        """Stored rules (missing defaults seeded first) and problems with stored rules."""
        rules, problems = self.rule_set()
        return list(rules), list(problems)

    def rule(self, rule_id: str) -> AlertRule:
        """One stored rule (a default is seeded when missing), or NotFound."""
        rule = self._store.get_rule(rule_id)
        if rule is None and any(r.rule_id == rule_id for r in DEFAULT_RULES):
            self.seed_default_rules()
            rule = self._store.get_rule(rule_id)
        if rule is None:
            raise NotFound(f"ruleId: no alert rule {rule_id!r}")
        return rule

    def update_rule(self, rule: AlertRule, by: str) -> AlertRule:
        """Replace a rule (validated by the caller's parse_rule)."""
        if self._store.get_rule(rule.rule_id) is None:
            raise NotFound(f"ruleId: no alert rule {rule.rule_id!r}")
        self._store.put_rule(rule, by, self._clock())
        return rule

    def create_rule(self, rule: AlertRule, by: str) -> AlertRule:
        """Store a new custom rule (alerting/catalog.py: bounded, ids never overwritten)."""
        return catalog.create(self._store, rule, by, self._clock())

    def delete_rule(self, rule_id: str, by: str) -> list[str]:
        """Delete a custom rule; the alerts it left open are resolved and those told of them
        are told at once. The ids of those alerts."""
        resolved = catalog.delete(self._store, rule_id, by, self._clock())
        self.dispatch_notifications(self._clock(), Budget(ACTION_NOTIFY_SECONDS))
        return resolved

    @property
    def archived_runs(self) -> bool:
        """Whether backtests can read runs beyond Firestore's retention (BigQuery)."""
        return self._runs is not None

    def backtest(
        self,
        rule: AlertRule | str,
        start: dt.datetime,
        end: dt.datetime,
        threshold: float | None = None,
        pages_per_week: float | None = None,
    ) -> dict[str, Any]:
        """The rule (by id: the stored one; or it with another threshold; nothing saved) replayed
        over the runs stored in [start, end) with the live state machine; with `pages_per_week`,
        the threshold nearest the rule's that would have paged at most that often; stopped with
        DeadlineExceeded when it cannot finish within its time budget."""
        budget = self._backtest_budget()
        reader = self._runs or self._store
        source = self._runs.source if self._runs else None
        what_if = WhatIf(threshold, pages_per_week, budget)
        replayed = self.rule(rule) if isinstance(rule, str) else rule
        return backtest_rule(replayed, reader, source, start, end, what_if)

    # -- scheduled evaluation ----------------------------------------------------------------

    def rule_set(self) -> RuleSet:
        """The stored rules for one run, the missing defaults seeded first."""
        rules, problems = self._store.load_rules()
        stored = {r.rule_id for r in rules} | {p.partition(":")[0] for p in problems}
        if any(rule.rule_id not in stored for rule in DEFAULT_RULES):
            # Seeded with create(): an edited default is never overwritten. A deleted default
            # comes back; disable a rule with `enabled: false` instead.
            self.seed_default_rules()
            rules, problems = self._store.load_rules()
        return RuleSet(tuple(rules), tuple(problems))

    def check_alerts(
        self, snapshot: Snapshot, report: RunReport | None = None, rule_set: RuleSet | None = None
    ) -> RunReport:
        """Evaluate every enabled rule in every scope at the snapshot's tick (the rules read
        now unless the run read them already)."""
        report = report or RunReport()
        rules, problems = rule_set or self.rule_set()
        report.rule_problems += problems
        states = self._store.load_states()
        instances = self._store.load_instances(open_only=True)
        providers = snapshot.providers()
        for rule in rules:
            if not rule.enabled:
                continue
            known = [s.scope for s in states.values() if s.rule_id == rule.rule_id]
            for scope in scopes_for(rule, providers, known):
                measurement = self._measure(rule, snapshot, scope)
                key = state_key(rule.rule_id, scope)
                state = states.get(key) or AlertState(rule.rule_id, scope)
                instance = instances.get(state.open_instance_id or "")
                report.evaluations += 1
                planned = engine.evaluate(rule, state, instance, measurement, snapshot.tick)
                if not planned.changed:
                    continue
                result = self._store.transact(
                    key, None, rule, self._evaluator(rule, scope, measurement, snapshot.tick)
                )
                self._note(result, report)
        return report

    def _evaluator(
        self, rule: AlertRule, scope: str, measurement: Measurement, tick: dt.datetime
    ) -> Callable[[AlertState | None, Instance | None], Transition | None]:
        def compute(state: AlertState | None, instance: Instance | None) -> Transition:
            current = state or AlertState(rule.rule_id, scope)
            return engine.evaluate(rule, current, instance, measurement, tick)

        return compute

    def _note(self, result: Transition | None, report: RunReport) -> None:
        if result is None or not result.changed:
            return
        report.changes += 1
        for out in result.outbound:
            if out.event == "firing":
                report.fired.append(out.instance_id)
            elif out.event == "resolved":
                report.resolved.append(out.instance_id)

    def _measure(self, rule: AlertRule, snapshot: Snapshot, scope: str) -> Measurement:
        if rule.kind == "burn_rate":
            return snapshot.burn(rule, scope)
        if rule.kind == "anomaly":
            return self._anomaly_measurement(rule, snapshot, scope)
        current = measure(rule.metric, snapshot.scope_totals(rule.window, scope))
        if rule.kind == "baseline":
            return self._baseline_measurement(rule, snapshot, scope, current)
        return current

    def _baseline_measurement(
        self, rule: AlertRule, snapshot: Snapshot, scope: str, current: Measurement
    ) -> Measurement:
        """The window now, with what the runs at the same time on each previous baseline day
        measured (the system metric documents keep every rule metric of every run)."""
        tick = floor_time(snapshot.tick, "minute")
        days = [tick - dt.timedelta(days=d) for d in range(1, rule.baseline_days + 1)]
        past = self._store.rule_values(rule.metric, scope, rule.window, days)
        baseline = tuple(v for v in past if v is not None)
        return Measurement(current.value, current.samples, current.successes, baseline)

    def _anomaly_measurement(self, rule: AlertRule, snapshot: Snapshot, scope: str) -> Measurement:
        """The last whole hour against the same hour on each of the previous baseline days."""
        provider, tier = parse_scope(scope)
        hour = floor_time(snapshot.tick, "hour") - dt.timedelta(hours=1)

        def at(start: dt.datetime) -> Measurement:
            cells = snapshot.hour_cells.get(start, [])
            window = Window(start=start, end=start + dt.timedelta(hours=1))
            scoped = ScopeTotals(window, merge_cells(cells, provider=provider, tier=tier))
            return measure(rule.metric, scoped)

        current = at(hour)
        baseline = []
        for day in range(1, rule.baseline_days + 1):
            past = at(hour - dt.timedelta(days=day))
            if past.value is not None and past.samples >= rule.min_samples:
                baseline.append(past.value)
        return Measurement(current.value, current.samples, current.successes, tuple(baseline))

    def process_escalations(
        self, now: dt.datetime, report: RunReport | None = None, rule_set: RuleSet | None = None
    ) -> RunReport:
        """Time-driven changes of open instances: escalation, repeats, suppression expiry."""
        report = report or RunReport()
        loaded = rule_set.rules if rule_set is not None else self._store.load_rules()[0]
        rules = {r.rule_id: r for r in loaded}
        for instance in self._store.load_instances(open_only=True).values():
            rule = rules.get(instance.rule_id)
            if rule is None or instance.status == "pending":
                continue
            if not engine.advance(rule, instance, now).changed:
                continue

            def compute(
                state: AlertState | None, current: Instance | None, rule: AlertRule = rule
            ) -> Transition | None:
                if state is None or current is None or not current.is_open:
                    return None
                timed = engine.advance(rule, current, now)
                return Transition(state, timed.instance, outbound=timed.outbound,
                                  changed=timed.changed)  # fmt: skip

            key = state_key(instance.rule_id, instance.scope)
            self._note(self._store.transact(key, instance.instance_id, rule, compute), report)
        return report

    # -- manual actions ----------------------------------------------------------------------

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
        self.dispatch_notifications(self._clock(), Budget(ACTION_NOTIFY_SECONDS))
        return result.instance

    def acknowledge_alert(self, alert_id: str, by: str, note: str = "") -> Instance:
        """Stop escalation and repeats; the alert still resolves when its condition clears."""
        now = self._clock()
        return self._act(
            alert_id,
            lambda rule, state, inst: _keep_state(
                state, engine.acknowledge(rule, inst, by, now, note)
            ),
        )

    def resolve_alert(self, alert_id: str, by: str, note: str = "") -> Instance:
        """Close by hand."""
        now = self._clock()
        return self._act(
            alert_id, lambda rule, state, inst: engine.resolve(rule, state, inst, by, now, note)
        )

    def suppress_alert(self, alert_id: str, minutes: int, by: str, note: str = "") -> Instance:
        """Silence until now + minutes (1 minute to 7 days)."""
        if not 1 <= minutes <= 7 * 24 * 60:
            raise InvalidArgument("minutes: expected an integer from 1 to 10080")
        now = self._clock()
        return self._act(
            alert_id,
            lambda rule, state, inst: _keep_state(
                state, engine.suppress(rule, inst, minutes, by, now, note)
            ),
        )

    def list_alerts(self, query: AlertQuery) -> dict[str, Any]:
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

    def alert_detail(self, alert_id: str) -> dict[str, Any]:
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

    # -- delivery ----------------------------------------------------------------------------

    def dispatch_notifications(
        self, now: dt.datetime, budget: Budget | None = None
    ) -> list[DeliveryResult]:
        """Deliver the due outbox entries (concurrently, each channel independently) within
        the budget: an entry is claimed only when its delivery starts, none starts once the
        budget is spent, and one still sending then keeps its claim's lease, so what is not
        sent stays in the outbox for a later run."""
        budget = budget or Budget.unlimited()
        due = self._store.due_notifications(now, OUTBOX_BATCH)
        tasks = [functools.partial(self._deliver, entry, now, budget) for entry in due]
        return [r for r in run_within(budget, tasks, workers=8) if r is not None]

    def _deliver(
        self, entry: OutboxEntry, now: dt.datetime, budget: Budget
    ) -> DeliveryResult | None:
        if budget.spent() or not self._store.claim_notification(entry.entry_id, now, CLAIM_LEASE):
            return None
        with labelled(alert=entry.alert_id, channel=entry.channel):
            return self._deliver_labelled(entry, now, budget)

    def _deliver_labelled(
        self, entry: OutboxEntry, now: dt.datetime, budget: Budget
    ) -> DeliveryResult:
        name = entry.channel
        channel = self._channels.get(name)
        if channel is None:
            result = DeliveryResult(name, False, 0, f"channel {name} is not configured")
        else:
            notification = self._notification(entry)
            result = deliver(channel, notification, self._policy, self._sleep, budget)
        runs = entry.runs + 1
        update: dict[str, Any] = {
            "attempts": entry.attempts + result.attempts,
            "runs": runs,
            "lastError": result.error,
            "lastAttemptAt": now,
        }
        if result.ok:
            update |= {"status": "sent", "sentAt": now}
        elif channel is None or runs >= MAX_DELIVERY_RUNS:
            update |= {"status": "abandoned"}
            log.error("alert %s: %s message given up: %s", entry.alert_id, name, result.error)
        else:
            delay = min(60 * 2 ** (runs - 1), 3600)
            update |= {"status": "retrying", "nextAttemptAt": now + dt.timedelta(seconds=delay)}
            log.warning("alert %s: %s delivery failed, retrying", entry.alert_id, name)
        self._store.finish_notification(entry, update)
        return result

    def _notification(self, entry: OutboxEntry) -> Notification:
        link = f"{self._dashboard_url}/alerts/{entry.alert_id}"
        return replace(entry.notification, dashboard_url=link)

    def run(self, snapshot: Snapshot) -> RunReport:
        """One scheduled run: evaluate, advance, deliver (the rules read once)."""
        rule_set = self.rule_set()
        report = self.check_alerts(snapshot, rule_set=rule_set)
        self.process_escalations(snapshot.tick, report, rule_set)
        report.deliveries = self.dispatch_notifications(snapshot.tick)
        return report


def _keep_state(state: AlertState, transition: Transition) -> Transition:
    """Actions that do not touch the evaluation memory keep the stored state as it is."""
    return Transition(state, transition.instance, outbound=transition.outbound)
