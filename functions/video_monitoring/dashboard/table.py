"""The API's route table: every operation with its method, path, roles, query and body models,
rate-limit class, audit and handler. Adding an endpoint is one entry here, its handler, and its
operation in openapi.yaml (tests/unit/test_route_table.py holds the two equal)."""

from __future__ import annotations

import operator

from video_monitoring.dashboard import (
    alert_routes,
    audit_routes,
    capacity_routes,
    control_routes,
    custom_rule_routes,
    dashboard_routes,
    digest_routes,
    export_job_routes,
    export_routes,
    generation_routes,
    privacy_routes,
    read_routes,
    recovery_routes,
    review_routes,
    rule_routes,
    runtime_routes,
    slo_routes,
    system_routes,
)
from video_monitoring.dashboard.auth import ADMIN_ROLES
from video_monitoring.dashboard.board_specs import check_dashboard_id
from video_monitoring.dashboard.params import RangeQuery, WindowQuery
from video_monitoring.dashboard.recovery_routes import RecoveryQuery
from video_monitoring.dashboard.routes import Audit, Body, Route, RouteTable, param
from video_monitoring.dashboard.services import ApiServices
from video_monitoring.privacy.erasure import check_user_id

ADMIN = ADMIN_ROLES
# Path ids are checked by name, after the role and before anything else (404 or 400 naming it).
PATH_CHECKS = {
    "alertId": alert_routes.check_alert_id,
    "ruleId": rule_routes.check_rule_id,
    "sloId": slo_routes.check_slo_id,
    "provider": control_routes.check_provider,
    "userId": check_user_id,
    "jobId": export_job_routes.check_job_id,
    "dashboardId": check_dashboard_id,
}

