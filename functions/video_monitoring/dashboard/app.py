"""The dashboard API: dispatch over the route table (dashboard/table.py), auth, rate limits,
audit, and the one place errors become HTTP."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import Any

from video_monitoring.core.errors import MonitoringError, PermissionDenied
from video_monitoring.dashboard.access import AuditEntry
from video_monitoring.dashboard.auth import Caller, require
from video_monitoring.dashboard.files import FileExports as FileExports
from video_monitoring.dashboard.http import Request, Response, StreamResponse, error_body
from video_monitoring.dashboard.params import api_path
from video_monitoring.dashboard.routes import Call, Route, RouteClass, RouteTable
from video_monitoring.dashboard.services import ApiServices as ApiServices
from video_monitoring.dashboard.table import served
from video_monitoring.privacy.erasure import subject

log = logging.getLogger(__name__)


def loggable(path: str) -> str:
    """A request path fit for logs: a user id in it is replaced by its digest."""
    parts = path.strip("/").split("/")
    if len(parts) >= 2 and parts[0] == "users":
        parts[1] = subject(parts[1])
    return "/" + "/".join(parts)


class Dashboard:
    """Serves the dashboard API: the routes of the table whose services are configured."""

    def __init__(self, api: ApiServices) -> None:
        self.api = api
        self.table: RouteTable = served(api)

    def paths(self) -> set[str]:
        """Every path served, templated paths in OpenAPI form."""
        return self.table.paths()

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
        # The path and method are checked before the token: nothing else runs for a bad one;
        # then the role, the path ids, the query, and the body of a route not audited.
        route, ids = self.table.resolve(api_path(request.path), request.method)
        caller = None
        if route.roles is not None:
            caller = self.api.verifier(request.authorization)
            require(caller, route.roles)
            self.table.check_ids(ids)
        call = Call(self.api, request, caller, ids, route.check_query(request.params))
        if route.body is not None and route.audit is None:
            call.body = route.body.read(call)
        work = route.handler(route.service(self.api), call)
        if caller is not None:
            self._admit(caller, route.route_class)
        result = work() if route.audit is None else self._run_audited(route, call, work)
        return result if isinstance(result, Response | StreamResponse) else Response(200, result)

    def _run_audited(self, route: Route, call: Call, work: Any) -> Any:
        """The admitted work inside its audit entry: an audited route's body is read inside it,
        so a bad body is recorded as a failed action."""
        audit = route.audit
        assert audit is not None and call.caller is not None
        # The target is named once the body was read: a created resource's id is in it.
        with self._audited(call.caller, audit.action, lambda: audit.target(call)) as details:
            call.details = details
            if route.body is not None:
                call.body = route.body.read(call)
            if audit.record_body and call.body is not None:
                # Only what passed the checks reaches the audit entry.
                details.update(call.body.model_dump(exclude_unset=True))
            if audit.before is not None:
                details["before"] = audit.before(route.service(self.api), call)
            result = work()
            if audit.after is not None:
                details["after"] = audit.after(result)
        return result

    def _count_denial(self) -> None:
        """Count a refused call; the count is a figure, so failing to keep it never fails the
        answer."""
        if self.api.denials is None:
            return
        try:
            self.api.denials.record(self.api.clock())
        except Exception:
            log.warning("could not count a refused call", exc_info=True)

    def _admit(self, caller: Caller, route_class: RouteClass) -> None:
        """Spend a token of the caller's bucket of the class (no quota configured: no limit)."""
        quota = self.api.quotas.get(route_class)
        if quota is not None:
            quota.admit(route_class, caller.uid, self.api.clock())

    @contextlib.contextmanager
    def _audited(
        self, caller: Caller, action: str, target: Callable[[], str]
    ) -> Iterator[dict[str, Any]]:
        """Record the action with its outcome, whatever happens. It is entered only once the
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
            if self.api.audit is not None:
                self.api.audit.record(
                    AuditEntry(
                        self.api.clock(), caller.uid or "unknown", caller.role, action, target(),
                        outcome, details,
                    )
                )  # fmt: skip
