"""Service level objectives over HTTP: `GET /slos` (every objective's error budget and burn
rates), `GET /slos/{sloId}` (one objective) and `PUT /slos/{sloId}` (admins: replace or add
one, audited), bodies checked field by field."""

from __future__ import annotations

from video_monitoring.alerting.rules import RULE_ID, AlertRule
from video_monitoring.alerting.slo import parse_objective
from video_monitoring.analytics.slos import SloService
from video_monitoring.core.errors import InvalidArgument, NotFound
from video_monitoring.dashboard.auth import ADMIN_ROLES, READ_ROLES, Caller, require
from video_monitoring.dashboard.http import Request, Response
from video_monitoring.dashboard.params import json_body
from video_monitoring.dashboard.routes import Admit, Audited


def slos_response(
    service: SloService,
    request: Request,
    caller: Caller,
    rest: list[str],
    admit: Admit,
    audited: Audited,
) -> Response:
    """GET /slos and GET /slos/{sloId} (readers); PUT /slos/{sloId} (admins)."""
    require(caller, READ_ROLES if request.method == "GET" else ADMIN_ROLES)
    if not rest:
        if request.params:
            raise InvalidArgument(f"{sorted(request.params)[0]}: /slos takes no parameters")
        admit()
        return Response(200, service.status())
    slo_id = rest[0]
    if not RULE_ID.fullmatch(slo_id):
        raise NotFound(f"sloId: no objective {slo_id!r} (ids match {RULE_ID.pattern})")
    admit()
    if request.method == "GET":
        return Response(200, {"objective": service.objective(slo_id).to_doc()})
    with audited(caller, "slo.update", slo_id) as details:
        body = json_body(request.body, optional=False)
        if "sloId" in body and body["sloId"] != slo_id:
            raise InvalidArgument("sloId: must equal the objective id in the path")
        objective = parse_objective(body, slo_id)
        before = service.objectives().get(slo_id)
        details["before"] = None if before is None else before.to_doc()
        service.update(objective, caller.uid or "unknown")
        details["after"] = objective.to_doc()
    return Response(200, {"objective": objective.to_doc()})


def check_objective(service: SloService, rule: AlertRule) -> None:
    """A burn-rate rule must name an objective that exists (a 400 naming `slo`)."""
    if rule.kind != "burn_rate":
        return
    objectives = service.objectives()
    if rule.slo not in objectives:
        known = ", ".join(sorted(objectives)) or "none"
        raise InvalidArgument(f"slo: no objective {rule.slo!r}; objectives: {known}")
