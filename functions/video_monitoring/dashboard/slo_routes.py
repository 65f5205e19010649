"""Service level objectives over HTTP: `GET /slos` (every objective's error budget and burn
rates), `GET /slos/{sloId}` (one objective) and `PUT /slos/{sloId}` (admins: replace or add
one, audited), bodies checked field by field."""

from __future__ import annotations

from typing import Any

from video_monitoring.alerting.rules import RULE_ID, AlertRule
from video_monitoring.alerting.slo_objectives import Objective, parse_objective
from video_monitoring.analytics.error_budgets import SloService
from video_monitoring.core.errors import InvalidArgument, NotFound
from video_monitoring.dashboard.params import Prepared
from video_monitoring.dashboard.routes import Call


def check_slo_id(slo_id: str) -> None:
    """A 404 naming `sloId` for a path segment no objective id can be."""
    if not RULE_ID.fullmatch(slo_id):
        raise NotFound(f"sloId: no objective {slo_id!r} (ids match {RULE_ID.pattern})")


def slos(service: SloService, call: Call) -> Prepared:
    """GET /slos."""
    return service.status


def objective(service: SloService, call: Call) -> Prepared:
    """GET /slos/{sloId}."""
    return lambda: {"objective": service.objective(call.path["sloId"]).to_doc()}


def objective_body(call: Call, body: dict[str, Any]) -> Objective:
    """PUT /slos/{sloId}'s body: an objective whose id, if given, is the path's."""
    slo_id = call.path["sloId"]
    if "sloId" in body and body["sloId"] != slo_id:
        raise InvalidArgument("sloId: must equal the objective id in the path")
    return parse_objective(body, slo_id)


def objective_before(service: SloService, call: Call) -> dict[str, Any] | None:
    """The objective's document before it is replaced; None when it is new."""
    before = service.objectives().get(call.path["sloId"])
    return None if before is None else before.to_doc()


def replace_objective(service: SloService, call: Call) -> Prepared:
    """PUT /slos/{sloId} (admins)."""

    def run() -> dict[str, Any]:
        service.update(call.body, call.who)
        return {"objective": call.body.to_doc()}

    return run


def check_objective(service: SloService, rule: AlertRule) -> None:
    """A burn-rate rule must name an objective that exists (a 400 naming `slo`)."""
    if rule.kind != "burn_rate":
        return
    objectives = service.objectives()
    if rule.slo not in objectives:
        known = ", ".join(sorted(objectives)) or "none"
        raise InvalidArgument(f"slo: no objective {rule.slo!r}; objectives: {known}")
