"""The analytics reads over the request's window: `/summary`, `/performance`, `/trends`,
`/quality`, `/providers`, `/business` and `/user-insights` (readers)."""

from __future__ import annotations

import functools
from typing import Literal

from pydantic import Field

from video_monitoring.analytics.figures import TREND_METRICS
from video_monitoring.dashboard.capacity_routes import with_queue
from video_monitoring.dashboard.params import Prepared, WindowQuery, int_param
from video_monitoring.dashboard.routes import Call
from video_monitoring.dashboard.services import ApiServices


class TrendsQuery(WindowQuery):
    """`/trends`: the window, the bucket size, the metric fitted and the buckets forecast."""

    granularity: Literal["minute", "hour", "day"] | None = None
    metric: str | None = Field(None, json_schema_extra={"enum": list(TREND_METRICS)})
    horizon: str | None = None


def summary(api: ApiServices, call: Call) -> Prepared:
    """GET /summary."""
    return functools.partial(api.engine.summary, api.window(call.request.params))


def performance(api: ApiServices, call: Call) -> Prepared:
    """GET /performance, with the queue figures when the queue is served."""
    window = api.window(call.request.params)
    if api.capacity is None:
        return functools.partial(api.engine.system_metrics, window)
    queue = api.capacity.queue
    return lambda: with_queue(api.engine.system_metrics(window), queue, window, api.clock())


def quality(api: ApiServices, call: Call) -> Prepared:
    """GET /quality."""
    window = api.window(call.request.params)
    return functools.partial(api.engine.quality, window)


def providers(api: ApiServices, call: Call) -> Prepared:
    """GET /providers."""
    return functools.partial(api.engine.provider_comparison, api.window(call.request.params))


def business(api: ApiServices, call: Call) -> Prepared:
    """GET /business."""
    window = api.window(call.request.params)
    return functools.partial(api.engine.business, window)


def user_insights(api: ApiServices, call: Call) -> Prepared:
    """GET /user-insights: per user and day, so over the whole window of every provider."""
    window = api.window(call.request.params)
    return functools.partial(api.engine.user_insights, window)


def trends(api: ApiServices, call: Call) -> Prepared:
    """GET /trends; the engine answers windows beyond the rollups from BigQuery, or says why
    it cannot."""
    query: TrendsQuery = call.query
    window = api.window(call.request.params)
    horizon = int_param(call.request.params, "horizon", 6, 0, 100)
    granularity, metric = query.granularity or "hour", query.metric or "total"
    return lambda: api.engine.trends(window, granularity, metric, horizon)
