"""The alert rules as the service keeps them: the defaults seeded, one rule read or replaced,
the set one scheduled run evaluates, and a rule replayed over stored runs (backtest)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, NamedTuple

from video_monitoring.alerting import catalog
from video_monitoring.alerting.alert_store import AlertStore
from video_monitoring.alerting.backtest import SplitRuns, WhatIf, backtest_rule
from video_monitoring.alerting.rules import DEFAULT_RULES, AlertRule
from video_monitoring.core.budget import Budget
from video_monitoring.core.errors import NotFound


class RuleSet(NamedTuple):
    """The rules one run evaluates, and one message per stored rule that does not validate."""

    rules: tuple[AlertRule, ...]
    problems: tuple[str, ...]


class RuleBook:
    """Rules: seeded defaults, reads, replacement, the run's set, backtests."""

    def __init__(
        self,
        store: AlertStore,
        clock: Callable[[], dt.datetime],
        runs: SplitRuns | None = None,  # backtests beyond Firestore's retention (BigQuery)
        backtest_budget: Callable[[], Budget] = Budget.unlimited,  # each backtest's, from its start
    ) -> None:
        self._store = store
        self._clock = clock
        self._runs = runs
        self._backtest_budget = backtest_budget

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
        """Delete a custom rule, resolving the alerts it left open; their ids."""
        return catalog.delete(self._store, rule_id, by, self._clock())

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
