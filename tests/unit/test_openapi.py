"""The OpenAPI file documents exactly the routes the dashboard serves."""

from __future__ import annotations

import pathlib

import yaml

from tests.unit.alert_fakes import FakeAlertStore
from tests.unit.fakes import FakeStore, FixedClock
from tests.unit.test_dashboard import NOW, verifier
from video_monitoring.alert_manager import AlertManager
from video_monitoring.analytics_engine import AnalyticsEngine
from video_monitoring.dashboard import Dashboard
from video_monitoring.notifications import RetryPolicy
from video_monitoring.performance_monitor import PerformanceMonitor

SPEC = pathlib.Path(__file__).resolve().parents[2] / "openapi.yaml"


def test_documented_paths_are_the_served_routes() -> None:
    spec = yaml.safe_load(SPEC.read_text())
    store = FakeStore()
    clock = FixedClock(NOW)
    monitor = PerformanceMonitor(store, shards=2, clock=clock)
    manager = AlertManager(FakeAlertStore(), {}, RetryPolicy(), "http://x", clock)
    dashboard = Dashboard(
        AnalyticsEngine(store, monitor), monitor, clock, 400, verifier=verifier, alerts=manager
    )
    assert set(spec["paths"]) == dashboard.paths()
    summary = spec["components"]["schemas"]["Summary"]
    assert set(summary["required"]) >= {"window", "generations", "costUsd", "business", "alerts"}
