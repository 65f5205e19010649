"""Glue between the deployed functions and the services: decode, call a service, map back."""

from __future__ import annotations

import datetime as dt
import functools
import logging
from typing import Any

from flask import Request as FlaskRequest
from flask import Response as FlaskResponse

from video_monitoring.analytics_engine import AnalyticsEngine
from video_monitoring.clock import utc_now
from video_monitoring.dashboard import Dashboard, Request
from video_monitoring.performance_monitor import PerformanceMonitor
from video_monitoring.settings import get_settings
from video_monitoring.storage import FirestoreStore

log = logging.getLogger(__name__)


@functools.cache
def store() -> FirestoreStore:
    """The process's store (client created on first use)."""
    return FirestoreStore()


@functools.cache
def monitor() -> PerformanceMonitor:
    """The process's performance monitor."""
    return PerformanceMonitor(store(), shards=get_settings().rollup_shards, clock=utc_now)


@functools.cache
def dashboard() -> Dashboard:
    """The process's dashboard."""
    engine = AnalyticsEngine(store(), monitor())
    return Dashboard(engine, monitor(), utc_now, get_settings().max_window_days)


def handle_generation_written(event: Any) -> None:
    """Reconcile the generation the event names; bad documents are recorded, never raised."""
    generation_id = event.params["generationId"]
    plan = monitor().record_generation_metrics(generation_id)
    log.info(
        "generation %s: %s (event %s, %d writes)",
        generation_id,
        plan.outcome,
        event.id,
        plan.writes,
    )


def run_aggregate_and_alert(schedule_time: dt.datetime) -> None:
    """Compact closed rollup buckets and log breached performance thresholds."""
    settings = get_settings()
    now = schedule_time.astimezone(dt.UTC)
    result = store().compact(now - dt.timedelta(minutes=settings.compaction_grace_minutes))
    log.info(
        "aggregate_and_alert %s: compacted %d buckets%s",
        now.isoformat(),
        result.buckets,
        " (more remain for the next run)" if result.remaining else "",
    )


def handle_dashboard_request(request: FlaskRequest) -> FlaskResponse:
    """Adapt the Flask request to the dashboard and back."""
    response = dashboard().handle(
        Request(
            method=request.method,
            path=request.path,
            params={k: v for k, v in request.args.items()},
            authorization=request.headers.get("Authorization"),
        )
    )
    return FlaskResponse(response.text(), status=response.status, mimetype="application/json")


def run_export_to_bigquery(schedule_time: dt.datetime) -> None:
    """Not built yet (BigQuery export issue); logs and returns so the schedule stays healthy."""
    log.warning("export_to_bigquery is not implemented yet (schedule %s)", schedule_time)
