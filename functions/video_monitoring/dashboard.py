"""The dashboard API: routing, parameters, auth and the one place errors become HTTP."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from video_monitoring.analytics_engine import AnalyticsEngine
from video_monitoring.auth import READ_ROLES, Caller, require, verify
from video_monitoring.clock import Clock
from video_monitoring.errors import InvalidArgument, MonitoringError, NotFound
from video_monitoring.models import rfc3339
from video_monitoring.performance_monitor import PerformanceMonitor
from video_monitoring.windows import parse_window

log = logging.getLogger(__name__)
WINDOW_PARAMS = frozenset({"window", "from", "to", "provider"})
GRANULARITIES = ("minute", "hour", "day")


@dataclass(frozen=True)
class Request:
    """What the API needs of an HTTP request."""

    method: str
    path: str
    params: Mapping[str, str]
    authorization: str | None


@dataclass(frozen=True)
class Response:
    """Status and JSON body."""

    status: int
    body: Any

    def text(self) -> str:
        """The body as JSON."""
        return json.dumps(self.body, default=_json_default, separators=(",", ":"))


def _json_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return rfc3339(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def error_body(code: str, message: str) -> dict[str, Any]:
    """CONTRACT §6 error shape."""
    return {"error": {"code": code, "message": message}}


class Dashboard:
    """Serves the GET endpoints built so far."""

    def __init__(
        self,
        engine: AnalyticsEngine,
        monitor: PerformanceMonitor,
        clock: Clock,
        max_window_days: int,
        verifier: Callable[[str | None], Caller] = verify,
    ) -> None:
        self._engine = engine
        self._monitor = monitor
        self._clock = clock
        self._max_days = max_window_days
        self._verify = verifier
        self._routes: dict[str, Callable[[Mapping[str, str]], Any]] = {
            "/summary": self._summary,
            "/performance": self._performance,
            "/trends": self._trends,
        }

    def handle(self, request: Request) -> Response:
        """The single boundary: every error becomes a JSON error response."""
        try:
            return self._dispatch(request)
        except MonitoringError as error:
            return Response(error.http_status, error_body(error.code, str(error)))
        except Exception:
            log.exception("dashboard request failed: %s %s", request.method, request.path)
            return Response(500, error_body("internal", "internal error; see the function's logs"))

    def _dispatch(self, request: Request) -> Response:
        caller = self._verify(request.authorization)
        path = "/" + request.path.strip("/")
        handler = self._routes.get(path)
        if handler is None:
            raise NotFound(f"path: no endpoint {path}; see openapi.yaml for the API")
        if request.method != "GET":
            raise NotFound(f"path: {path} answers GET only")
        require(caller, READ_ROLES)
        return Response(200, handler(request.params))

    def _window(self, params: Mapping[str, str], extra: frozenset[str] = frozenset()) -> Any:
        unknown = sorted(set(params) - WINDOW_PARAMS - extra)
        if unknown:
            allowed = ", ".join(sorted(WINDOW_PARAMS | extra))
            raise InvalidArgument(f"{unknown[0]}: unknown parameter; accepted: {allowed}")
        return parse_window(params, self._clock(), self._max_days)

    def _summary(self, params: Mapping[str, str]) -> Any:
        return self._engine.get_analytics_summary(self._window(params))

    def _performance(self, params: Mapping[str, str]) -> Any:
        return self._monitor.calculate_system_metrics(self._window(params)).to_json()

    def _trends(self, params: Mapping[str, str]) -> Any:
        window = self._window(params, frozenset({"granularity"}))
        granularity = params.get("granularity", "hour")
        if granularity not in GRANULARITIES:
            raise InvalidArgument(
                f"granularity: expected one of {', '.join(GRANULARITIES)}; got {granularity!r}"
            )
        points = self._monitor.get_performance_trends(window, granularity)  # type: ignore[arg-type]
        return {"window": window.to_json(), "granularity": granularity, "series": points}
