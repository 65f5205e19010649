"""The dashboard API: routing, parameters, auth and the one place errors become HTTP."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import itertools
import logging
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from video_monitoring.alerting.manager import AlertManager, AlertQuery
from video_monitoring.alerting.responder import ProviderResponder
from video_monitoring.alerting.rules import RULE_ID, parse_rule
from video_monitoring.analytics.digests import DigestService
from video_monitoring.analytics.engine import TREND_METRICS, AnalyticsEngine
from video_monitoring.analytics.health import Health
from video_monitoring.analytics.performance import PerformanceMonitor
from video_monitoring.analytics.slos import SloService
from video_monitoring.config.settings import DashboardSettings, Target
from video_monitoring.core.clock import Clock
from video_monitoring.core.errors import (
    InvalidArgument,
    MonitoringError,
    NotFound,
    PermissionDenied,
    RateLimited,
)
from video_monitoring.core.models import Window, rfc3339
from video_monitoring.dashboard.access import AuditEntry, AuditLog
from video_monitoring.dashboard.alert_routes import act_on_alert
from video_monitoring.dashboard.auth import ADMIN_ROLES, READ_ROLES, Caller, require, verify
from video_monitoring.dashboard.control_routes import CONTROL_ACTIONS, controls_response
from video_monitoring.dashboard.digest_routes import digest_body, my_digests
from video_monitoring.dashboard.files import (
    DATASETS,
    FORMATS,
    ArchivedExportSource,
    Dataset,
    ExportSource,
    before_deadline,
    encode,
    file_name,
    row_of,
)
from video_monitoring.dashboard.files import (
    FileExports as FileExports,
)
from video_monitoring.dashboard.http import Request, Response, StreamResponse, error_body
from video_monitoring.dashboard.params import api_path, json_body, parse_window
from video_monitoring.dashboard.report import report_figures
from video_monitoring.dashboard.rule_routes import backtest_response
from video_monitoring.dashboard.slo_routes import check_objective, slos_response
from video_monitoring.dashboard.system_routes import health_response, targets_body
from video_monitoring.privacy.erasure import ErasureReport, check_user_id, subject
from video_monitoring.privacy.pseudonyms import OPTED_OUT
from video_monitoring.privacy.retention import DEFAULT_RETENTION, RAW, TTL_COLLECTIONS, Retention
from video_monitoring.warehouse.nightly import anonymised

log = logging.getLogger(__name__)
WINDOW_PARAMS = frozenset({"window", "from", "to", "provider"})
GRANULARITIES = ("minute", "hour", "day")
ALERT_FILTERS = frozenset({"status", "severity", "rule", "limit"})
ALERT_STATUSES = ("all", "open", "pending", "firing", "acknowledged", "suppressed", "resolved")
SEVERITIES = ("critical", "warning", "info")
ALERT_ACTIONS = ("acknowledge", "resolve", "suppress")
ALERT_ID = re.compile(r"^(?!__)[A-Za-z0-9_.:|-]{1,500}$")


def _choice(params: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str | None:
    value = params.get(name)
    if value is not None and value not in allowed:
        raise InvalidArgument(f"{name}: expected one of {', '.join(allowed)}; got {value!r}")
    return value


def _int_param(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    text = params.get(name)
    if text is None:
        return default
    if not re.fullmatch(r"[0-9]{1,9}", text) or not low <= int(text) <= high:
        raise InvalidArgument(f"{name}: expected an integer from {low} to {high}; got {text!r}")
    return int(text)


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
        verifier: Callable[[str | None], Caller] = verify,
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
        self._routes: dict[str, Callable[[Mapping[str, str]], Any]] = {
            "/summary": self._summary,
            "/performance": self._performance,
            "/trends": self._trends,
            "/quality": lambda p: self._engine.generate_quality_insights(self._window(p)),
            "/providers": lambda p: self._engine.compare_providers(self._window(p)),
            "/business": lambda p: self._engine.generate_business_metrics(self._window(p)),
            "/user-insights": self._user_insights,
            "/targets": functools.partial(targets_body, self._targets),
        }
        if digests is not None:
            self._routes["/digest"] = lambda p: digest_body(digests, p, clock)
        if alerts is not None:
            self._routes |= {
                "/alerts": functools.partial(self._alert_list, alerts),
                "/alert-rules": functools.partial(self._alert_rules, alerts),
            }
        # GET endpoints that also need to know the caller (audit, per-user limits).
        self._caller_routes: dict[str, Callable[[Mapping[str, str], Caller], Any]] = {}
        if exports is not None:
            source = exports.source
            if exports.archived is not None:
                # Rows older than Firestore keeps come from BigQuery.
                source = ArchivedExportSource(
                    source,
                    exports.archived,
                    lambda: retention.raw_horizon(clock()),
                    frozenset(n for n, d in DATASETS.items() if d.collection in TTL_COLLECTIONS),
                )
            self._caller_routes["/export"] = functools.partial(self._export, exports, source)

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
        if self._digests is not None:
            served |= {"/digest", "/me/digests"}
        if self._slos is not None:
            served |= {"/slos", "/slos/{sloId}"}
        if self._responder is not None:
            served.add("/provider-controls")
            served |= {f"/provider-controls/{{provider}}/{a}" for a in CONTROL_ACTIONS}
        return served

    def handle(self, request: Request) -> Response | StreamResponse:
        """The single boundary: every error becomes a JSON error response."""
        try:
            return self._dispatch(request)
        except MonitoringError as error:
            return Response(error.http_status, error_body(error.code, str(error)))
        except Exception:
            log.exception("dashboard request failed: %s %s", request.method, loggable(request.path))
            return Response(500, error_body("internal", "internal error; see the function's logs"))

    def _dispatch(self, request: Request) -> Response | StreamResponse:
        path = api_path(request.path)
        if path == "/health" and self._health is not None:
            return health_response(self._health, request, self._verify)
        caller = self._verify(request.authorization)
        parts = path.strip("/").split("/")
        alerts, eraser = self._alerts, self._eraser
        if alerts is not None and len(parts) == 2 and parts[0] == "alerts":
            return self._alert_page(alerts, request, caller, parts[1])
        if alerts is not None and len(parts) == 3 and parts[0] == "alerts":
            return self._alert_action(alerts, request, caller, parts[1], parts[2])
        if alerts is not None and len(parts) == 2 and parts[0] == "alert-rules":
            return self._put_rule(alerts, request, caller, parts[1])
        if alerts is not None and len(parts) == 3 and parts[::2] == ["alert-rules", "backtest"]:
            now = self._clock()
            kept = self._retention.raw_horizon(now)
            return backtest_response(alerts, request, caller, parts[1], now, kept)
        if self._digests is not None and path == "/me/digests":
            require(caller, READ_ROLES)
            return my_digests(self._digests, request, caller, self._clock)
        responder = self._responder
        if responder is not None and parts[0] == "provider-controls":
            return controls_response(responder, request, caller, parts[1:], self._audited)
        if self._slos is not None and parts[0] == "slos":
            return slos_response(self._slos, request, caller, parts[1:], self._audited)
        if eraser is not None and len(parts) == 3 and parts[::2] == ["users", "erase"]:
            return self._erase(eraser, request, caller, parts[1])
        if path not in self._routes and path not in self._caller_routes:
            raise NotFound(f"path: no endpoint {path}; see openapi.yaml for the API")
        if request.method != "GET":
            raise NotFound(f"path: {path} answers GET only")
        require(caller, READ_ROLES)
        if path in self._caller_routes:
            body = self._caller_routes[path](request.params, caller)
        else:
            body = self._routes[path](request.params)
        return body if isinstance(body, StreamResponse) else Response(200, body)

    def _user_insights(self, params: Mapping[str, str]) -> Any:
        if "provider" in params:
            raise InvalidArgument("provider: user insights are per user and day, not per provider")
        return self._engine.generate_user_behavior_insights(self._window(params))

    def _export(
        self,
        config: FileExports,
        source: ExportSource,
        params: Mapping[str, str],
        caller: Caller,
    ) -> StreamResponse:
        deadline = self._clock() + config.deadline
        name = _choice(params, "dataset", tuple(DATASETS))
        if name is None:
            raise InvalidArgument(f"dataset: required; one of {', '.join(DATASETS)}")
        # Alert instances do not expire; rows Firestore no longer keeps come from BigQuery when
        # it is configured (otherwise the window is a 400 naming `from`).
        archived = isinstance(source, ArchivedExportSource)
        kept = None if archived else TTL_COLLECTIONS.get(DATASETS[name].collection)
        window = self._window(params, frozenset({"dataset", "format"}), kept=kept)
        fmt = _choice(params, "format", tuple(FORMATS)) or "csv"
        with self._audited(caller, "export", name) as details:
            details.update({"format": fmt, **window.to_json(), "provider": window.provider})
            return self._export_file(
                config, source, DATASETS[name], fmt, window, caller, details, deadline
            )

    def _export_file(
        self,
        config: FileExports,
        source: ExportSource,
        dataset: Dataset,
        fmt: str,
        window: Window,
        caller: Caller,
        details: dict[str, Any],
        deadline: dt.datetime,
    ) -> StreamResponse:
        if config.limiter is not None:
            wait = config.limiter.take(f"export__{caller.uid or 'unknown'}", self._clock())
            if wait is not None:
                raise RateLimited(
                    f"export: at most {config.rate_per_hour} exports per hour per user; "
                    f"retry in {wait:.0f} s"
                )
        name = dataset.name
        rows = source.count(dataset, window)
        details["rows"] = rows
        if rows > config.max_rows:
            raise InvalidArgument(
                f"from: the window holds {rows} {name} rows, more than the export cap of "
                f"{config.max_rows}; narrow the window (or split it)"
            )
        if rows > (cap := config.sync_cap(fmt)):
            raise InvalidArgument(
                f"from: the window holds {rows} {name} rows, more than a {fmt} export encodes "
                f"within the request's deadline ({cap} rows); narrow the window or choose csv"
            )
        # The first page is read before the response starts, so a failing query is an error
        # response rather than a 200 with a cut file.
        opted_out = source.opted_out_users()
        rows_read = (
            (doc_id, anonymised(data, OPTED_OUT) if data.get("userId") in opted_out else data)
            for doc_id, data in source.rows(dataset, window)
        )
        first = list(itertools.islice(rows_read, 1))
        chunks = encode(
            dataset,
            fmt,
            before_deadline(
                (row_of(dataset, i, d) for i, d in itertools.chain(first, rows_read)),
                deadline, self._clock, fmt,
            ),
            window,
            report_figures(self._engine, window, self._targets) if fmt == "pdf" else None,
        )  # fmt: skip
        # The first chunk is made before the response starts: a file built whole (xlsx, pdf)
        # that misses the deadline is an error response, never a 200 with a cut file.
        head = next(chunks, b"")
        return StreamResponse(
            FORMATS[fmt], file_name(dataset, fmt, window), itertools.chain([head], chunks)
        )

    # -- alerts and rules ------------------------------------------------------------------

    def _alert_list(self, manager: AlertManager, params: Mapping[str, str]) -> Any:
        window = self._window(params, ALERT_FILTERS)  # alert instances do not expire
        status = _choice(params, "status", ALERT_STATUSES)
        severity = _choice(params, "severity", SEVERITIES)
        rule_id = params.get("rule")
        if rule_id is not None and not RULE_ID.match(rule_id):
            raise InvalidArgument(f"rule: expected a rule id matching {RULE_ID.pattern}")
        limit = _int_param(params, "limit", 100, 1, 1000)
        query = AlertQuery(
            start=window.start,
            end=window.end,
            provider=window.provider,
            status=None if status in (None, "all") else status,
            severity=severity,
            rule_id=rule_id,
            limit=limit,
        )
        return {"window": window.to_json(), **manager.list_alerts(query)}

    def _alert_rules(self, manager: AlertManager, params: Mapping[str, str]) -> Any:
        if params:
            raise InvalidArgument(f"{sorted(params)[0]}: /alert-rules takes no parameters")
        rules, problems = manager.rules()
        return {"rules": [r.to_doc() for r in rules], "problems": problems}

    def _alert_action(
        self, manager: AlertManager, request: Request, caller: Caller, alert_id: str, action: str
    ) -> Response:
        if not ALERT_ID.match(alert_id):
            raise NotFound(f"alertId: no alert {alert_id!r}")
        if action not in ALERT_ACTIONS:
            raise NotFound(f"path: no alert action {action!r}; expected one of {ALERT_ACTIONS}")
        if request.method != "POST":
            raise NotFound(f"path: /alerts/{{alertId}}/{action} answers POST only")
        with self._audited(caller, action, alert_id) as details:
            require(caller, ADMIN_ROLES)
            instance = act_on_alert(
                manager, request.body, caller.uid or "unknown", alert_id, action, details
            )
        return Response(200, {"alert": instance.to_doc()})

    def _alert_page(
        self, manager: AlertManager, request: Request, caller: Caller, alert_id: str
    ) -> Response:
        if request.method != "GET":
            raise NotFound("path: /alerts/{alertId} answers GET only")
        require(caller, READ_ROLES)
        if not ALERT_ID.match(alert_id):
            raise NotFound(f"alertId: no alert {alert_id!r}")
        if request.params:
            raise InvalidArgument(
                f"{sorted(request.params)[0]}: /alerts/{{alertId}} takes no parameters"
            )
        detail = manager.alert_detail(alert_id)
        kind, _, provider = detail["alert"]["scope"].partition(":")
        if self._responder is not None and kind == "provider":
            controls = {ctl.provider: ctl for ctl in self._responder.controls()}
            if provider in controls:  # the provider's traffic control, when it has one
                detail["providerControl"] = controls[provider].to_doc()
        return Response(200, detail)

    def _put_rule(
        self, manager: AlertManager, request: Request, caller: Caller, rule_id: str
    ) -> Response:
        if not RULE_ID.match(rule_id):
            raise NotFound(f"ruleId: no alert rule {rule_id!r} (ids match {RULE_ID.pattern})")
        if request.method == "GET":
            require(caller, READ_ROLES)
            rule = manager.rule(rule_id)
            return Response(200, {"rule": rule.to_doc()})
        if request.method != "PUT":
            raise NotFound("path: /alert-rules/{ruleId} answers GET and PUT")
        with self._audited(caller, "rule.update", rule_id) as details:
            require(caller, ADMIN_ROLES)
            body = json_body(request.body, optional=False)
            if "ruleId" in body and body["ruleId"] != rule_id:
                raise InvalidArgument("ruleId: must equal the rule id in the path")
            rule = parse_rule(body, rule_id)
            if self._slos is not None:
                check_objective(self._slos, rule)
            details["before"] = manager.rule(rule_id).to_doc()
            updated = manager.update_rule(rule, caller.uid or "unknown")
            details["after"] = updated.to_doc()
        log.info("alert rule %s replaced by %s", rule_id, caller.uid)
        return Response(200, {"rule": updated.to_doc()})

    def _erase(
        self,
        eraser: Callable[[str], ErasureReport],
        request: Request,
        caller: Caller,
        user_id: str,
    ) -> Response:
        if request.method != "POST":
            raise NotFound("path: /users/{userId}/erase answers POST only")
        with self._audited(caller, "user.erase", subject(user_id)) as details:
            require(caller, ADMIN_ROLES)
            check_user_id(user_id)
            report = eraser(user_id)
            details.update({"firestore": report.firestore, "bigquery": report.bigquery})
        log.info("erased the analytics data of %s at %s's request", subject(user_id), caller.uid)
        return Response(200, report.to_json(user_id))

    @contextlib.contextmanager
    def _audited(self, caller: Caller, action: str, target: str) -> Iterator[dict[str, Any]]:
        """Record the action with its outcome, whatever happens (refusals included)."""
        details: dict[str, Any] = {}
        outcome = "ok"
        try:
            yield details
        except PermissionDenied:
            outcome = "denied"
            raise
        except RateLimited:
            outcome = "rate-limited"
            raise
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

    def _summary(self, params: Mapping[str, str]) -> Any:
        return self._engine.get_analytics_summary(self._window(params))

    def _performance(self, params: Mapping[str, str]) -> Any:
        return self._engine.system_metrics(self._window(params))

    def _trends(self, params: Mapping[str, str]) -> Any:
        # The engine answers windows beyond the rollups from BigQuery, or says why it cannot.
        window = self._window(params, frozenset({"granularity", "metric", "horizon"}))
        granularity = _choice(params, "granularity", GRANULARITIES) or "hour"
        metric = _choice(params, "metric", tuple(TREND_METRICS)) or "total"
        horizon = _int_param(params, "horizon", 6, 0, 100)
        return self._engine.analyze_trends(window, granularity, metric, horizon)  # type: ignore[arg-type]
