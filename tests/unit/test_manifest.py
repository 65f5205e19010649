"""What `firebase deploy` would read: firebase_functions' own discovery of functions/main.py."""

from __future__ import annotations

import os
import pathlib
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from firebase_functions.private import serving

from video_monitoring.config.settings import DashboardSettings, NotificationSettings

FUNCTIONS_DIR = pathlib.Path(__file__).resolve().parents[2] / "functions"


@pytest.fixture(scope="module")
def manifest() -> Iterator[dict[str, Any]]:
    previous = os.getcwd()
    os.chdir(FUNCTIONS_DIR)
    try:
        functions = serving.get_functions()  # type: ignore[no-untyped-call]
        yield yaml.safe_load(serving.functions_as_yaml(functions))
    finally:
        os.chdir(previous)


def test_exactly_the_contract_functions(manifest: dict[str, Any]) -> None:
    # The contract's four, plus the app-event counter, the drift audit and the rollup fold
    # this design adds.
    assert set(manifest["endpoints"]) == {
        "on_generation_written", "aggregate_and_alert", "video_analytics_dashboard",
        "export_to_bigquery", "on_analytics_event_written", "audit_pipeline", "fold_rollups",
        "run_export_job",
    }  # fmt: skip
    for endpoint in manifest["endpoints"].values():
        assert endpoint["region"] == ["us-central1"]
        assert endpoint["platform"] == "gcfv2"


def test_triggers(manifest: dict[str, Any]) -> None:
    endpoints = manifest["endpoints"]
    trigger = endpoints["on_generation_written"]["eventTrigger"]
    assert trigger["eventType"] == "google.cloud.firestore.document.v1.written"
    assert trigger["eventFilterPathPatterns"] == {"document": "video_generations/{generationId}"}
    assert trigger["eventFilters"] == {"database": "(default)", "namespace": "(default)"}
    events = endpoints["on_analytics_event_written"]["eventTrigger"]
    assert events["eventType"] == "google.cloud.firestore.document.v1.written"
    assert events["eventFilterPathPatterns"] == {"document": "analytics_events/{eventId}"}
    jobs = endpoints["run_export_job"]["eventTrigger"]
    assert jobs["eventType"] == "google.cloud.firestore.document.v1.created"
    assert jobs["eventFilterPathPatterns"] == {"document": "export_jobs/{jobId}"}
    assert endpoints["aggregate_and_alert"]["scheduleTrigger"]["schedule"] == "*/5 * * * *"
    assert endpoints["export_to_bigquery"]["scheduleTrigger"]["schedule"] == "0 2 * * *"
    audit = endpoints["audit_pipeline"]["scheduleTrigger"]
    assert audit["schedule"] == "30 1 * * *"  # before the export, which then ships the repairs
    fold = endpoints["fold_rollups"]
    assert fold["scheduleTrigger"]["schedule"] == "* * * * *"  # one open minute in the journal
    assert fold["timeoutSeconds"] == 60
    for name in ("aggregate_and_alert", "export_to_bigquery", "audit_pipeline", "fold_rollups"):
        assert endpoints[name]["scheduleTrigger"]["timeZone"] == "UTC"
    assert "httpsTrigger" in endpoints["video_analytics_dashboard"]
    export = endpoints["export_to_bigquery"]
    assert export["timeoutSeconds"] == 1800 and export["availableMemoryMb"] == 512
    assert export["scheduleTrigger"]["retryConfig"]["retryCount"] == 3  # reruns are exact


# Seconds between two runs of each scheduled function (its cron schedule).
PERIODS = {"fold_rollups": 60, "aggregate_and_alert": 300, "export_to_bigquery": 86_400,
           "audit_pipeline": 86_400}  # fmt: skip


def test_every_function_has_the_timeout_set_on_purpose(manifest: dict[str, Any]) -> None:
    endpoints = manifest["endpoints"]
    timeouts = {name: endpoint.get("timeoutSeconds") for name, endpoint in endpoints.items()}
    assert timeouts == {
        "on_generation_written": 60, "on_analytics_event_written": 60, "fold_rollups": 60,
        "aggregate_and_alert": 240, "video_analytics_dashboard": 60,
        "export_to_bigquery": 1800, "audit_pipeline": 1800,
        "run_export_job": 540,  # the most an event-triggered function may run
    }  # fmt: skip
    # No request outlives Hosting's rewrite proxy, and its own deadline stops work before both.
    assert timeouts["video_analytics_dashboard"] <= 60
    assert DashboardSettings().request_deadline_seconds < timeouts["video_analytics_dashboard"]
    # A scheduled run ends before the next one starts (the tick with its notification budget).
    for name, period in PERIODS.items():
        assert timeouts[name] <= period, name
    budget = NotificationSettings().notify_budget_seconds
    assert budget + 120 <= timeouts["aggregate_and_alert"]
