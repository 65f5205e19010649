"""The queue and the providers' capacity over HTTP: `GET /system` (the queue now and over the
window, overall and per provider), `GET /capacity` (every provider against its limits) and
`PUT /capacity/{provider}` (admins: replace one provider's limits, audited)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from video_monitoring.analytics.capacity import CapacityService
from video_monitoring.analytics.queue import OVERALL, QueueService, provider_key
from video_monitoring.core.errors import InvalidArgument
from video_monitoring.core.models import Window
from video_monitoring.dashboard.auth import ADMIN_ROLES, READ_ROLES, Caller, require
from video_monitoring.dashboard.http import Request, Response
from video_monitoring.dashboard.params import Prepared, json_body
from video_monitoring.dashboard.routes import Admit, Audited


def system_request(
    queue: QueueService, window: Window, clock: Callable[[], dt.datetime]
) -> Prepared:
    """GET /system, once the caller is admitted."""
    return lambda: queue.system(window, clock())


def with_queue(
    body: dict[str, Any], queue: QueueService, window: Window, now: dt.datetime
) -> dict[str, Any]:
    """`/performance` with the queue figures of the window's scope added to its `queue`."""
    scope = OVERALL if window.provider is None else provider_key(window.provider, queue.providers)
    try:
        figures = queue.figures(window, now)[scope].to_json()
    except InvalidArgument:
        # More starts in the window than exact waits are read for: /performance still answers,
        # with the queue now only (GET /system says why for this window).
        figures = queue.current(scope, now)
    return {**body, "queue": {**body.get("queue", {}), **figures}}


def capacity_response(
    service: CapacityService,
    request: Request,
    caller: Caller,
    rest: list[str],
    window: Callable[[], Window],
    admit: Admit,
    audited: Audited,
) -> Response:
    """GET /capacity (readers); PUT /capacity/{provider} (admins)."""
    require(caller, READ_ROLES if request.method == "GET" else ADMIN_ROLES)
    if not rest:
        scoped = window()
        admit()
        return Response(200, service.capacity(scoped))
    provider = rest[0]
    if request.params:
        raise InvalidArgument(f"{sorted(request.params)[0]}: PUT /capacity takes no parameters")
    service.check_provider(provider)
    admit()
    with audited(caller, "capacity.update", provider) as details:
        body = json_body(request.body, optional=False)
        before = service.limits(provider)
        details["before"] = None if before is None else before.to_doc()
        capacity = service.put(provider, body, caller.uid or "unknown")
        details["after"] = capacity.to_doc()
    return Response(200, {"provider": provider, **capacity.to_doc()})
