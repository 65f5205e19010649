"""The one place dependencies are wired: settings are read once and every service of the
process is built from them on first use (building opens no connection; Firestore and BigQuery
clients are created when first used)."""

from __future__ import annotations

import datetime as dt
import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from video_monitoring.adapters.bigquery import BigQueryWarehouse, bigquery_client
from video_monitoring.adapters.cloud_storage import CloudStorageFiles
from video_monitoring.adapters.firebase_accounts import FirebaseAccounts
from video_monitoring.adapters.firebase_auth import FirebaseTokens
from video_monitoring.adapters.firestore_access import (
    FirestoreAuditLog,
    FirestoreDenialCounter,
    FirestoreRateLimiter,
)
from video_monitoring.adapters.firestore_alerts import FirestoreAlertStore
from video_monitoring.adapters.firestore_dashboards import FirestoreBoardStore
from video_monitoring.adapters.firestore_digests import FirestoreDigestStore
from video_monitoring.adapters.firestore_export_jobs import FirestoreJobStore
from video_monitoring.adapters.firestore_exports import (
    FirestoreDaySource,
    FirestoreExportSource,
    FirestoreRunLog,
)
from video_monitoring.adapters.firestore_generations import FirestoreGenerations
from video_monitoring.adapters.firestore_health import FirestoreHealth
from video_monitoring.adapters.firestore_queue import FirestoreQueue
from video_monitoring.adapters.firestore_slos import FirestoreObjectiveStore
from video_monitoring.adapters.firestore_store import FirestoreStore
from video_monitoring.adapters.http_transport import RequestsTransport
from video_monitoring.adapters.smtp import SmtpTransport
from video_monitoring.alerting.actions import ACTION_NOTIFY_SECONDS, AlertQuery
from video_monitoring.alerting.backtest import SplitRuns
from video_monitoring.alerting.channels.base import Channel
from video_monitoring.alerting.channels.mail import EmailChannel
from video_monitoring.alerting.channels.slack import SlackChannel
from video_monitoring.alerting.controls import GuardRails
from video_monitoring.alerting.manager import AlertManager
from video_monitoring.alerting.notifications import (
    Delivery,
    RetryPolicy,
    channels_from_settings,
)
from video_monitoring.alerting.responder import ProviderResponder
from video_monitoring.analytics.capacity import CapacityService
from video_monitoring.analytics.digest_service import DigestService, DigestSources, sender
from video_monitoring.analytics.error_budgets import SloService
from video_monitoring.analytics.figures import AnalyticsEngine
from video_monitoring.analytics.health import HealthCheck
from video_monitoring.analytics.performance import PerformanceMonitor
from video_monitoring.analytics.planning import Planner, hourly_cells
from video_monitoring.analytics.queue import QueueService
from video_monitoring.analytics.recovery import RecoveryService
from video_monitoring.analytics.runtime import RuntimeSeries, RuntimeService
from video_monitoring.config.settings import (
    DashboardSettings,
    RuntimeSettings,
    Settings,
    get_settings,
    in_production,
)
from video_monitoring.core.budget import Budget
from video_monitoring.core.clock import utc_now
from video_monitoring.core.errors import ConfigError
from video_monitoring.core.identity import Accounts
from video_monitoring.core.models import Window
from video_monitoring.dashboard.access import MemoryRateLimiter, Quota
from video_monitoring.dashboard.app import ApiServices, Dashboard, FileExports
from video_monitoring.dashboard.auth import verify
from video_monitoring.dashboard.boards import Boards
from video_monitoring.dashboard.export_jobs import ExportJobs
from video_monitoring.dashboard.files import ExportSource, PseudonymisedSource, export_source
from video_monitoring.dashboard.generation_list import GenerationList
from video_monitoring.dashboard.review_report import review_pdf
from video_monitoring.dashboard.routes import RouteClass
from video_monitoring.dashboard.standing import AccountCache
from video_monitoring.ingest.bounds import Bounds
from video_monitoring.ingest.pipeline import Counting
from video_monitoring.ingest.rollup import floor_time
from video_monitoring.ingest.service import IngestService
from video_monitoring.privacy.erasure import ErasureReport, erase_user
from video_monitoring.privacy.pseudonyms import pseudonym
from video_monitoring.privacy.retention import Retention, retention_of
from video_monitoring.runtime.lazy_archive import ArchiveOnDemand


