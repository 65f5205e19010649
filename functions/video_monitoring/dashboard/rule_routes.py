"""Alert rules over HTTP: `GET /alert-rules`, reading and replacing one rule, and
`GET /alert-rules/{ruleId}/backtest`: the stored rule replayed over the stored runs, its window
and the optional `threshold` and `pagesPerWeek`, each checked and named when wrong."""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from typing import Any

from video_monitoring.alerting.catalog import DEFAULT_IDS
from video_monitoring.alerting.manager import AlertManager
from video_monitoring.alerting.rules import RULE_ID, AlertRule, parse_rule
from video_monitoring.core.errors import InvalidArgument, NotFound
from video_monitoring.core.models import Window, rfc3339
from video_monitoring.dashboard.params import Prepared, RangeQuery, parse_window
from video_monitoring.dashboard.routes import Call
from video_monitoring.dashboard.slo_routes import check_objective

log = logging.getLogger(__name__)
BACKTEST_DEFAULT_WINDOW = "7d"
# A month of runs at the 5-minute schedule: about 8,600 runs per scope, read in one query.
BACKTEST_MAX_DAYS = 31
MAX_PAGES_PER_WEEK = 1000.0
NUMBER = re.compile(r"[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]{1,3})?")


class BacktestQuery(RangeQuery):
    """The replay's window (default the last 7 days) and what to try."""

    threshold: str | None = None
    pagesPerWeek: str | None = None


def check_rule_id(rule_id: str) -> None:
    """A 404 naming `ruleId` for a path segment no rule id can be."""
    if not RULE_ID.fullmatch(rule_id):
        raise NotFound(f"ruleId: no alert rule {rule_id!r} (ids match {RULE_ID.pattern})")


def alert_rules(manager: AlertManager, call: Call) -> Prepared:
    """GET /alert-rules."""

    def run() -> Any:
        rules, problems = manager.rule_book.rules()
        return {
            "rules": [r.to_doc() for r in rules],
            "problems": problems,
            "defaults": sorted(DEFAULT_IDS),
        }

    return run


def rule(manager: AlertManager, call: Call) -> Prepared:
    """GET /alert-rules/{ruleId}."""
    return lambda: {"rule": manager.rule_book.rule(call.path["ruleId"]).to_doc()}


def rule_body(call: Call, body: dict[str, Any]) -> AlertRule:
    """PUT /alert-rules/{ruleId}'s body: a rule whose burn rate names an objective that exists."""
    rule_id = call.path["ruleId"]
    if "ruleId" in body and body["ruleId"] != rule_id:
        raise InvalidArgument("ruleId: must equal the rule id in the path")
    parsed = parse_rule(body, rule_id)
    if call.api.slos is not None:
        check_objective(call.api.slos, parsed)
    return parsed


def rule_before(manager: AlertManager, call: Call) -> dict[str, Any]:
    """The rule's document before it is replaced (for the audit entry)."""
    return manager.rule_book.rule(call.path["ruleId"]).to_doc()


def replace_rule(manager: AlertManager, call: Call) -> Prepared:
    """PUT /alert-rules/{ruleId} (admins)."""

    def run() -> dict[str, Any]:
        updated = manager.rule_book.update_rule(call.body, call.who)
        log.info("alert rule %s replaced by %s", call.path["ruleId"], call.who)
        return {"rule": updated.to_doc()}

    return run


def _number(params: Mapping[str, str], name: str, accepts: str) -> float | None:
    text = params.get(name)
    if text is None:
        return None
    # A plain decimal number only: float() would also take padding, "inf", "nan" and "1_0".
    value = float(text) if NUMBER.fullmatch(text) else math.nan
    if not math.isfinite(value):
        raise InvalidArgument(f"{name}: expected {accepts}; got {text!r}")
    return value


def replay_options(manager: AlertManager, call: Call) -> tuple[Window, float | None, float | None]:
    """A replay's window (default the last 7 days), which must start no earlier than Firestore
    keeps the system metric documents (they expire with the raw retention) unless the runs
    before it are read from BigQuery, and the optional threshold and page budget, each checked."""
    params = call.request.params
    now = call.api.clock()
    kept_since = call.api.retention.raw_horizon(now)
    window_params = {k: v for k, v in params.items() if k in ("window", "from", "to")}
    window = parse_window(
        window_params or {"window": BACKTEST_DEFAULT_WINDOW}, now, BACKTEST_MAX_DAYS
    )
    if window.start < kept_since and not manager.rule_book.archived_runs:
        raise InvalidArgument(
            f"from: Firestore keeps the stored runs a backtest replays since "
            f"{rfc3339(kept_since)} and no BigQuery archive is configured; start the window "
            "then or later"
        )
    threshold = _number(params, "threshold", "a number (the rule's threshold to try)")
    pages = _number(params, "pagesPerWeek", f"a number from 0 to {MAX_PAGES_PER_WEEK:g}")
    if pages is not None and not 0 <= pages <= MAX_PAGES_PER_WEEK:
        raise InvalidArgument(
            f"pagesPerWeek: expected a number from 0 to {MAX_PAGES_PER_WEEK:g}; got {pages:g}"
        )
    return window, threshold, pages


def backtest(manager: AlertManager, call: Call) -> Prepared:
    """The parameters checked, then the replay of the stored rule over the window."""
    window, threshold, pages = replay_options(manager, call)
    rule_id = call.path["ruleId"]
    return lambda: manager.rule_book.backtest(rule_id, window.start, window.end, threshold, pages)
