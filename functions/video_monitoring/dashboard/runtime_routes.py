"""`GET /system` over HTTP: the queue (dashboard/capacity_routes.py's figures) with the
functions' own runtime over the window (analytics/runtime.py, docs/runtime.md)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from video_monitoring.analytics.capacity import CapacityService
from video_monitoring.analytics.runtime import RuntimeService
from video_monitoring.dashboard.params import Prepared
from video_monitoring.dashboard.routes import Call


def system(capacity: CapacityService, call: Call) -> Prepared:
    """GET /system, once the caller is admitted."""
    window, clock, runtime = call.api.window(call.request.params), call.api.clock, call.api.runtime

    # Without a configured series the answer still has its shape: no functions, and why.
    series = runtime or RuntimeService(None, clock, dt.timedelta(0))

    def run() -> dict[str, Any]:
        return capacity.queue.system(window, clock()) | series.system(window)

    return run