ROUTES: tuple[Route, ...] = (
    Route("GET", "/summary", read_routes.summary, query=WindowQuery),
    Route("GET", "/performance", read_routes.performance, query=WindowQuery),
    Route("GET", "/trends", read_routes.trends, query=read_routes.TrendsQuery),
    Route("GET", "/quality", read_routes.quality, query=WindowQuery),
    Route("GET", "/providers", read_routes.providers, query=WindowQuery),
    Route("GET", "/business", read_routes.business, query=WindowQuery),
    Route("GET", "/user-insights", read_routes.user_insights, query=RangeQuery),
    Route("GET", "/recovery", recovery_routes.recovery, uses="recovery", query=RecoveryQuery),
    Route("GET", "/health", system_routes.health_response, uses="health", roles=None),
    Route("GET", "/targets", system_routes.targets_body),
    Route(
        "GET", "/export", export_routes.export, uses="exports", query=export_routes.ExportQuery,
        rate_class="exports", audit=Audit("export", export_routes.export_target),
    ),
    Route("GET", "/export-jobs/{jobId}", export_job_routes.job, uses="jobs"),
    Route(
        "GET", "/generations", generation_routes.generations, uses="generations",
        query=generation_routes.GenerationsQuery,
        audit=Audit("generations.list", generation_routes.generations_target),
    ),
    Route("GET", "/system", runtime_routes.system, uses="capacity", query=WindowQuery),
    Route(
        "GET", "/capacity", capacity_routes.capacity_list, uses="capacity", query=WindowQuery
    ),
    Route(
        "PUT", "/capacity/{provider}", capacity_routes.replace_capacity, uses="capacity",
        roles=ADMIN, body=Body(required=True, parse=capacity_routes.capacity_body),
        audit=Audit(
            "capacity.update", param("provider"),
            before=capacity_routes.capacity_before, after=capacity_routes.capacity_after,
        ),
    ),
    Route("GET", "/alerts", alert_routes.alert_list, uses="alerts", query=alert_routes.AlertsQuery),
    Route("GET", "/alerts/{alertId}", alert_routes.alert_detail, uses="alerts"),
    Route(
        "POST", "/alerts/{alertId}/acknowledge", alert_routes.acknowledge, uses="alerts",
        roles=ADMIN, query=None, body=Body(required=False, model=alert_routes.NoteBody),
        audit=Audit("acknowledge", param("alertId"), record_body=True),
    ),
    Route(
        "POST", "/alerts/{alertId}/resolve", alert_routes.resolve, uses="alerts",
        roles=ADMIN, query=None, body=Body(required=False, model=alert_routes.NoteBody),
        audit=Audit("resolve", param("alertId"), record_body=True),
    ),
    Route(
        "POST", "/alerts/{alertId}/suppress", alert_routes.suppress, uses="alerts",
        roles=ADMIN, query=None, body=Body(required=True, model=alert_routes.SuppressBody),
        audit=Audit("suppress", param("alertId"), record_body=True),
    ),
    Route("GET", "/alert-rules", rule_routes.alert_rules, uses="alerts"),
    Route("GET", "/alert-rules/{ruleId}", rule_routes.rule, uses="alerts", query=None),
    Route(
        "PUT", "/alert-rules/{ruleId}", rule_routes.replace_rule, uses="alerts",
        roles=ADMIN, query=None, body=Body(required=True, parse=rule_routes.rule_body),
        audit=Audit(
            "rule.update", param("ruleId"),
            before=rule_routes.rule_before, after=operator.itemgetter("rule"),
        ),
    ),
    Route(
        "GET", "/alert-rules/{ruleId}/backtest", rule_routes.backtest, uses="alerts",
        query=rule_routes.BacktestQuery,
    ),
    Route(
        "POST", "/alert-rules", custom_rule_routes.create_rule, uses="alerts", roles=ADMIN,
        query=None, body=Body(required=True, parse=custom_rule_routes.new_rule_body),
        audit=Audit(
            "rule.create", custom_rule_routes.create_target,
            after=custom_rule_routes.created_rule,
        ),
    ),
    Route(
        "DELETE", "/alert-rules/{ruleId}", custom_rule_routes.delete_rule, uses="alerts",
        roles=ADMIN, query=None,
        audit=Audit("rule.delete", param("ruleId"), before=rule_routes.rule_before),
    ),
    Route(
        "POST", "/alert-rules/backtest", custom_rule_routes.backtest_draft, uses="alerts",
        query=rule_routes.BacktestQuery,
        body=Body(required=True, parse=custom_rule_routes.draft_body),
    ),
    Route("GET", "/provider-controls", control_routes.controls, uses="responder"),
    Route(
        "POST", "/provider-controls/{provider}/pause", control_routes.pause, uses="responder",
        roles=ADMIN, query=None, body=Body(required=False, model=control_routes.PauseBody),
        audit=Audit("provider.pause", param("provider"), record_body=True),
    ),
    Route(
        "POST", "/provider-controls/{provider}/release", control_routes.release,
        uses="responder", roles=ADMIN, query=None,
        body=Body(required=False, model=control_routes.ReleaseBody),
        audit=Audit("provider.release", param("provider"), record_body=True),
    ),
    Route("GET", "/slos", slo_routes.slos, uses="slos"),
    Route("GET", "/slos/{sloId}", slo_routes.objective, uses="slos", query=None),
    Route(
        "PUT", "/slos/{sloId}", slo_routes.replace_objective, uses="slos",
        roles=ADMIN, query=None, body=Body(required=True, parse=slo_routes.objective_body),
        audit=Audit(
            "slo.update", param("sloId"),
            before=slo_routes.objective_before, after=operator.itemgetter("objective"),
        ),
    ),
    Route("GET", "/digest", digest_routes.digest, uses="digests", query=digest_routes.DigestQuery),
    Route("GET", "/me/digests", digest_routes.my_digests, uses="digests"),
    Route(
        "PUT", "/me/digests", digest_routes.choose_digests, uses="digests", query=None,
        body=Body(required=True, model=digest_routes.DigestChoice),
    ),
    Route(
        "GET", "/reports", review_routes.report, uses="digests", rate_class="exports",
        query=review_routes.ReviewQuery,
    ),
    Route(
        "POST", "/users/{userId}/erase", privacy_routes.erase, uses="eraser",
        roles=ADMIN, query=None,
        audit=Audit("user.erase", privacy_routes.erase_target),
    ),
    Route(
        "GET", "/audit-log", audit_routes.audit_log, uses="trail", roles=ADMIN,
        query=audit_routes.AuditLogQuery,
    ),
    Route("GET", "/dashboards", dashboard_routes.dashboards, uses="boards"),
    Route(
        "GET", "/dashboards/{dashboardId}", dashboard_routes.dashboard, uses="boards", query=None
    ),
    Route(
        "PUT", "/dashboards/{dashboardId}", dashboard_routes.replace_board, uses="boards",
        query=None, body=Body(required=True, parse=dashboard_routes.layout_body),
        audit=Audit(
            "dashboard.update", param("dashboardId"),
            before=dashboard_routes.board_before, after=dashboard_routes.stored_board,
        ),
    ),
    Route(
        "DELETE", "/dashboards/{dashboardId}", dashboard_routes.delete_board, uses="boards",
        query=None,
        audit=Audit("dashboard.delete", param("dashboardId"), before=dashboard_routes.board_before),
    ),
)  # fmt: skip


def served(api: ApiServices) -> RouteTable:
    """The routes whose services are configured."""
    return RouteTable(
        (r for r in ROUTES if r.uses is None or getattr(api, r.uses) is not None), PATH_CHECKS
    )
