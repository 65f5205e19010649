"""Glue between the deployed functions and the services: decode, call a service, map back."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

from flask import Request as FlaskRequest
from flask import Response as FlaskResponse
from google.api_core.exceptions import (
    DeadlineExceeded,
    GoogleAPIError,
    InternalServerError,
    ServiceUnavailable,
)
from google.auth.exceptions import GoogleAuthError

from video_monitoring.adapters.bigquery import BigQueryWarehouse, bigquery_client
from video_monitoring.adapters.firestore_access import FirestoreAuditLog, FirestoreRateLimiter
from video_monitoring.adapters.firestore_alerts import FirestoreAlertStore
from video_monitoring.adapters.firestore_exports import (
    FirestoreDaySource,
    FirestoreExportSource,
    FirestoreRunLog,
)
from video_monitoring.adapters.firestore_rollups import Fold
from video_monitoring.adapters.firestore_store import FirestoreStore
from video_monitoring.alerting.manager import AlertManager, RunReport
from video_monitoring.alerting.notifications import (
    NotificationSettings,
    RetryPolicy,
    channels_from_settings,
)
from video_monitoring.analytics.engine import AnalyticsEngine
from video_monitoring.analytics.performance import PerformanceMonitor
from video_monitoring.config import constants as c
from video_monitoring.config.settings import get_settings
from video_monitoring.core.clock import utc_now
from video_monitoring.core.errors import Unavailable
from video_monitoring.core.models import Window
from video_monitoring.dashboard.app import Dashboard, Request, StreamResponse
from video_monitoring.dashboard.auth import cors_headers
from video_monitoring.dashboard.files import Dataset
from video_monitoring.ingest.audit import audit_days, audit_ledger, paired
from video_monitoring.ingest.events import is_monitor_event
from video_monitoring.ingest.rollup import Granularity, floor_time
from video_monitoring.ingest.store import EVENT_LEDGER, ConcurrencyError, UserActivity
from video_monitoring.privacy.erasure import ErasureReport, erase_user
from video_monitoring.privacy.pseudonyms import pseudonym
from video_monitoring.privacy.retention import EXPIRE_FIELD, configured_retention, retention_of
from video_monitoring.warehouse.archive import Cells
from video_monitoring.warehouse.nightly import (
    CHANGED_LOOKBACK,
    BigQuerySettings,
    DayRun,
    export_day,
    nightly_plan,
    scheduled_day,
)

log = logging.getLogger(__name__)
# Audit runs whose repairs the `pipeline_drift` rule sees: a nightly run stays visible for a day.
AUDIT_ALERT_SPAN = dt.timedelta(hours=26)
# fold_rollups runs every minute with a 60 s timeout; it stops starting transactions after this.
FOLD_BUDGET_SECONDS = 45.0


@functools.cache
def store() -> FirestoreStore:
    """The process's store (client created on first use)."""
    return FirestoreStore()


@functools.cache
def monitor() -> PerformanceMonitor:
    """The process's performance monitor."""
    settings = get_settings()
    return PerformanceMonitor(
        store(),
        settings.rollup_shards,
        utc_now,
        frozenset(settings.tracked_features),
        retention_of(settings),
    )


@functools.cache
def alert_store() -> FirestoreAlertStore:
    """The process's alert store."""
    return FirestoreAlertStore()


@functools.cache
def alert_manager() -> AlertManager:
    """The process's alert manager, with the channels configured in settings."""
    notify = NotificationSettings()
    policy = RetryPolicy(
        attempts=notify.notify_attempts,
        base_delay_seconds=notify.notify_base_delay_seconds,
        max_delay_seconds=notify.notify_max_delay_seconds,
        timeout_seconds=notify.notify_timeout_seconds,
    )
    return AlertManager(
        alert_store(),
        channels_from_settings(notify),
        policy,
        get_settings().dashboard_base_url,
        utc_now,
    )


@functools.cache
def analytics() -> AnalyticsEngine:
    """The process's analytics engine."""
    settings = get_settings()
    return AnalyticsEngine(
        store(),
        monitor(),
        settings.rollup_shards,
        utc_now,
        frozenset(settings.tracked_features),
        retention_of(settings),
        archive=ArchiveOnDemand() if bigquery_settings().bigquery_enabled else None,
    )


