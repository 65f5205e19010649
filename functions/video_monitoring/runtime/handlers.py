"""What each deployed function does, in a few lines: decode the trigger, call the services
built once by the bootstrap, log the outcome. Bad documents are recorded by the services and
never raised; transient failures are ridden out (runtime/transient.py)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import flask
from flask import Request as FlaskRequest
from flask import Response as FlaskResponse

from video_monitoring.adapters.firestore_fold import Fold
from video_monitoring.alerting.controls import Change
from video_monitoring.alerting.evaluation import RunReport
from video_monitoring.alerting.metrics import Snapshot
from video_monitoring.alerting.notifications import DeliveryResult
from video_monitoring.alerting.rule_book import RuleSet
from video_monitoring.alerting.slo_objectives import Objective
from video_monitoring.analytics.health import HealthInputs
from video_monitoring.core.budget import Budget, run_within
from video_monitoring.core.clock import utc_now
from video_monitoring.core.logs import labelled, trace_of
from video_monitoring.dashboard.auth import cors_headers
from video_monitoring.dashboard.export_jobs import run_job
from video_monitoring.dashboard.http import Request, StreamResponse
from video_monitoring.dashboard.report import report_figures
from video_monitoring.ingest.events import is_monitor_event
from video_monitoring.privacy.retention import EXPIRE_FIELD, Retention
from video_monitoring.runtime import jobs
from video_monitoring.runtime.bootstrap import Services, services
from video_monitoring.runtime.tick import Tick, run_tick
from video_monitoring.runtime.transient import with_transient_retries
from video_monitoring.warehouse.nightly import DayRun

log = logging.getLogger(__name__)
# The most of a request body the dashboard reads (one byte more than it accepts, to tell).
MAX_BODY = 64 * 1024 + 1


def generation_written(event: Any) -> None:
    """Reconcile the generation the event names."""
    generation_id = event.params["generationId"]
    with labelled(function="on_generation_written", generation=generation_id, event=event.id):
        ingest = services().ingest
        plan = with_transient_retries(lambda: ingest.record_generation_metrics(generation_id))
        log.info("generation %s: %s (event %s, %d writes)", generation_id, plan.outcome,
                 event.id, plan.writes)  # fmt: skip


def event_written(event: Any) -> None:
    """Count one app event into the event rollups; the monitor's own events are skipped from
    the payload alone (no reads); a client event gets its expiry stamped."""
    with labelled(function="on_analytics_event_written", appEvent=event.params["eventId"]):
        _event_written(event)


def _event_written(event: Any) -> None:
    event_id = event.params["eventId"]
    sides = [getattr(event.data, "before", None), getattr(event.data, "after", None)]
    datas = [s.to_dict() if s is not None and s.exists else None for s in sides]
    if all(d is None or is_monitor_event(d) for d in datas) and any(datas):
        return
    app = services()
    plan = with_transient_retries(lambda: app.ingest.record_app_event(event_id))
    after = sides[1]
    if after is not None and after.exists and lacks_expiry(datas[1]):
        # Client events carry no expiry of their own: give them one, unless a newer write came.
        stamp = event_expiry(datas[1], utc_now(), app.retention)
        with_transient_retries(
            lambda: app.store.stamp_expiry(after.reference, stamp, after.update_time)
        )
    log.info("analytics event %s: %s (event %s, %d writes)", event_id, plan.outcome, event.id,
             plan.writes)  # fmt: skip


def lacks_expiry(data: dict[str, Any] | None) -> bool:
    """Whether an app event document lacks its expiry."""
    return data is not None and not is_monitor_event(data) and EXPIRE_FIELD not in data


def event_expiry(
    data: dict[str, Any] | None, now: dt.datetime, retention: Retention
) -> dt.datetime:
    """When an app event expires: the raw retention after its timestamp (or after now, for a
    document whose timestamp is not one)."""
    timestamp = (data or {}).get("timestamp")
    at = timestamp if isinstance(timestamp, dt.datetime) and timestamp.tzinfo else now
    return retention.raw_until(at)


def dashboard_request(request: FlaskRequest) -> FlaskResponse:
    """Adapt the Flask request to the dashboard and back (with CORS for listed origins)."""
    app = services()
    trace = trace_of(request.headers.get("X-Cloud-Trace-Context"), app.settings.runtime.project)
    with labelled(trace=trace, function="video_analytics_dashboard"):
        return _dashboard_request(app, request)


def unrouted(error: Exception) -> FlaskResponse:
    """A request the framework's router refused (a path holding a newline): the dashboard
    answers it as any other, with its JSON error, not Flask's HTML page."""
    return dashboard_request(flask.request)


def _dashboard_request(app: Services, request: FlaskRequest) -> FlaskResponse:
    cors = cors_headers(request.headers.get("Origin"), app.settings.dashboard.cors_origins)
    if request.method == "OPTIONS":  # a browser's preflight: no credentials, no body
        return FlaskResponse(status=204, headers=cors)
    response = app.dashboard.handle(
        Request(
            method=request.method,
            path=request.path,
            params=dict(request.args.items()),
            authorization=request.headers.get("Authorization"),
            body=request.get_data(cache=False)[:MAX_BODY],
        )
    )
    if isinstance(response, StreamResponse):
        flask_response = FlaskResponse(
            response.chunks,
            status=response.status,
            mimetype=response.content_type,
            headers={"Content-Disposition": f'attachment; filename="{response.filename}"'},
        )
    else:
        flask_response = FlaskResponse(
            response.text(),
            status=response.status,
            mimetype="application/json",
            headers=dict(response.headers),
        )
    flask_response.headers.update(cors)
    return flask_response


