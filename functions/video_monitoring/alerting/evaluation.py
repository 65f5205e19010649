"""The scheduled evaluation: every enabled rule measured in every scope from the rollups and
stepped through the state machine inside one transaction per change (a rerun of the tick changes
nothing), then the time-driven changes of open alerts (escalation, repeats, suppression
expiry)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from video_monitoring.alerting import state_machine
from video_monitoring.alerting.alert_store import AlertStore
from video_monitoring.alerting.metrics import (
    ScopeTotals,
    Snapshot,
    measure,
    parse_scope,
    scopes_for,
)
from video_monitoring.alerting.notifications import DeliveryResult
from video_monitoring.alerting.records import (
    AlertState,
    Instance,
    Measurement,
    Transition,
    state_key,
)
from video_monitoring.alerting.rule_book import RuleBook, RuleSet
from video_monitoring.alerting.rules import AlertRule
from video_monitoring.core.models import Window
from video_monitoring.ingest.rollup import floor_time, merge_cells


@dataclass
class RunReport:
    """What one scheduled run did (logged, and returned to the local host and tests)."""

    evaluations: int = 0
    changes: int = 0
    fired: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    deliveries: list[DeliveryResult] = field(default_factory=list)
    rule_problems: list[str] = field(default_factory=list)


class Evaluation:
    """Rules judged at a tick, and open alerts advanced in time."""

    def __init__(self, store: AlertStore, rule_book: RuleBook) -> None:
        self._store = store
        self._rule_book = rule_book

    def evaluate(
        self, snapshot: Snapshot, report: RunReport | None = None, rule_set: RuleSet | None = None
    ) -> RunReport:
        """Evaluate every enabled rule in every scope at the snapshot's tick (the rules read
        now unless the run read them already)."""
        report = report or RunReport()
        rules, problems = rule_set or self._rule_book.rule_set()
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
                planned = state_machine.evaluate(rule, state, instance, measurement, snapshot.tick)
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
            return state_machine.evaluate(rule, current, instance, measurement, tick)

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

    def escalate(
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
            if not state_machine.advance(rule, instance, now).changed:
                continue

            def compute(
                state: AlertState | None, current: Instance | None, rule: AlertRule = rule
            ) -> Transition | None:
                if state is None or current is None or not current.is_open:
                    return None
                timed = state_machine.advance(rule, current, now)
                return Transition(state, timed.instance, outbound=timed.outbound,
                                  changed=timed.changed)  # fmt: skip

            key = state_key(instance.rule_id, instance.scope)
            self._note(self._store.transact(key, instance.instance_id, rule, compute), report)
        return report