class LazyWarehouse:
    """The BigQuery warehouse, its client created on first use (triggers never need one)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    @functools.cached_property
    def warehouse(self) -> BigQueryWarehouse:
        """The warehouse (client created now)."""
        bq = self._settings.bigquery
        client = bigquery_client(bq, self._settings.runtime.project)
        return BigQueryWarehouse(client, bq.bigquery_dataset, bq.bigquery_location)

    def __call__(self) -> BigQueryWarehouse:
        return self.warehouse


@dataclass
class Services:
    """Everything the deployed functions call, built once per process."""

    settings: Settings
    retention: Retention
    store: FirestoreStore
    ingest: IngestService
    monitor: PerformanceMonitor
    alert_store: FirestoreAlertStore
    alerts: AlertManager
    analytics: AnalyticsEngine
    dashboard: Dashboard
    warehouse: LazyWarehouse
    day_source: FirestoreDaySource
    run_log: FirestoreRunLog
    health: FirestoreHealth
    responder: ProviderResponder
    digests: DigestService
    slos: SloService
    export_jobs: ExportJobs
    export_source: ExportSource
    capacity: CapacityService
    runtime: RuntimeService


def erase_everywhere(
    settings: Settings, store: FirestoreStore, warehouse: LazyWarehouse, user_id: str
) -> ErasureReport:
    """The admin erasure: Firestore, then BigQuery (raw id and, when exports are pseudonymised,
    the pseudonym) unless BIGQUERY_ENABLED is off."""
    bq = settings.bigquery
    key = bq.key()
    return erase_user(
        user_id,
        store,
        warehouse() if bq.bigquery_enabled else None,
        pseudonym(user_id, key) if key else None,
    )


def account_checks(settings: Settings) -> Accounts | None:
    """The Firebase Auth accounts callers and digest recipients are checked against, cached
    per instance; None only where the checks are off (never in production)."""
    board = settings.dashboard
    if not board.auth_account_checks:
        if in_production(os.environ):
            raise ConfigError("AUTH_ACCOUNT_CHECKS: a deployed function must check accounts")
        return None
    ttl = dt.timedelta(seconds=board.auth_account_cache_seconds)
    return AccountCache(FirebaseAccounts(), utc_now, ttl)


def last_day(now: dt.datetime) -> Window:
    """The 24 whole hours before the current one (24 hour buckets to read, not minutes)."""
    end = floor_time(now, "hour")
    return Window(start=end - dt.timedelta(days=1), end=end)


def bounds_of(settings: Settings) -> Bounds:
    """The tracked values of each bounded field, from TRACKED_* (ingest/bounds.py)."""
    r = settings.rollups
    return Bounds.of(
        r.tracked_providers, r.tracked_event_types, r.tracked_error_codes, r.tracked_features
    )


def build(settings: Settings) -> Services:
    """Wire every service from the settings."""
    accounts = account_checks(settings)
    retention = retention_of(settings.retention)
    bounds = bounds_of(settings)
    shards = settings.rollups.rollup_shards
    warehouse = LazyWarehouse(settings)
    archive = (
        ArchiveOnDemand(warehouse, settings.bigquery.key)
        if settings.bigquery.bigquery_enabled
        else None
    )
    store = FirestoreStore()
    ingest = IngestService(store, shards, utc_now, bounds, retention)
    monitor = PerformanceMonitor(store)
    notify = settings.notifications
    alert_store = FirestoreAlertStore()
    channels = channels_from_settings(notify, RequestsTransport(), SmtpTransport)
    alerts = AlertManager(
        alert_store,
        Delivery(
            channels,
            RetryPolicy(
                attempts=notify.notify_attempts,
                base_delay_seconds=notify.notify_base_delay_seconds,
                max_delay_seconds=notify.notify_max_delay_seconds,
                timeout_seconds=notify.notify_timeout_seconds,
            ),
        ),
        settings.dashboard.dashboard_base_url or "",
        utc_now,
        runs=None
        if archive is None
        else SplitRuns(alert_store, archive, lambda: retention.raw_horizon(utc_now())),
        # A backtest answers a request: it stops at the deadline every request keeps.
        backtest_budget=functools.partial(Budget, settings.dashboard.request_deadline_seconds),
    )
    stuck_after = dt.timedelta(minutes=settings.pipeline.stuck_after_minutes)
    analytics = AnalyticsEngine(
        store, monitor, Counting(shards, bounds, retention), utc_now, archive=archive,
        stuck_after=stuck_after,
    )  # fmt: skip
    board = settings.dashboard
    health = FirestoreHealth()
    pipeline = settings.pipeline
    responder = ProviderResponder(
        alert_store,
        FirestoreAuditLog(),
        GuardRails(pipeline.provider_control_max_open, pipeline.provider_control_keep_one_healthy),
        utc_now,
        dispatch=lambda now: alerts.dispatcher.dispatch(now, Budget(ACTION_NOTIFY_SECONDS)),
    )

    slos = SloService(FirestoreObjectiveStore(), monitor, utc_now)
    queue_store = FirestoreQueue()
    queue = QueueService(queue_store, settings.rollups.tracked_providers)
    planner = Planner(functools.partial(hourly_cells, store))
    capacity = CapacityService(queue_store, queue, monitor.cells, utc_now, planner)
    sources = digest_sources(analytics, alerts, slos, capacity)
    digests = digest_service(settings, sources, channels, accounts)
    runtime = RuntimeService(
        runtime_series(settings.runtime, os.environ),
        utc_now,
        dt.timedelta(seconds=settings.runtime.runtime_cache_seconds),
    )

    def overall_backlog(now: dt.datetime) -> tuple[int, int]:
        return store.backlog(now - stuck_after).get("overall", (0, 0))

    # Recent rows leave with user ids as archived rows do (pseudonymised where set).
    file_exports = FileExports(
        PseudonymisedSource(FirestoreExportSource(), settings.bigquery.key),
        max_rows=board.export_max_rows,
        sync_rows=board.sync_export_caps(),
        deadline=dt.timedelta(seconds=board.request_deadline_seconds),
        archived=archive,
    )
    export_jobs = export_jobs_of(settings)
    audit_log = FirestoreAuditLog()
    api = ApiServices(
        analytics,
        utc_now,
        board.max_window_days,
        verifier=functools.partial(verify, tokens=FirebaseTokens(), accounts=accounts),
        alerts=alerts,
        exports=file_exports,
        jobs=export_jobs,
        quotas=quotas(board),
        denials=FirestoreDenialCounter(retention),
        audit=audit_log,
        eraser=functools.partial(erase_everywhere, settings, store, warehouse),
        retention=retention,
        targets=board.targets(),
        health=HealthCheck(
            health,
            overall_backlog,
            utc_now,
            board.health_cache_seconds,
            others=lambda now: analytics.counted_as_other(last_day(now)),
        ),
        responder=responder,
        digests=digests,
        slos=slos,
        capacity=capacity,
        # User ids leave the drill-down as they leave the exports (pseudonymised where set).
        generations=GenerationList(FirestoreGenerations(), settings.bigquery.key),
        runtime=runtime,
        trail=audit_log,
        recovery=RecoveryService(store, settings.rollups.error_classes, retention, utc_now),
        boards=Boards(FirestoreBoardStore(), utc_now),
    )
    dashboard = Dashboard(api)
    return Services(
        settings=settings,
        retention=retention,
        store=store,
        ingest=ingest,
        monitor=monitor,
        alert_store=alert_store,
        alerts=alerts,
        analytics=analytics,
        dashboard=dashboard,
        warehouse=warehouse,
        day_source=FirestoreDaySource(),
        run_log=FirestoreRunLog(),
        health=health,
        responder=responder,
        digests=digests,
        slos=slos,
        export_jobs=export_jobs,
        export_source=export_source(file_exports, lambda: retention.raw_horizon(utc_now())),
        capacity=capacity,
        runtime=runtime,
    )


def runtime_series(runtime: RuntimeSettings, environ: Mapping[str, str]) -> RuntimeSeries | None:
    """The functions' runtime series RUNTIME_SERIES names (`auto`: Cloud Monitoring when
    deployed, the local host when RUNTIME_SERIES_URL is set, else none)."""
    choice = runtime.runtime_series
    if choice == "auto":
        choice = "cloud_monitoring" if in_production(environ) else "off"
        choice = "local" if runtime.runtime_series_url and choice == "off" else choice
    if choice == "local":
        if not runtime.runtime_series_url:
            raise ConfigError("RUNTIME_SERIES=local needs RUNTIME_SERIES_URL (the host's series)")
        from video_monitoring.adapters.local_runtime import LocalHostSeries

        return LocalHostSeries(runtime.runtime_series_url)
    if choice == "cloud_monitoring":
        # Imported here: the Monitoring client's import costs a cold start that never reads it.
        from video_monitoring.adapters.cloud_monitoring import CloudMonitoringSeries, metric_client

        return CloudMonitoringSeries(runtime.project, metric_client)
    return None


def export_jobs_of(settings: Settings) -> ExportJobs:
    """Background exports: jobs in Firestore, files in EXPORT_BUCKET (else the project's
    default Firebase bucket)."""
    board, project = settings.dashboard, settings.runtime.project
    bucket = board.export_bucket or f"{project}.firebasestorage.app"
    return ExportJobs(
        FirestoreJobStore(),
        CloudStorageFiles(bucket, project, board.export_link_minutes),
        board.export_jobs_pending_max,
        dt.timedelta(days=board.export_job_days),
    )


def quotas(board: DashboardSettings) -> dict[RouteClass, Quota]:
    """The API's per-caller limits. Reads are metered in each instance's memory: a console
    page asks 3-7 reads at once, and one Firestore bucket per caller would queue them on one
    document and cost a transaction each. Actions and exports, rare and costly, share one
    Firestore token bucket per caller across every instance."""
    minute, hour = dt.timedelta(minutes=1), dt.timedelta(hours=1)
    reads, actions, exports = (
        board.read_rate_per_minute, board.action_rate_per_minute, board.export_rate_per_hour
    )  # fmt: skip
    return {
        "reads": Quota(MemoryRateLimiter(reads, minute), reads, minute),
        "actions": Quota(FirestoreRateLimiter(actions, minute), actions, minute),
        "exports": Quota(FirestoreRateLimiter(exports, hour), exports, hour),
    }


def digest_sources(
    analytics: AnalyticsEngine,
    alerts: AlertManager,
    slos: SloService | None = None,
    capacity: CapacityService | None = None,
) -> DigestSources:
    """Where digests read their figures: the API's, the alerts, objectives and capacity."""

    def opened(start: dt.datetime, end: dt.datetime) -> list[dict[str, Any]]:
        history: list[dict[str, Any]] = alerts.actions.alerts(
            AlertQuery(start=start, end=end, limit=10_000)
        )["history"]
        return history

    def backtest(rule: str, start: dt.datetime, end: dt.datetime, pages: float) -> dict[str, Any]:
        return alerts.rule_book.backtest(rule, start, end, None, pages)

    return DigestSources(
        analytics, opened, backtest, slos.status if slos is not None else None,
        capacity.outlook if capacity is not None else None,
    )  # fmt: skip


def digest_service(
    settings: Settings,
    sources: DigestSources,
    channels: Mapping[str, Channel],
    accounts: Accounts | None = None,
) -> DigestService:
    """Digests over the configured email and Slack channels, linking to the console."""
    email, slack = channels.get("email"), channels.get("slack")
    kinds = [k.strip() for k in settings.notifications.digest_slack.split(",") if k.strip()]
    return DigestService(
        sources,
        FirestoreDigestStore(), settings.dashboard.targets(),
        sender(
            email.send_digest if isinstance(email, EmailChannel) else None,
            slack.post if isinstance(slack, SlackChannel) else None,
            (settings.dashboard.dashboard_base_url or "").rstrip("/") + "/",
            (email.send_review, review_pdf) if isinstance(email, EmailChannel) else None,
        ),
        kinds, accounts=accounts,
    )  # fmt: skip


@functools.cache
def services() -> Services:
    """The process's services, built on first use from the process's settings."""
    return build(get_settings())
