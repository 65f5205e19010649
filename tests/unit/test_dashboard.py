"""The dashboard boundary: auth, roles, routing, errors as JSON."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.unit.fakes import FakeStore, FixedClock
from video_monitoring.analytics.figures import AnalyticsEngine
from video_monitoring.analytics.performance import PerformanceMonitor
from video_monitoring.config.settings import DashboardSettings
from video_monitoring.core.errors import Unauthenticated
from video_monitoring.dashboard.app import ApiServices, Dashboard
from video_monitoring.dashboard.auth import Caller
from video_monitoring.dashboard.http import Request, Response, StreamResponse

NOW = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)
ROLES = {"tok-analytics": "analytics", "tok-admin": "admin", "tok-user": None}


def verifier(header: str | None) -> Caller:
    token = (header or "").removeprefix("Bearer ")
    if token not in ROLES:
        raise Unauthenticated("Authorization: the ID token did not verify")
    return Caller(uid=token, role=ROLES[token], email=f"{token}@example.com")


@pytest.fixture
def dashboard() -> Dashboard:
    store = FakeStore()
    clock = FixedClock(NOW)
    monitor = PerformanceMonitor(store)
    return Dashboard(ApiServices(AnalyticsEngine(store, monitor), clock, 400, verifier=verifier))


def json_response(response: Response | StreamResponse) -> Response:
    """The response, which must be a JSON one (not a streamed file)."""
    assert isinstance(response, Response), response
    return response


def call(dashboard: Dashboard, path: str, token: str | None, **params: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    header = None if token is None else f"Bearer {token}"
    response = json_response(dashboard.handle(Request("GET", path, params, header)))
    return response.status, response.body


@pytest.mark.parametrize("path", ["/summary", "/performance", "/trends"])
def test_roles(dashboard: Dashboard, path: str) -> None:
    assert call(dashboard, path, None)[0] == 401
    assert call(dashboard, path, "forged")[0] == 401
    status, body = call(dashboard, path, "tok-user")
    assert (status, body["error"]["code"]) == (403, "permission-denied")
    assert call(dashboard, path, "tok-analytics")[0] == 200
    assert call(dashboard, path, "tok-admin")[0] == 200


def test_empty_summary_has_the_contract_shape(dashboard: Dashboard) -> None:
    status, body = call(dashboard, "/summary", "tok-analytics", window="1h")
    assert status == 200
    assert body["generations"] == {
        "total": 0, "completed": 0, "failed": 0, "cancelled": 0, "inProgress": 0,
        "successRate": None,
    }  # fmt: skip
    assert body["generationTimeSeconds"] == {"avg": None, "p50": None, "p95": None, "p99": None}
    assert body["window"] == {"from": "2026-11-24T09:00:00Z", "to": "2026-11-24T10:00:00Z"}
    assert body["alerts"] == {"active": 0, "critical": 0}


def test_bad_parameter_is_a_400_naming_it(dashboard: Dashboard) -> None:
    status, body = call(dashboard, "/summary", "tok-analytics", window="3h")
    assert status == 400
    assert body["error"]["code"] == "invalid-argument"
    assert body["error"]["message"].startswith("window:")
    status, body = call(dashboard, "/summary", "tok-analytics", colour="red")
    assert (status, body["error"]["message"][:7]) == (400, "colour:")
    status, body = call(dashboard, "/trends", "tok-analytics", granularity="week")
    assert (status, body["error"]["message"][:12]) == (400, "granularity:")


def test_unknown_path_is_a_json_404(dashboard: Dashboard) -> None:
    status, body = call(dashboard, "/nope", "tok-analytics")
    assert (status, body["error"]["code"]) == (404, "not-found")


def test_unexpected_failure_is_a_json_500(
    dashboard: Dashboard, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(window: object) -> object:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(dashboard.api.engine, "summary", boom)
    status, body = call(dashboard, "/summary", "tok-analytics")
    assert (status, body["error"]["code"]) == (500, "internal")
    assert "disk on fire" not in body["error"]["message"]


def test_targets_come_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """GET /targets: the seed's defaults, or TARGET_* settings; no parameters accepted."""
    store = FakeStore()
    monitor = PerformanceMonitor(store)
    monkeypatch.setenv("TARGET_SUCCESS_RATE", "0.98")
    monkeypatch.setenv("TARGET_AVG_GENERATION_SECONDS", "45")
    targets = DashboardSettings().targets()
    board = Dashboard(ApiServices(
        AnalyticsEngine(store, monitor), FixedClock(NOW), 400, verifier=verifier,
        targets=targets,
    ))  # fmt: skip
    status, body = call(board, "/api/targets", "tok-analytics")
    assert status == 200
    assert body == {
        "successRate": {"value": 0.98, "direction": "min"},
        "avgGenerationSeconds": {"value": 45.0, "direction": "max"},
        "qualityScore": {"value": 9.0, "direction": "min"},
        "satisfaction": {"value": 4.5, "direction": "min"},
        "premiumAdoption": {"value": 0.6, "direction": "min"},
        "retention": {"value": 0.85, "direction": "min"},
    }
    assert call(board, "/targets", "tok-user")[0] == 403
    status, body = call(board, "/targets", "tok-analytics", window="1h")
    assert (status, body["error"]["message"]) == (400, "window: /targets takes no parameters")
