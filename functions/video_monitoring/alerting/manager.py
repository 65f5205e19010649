"""The alerting service, by job: the rules (`RuleBook`), the scheduled evaluation
(`Evaluation`), operators' actions on alerts (`AlertActions`) and the outbox's delivery
(`Dispatcher`), wired over one store; `run` is one scheduled run of all three."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from video_monitoring.alerting.actions import ACTION_NOTIFY_SECONDS, AlertActions
from video_monitoring.alerting.alert_store import AlertStore
from video_monitoring.alerting.backtest import SplitRuns
from video_monitoring.alerting.dispatch import Dispatcher
from video_monitoring.alerting.evaluation import Evaluation, RunReport
from video_monitoring.alerting.metrics import Snapshot
from video_monitoring.alerting.notifications import Delivery
from video_monitoring.alerting.rule_book import RuleBook
from video_monitoring.core.budget import Budget


class AlertManager:
    """The four parts of the alerting service over one store."""

    def __init__(
        self,
        store: AlertStore,
        delivery: Delivery,
        dashboard_url: str,
        clock: Callable[[], dt.datetime],
        runs: SplitRuns | None = None,  # backtests beyond Firestore's retention (BigQuery)
        backtest_budget: Callable[[], Budget] = Budget.unlimited,  # each backtest's, from its start
    ) -> None:
        self._clock = clock
        self.rule_book = RuleBook(store, clock, runs, backtest_budget)
        self.dispatcher = Dispatcher(store, delivery, dashboard_url)
        self.evaluation = Evaluation(store, self.rule_book)
        self.actions = AlertActions(store, clock, self.dispatcher)

    def delete_rule(self, rule_id: str, by: str) -> list[str]:
        """Delete a custom rule; the alerts it left open are resolved and those told of them
        are told at once. The ids of those alerts."""
        resolved = self.rule_book.delete_rule(rule_id, by)
        self.dispatcher.dispatch(self._clock(), Budget(ACTION_NOTIFY_SECONDS))
        return resolved

    def run(self, snapshot: Snapshot) -> RunReport:
        """One scheduled run: evaluate, advance, deliver (the rules read once)."""
        rule_set = self.rule_book.rule_set()
        report = self.evaluation.evaluate(snapshot, rule_set=rule_set)
        self.evaluation.escalate(snapshot.tick, report, rule_set)
        report.deliveries = self.dispatcher.dispatch(snapshot.tick)
        return report
