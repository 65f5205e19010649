"""Custom alert rules over HTTP: `POST /alert-rules` (admins; 201 with the stored rule and its
`Location`), `DELETE /alert-rules/{ruleId}` (admins; custom rules only) and
`POST /alert-rules/backtest`, the replay of a rule not saved yet (the body) over the stored runs,
so a new rule's pages are seen before it is saved."""

from __future__ import annotations

import logging
from typing import Any

from video_monitoring.alerting.catalog import check_new_id, chosen_id
from video_monitoring.alerting.manager import AlertManager
from video_monitoring.alerting.rules import METRICS, AlertRule, parse_rule
from video_monitoring.dashboard.http import Response
from video_monitoring.dashboard.params import Prepared
from video_monitoring.dashboard.routes import Call
from video_monitoring.dashboard.rule_routes import replay_options
from video_monitoring.dashboard.slo_routes import check_objective

log = logging.getLogger(__name__)
# The id a rule not saved yet is replayed under when its body names none.
DRAFT_ID = "draft"


def _checked(call: Call, body: dict[str, Any]) -> AlertRule:
    parsed = parse_rule(body)
    if call.api.slos is not None:
        check_objective(call.api.slos, parsed)
    return parsed


def new_rule_body(call: Call, body: dict[str, Any]) -> AlertRule:
    """POST /alert-rules's body: a rule, its `ruleId` given (not a default's, not reserved) or
    chosen from its metric (`custom_<metric>_<n>`)."""
    if "ruleId" not in body:
        metric = body.get("metric")
        rule_id = DRAFT_ID  # a placeholder only while the body's metric is wrong (a 400 names it)
        if isinstance(metric, str) and metric in METRICS and call.api.alerts is not None:
            stored, _ = call.api.alerts.rule_book.rules()
            rule_id = chosen_id(metric, {r.rule_id for r in stored})
        body = {**body, "ruleId": rule_id}
    parsed = _checked(call, body)
    check_new_id(parsed.rule_id)
    return parsed


def create_target(call: Call) -> str:
    """The audit entry's target: the new rule's id (once its body was read)."""
    return call.body.rule_id if isinstance(call.body, AlertRule) else "alert_rules"


def create_rule(manager: AlertManager, call: Call) -> Prepared:
    """POST /alert-rules (admins): 201, the rule stored, `Location` its path."""

    def run() -> Response:
        created = manager.rule_book.create_rule(call.body, call.who)
        log.info("alert rule %s created by %s", created.rule_id, call.who)
        location = f"{call.request.path.rstrip('/')}/{created.rule_id}"
        return Response(201, {"rule": created.to_doc()}, {"Location": location})

    return run


def created_rule(response: Response) -> Any:
    """The audit entry's `after`: the rule as stored."""
    return response.body["rule"]


def delete_rule(manager: AlertManager, call: Call) -> Prepared:
    """DELETE /alert-rules/{ruleId} (admins): 204; the entry keeps the alerts it resolved."""
    rule_id = call.path["ruleId"]

    def run() -> Response:
        resolved = manager.delete_rule(rule_id, call.who)
        call.details["resolvedAlerts"] = resolved
        log.info("alert rule %s deleted by %s (%d alerts resolved)", rule_id, call.who,
                 len(resolved))  # fmt: skip
        return Response(204, None)

    return run


def draft_body(call: Call, body: dict[str, Any]) -> AlertRule:
    """POST /alert-rules/backtest's body: a rule as POST /alert-rules takes it (the id may be
    left out)."""
    return _checked(call, {"ruleId": DRAFT_ID, **body})


def backtest_draft(manager: AlertManager, call: Call) -> Prepared:
    """The rule in the body replayed over the window, exactly as GET
    /alert-rules/{ruleId}/backtest replays a stored one; nothing is saved."""
    window, threshold, pages = replay_options(manager, call)
    draft: AlertRule = call.body
    return lambda: manager.rule_book.backtest(draft, window.start, window.end, threshold, pages)
