"""Alerts over HTTP: `GET /alerts` with its filters, one alert's page, and the admin actions on
one alert (acknowledge, resolve, suppress) with the body each accepts."""

from __future__ import annotations

import functools
import re
from typing import Any, Literal

from pydantic import Field

from video_monitoring.alerting.actions import AlertQuery
from video_monitoring.alerting.manager import AlertManager
from video_monitoring.alerting.rules import METRIC_GROUPS, RULE_ID
from video_monitoring.core.errors import InvalidArgument, NotFound
from video_monitoring.dashboard.params import Prepared, WindowQuery, int_param
from video_monitoring.dashboard.routes import BodyModel, Call

ALERT_ACTIONS = ("acknowledge", "resolve", "suppress")
ALERT_ID = re.compile(r"(?!__)[A-Za-z0-9_.:|-]{1,500}")
MAX_NOTE = 2000
MAX_SUPPRESS_MINUTES = 7 * 24 * 60
NOTE = f"a string of at most {MAX_NOTE} characters"


class AlertsQuery(WindowQuery):
    """`GET /alerts`: the window and the filters."""

    status: (
        Literal["all", "open", "pending", "firing", "acknowledged", "suppressed", "resolved"] | None
    ) = None
    severity: Literal["critical", "warning", "info"] | None = None
    rule: str | None = None
    about: Literal["system", "limits"] | None = None
    limit: str | None = None


class NoteBody(BodyModel):
    """Acknowledge or resolve: an optional note."""

    note: str = Field("", max_length=MAX_NOTE, description=NOTE)


class SuppressBody(NoteBody):
    """Suppress: for how many minutes, and an optional note."""

    minutes: int = Field(
        ge=1,
        le=MAX_SUPPRESS_MINUTES,
        description=f"an integer from 1 to {MAX_SUPPRESS_MINUTES}",
    )


def alert_list(manager: AlertManager, call: Call) -> Prepared:
    """GET /alerts: the filters checked, then the listing to run."""
    query: AlertsQuery = call.query
    window = call.api.window(call.request.params)
    if query.rule is not None and not RULE_ID.fullmatch(query.rule):
        raise InvalidArgument(f"rule: expected a rule id matching {RULE_ID.pattern}")
    alerts = AlertQuery(
        start=window.start,
        end=window.end,
        provider=window.provider,
        status=None if query.status in (None, "all") else query.status,
        severity=query.severity,
        rule_id=query.rule,
        limit=int_param(call.request.params, "limit", 100, 1, 1000),
        metrics=None if query.about is None else METRIC_GROUPS[query.about],
    )
    return lambda: {"window": window.to_json(), **manager.actions.alerts(alerts)}


def check_alert_id(alert_id: str) -> None:
    """A 404 naming `alertId` for a path segment no alert id can be."""
    if not ALERT_ID.fullmatch(alert_id):
        raise NotFound(f"alertId: no alert {alert_id!r}")


def alert_detail(manager: AlertManager, call: Call) -> Prepared:
    """GET /alerts/{alertId}: the alert with its history, and its provider's traffic control
    when it has one."""
    responder = call.api.responder

    def run() -> dict[str, Any]:
        detail = manager.actions.alert(call.path["alertId"])
        kind, _, provider = detail["alert"]["scope"].partition(":")
        if responder is not None and kind == "provider":
            controls = {ctl.provider: ctl for ctl in responder.controls()}
            if provider in controls:
                detail["providerControl"] = controls[provider].to_doc()
        return detail

    return run


def act_on_alert(action: str, manager: AlertManager, call: Call) -> Prepared:
    """POST /alerts/{alertId}/<action> by an admin."""
    alert_id = call.path["alertId"]

    def run() -> dict[str, Any]:
        body: NoteBody = call.body
        if action == "acknowledge":
            instance = manager.actions.acknowledge(alert_id, call.who, body.note)
        elif action == "resolve":
            instance = manager.actions.resolve(alert_id, call.who, body.note)
        else:
            assert isinstance(body, SuppressBody)
            instance = manager.actions.suppress(alert_id, body.minutes, call.who, body.note)
        return {"alert": instance.to_doc()}

    return run


acknowledge = functools.partial(act_on_alert, "acknowledge")
resolve = functools.partial(act_on_alert, "resolve")
suppress = functools.partial(act_on_alert, "suppress")