class ArchiveOnDemand:
    """The BigQuery archive, its client created only when an old window is asked for (the
    triggers that share the engine never need one). BigQuery failing is a 503 naming it, not
    an internal error."""

    def trend_points(self, window: Window, granularity: Granularity) -> list[dict[str, Any]]:
        """Trend points of the window from BigQuery."""
        with _bigquery_answers():
            return warehouse().trend_points(window, granularity)

    def cells(self, window: Window, tracked_features: frozenset[str] | None) -> Cells:
        """Generation rollup cells of the window, rebuilt in BigQuery."""
        with _bigquery_answers():
            return warehouse().cells(window, tracked_features)

    def event_cells(self, window: Window, tracked_features: frozenset[str] | None) -> Cells:
        """Event rollup cells of the window, rebuilt in BigQuery."""
        with _bigquery_answers():
            return warehouse().event_cells(window, tracked_features)

    def count_rows(self, dataset: Dataset, window: Window) -> int:
        """Archived rows of an exported dataset in the window."""
        with _bigquery_answers():
            return warehouse().count_rows(dataset, window)

    def archived_rows(
        self, dataset: Dataset, window: Window
    ) -> Iterator[tuple[str, Mapping[str, Any]]]:
        """Archived rows of an exported dataset in the window, streamed (the dashboard reads the
        first before answering, so a failing query is a 503, not a cut file)."""
        with _bigquery_answers():
            yield from warehouse().archived_rows(dataset, window)

    def user_days(
        self, start: dt.datetime, end: dt.datetime, excluded: frozenset[str]
    ) -> list[UserActivity]:
        """User activity per day from BigQuery, the excluded users left out under their ids and,
        where the export pseudonymises, under their pseudonyms."""
        with _bigquery_answers():
            return warehouse().user_days(start, end, excluded | self.aliases(excluded))

    def aliases(self, users: frozenset[str]) -> frozenset[str]:
        """The users' pseudonyms where the export pseudonymises (none otherwise)."""
        key = bigquery_settings().key()
        return frozenset(pseudonym(user, key) for user in users) if key else frozenset()


@contextlib.contextmanager
def _bigquery_answers() -> Iterator[None]:
    """BigQuery errors as a 503 `unavailable` naming BigQuery (logged with their detail)."""
    try:
        yield
    except (GoogleAPIError, GoogleAuthError, TimeoutError) as error:
        log.warning("BigQuery archive query failed: %s", error)
        raise Unavailable(
            f"bigquery: the archive did not answer ({type(error).__name__}); windows older "
            "than Firestore keeps are read from it, retry later"
        ) from error


@functools.cache
def dashboard() -> Dashboard:
    """The process's dashboard."""
    settings = get_settings()
    return Dashboard(
        analytics(),
        monitor(),
        utc_now,
        settings.max_window_days,
        alerts=alert_manager(),
        exports=FirestoreExportSource(),
        export_max_rows=settings.export_max_rows,
        audit=FirestoreAuditLog(),
        export_limiter=FirestoreRateLimiter(settings.export_rate_per_hour, dt.timedelta(hours=1)),
        export_rate_per_hour=settings.export_rate_per_hour,
        eraser=erase_user_everywhere,
        retention=retention_of(settings),
        archived_rows=ArchiveOnDemand() if bigquery_settings().bigquery_enabled else None,
    )


def erase_user_everywhere(user_id: str) -> ErasureReport:
    """The admin erasure: Firestore, then BigQuery (raw id and, when exports are pseudonymised,
    the pseudonym) unless BIGQUERY_ENABLED is off."""
    settings = bigquery_settings()
    key = settings.key()
    return erase_user(
        user_id,
        store(),
        warehouse() if settings.bigquery_enabled else None,
        pseudonym(user_id, key) if key else None,
    )


T = TypeVar("T")
TRANSIENT = (ServiceUnavailable, DeadlineExceeded, InternalServerError, ConcurrencyError)