def export_job_created(event: Any) -> None:
    """Claim the new export job and write its file (a redelivery of a claimed or finished
    job does nothing)."""
    job_id = event.params["jobId"]
    with labelled(function="run_export_job", exportJob=job_id, event=event.id):
        app = services()
        targets = app.settings.dashboard.targets()
        job = run_job(
            app.export_jobs, job_id, app.export_source, utc_now,
            lambda window: report_figures(app.analytics, window, targets),
        )  # fmt: skip
        if job is not None:
            log.info("export job %s: %s, %d rows, %s bytes (event %s)", job_id, job.status,
                     job.rows, job.bytes, event.id)  # fmt: skip


def fold_rollups(schedule_time: dt.datetime) -> Fold:
    """The minute's fold of the rollup journal."""
    with labelled(function="fold_rollups"):
        return jobs.fold_rollups(services(), schedule_time)


def aggregate_and_alert(schedule_time: dt.datetime) -> Tick:
    """The five-minute tick (runtime/tick.py)."""
    with labelled(function="aggregate_and_alert"):
        return run_tick(LiveTick(services()), schedule_time)


def export_to_bigquery(schedule_time: dt.datetime) -> list[DayRun]:
    """The nightly BigQuery export."""
    with labelled(function="export_to_bigquery"):
        return jobs.export_to_bigquery(services(), schedule_time)


def audit_pipeline(schedule_time: dt.datetime) -> list[dict[str, Any]]:
    """The nightly pipeline audit."""
    with labelled(function="audit_pipeline"):
        return jobs.audit_pipeline(services(), schedule_time)


@dataclass
class LiveTick:
    """TickServices on the process's services."""

    app: Services

    @property
    def stuck_after(self) -> dt.timedelta:
        """Processing longer than this counts as stuck."""
        return dt.timedelta(minutes=self.app.settings.pipeline.stuck_after_minutes)

    def rule_set(self) -> RuleSet:
        """The alert rules of this run."""
        return self.app.alerts.rule_book.rule_set()

    def snapshot(self, now: dt.datetime, anomaly_days: int, burn_windows: bool) -> Snapshot:
        """Every rule window's figures."""
        return self.app.monitor.snapshot(now, anomaly_days, burn_windows)

    def objectives(self) -> dict[str, Objective]:
        """The service level objectives."""
        return self.app.slos.objectives()

    def audit_repairs_since(self, since: dt.datetime) -> int | None:
        """The audit's recent repairs."""
        return self.app.store.audit_repairs_since(since)

    def backlog(self, stuck_before: dt.datetime) -> dict[str, tuple[int, int]]:
        """Queued and stuck generations per scope."""
        return self.app.store.backlog(stuck_before)

    def live_figures(self, now: dt.datetime) -> dict[str, dict[str, float | None]]:
        """The queue and capacity figures now, with the functions' runtime overall."""
        figures = self.app.capacity.live_figures(now)
        figures.setdefault("overall", {}).update(self.app.runtime.live_figures(now))
        return figures

    def write_system_metrics(
        self, snapshot: Snapshot, backlog: Mapping[str, tuple[int, int]]
    ) -> int:
        """The system metric documents."""
        docs = self.app.monitor.system_metric_documents(snapshot, dict(backlog))
        return self.app.alert_store.write_system_metrics(docs)

    def health_inputs(self, now: dt.datetime, queued: int, stuck: int) -> HealthInputs:
        """The monitor's own figures."""
        return self.app.health.health_inputs(now, queued, stuck)

    def record_tick(self, at: dt.datetime) -> None:
        """The heartbeat."""
        self.app.health.record_tick(at)

    def evaluate(self, snapshot: Snapshot, report: RunReport, rules: RuleSet) -> None:
        """Evaluate the rules."""
        self.app.alerts.evaluation.evaluate(snapshot, report, rules)

    def escalate(self, now: dt.datetime, report: RunReport, rules: RuleSet) -> None:
        """Time-driven changes of open alerts."""
        self.app.alerts.evaluation.escalate(now, report, rules)

    def respond(self, now: dt.datetime, rules: RuleSet, providers: list[str]) -> list[Change]:
        """Provider controls from the rules' actions."""
        return self.app.responder.apply(now, rules.rules, providers)

    def delivery_budget(self) -> Budget:
        """NOTIFY_BUDGET_SECONDS from now."""
        return Budget(self.app.settings.notifications.notify_budget_seconds)

    def deliver(self, now: dt.datetime, budget: Budget) -> list[DeliveryResult]:
        """Deliver the outbox within the budget."""
        return self.app.alerts.dispatcher.dispatch(now, budget)

    def store_daily_snapshots(self, now: dt.datetime) -> bool:
        """The daily snapshots, the open days' user figures and the final days' sessions
        /user-insights reads."""
        stored = self.app.analytics.snapshot_user_behavior(now)
        self.app.analytics.refresh_open_days(now)
        self.app.analytics.patterns.fold_days(now)
        return stored

    def send_digests(self, now: dt.datetime, budget: Budget) -> dict[str, int]:
        """The digests due, waited for at most the budget (a send still running then keeps
        its lease, and a later run sends it if it does not finish)."""
        if budget.spent():
            return {}
        (sent,) = run_within(budget, [lambda: self.app.digests.send_due(now, budget)], workers=1)
        return sent or {}
