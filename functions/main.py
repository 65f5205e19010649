"""The deployed Cloud Functions. Each decodes its trigger, calls one service, maps the outcome."""

from __future__ import annotations

import os
from typing import Any
from zoneinfo import ZoneInfo

import flask
from firebase_functions import firestore_fn, https_fn, options, scheduler_fn
from firebase_functions.core import Change
from flask import Request, Response

from video_monitoring.config.constants import REGION
from video_monitoring.config.settings import (
    get_settings,
    in_production,
    refuse_emulators,
    source_collection,
)
from video_monitoring.core.logs import setup_logging
from video_monitoring.runtime import deploy, handlers

options.set_global_options(region=REGION)
# A deployed instance with an emulator variable (a stray line of functions/.env) refuses to start
# before anything reads a token: with FIREBASE_AUTH_EMULATOR_HOST the Admin SDK skips signatures.
refuse_emulators(os.environ)
if in_production(os.environ):
    # A deployed instance reads its settings as it starts: a missing required setting fails the
    # cold start with a message naming it, not the first event it handles. Its logs are JSON
    # lines Cloud Logging parses (severity, labels, trace), secrets redacted.
    setup_logging(get_settings().secret_values())
    deploy.check_function(os.environ.get("FUNCTION_TARGET"), get_settings())
if os.environ.get("FUNCTION_TARGET") == "video_analytics_dashboard" and flask.has_app_context():
    # The framework's `/<path:path>` rule does not match a path holding a newline, and Flask's
    # HTML 404 would answer it; the dashboard answers it with its JSON error instead.
    flask.current_app.register_error_handler(404, handlers.unrouted)
UTC = ZoneInfo("UTC")
DocumentChange = firestore_fn.Event[Change[Any]]  # before/after DocumentSnapshot | None


# Every timeout is deploy.TIMEOUTS' (the reason for each is there).
@firestore_fn.on_document_written(
    document=source_collection() + "/{generationId}",
    timeout_sec=deploy.TIMEOUTS["on_generation_written"],
)
def on_generation_written(event: DocumentChange) -> None:
    """Record or update one generation's metrics and rollups."""
    handlers.generation_written(event)


@firestore_fn.on_document_written(
    document="analytics_events/{eventId}", timeout_sec=deploy.TIMEOUTS["on_analytics_event_written"]
)
def on_analytics_event_written(event: DocumentChange) -> None:
    """Count one app event into the event rollups (business figures read from them)."""
    handlers.event_written(event)


@scheduler_fn.on_schedule(
    schedule="* * * * *", timezone=UTC, timeout_sec=deploy.TIMEOUTS["fold_rollups"]
)
def fold_rollups(event: scheduler_fn.ScheduledEvent) -> None:
    """Fold the rollup journal of closed minutes into the minute, hour and day buckets."""
    handlers.fold_rollups(event.schedule_time)


@scheduler_fn.on_schedule(
    schedule="*/5 * * * *",
    timezone=UTC,
    timeout_sec=deploy.TIMEOUTS["aggregate_and_alert"],
    secrets=deploy.secrets_of("aggregate_and_alert"),
)
def aggregate_and_alert(event: scheduler_fn.ScheduledEvent) -> None:
    """Compute windowed metrics, evaluate alert rules, notify."""
    handlers.aggregate_and_alert(event.schedule_time)


@https_fn.on_request(
    timeout_sec=deploy.TIMEOUTS["video_analytics_dashboard"],
    secrets=deploy.secrets_of("video_analytics_dashboard"),
)
def video_analytics_dashboard(request: Request) -> Response:
    """The dashboard API."""
    return handlers.dashboard_request(request)


@firestore_fn.on_document_created(
    document="export_jobs/{jobId}",
    timeout_sec=deploy.TIMEOUTS["run_export_job"],
    memory=options.MemoryOption.GB_1,
    secrets=deploy.secrets_of("run_export_job"),
)
def run_export_job(event: firestore_fn.Event[Any]) -> None:
    """Write a background export's file to Cloud Storage (docs/exports.md)."""
    handlers.export_job_created(event)


@scheduler_fn.on_schedule(
    schedule="0 2 * * *",
    timezone=UTC,
    timeout_sec=deploy.TIMEOUTS["export_to_bigquery"],
    memory=options.MemoryOption.MB_512,
    # A rerun replaces the day exactly, so Cloud Scheduler may retry a failed run.
    retry_count=3,
    min_backoff_seconds=600,
    secrets=deploy.secrets_of("export_to_bigquery"),
)
def export_to_bigquery(event: scheduler_fn.ScheduledEvent) -> None:
    """Export the previous UTC day to BigQuery (replacing it there)."""
    handlers.export_to_bigquery(event.schedule_time)


@scheduler_fn.on_schedule(
    schedule="30 1 * * *",
    timezone=UTC,
    timeout_sec=deploy.TIMEOUTS["audit_pipeline"],
    retry_count=3,
)
def audit_pipeline(event: scheduler_fn.ScheduledEvent) -> None:
    """Re-reconcile the settled days and repair changes no handler reconciled (before the
    02:00 export, so BigQuery gets the repaired records)."""
    handlers.audit_pipeline(event.schedule_time)