def with_transient_retries(
    action: Callable[[], T],
    budget_seconds: float = 50.0,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run a reconcile, retrying transient failures with backoff for up to `budget_seconds`.

    The Python SDK does not expose `retry` for Firestore triggers, so a delivery whose handler
    raises is not delivered again; the handler itself rides out what a retry would have."""
    deadline = time.monotonic() + budget_seconds
    delay = 0.2
    while True:
        try:
            return action()
        except TRANSIENT as error:
            if time.monotonic() + delay > deadline:
                raise
            log.warning("transient failure, retrying in %.1f s: %s", delay, type(error).__name__)
            sleep(delay)
            delay = min(delay * 2, 5.0)


def handle_generation_written(event: Any) -> None:
    """Reconcile the generation the event names; bad documents are recorded, never raised."""
    generation_id = event.params["generationId"]
    plan = with_transient_retries(lambda: monitor().record_generation_metrics(generation_id))
    log.info(
        "generation %s: %s (event %s, %d writes)",
        generation_id,
        plan.outcome,
        event.id,
        plan.writes,
    )


def lacks_expiry(data: dict[str, Any] | None) -> bool:
    """Whether an app event document lacks its expiry."""
    return data is not None and not is_monitor_event(data) and EXPIRE_FIELD not in data


def event_expiry(data: dict[str, Any] | None, now: dt.datetime) -> dt.datetime:
    """When an app event expires: the raw retention after its timestamp (or after now, for a
    document whose timestamp is not one)."""
    timestamp = (data or {}).get("timestamp")
    at = timestamp if isinstance(timestamp, dt.datetime) and timestamp.tzinfo else now
    return configured_retention().raw_until(at)


def handle_event_written(event: Any) -> None:
    """Count one app event into the event rollups; the monitor's own events are skipped from
    the payload alone (no reads), bad documents are recorded, never raised."""
    event_id = event.params["eventId"]
    change = event.data
    sides = [getattr(change, "before", None), getattr(change, "after", None)]
    datas = [s.to_dict() if s is not None and s.exists else None for s in sides]
    if all(d is None or is_monitor_event(d) for d in datas) and any(datas):
        return
    plan = with_transient_retries(lambda: analytics().record_app_event(event_id))
    after = sides[1]
    if after is not None and after.exists and lacks_expiry(datas[1]):
        # Client events carry no expiry of their own: give them one, unless a newer write came.
        stamp = event_expiry(datas[1], utc_now())
        with_transient_retries(
            lambda: store().stamp_expiry(after.reference, stamp, after.update_time)
        )
    log.info(
        "analytics event %s: %s (event %s, %d writes)",
        event_id,
        plan.outcome,
        event.id,
        plan.writes,
    )


def run_pipeline_audit(schedule_time: dt.datetime) -> list[dict[str, Any]]:
    """The nightly drift audit (ingest/audit.py) of the settled days: each day's generations and
    app events re-planned from their source documents, drift repaired through the triggers' own
    reconcile, the result stored in `pipeline_audits/{day}` (alert rule `pipeline_drift`)."""
    return [audit_day(day) for day in audit_days(schedule_time, get_settings().audit_days)]


def audit_day(day: dt.date) -> dict[str, Any]:
    """Audit one UTC day of both ledgers and record the result."""
    local = store()
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    end = start + dt.timedelta(days=1)

    def pairs(source: str, stored: str, time_field: str) -> Any:
        return paired(
            local.ordered_documents(source, time_field, start, end),
            local.ordered_documents(stored, time_field, start, end),
            time_field,
        )

    generations = audit_ledger(
        pairs(get_settings().source_collection, c.METRICS, "createdAt"),
        monitor().planner,
        lambda doc_id, planner: with_transient_retries(lambda: local.reconcile(doc_id, planner)),
    )
    events = audit_ledger(
        pairs(c.EVENTS, c.EVENT_CONTRIBUTIONS, "timestamp"),
        analytics().event_planner,
        lambda doc_id, planner: with_transient_retries(
            lambda: local.reconcile(doc_id, planner, EVENT_LEDGER)
        ),
    )
    body = {
        "day": day.isoformat(),
        "ranAt": utc_now(),
        "repaired": generations.repaired + events.repaired,
        "generations": generations.to_doc(),
        "events": events.to_doc(),
    }
    local.record_audit(day, body)
    log.log(
        logging.ERROR if body["repaired"] else logging.INFO,
        "audit_pipeline %s: generations %d checked, %d repaired; app events %d checked, "
        "%d repaired",
        day.isoformat(),
        generations.checked,
        generations.repaired,
        events.checked,
        events.repaired,
    )
    return body


def run_fold_rollups(schedule_time: dt.datetime) -> Fold:
    """Fold the rollup journal of every closed minute (before the later of the tick and now)
    into the folded buckets; whatever the time budget leaves, the next minute's run takes."""
    now = max(schedule_time.astimezone(dt.UTC), utc_now())
    t0 = time.monotonic()
    result = store().fold(floor_time(now, "minute"), budget_seconds=FOLD_BUDGET_SECONDS)
    seconds = time.monotonic() - t0
    log.info(
        "fold_rollups %s: %d journal entries from %d documents into %d bucket writes in %.1f s "
        "(%.0f entries/s)%s",
        now.isoformat(),
        result.entries,
        result.documents,
        result.buckets,
        seconds,
        result.entries / seconds if seconds > 0 else 0.0,
        "; more remain for the next run" if result.remaining else "",
    )
    return result


def run_aggregate_and_alert(schedule_time: dt.datetime) -> RunReport:
    """One scheduled tick: write the windowed system metrics, evaluate the alert rules,
    escalate, deliver notifications. Every step is idempotent per tick."""
    settings = get_settings()
    now = schedule_time.astimezone(dt.UTC)
    manager = alert_manager()
    rules, _ = alert_store().load_rules()
    anomaly_days = max((r.baseline_days for r in rules if r.kind == "anomaly"), default=0)
    snapshot = monitor().snapshot(now, anomaly_days)
    snapshot.system["pipelineRepairs"] = store().audit_repairs_since(now - AUDIT_ALERT_SPAN)
    backlog = store().backlog(now - dt.timedelta(minutes=settings.stuck_after_minutes))
    written = alert_store().write_system_metrics(
        monitor().system_metric_documents(snapshot, backlog)
    )
    report = manager.run(snapshot)
    if analytics().snapshot_user_behavior(now):
        log.info("stored the daily business, quality and user behaviour snapshots")
    failed = [d for d in report.deliveries if not d.ok]
    log.info(
        "aggregate_and_alert %s: %d system metric documents; "
        "%d evaluations, %d changes, fired %s, resolved %s; %d notifications sent, %d failed",
        now.isoformat(),
        written,
        report.evaluations,
        report.changes,
        report.fired,
        report.resolved,
        len(report.deliveries) - len(failed),
        len(failed),
    )
    for problem in report.rule_problems:
        log.error("alert rule skipped: %s", problem)
    return report


def handle_dashboard_request(request: FlaskRequest) -> FlaskResponse:
    """Adapt the Flask request to the dashboard and back (with CORS for listed origins)."""
    cors = cors_headers(request.headers.get("Origin"), get_settings().cors_origins)
    if request.method == "OPTIONS":  # a browser's preflight: no credentials, no body
        return FlaskResponse(status=204, headers=cors)
    flask_response = _dashboard_response(request)
    flask_response.headers.update(cors)
    return flask_response


def _dashboard_response(request: FlaskRequest) -> FlaskResponse:
    response = dashboard().handle(
        Request(
            method=request.method,
            path=request.path,
            params={k: v for k, v in request.args.items()},
            authorization=request.headers.get("Authorization"),
            body=request.get_data(cache=False)[: 64 * 1024 + 1],
        )
    )
    if isinstance(response, StreamResponse):
        return FlaskResponse(
            response.chunks,
            status=response.status,
            mimetype=response.content_type,
            headers={"Content-Disposition": f'attachment; filename="{response.filename}"'},
        )
    return FlaskResponse(response.text(), status=response.status, mimetype="application/json")


@functools.cache
def bigquery_settings() -> BigQuerySettings:
    """The export's settings (read once)."""
    return BigQuerySettings()


@functools.cache
def warehouse() -> BigQueryWarehouse:
    """The process's BigQuery warehouse (client created on first use)."""
    settings = bigquery_settings()
    return BigQueryWarehouse(
        bigquery_client(settings), settings.bigquery_dataset, settings.bigquery_location
    )


def export_one_day(day: dt.date, trigger: str) -> DayRun:
    """Export one UTC day to BigQuery, replacing it there; raises when it fails (recorded)."""
    settings = bigquery_settings()
    run = export_day(
        FirestoreDaySource(),
        warehouse(),
        day,
        trigger=trigger,
        now=utc_now,
        runs=FirestoreRunLog(),
        pseudonym_key=settings.key(),
        load_rows=settings.export_load_rows,
        raw_horizon=configured_retention().raw_horizon(utc_now()),
    )
    log.info(
        "export_to_bigquery %s (%s): %s",
        day.isoformat(),
        trigger,
        ", ".join(
            f"{table} {counts.rows} rows"
            + (f" ({counts.skipped} skipped)" if counts.skipped else "")
            for table, counts in run.tables.items()
        ),
    )
    return run


def run_export_to_bigquery(schedule_time: dt.datetime) -> list[DayRun]:
    """The nightly export (bigquery_export.nightly_plan): yesterday, EXPORT_RESETTLE_DAYS earlier
    days again, and every older day Firestore still keeps whose records changed in the last
    two days; nothing, with a warning, where BigQuery is not enabled, as on the local stack
    without its emulator. Raises when a day fails (the scheduler retries; every day's export
    is idempotent)."""
    settings = bigquery_settings()
    if not settings.bigquery_enabled:
        log.warning(
            "export_to_bigquery %s: BIGQUERY_ENABLED is off; nothing exported",
            scheduled_day(schedule_time),
        )
        return []
    horizon = configured_retention().raw_horizon(utc_now())
    changed = FirestoreDaySource().changed_days(schedule_time - CHANGED_LOOKBACK)
    plan = nightly_plan(schedule_time, settings.export_resettle_days, horizon, changed)
    return [export_one_day(day, trigger) for day, trigger in plan]
