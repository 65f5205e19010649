"""Alerts and rules over HTTP: `GET /alerts` with its filters, one alert's page, the admin
actions on one alert (acknowledge, resolve, suppress) with the body each accepts, and reading
and replacing a rule; ids and parameters checked before anything is read or written."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from video_monitoring.alerting.manager import AlertManager, AlertQuery
from video_monitoring.alerting.records import Instance
from video_monitoring.alerting.responder import ProviderResponder
from video_monitoring.alerting.rules import RULE_ID, parse_rule
from video_monitoring.analytics.slos import SloService
from video_monitoring.core.errors import InvalidArgument, NotFound
from video_monitoring.core.models import Window
from video_monitoring.dashboard.auth import ADMIN_ROLES, READ_ROLES, Caller, require
from video_monitoring.dashboard.http import Request, Response
from video_monitoring.dashboard.params import Prepared, choice, int_param, json_body
from video_monitoring.dashboard.routes import Admit, Audited
from video_monitoring.dashboard.slo_routes import check_objective

log = logging.getLogger(__name__)
ALERT_FILTERS = frozenset({"status", "severity", "rule", "limit"})
ALERT_STATUSES = ("all", "open", "pending", "firing", "acknowledged", "suppressed", "resolved")
SEVERITIES = ("critical", "warning", "info")
ALERT_ACTIONS = ("acknowledge", "resolve", "suppress")
ALERT_ID = re.compile(r"(?!__)[A-Za-z0-9_.:|-]{1,500}")
MAX_NOTE = 2000
MAX_SUPPRESS_MINUTES = 7 * 24 * 60


def act_on_alert(
    manager: AlertManager,
    raw_body: bytes,
    who: str,
    alert_id: str,
    action: str,
    details: dict[str, Any],
) -> Instance:
    """Apply `action` by `who`; `details` receives what the audit log keeps of the body."""
    body = json_body(raw_body, optional=action != "suppress")
    allowed = {"note", "minutes"} if action == "suppress" else {"note"}
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise InvalidArgument(f"{unknown[0]}: unknown field; accepted: {sorted(allowed)}")
    note = body.get("note", "")
    if not isinstance(note, str) or len(note) > MAX_NOTE:
        raise InvalidArgument(f"note: expected a string of at most {MAX_NOTE} characters")
    minutes: Any = body.get("minutes")
    if action == "suppress" and (
        not isinstance(minutes, int)
        or isinstance(minutes, bool)
        or not 1 <= minutes <= MAX_SUPPRESS_MINUTES
    ):
        raise InvalidArgument(f"minutes: expected an integer from 1 to {MAX_SUPPRESS_MINUTES}")
    # Only what passed the checks reaches the audit entry.
    details.update({k: body[k] for k in allowed if k in body})
    if action == "acknowledge":
        return manager.acknowledge_alert(alert_id, who, note)
    if action == "resolve":
        return manager.resolve_alert(alert_id, who, note)
    return manager.suppress_alert(alert_id, minutes, who, note)


def alert_list(manager: AlertManager, window: Window, params: Mapping[str, str]) -> Prepared:
    """GET /alerts: the filters checked, then the listing to run."""
    status = choice(params, "status", ALERT_STATUSES)
    severity = choice(params, "severity", SEVERITIES)
    rule_id = params.get("rule")
    if rule_id is not None and not RULE_ID.fullmatch(rule_id):
        raise InvalidArgument(f"rule: expected a rule id matching {RULE_ID.pattern}")
    query = AlertQuery(
        start=window.start,
        end=window.end,
        provider=window.provider,
        status=None if status in (None, "all") else status,
        severity=severity,
        rule_id=rule_id,
        limit=int_param(params, "limit", 100, 1, 1000),
    )
    return lambda: {"window": window.to_json(), **manager.list_alerts(query)}


def alert_rules(manager: AlertManager, params: Mapping[str, str]) -> Prepared:
    """GET /alert-rules."""
    if params:
        raise InvalidArgument(f"{sorted(params)[0]}: /alert-rules takes no parameters")

    def run() -> Any:
        rules, problems = manager.rules()
        return {"rules": [r.to_doc() for r in rules], "problems": problems}

    return run


def alert_response(
    manager: AlertManager,
    responder: ProviderResponder | None,
    request: Request,
    caller: Caller,
    rest: list[str],
    admit: Admit,
    audited: Audited,
) -> Response:
    """GET /alerts/{alertId} (readers); POST /alerts/{alertId}/<action> (admins, audited)."""
    alert_id = rest[0]
    if len(rest) == 1:
        require(caller, READ_ROLES)
        check_alert_id(alert_id)
        if request.params:
            raise InvalidArgument(
                f"{sorted(request.params)[0]}: /alerts/{{alertId}} takes no parameters"
            )
        admit()
        return Response(200, alert_detail(manager, responder, alert_id))
    action = rest[1]
    require(caller, ADMIN_ROLES)
    check_alert_id(alert_id)
    admit()
    with audited(caller, action, alert_id) as details:
        instance = act_on_alert(
            manager, request.body, caller.uid or "unknown", alert_id, action, details
        )
    return Response(200, {"alert": instance.to_doc()})


def check_alert_id(alert_id: str) -> None:
    """A 404 naming `alertId` for a path segment no alert id can be."""
    if not ALERT_ID.fullmatch(alert_id):
        raise NotFound(f"alertId: no alert {alert_id!r}")


def alert_detail(
    manager: AlertManager, responder: ProviderResponder | None, alert_id: str
) -> dict[str, Any]:
    """The alert with its history, and its provider's traffic control when it has one."""
    detail = manager.alert_detail(alert_id)
    kind, _, provider = detail["alert"]["scope"].partition(":")
    if responder is not None and kind == "provider":
        controls = {ctl.provider: ctl for ctl in responder.controls()}
        if provider in controls:
            detail["providerControl"] = controls[provider].to_doc()
    return detail


def rule_response(
    manager: AlertManager,
    slos: SloService | None,
    request: Request,
    caller: Caller,
    rule_id: str,
    admit: Admit,
    audited: Audited,
) -> Response:
    """GET /alert-rules/{ruleId} (readers); PUT (admins, audited with before and after)."""
    require(caller, READ_ROLES if request.method == "GET" else ADMIN_ROLES)
    if not RULE_ID.fullmatch(rule_id):
        raise NotFound(f"ruleId: no alert rule {rule_id!r} (ids match {RULE_ID.pattern})")
    admit()
    if request.method == "GET":
        return Response(200, {"rule": manager.rule(rule_id).to_doc()})
    with audited(caller, "rule.update", rule_id) as details:
        body = json_body(request.body, optional=False)
        if "ruleId" in body and body["ruleId"] != rule_id:
            raise InvalidArgument("ruleId: must equal the rule id in the path")
        rule = parse_rule(body, rule_id)
        if slos is not None:
            check_objective(slos, rule)
        details["before"] = manager.rule(rule_id).to_doc()
        updated = manager.update_rule(rule, caller.uid or "unknown")
        details["after"] = updated.to_doc()
    log.info("alert rule %s replaced by %s", rule_id, caller.uid)
    return Response(200, {"rule": updated.to_doc()})
