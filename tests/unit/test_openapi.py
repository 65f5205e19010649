"""The OpenAPI file documents exactly the routes the dashboard serves."""

from __future__ import annotations

import datetime as dt
import json
import pathlib
from typing import Any

import pytest
import yaml
from jsonschema.exceptions import ValidationError
from openapi_schema_validator import OAS30Validator, oas30_format_checker

from tests.unit.alert_fakes import FakeAlertStore
from tests.unit.board_fakes import DictBoards
from tests.unit.fakes import FakeStore, FixedClock
from tests.unit.generation_fakes import ListGenerations
from tests.unit.queue_fakes import FakeQueue
from tests.unit.test_access import ListAudit
from tests.unit.test_alert_manager import World, degraded_world
from tests.unit.test_capacity import jobs as queue_jobs
from tests.unit.test_dashboard import NOW, json_response, verifier
from tests.unit.test_digest import MemoryStore
from tests.unit.test_export import ListSource, generation
from tests.unit.test_export_jobs import DictFiles, DictJobs
from tests.unit.test_planning import linear_hours
from tests.unit.test_slo import FakeObjectiveStore
from video_monitoring.alerting.actions import AlertQuery
from video_monitoring.alerting.controls import GuardRails
from video_monitoring.alerting.manager import AlertManager
from video_monitoring.alerting.notifications import Delivery
from video_monitoring.alerting.responder import ProviderResponder
from video_monitoring.alerting.rules import METRICS
from video_monitoring.analytics.capacity import CapacityService, ProviderCapacity
from video_monitoring.analytics.digest_content import last_complete
from video_monitoring.analytics.digest_service import DigestService, DigestSources
from video_monitoring.analytics.error_budgets import SloService
from video_monitoring.analytics.figures import AnalyticsEngine
from video_monitoring.analytics.health import ExportStatus, HealthCheck, HealthInputs
from video_monitoring.analytics.performance import PerformanceMonitor
from video_monitoring.analytics.planning import Planner
from video_monitoring.analytics.queue import QueueService
from video_monitoring.analytics.recovery import RecoveryService
from video_monitoring.config.settings import DashboardSettings
from video_monitoring.dashboard.app import ApiServices, Dashboard, FileExports
from video_monitoring.dashboard.boards import Boards
from video_monitoring.dashboard.export_jobs import ExportJobs, run_job
from video_monitoring.dashboard.files import FORMATS
from video_monitoring.dashboard.generation_list import GenerationList
from video_monitoring.dashboard.http import Request, StreamResponse
from video_monitoring.ingest.service import IngestService
from video_monitoring.privacy.erasure import ErasureReport, erase_user

SPEC = pathlib.Path(__file__).resolve().parents[2] / "openapi.yaml"


class FakeUserData:
    def erase_user(self, user_id: str) -> dict[str, dict[str, int]]:
        return {"analytics_events": {"deleted": 2}, "video_generation_metrics": {"anonymised": 1}}


def fake_eraser(user_id: str) -> ErasureReport:
    return erase_user(user_id, FakeUserData(), None)


def healthy_check(clock: FixedClock) -> HealthCheck:
    """A health check over a monitor whose tick ran a minute ago."""

    class Source:
        def health_inputs(self, now: dt.datetime, queued: int, stuck: int) -> HealthInputs:
            run = ExportStatus("2026-11-23", "succeeded", now, {"generation_metrics": 3})
            return HealthInputs(
                now, now - dt.timedelta(minutes=1), None, 10, 0, 0, 0, run, queued, stuck
            )

        def record_tick(self, at: dt.datetime) -> None:
            raise AssertionError("not called")

    return HealthCheck(Source(), lambda now: (2, 0), clock)


