"""Error recovery over HTTP: `GET /recovery` (readers), the recovery rate, failures per error
code over time, retryable against permanent failures and the fallback matrix of the window."""

from __future__ import annotations

import functools
from typing import Literal

from video_monitoring.analytics.recovery import RecoveryService
from video_monitoring.dashboard.params import Prepared, WindowQuery
from video_monitoring.dashboard.routes import Call


class RecoveryQuery(WindowQuery):
    """`/recovery`: the window and the bucket size of the error series (default by length)."""

    granularity: Literal["minute", "hour", "day"] | None = None


def recovery(service: RecoveryService, call: Call) -> Prepared:
    """GET /recovery, once the caller is admitted."""
    query: RecoveryQuery = call.query
    window = call.api.window(call.request.params)
    return functools.partial(service.report, window, query.granularity)
