"""The dashboard API: routing, parameters, auth and the one place errors become HTTP."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import itertools
import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from video_monitoring.alerting.manager import AlertManager
from video_monitoring.alerting.responder import ProviderResponder
from video_monitoring.analytics.capacity import CapacityService
from video_monitoring.analytics.digests import DigestService
from video_monitoring.analytics.engine import TREND_METRICS, AnalyticsEngine
from video_monitoring.analytics.health import Health
from video_monitoring.analytics.performance import PerformanceMonitor
from video_monitoring.analytics.queue import QueueService
from video_monitoring.analytics.slos import SloService
from video_monitoring.config.settings import DashboardSettings, Target
from video_monitoring.core.clock import Clock
from video_monitoring.core.errors import (
    InvalidArgument,
    MonitoringError,
    PermissionDenied,
)
from video_monitoring.core.models import Window, rfc3339
from video_monitoring.dashboard.access import AuditEntry, AuditLog, DenialCounter, Quota
from video_monitoring.dashboard.alert_routes import (
    ALERT_ACTIONS,
    ALERT_FILTERS,
    alert_list,
    alert_response,
    alert_rules,
    rule_response,
)
from video_monitoring.dashboard.auth import ADMIN_ROLES, READ_ROLES, Caller, require
from video_monitoring.dashboard.capacity_routes import (
    capacity_response,
    system_request,
    with_queue,
)
from video_monitoring.dashboard.control_routes import CONTROL_ACTIONS, controls_response
from video_monitoring.dashboard.digest_routes import digest_request, my_digests
from video_monitoring.dashboard.export_job_routes import JOB_PATH, job_response, queued_response
from video_monitoring.dashboard.export_jobs import ExportJobs
from video_monitoring.dashboard.files import (
    DATASETS,
    FORMATS,
    Dataset,
    ExportSource,
    before_deadline,
    export_chunks,
    export_source,
    file_name,
)
from video_monitoring.dashboard.files import (
    FileExports as FileExports,
)
from video_monitoring.dashboard.http import Request, Response, StreamResponse, error_body
from video_monitoring.dashboard.params import (
    Prepared,
    api_path,
    choice,
    int_param,
    parse_window,
    ready,
)
from video_monitoring.dashboard.report import report_figures
from video_monitoring.dashboard.routes import Admit, RouteClass, resolve
from video_monitoring.dashboard.rule_routes import backtest_response
from video_monitoring.dashboard.slo_routes import slos_response
from video_monitoring.dashboard.system_routes import health_response, targets_body
from video_monitoring.privacy.erasure import ErasureReport, check_user_id, subject
from video_monitoring.privacy.retention import DEFAULT_RETENTION, RAW, TTL_COLLECTIONS, Retention

log = logging.getLogger(__name__)
WINDOW_PARAMS = frozenset({"window", "from", "to", "provider"})
GRANULARITIES = ("minute", "hour", "day")


def loggable(path: str) -> str:
    """A request path fit for logs: a user id in it is replaced by its digest."""
    parts = path.strip("/").split("/")
    if len(parts) >= 2 and parts[0] == "users":
        parts[1] = subject(parts[1])
    return "/" + "/".join(parts)


class Dashboard:
    """Serves the dashboard API: reads for `analytics` and `admin`, actions for `admin`.
    Alerts, file exports and erasure are served when given; their routes hold them."""

    def __init__(
        self,
        engine: AnalyticsEngine,
        monitor: PerformanceMonitor,
        clock: Clock,
        max_window_days: int,
        verifier: Callable[[str | None], Caller],
        alerts: AlertManager | None = None,
        exports: FileExports | None = None,
        audit: AuditLog | None = None,
        eraser: Callable[[str], ErasureReport] | None = None,
        retention: Retention = DEFAULT_RETENTION,
        targets: Mapping[str, Target] | None = None,
        health: Callable[[], Health] | None = None,
        responder: ProviderResponder | None = None,
        digests: DigestService | None = None,
        slos: SloService | None = None,
        quotas: Mapping[RouteClass, Quota] | None = None,
        denials: DenialCounter | None = None,
        jobs: ExportJobs | None = None,
        capacity: CapacityService | None = None,
    ) -> None:
        self._engine = engine
        self._monitor = monitor
        self._clock = clock
        self._max_days = max_window_days
        self._verify = verifier
        self._alerts = alerts
        self._audit_log = audit
        self._eraser = eraser
        self._retention = retention
        self._targets = targets or DashboardSettings().targets()
        self._health = health
        self._responder = responder
        self._digests = digests
        self._slos = slos
        self._quotas = dict(quotas or {})
        self._denials = denials
        self._jobs = jobs if exports is not None else None
        self._capacity = capacity
        engine = self._engine
        # Each read checks its parameters and returns the work to run once the caller is admitted.
        self._routes: dict[str, Callable[[Mapping[str, str]], Prepared]] = {
            "/summary": lambda p: functools.partial(engine.get_analytics_summary, self._window(p)),
            "/performance": lambda p: functools.partial(engine.system_metrics, self._window(p)),
            "/trends": self._trends,
            "/quality": lambda p: functools.partial(
                engine.generate_quality_insights, self._window(p)
            ),
            "/providers": lambda p: functools.partial(engine.compare_providers, self._window(p)),
            "/business": lambda p: functools.partial(
                engine.generate_business_metrics, self._window(p)
            ),
            "/user-insights": self._user_insights,
            "/targets": lambda p: ready(targets_body(self._targets, p)),
        }
        if capacity is not None:
            queue = capacity.queue
            self._routes["/system"] = lambda p: system_request(queue, self._window(p), clock)
            self._routes["/performance"] = lambda p: self._performance(queue, self._window(p))
        if digests is not None:
            self._routes["/digest"] = lambda p: digest_request(digests, p, clock)
        if alerts is not None:
            self._routes |= {
                "/alerts": lambda p: alert_list(alerts, self._window(p, ALERT_FILTERS), p),
                "/alert-rules": functools.partial(alert_rules, alerts),
            }
        # GET endpoints that also need to know the caller (audit, per-user limits).
        self._caller_routes: dict[str, Callable[[Mapping[str, str], Caller, Admit], Any]] = {}
        if exports is not None:
            # Rows older than Firestore keeps come from BigQuery, when it is configured.
            source = export_source(exports, lambda: retention.raw_horizon(clock()))
            self._caller_routes["/export"] = functools.partial(self._export, exports, source)
        self._served = self.paths()

    def paths(self) -> set[str]:
        """Every path served, templated paths in OpenAPI form."""
        served = set(self._routes) | set(self._caller_routes)
        if self._alerts is not None:
            served |= {f"/alerts/{{alertId}}/{action}" for action in ALERT_ACTIONS}
            served.add("/alerts/{alertId}")
            served.add("/alert-rules/{ruleId}")
            served.add("/alert-rules/{ruleId}/backtest")
        if self._eraser is not None:
            served.add("/users/{userId}/erase")
        if self._health is not None:
            served.add("/health")
        if self._jobs is not None:
            served.add(JOB_PATH)
        if self._digests is not None:
            served |= {"/digest", "/me/digests"}
        if self._slos is not None:
            served |= {"/slos", "/slos/{sloId}"}
        if self._capacity is not None:
            served |= {"/capacity", "/capacity/{provider}"}
        if self._responder is not None:
            served.add("/provider-controls")
            served |= {f"/provider-controls/{{provider}}/{a}" for a in CONTROL_ACTIONS}
        return served

    def handle(self, request: Request) -> Response | StreamResponse:
        """The single boundary: every error becomes a JSON error response."""
        try:
            return self._dispatch(request)
        except PermissionDenied as error:
            self._count_denial()
            return Response(error.http_status, error_body(error.code, str(error)))
        except MonitoringError as error:
            body = error_body(error.code, str(error))
            return Response(error.http_status, body, error.headers())
        except Exception:
            log.exception("dashboard request failed: %s %s", request.method, loggable(request.path))
            return Response(500, error_body("internal", "internal error; see the function's logs"))

    def _dispatch(self, request: Request) -> Response | StreamResponse:
        # The path and method are checked before the token: nothing else runs for a bad one.
        path = api_path(request.path)
        route = resolve(path, request.method, self._served)
        if route.template == "/health" and self._health is not None:
            return health_response(self._health, request, self._verify)
        caller = self._verify(request.authorization)
        admit = functools.partial(self._admit, caller, route.route_class)
        head, *rest = path.strip("/").split("/")
        alerts, audited = self._alerts, self._audited
        if alerts is not None and head == "alerts" and rest:
            return alert_response(alerts, self._responder, request, caller, rest, admit, audited)
        if alerts is not None and head == "alert-rules" and len(rest) == 1:
            return rule_response(alerts, self._slos, request, caller, rest[0], admit, audited)
        if alerts is not None and head == "alert-rules" and len(rest) == 2:
            now = self._clock()
            kept = self._retention.raw_horizon(now)
            return backtest_response(alerts, request, caller, rest[0], now, kept, admit)
        if self._digests is not None and path == "/me/digests":
            return my_digests(self._digests, request, caller, self._clock, admit)
        if self._responder is not None and head == "provider-controls":
            return controls_response(self._responder, request, caller, rest, admit, audited)
        if self._capacity is not None and head == "capacity":
            window = functools.partial(self._window, request.params)
            capacity = self._capacity
            return capacity_response(capacity, request, caller, rest, window, admit, audited)
        if self._slos is not None and head == "slos":
            return slos_response(self._slos, request, caller, rest, admit, audited)
        if self._jobs is not None and head == "export-jobs":
            return job_response(self._jobs, caller, rest, request.params, admit, self._clock())
        if self._eraser is not None and head == "users":
            return self._erase(self._eraser, request, caller, rest[0], admit)
        require(caller, READ_ROLES)
        if path in self._caller_routes:
            body = self._caller_routes[path](request.params, caller, admit)
        else:
            run = self._routes[path](request.params)
            admit()
            body = run()
        return body if isinstance(body, StreamResponse | Response) else Response(200, body)

    def _count_denial(self) -> None:
        """Count a refused call; the count is a figure, so failing to keep it never fails the
        answer."""
        if self._denials is None:
            return
        try:
            self._denials.record(self._clock())
        except Exception:
            log.warning("could not count a refused call", exc_info=True)

    def _admit(self, caller: Caller, route_class: RouteClass) -> None:
        """Spend a token of the caller's bucket of the class (no quota configured: no limit)."""
        quota = self._quotas.get(route_class)
        if quota is not None:
            quota.admit(route_class, caller.uid, self._clock())

    def _performance(self, queue: QueueService, window: Window) -> Prepared:
        """`/performance` with the queue figures added (when the queue is served)."""
        return lambda: with_queue(self._engine.system_metrics(window), queue, window, self._clock())

    def _user_insights(self, params: Mapping[str, str]) -> Prepared:
        if "provider" in params:
            raise InvalidArgument("provider: user insights are per user and day, not per provider")
        window = self._window(params)
        return functools.partial(self._engine.generate_user_behavior_insights, window)

    def _export(
        self,
        config: FileExports,
        source: ExportSource,
        params: Mapping[str, str],
        caller: Caller,
        admit: Admit,
    ) -> StreamResponse | Response:
        deadline = self._clock() + config.deadline
        name = choice(params, "dataset", tuple(DATASETS))
        if name is None:
            raise InvalidArgument(f"dataset: required; one of {', '.join(DATASETS)}")
        # Alert instances do not expire; rows Firestore no longer keeps come from BigQuery when
        # it is configured (otherwise the window is a 400 naming `from`).
        archived = config.archived is not None
        kept = None if archived else TTL_COLLECTIONS.get(DATASETS[name].collection)
        window = self._window(params, frozenset({"dataset", "format"}), kept=kept)
        fmt = choice(params, "format", tuple(FORMATS)) or "csv"
        admit()
        with self._audited(caller, "export", name) as details:
            details.update({"format": fmt, **window.to_json(), "provider": window.provider})
            return self._export_file(
                config, source, DATASETS[name], fmt, window, details, deadline, caller
            )

    def _export_file(
        self,
        config: FileExports,
        source: ExportSource,
        dataset: Dataset,
        fmt: str,
        window: Window,
        details: dict[str, Any],
        deadline: dt.datetime,
        caller: Caller,
    ) -> StreamResponse | Response:
        name = dataset.name
        rows = source.count(dataset, window)
        details["rows"] = rows
        if rows > config.max_rows:
            raise InvalidArgument(
                f"from: the window holds {rows} {name} rows, more than the export cap of "
                f"{config.max_rows}; narrow the window (or split it)"
            )
        if rows > (cap := config.sync_cap(fmt)) and self._jobs is not None:
            # Too large to encode within the request: a background job writes the file.
            response = queued_response(self._jobs, caller, name, fmt, window,
                                       rows, self._clock())  # fmt: skip
            details["jobId"] = response.body["jobId"]
            return response
        if rows > cap:
            raise InvalidArgument(
                f"from: the window holds {rows} {name} rows, more than a {fmt} export encodes "
                f"within the request's deadline ({cap} rows); narrow the window or choose csv"
            )
        # The first page is read before the response starts, so a failing query is an error
        # response rather than a 200 with a cut file.
        figures = report_figures(self._engine, window, self._targets) if fmt == "pdf" else None
        guard = functools.partial(before_deadline, deadline=deadline, clock=self._clock, fmt=fmt)
        chunks = export_chunks(source, dataset, fmt, window, figures, guard=guard)
        # The first chunk is made before the response starts: a file built whole (xlsx, pdf)
        # that misses the deadline is an error response, never a 200 with a cut file.
        head = next(chunks, b"")
        return StreamResponse(
            FORMATS[fmt], file_name(dataset, fmt, window), itertools.chain([head], chunks)
        )

    def _erase(
        self,
        eraser: Callable[[str], ErasureReport],
        request: Request,
        caller: Caller,
        user_id: str,
        admit: Admit,
    ) -> Response:
        require(caller, ADMIN_ROLES)
        check_user_id(user_id)
        admit()
        with self._audited(caller, "user.erase", subject(user_id)) as details:
            report = eraser(user_id)
            details.update({"firestore": report.firestore, "bigquery": report.bigquery})
        log.info("erased the analytics data of %s at %s's request", subject(user_id), caller.uid)
        return Response(200, report.to_json(user_id))

    @contextlib.contextmanager
    def _audited(self, caller: Caller, action: str, target: str) -> Iterator[dict[str, Any]]:
        """Record the action with its outcome, whatever happens. Callers enter it only once the
        caller holds the role, the target is valid and the rate limit admitted the request, so
        refusals write nothing per request."""
        details: dict[str, Any] = {}
        outcome = "ok"
        try:
            yield details
        except MonitoringError as error:
            outcome = "failed"
            details["error"] = error.code
            raise
        except Exception as error:  # the caller gets a 500; the record says it failed
            outcome = "failed"
            details["error"] = type(error).__name__
            raise
        finally:
            if self._audit_log is not None:
                self._audit_log.record(
                    AuditEntry(
                        self._clock(), caller.uid or "unknown", caller.role, action, target,
                        outcome, details,
                    )
                )  # fmt: skip

    def _window(
        self,
        params: Mapping[str, str],
        extra: frozenset[str] = frozenset(),
        kept: str | None = None,
    ) -> Any:
        """The request's window; with `kept=RAW`, a 400 naming `from` when it starts before
        Firestore still keeps raw records, rather than answering with figures that silently
        miss data. Windows older than the aggregates are the engine's to answer (from BigQuery,
        or a 400 naming `from` when it is not configured)."""
        unknown = sorted(set(params) - WINDOW_PARAMS - extra)
        if unknown:
            allowed = ", ".join(sorted(WINDOW_PARAMS | extra))
            raise InvalidArgument(f"{unknown[0]}: unknown parameter; accepted: {allowed}")
        now = self._clock()
        window = parse_window(params, now, self._max_days)
        if kept == RAW and window.start < self._retention.raw_horizon(now):
            raise InvalidArgument(
                f"from: Firestore keeps raw records for {self._retention.raw_days} days "
                f"(since {rfc3339(self._retention.raw_horizon(now))}); older rows are in "
                "BigQuery (dataset video_monitoring)"
            )
        return window

    def _trends(self, params: Mapping[str, str]) -> Prepared:
        # The engine answers windows beyond the rollups from BigQuery, or says why it cannot.
        window = self._window(params, frozenset({"granularity", "metric", "horizon"}))
        granularity = choice(params, "granularity", GRANULARITIES) or "hour"
        metric = choice(params, "metric", tuple(TREND_METRICS)) or "total"
        horizon = int_param(params, "horizon", 6, 0, 100)
        analyze = self._engine.analyze_trends
        return lambda: analyze(window, granularity, metric, horizon)  # type: ignore[arg-type]