def test_documented_paths_are_the_served_routes() -> None:
    spec = yaml.safe_load(SPEC.read_text())
    store = FakeStore()
    clock = FixedClock(NOW)
    monitor = PerformanceMonitor(store)
    alerts = FakeAlertStore()
    manager = AlertManager(alerts, Delivery({}), "http://x", clock)
    dashboard = Dashboard(ApiServices(
        AnalyticsEngine(store, monitor), clock, 400, verifier=verifier, alerts=manager,
        exports=FileExports(ListSource({})), eraser=fake_eraser, health=healthy_check(clock),
        jobs=ExportJobs(DictJobs(), DictFiles()),
        responder=ProviderResponder(alerts, None, GuardRails(), clock),
        digests=DigestService(
            DigestSources(AnalyticsEngine(store, monitor), lambda s, e: [], lambda r, s, e, p: {}),
            MemoryStore(), {}, lambda r, d: None, accounts=None,
        ),
        slos=SloService(FakeObjectiveStore(), monitor, clock), trail=ListAudit(),
        capacity=CapacityService(
            FakeQueue(), QueueService(FakeQueue(), ("pika",)), monitor.cells, clock
        ),
        generations=GenerationList(ListGenerations()),
        recovery=RecoveryService(store, clock=clock),
        boards=Boards(DictBoards(), clock),
    ))  # fmt: skip
    assert set(spec["paths"]) == dashboard.paths()
    summary = spec["components"]["schemas"]["Summary"]
    assert set(summary["required"]) >= {"window", "generations", "costUsd", "business", "alerts"}


def _validator(spec: dict[str, Any], schema: dict[str, Any]) -> OAS30Validator:
    # Refs in the file point at #/components; make the components part of the root document.
    return OAS30Validator(
        {**schema, "components": spec["components"]}, format_checker=oas30_format_checker
    )


def prepared(world: World, verb: str, url: str, body: bytes) -> tuple[bytes, dict[str, str]]:
    """The body and query of one documented call, from its placeholder body."""
    if body == b"RULE":
        rule = world.alerts.rules["slow_generation"].to_doc()
        body = json.dumps({k: v for k, v in rule.items() if k != "ruleId"}).encode()
    plain = "alert" in url or "provider-controls" in url or url in ("/targets", "/health")
    params = {} if plain else {"window": "24h"}
    if body == b"NOPARAMS":
        body, params = b"", {}
    if body == b"DASHBOARD":
        panels = [{"figure": "successRate"}, {"figure": "costUsd", "chart": "line"}]
        body, params = json.dumps({"title": "Ops", "panels": panels}).encode(), {}
    if url in ("/me/digests", "/slos/generation_success", "/capacity/runway") and verb == "PUT":
        params = {}
    if body == b"BACKTEST":
        body, params = b"", {"window": "24h", "pagesPerWeek": "1"}
    if body == b"DRAFT":
        rule = world.alerts.rules["low_success_rate"].to_doc()
        body, params = json.dumps(rule).encode(), {"window": "24h", "pagesPerWeek": "1"}
    return body, params


