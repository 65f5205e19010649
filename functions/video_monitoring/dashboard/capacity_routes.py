"""The queue and the providers' capacity over HTTP: the queue of `/performance` (GET /system's
is dashboard/runtime_routes.py's), `GET /capacity` (every provider against its limits) and
`PUT /capacity/{provider}` (admins: replace one provider's limits, audited)."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from video_monitoring.analytics.capacity import CapacityService
from video_monitoring.analytics.queue import OVERALL, QueueService, provider_key
from video_monitoring.core.errors import InvalidArgument
from video_monitoring.core.models import Window
from video_monitoring.dashboard.params import Prepared
from video_monitoring.dashboard.routes import Call


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


def capacity_list(capacity: CapacityService, call: Call) -> Prepared:
    """GET /capacity (readers)."""
    return functools.partial(capacity.capacity, call.api.window(call.request.params))


def capacity_body(call: Call, data: dict[str, Any]) -> dict[str, Any]:
    """The PUT body as sent; the service checks it field by field before writing."""
    return data


def capacity_before(capacity: CapacityService, call: Call) -> dict[str, Any] | None:
    """The audit's `before`: the provider's stored limits, if any."""
    before = capacity.limits(call.path["provider"])
    return None if before is None else before.to_doc()


def capacity_after(body: dict[str, Any]) -> dict[str, Any]:
    """The audit's `after`: the limits as stored (the answer without its provider)."""
    return {k: v for k, v in body.items() if k != "provider"}


def replace_capacity(capacity: CapacityService, call: Call) -> Prepared:
    """PUT /capacity/{provider} (admins): the provider checked before anything is admitted."""
    provider = call.path["provider"]
    capacity.check_provider(provider)

    def run() -> dict[str, Any]:
        stored = capacity.put(provider, call.body, call.who)
        return {"provider": provider, **stored.to_doc()}

    return run