def test_every_documented_response_validates_against_its_schema() -> None:
    spec = yaml.safe_load(SPEC.read_text())
    world = degraded_world()
    world.tick()
    world.tick()  # alerts open
    world.store.alerts = [i.to_doc() for i in world.alerts.instances.values()]
    world.store.events["up"] = {
        "type": "premium_upgrade", "userId": "u", "timestamp": world.clock.now, "amountUsd": 9.99,
    }  # fmt: skip
    IngestService(world.store).record_app_event("up")
    source = ListSource({"video_generation_metrics": [generation(i) for i in range(3)]})
    jobs = ExportJobs(DictJobs(), DictFiles())
    queue = FakeQueue(queue_jobs(), {"runway": ProviderCapacity(max_concurrent=2)})
    audit = ListAudit()
    dashboard = Dashboard(ApiServices(
        AnalyticsEngine(world.store, world.monitor), world.clock, 400,
        verifier=verifier, alerts=world.manager, audit=audit, trail=audit,
        exports=FileExports(source, sync_rows={"csv": 2}),
        jobs=jobs,
        eraser=fake_eraser,
        health=healthy_check(world.clock),
        responder=ProviderResponder(world.alerts, None, GuardRails(), world.clock),
        digests=DigestService(
            DigestSources(
                AnalyticsEngine(world.store, world.monitor),
                lambda s, e: world.manager.actions.alerts(AlertQuery(s, e))["history"],
                lambda r, s, e, p: world.manager.rule_book.backtest(r, s, e, None, p),
            ),
            MemoryStore(), DashboardSettings().targets(), lambda r, d: None, accounts=None,
        ),
        slos=SloService(FakeObjectiveStore(), world.monitor, world.clock),
        capacity=CapacityService(
            queue, QueueService(queue, ("pika", "runway")), world.monitor.cells, world.clock,
            Planner(lambda start, end: linear_hours(14)),  # a forecast with every field set
        ),
        generations=GenerationList(ListGenerations([
            generation(i, createdAt=world.clock.now - dt.timedelta(minutes=i + 1))
            for i in range(3)
        ])),
        recovery=RecoveryService(world.store, clock=world.clock),
        boards=Boards(DictBoards(), world.clock),
    ))  # fmt: skip
    alert_id = next(iter(world.alerts.instances))
    # Over the csv cap: a 202 naming the job, which the worker then writes.
    export = {"dataset": "generations", "format": "csv", "window": "7d"}
    queued = json_response(dashboard.handle(Request("GET", "/export", export, "Bearer tok-admin")))
    assert queued.status == 202
    accepted = spec["paths"]["/export"]["get"]["responses"]["202"]
    _validator(spec, accepted["content"]["application/json"]["schema"]).validate(queued.body)
    assert set(accepted["headers"]) == set(queued.headers) == {"Location"}
    job_id = queued.body["jobId"]
    done = run_job(jobs, job_id, source, world.clock)
    assert done is not None and done.status == "done"
    engine = AnalyticsEngine(world.store, world.monitor)
    assert engine.snapshot_user_behavior(world.clock.now + dt.timedelta(days=1, hours=2))
    calls = {
        ("/summary", "get"): ("GET", "/summary", b""),
        ("/performance", "get"): ("GET", "/performance", b""),
        ("/trends", "get"): ("GET", "/trends", b""),
        ("/quality", "get"): ("GET", "/quality", b""),
        ("/providers", "get"): ("GET", "/providers", b""),
        ("/business", "get"): ("GET", "/business", b""),
        ("/alerts", "get"): ("GET", "/alerts", b""),
        ("/alert-rules", "get"): ("GET", "/alert-rules", b""),
        ("/alert-rules/{ruleId}", "get"): ("GET", "/alert-rules/slow_generation", b""),
        ("/alert-rules/{ruleId}", "put"): ("PUT", "/alert-rules/slow_generation", b"RULE"),
        ("/alert-rules/{ruleId}/backtest", "get"): (
            "GET", "/alert-rules/low_success_rate/backtest", b"BACKTEST"
        ),
        ("/alerts/{alertId}", "get"): ("GET", f"/api/alerts/{alert_id}", b""),
        ("/alerts/{alertId}/acknowledge", "post"): ("POST", f"/alerts/{alert_id}/acknowledge", b""),
        ("/alerts/{alertId}/suppress", "post"): (
            "POST", f"/alerts/{alert_id}/suppress", b'{"minutes": 30}'
        ),
        ("/alerts/{alertId}/resolve", "post"): ("POST", f"/alerts/{alert_id}/resolve", b""),
        ("/export", "get"): ("GET", "/export", b""),
        ("/user-insights", "get"): ("GET", "/user-insights", b""),
        ("/targets", "get"): ("GET", "/targets", b""),
        ("/health", "get"): ("GET", "/health", b""),
        ("/users/{userId}/erase", "post"): ("POST", "/users/u-1/erase", b""),
        ("/provider-controls/{provider}/pause", "post"): (
            "POST", "/api/provider-controls/pika/pause", b'{"reason": "test", "minutes": 5}'
        ),
        ("/provider-controls/{provider}/release", "post"): (
            "POST", "/provider-controls/pika/release", b""
        ),
        ("/provider-controls", "get"): ("GET", "/provider-controls", b""),
        ("/digest", "get"): ("GET", "/digest", b"NOPARAMS"),
        ("/me/digests", "get"): ("GET", "/me/digests", b"NOPARAMS"),
        ("/me/digests", "put"): ("PUT", "/me/digests", b'{"weekly": true}'),
        ("/system", "get"): ("GET", "/system", b""),
        ("/capacity", "get"): ("GET", "/capacity", b""),
        ("/recovery", "get"): ("GET", "/recovery", b""),
        ("/capacity/{provider}", "put"): (
            "PUT", "/capacity/runway", b'{"maxConcurrent": 4, "monthlyBudgetUsd": 5.0}'
        ),
        ("/slos", "get"): ("GET", "/slos", b"NOPARAMS"),
        ("/export-jobs/{jobId}", "get"): ("GET", f"/export-jobs/{job_id}", b"NOPARAMS"),
        ("/generations", "get"): ("GET", "/generations", b""),
        ("/slos/{sloId}", "get"): ("GET", "/slos/generation_latency", b"NOPARAMS"),
        ("/slos/{sloId}", "put"): (
            "PUT", "/slos/generation_success", b'{"sli": "success", "target": 0.99}'
        ),
        ("/alert-rules", "post"): ("POST", "/alert-rules", b"RULE"),
        ("/alert-rules/backtest", "post"): ("POST", "/alert-rules/backtest", b"DRAFT"),
        ("/audit-log", "get"): ("GET", "/audit-log", b"NOPARAMS"),
        ("/dashboards/{dashboardId}", "put"): ("PUT", "/dashboards/ops", b"DASHBOARD"),
        ("/dashboards", "get"): ("GET", "/dashboards", b"NOPARAMS"),
        ("/dashboards/{dashboardId}", "get"): ("GET", "/dashboards/ops", b"NOPARAMS"),
        ("/reports", "get"): ("GET", "/reports", b""),
    }  # fmt: skip
    documented = {
        (path, method) for path, item in spec["paths"].items() for method in item
        if method in ("get", "put", "post")
    }  # fmt: skip
    assert documented == set(calls)
    error_schema = _validator(spec, {"$ref": "#/components/schemas/Error"})
    with pytest.raises(ValidationError):  # the validator does reject what breaks a schema
        _validator(spec, {"$ref": "#/components/schemas/Summary"}).validate({"window": 1})
    for (path, method), (verb, url, body) in calls.items():
        body, params = prepared(world, verb, url, body)
        if url == "/export":
            streamed = dashboard.handle(
                Request(
                    verb,
                    url,
                    {"dataset": "generations", "format": "json", "window": "7d"},
                    "Bearer tok-admin",
                )
            )
            assert isinstance(streamed, StreamResponse)
            content = spec["paths"][path][method]["responses"]["200"]["content"]
            assert {f.split(";")[0] for f in content} == set(FORMATS.values())
            rows = json.loads(b"".join(streamed.chunks).decode())
            _validator(spec, content["application/json"]["schema"]).validate(rows)
            assert len(rows) == 3
            continue
        if url == "/reports":
            month = last_complete("monthly", world.clock.now)
            first = {"period": "monthly", "from": f"{month.start:%Y-%m-%d}"}
            review = dashboard.handle(Request(verb, url, first, "Bearer tok-admin"))
            assert isinstance(review, StreamResponse)
            content = spec["paths"][path][method]["responses"]["200"]["content"]
            assert set(content) == {review.content_type} == {"application/pdf"}
            assert b"".join(review.chunks).startswith(b"%PDF-")
            continue
        response = json_response(
            dashboard.handle(Request(verb, url, params, "Bearer tok-admin", body))
        )
        created = (path, method) in {("/alert-rules", "post"), ("/dashboards/{dashboardId}", "put")}
        status = "201" if created else "200"
        assert str(response.status) == status, (path, response.body)
        documented_headers = spec["paths"][path][method]["responses"][status].get("headers", {})
        assert set(documented_headers) == set(response.headers), path
        schema = spec["paths"][path][method]["responses"][status]["content"]["application/json"]
        _validator(spec, schema["schema"]).validate(json.loads(response.text()))
        bad = json_response(
            dashboard.handle(Request(verb, url, {"colour": "red"}, "Bearer tok-admin", body))
        )
        if bad.status >= 400:
            error_schema.validate(json.loads(bad.text()))
    missing = json_response(dashboard.handle(Request("GET", "/nope", {}, "Bearer tok-admin")))
    assert missing.status == 404
    error_schema.validate(json.loads(missing.text()))


def test_the_rule_metric_enum_is_every_metric_a_rule_may_name() -> None:
    spec = yaml.safe_load(SPEC.read_text())
    metric = spec["components"]["schemas"]["AlertRule"]["properties"]["metric"]
    assert set(metric["enum"]) == METRICS
