"""Queue and capacity figures from known jobs, the limits' validation, the rules on them and
their routes; every expected figure is worked out by hand from the jobs below."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.unit.queue_fakes import FakeQueue, Job
from tests.unit.test_alert_manager import NOW, World
from tests.unit.test_dashboard import json_response, verifier
from video_monitoring.alerting.rules import DEFAULT_RULES, parse_rule
from video_monitoring.analytics.capacity import CapacityService, ProviderCapacity, month_forecast
from video_monitoring.analytics.figures import AnalyticsEngine
from video_monitoring.analytics.queue import QueueService, nearest_rank
from video_monitoring.core.errors import InvalidArgument, NotFound
from video_monitoring.core.models import Window
from video_monitoring.dashboard.app import ApiServices, Dashboard
from video_monitoring.dashboard.http import Request

TRACKED = ("pika", "runway")
WINDOW = Window(start=NOW - dt.timedelta(hours=1), end=NOW)


def ago(minutes: float) -> dt.datetime:
    return NOW - dt.timedelta(minutes=minutes)


def jobs() -> list[Job]:
    return [
        Job("runway", "queued", ago(10)),
        Job("runway", "queued", ago(3 * 24 * 60)),  # queued for three days
        Job("runway", "processing", ago(30), ago(25)),  # waited 300 s
        Job("runway", "processing", ago(15), ago(13)),  # 120 s
        Job("runway", "completed", ago(50), ago(49), ago(40)),  # 60 s
        Job("runway", "completed", ago(150), ago(140), ago(130)),  # started before the window
        Job("pika", "queued", ago(4)),
        Job("pika", "completed", ago(20), ago(19.5), ago(10)),  # 30 s
        Job("pika", "cancelled", ago(8), None, ago(2)),  # left the queue without starting
        Job("acme", "queued", ago(6)),  # untracked: `other`
        Job("acme", "processing", ago(7), ago(6.5)),  # 30 s
    ]


def test_nearest_rank_is_the_smallest_value_covering_the_share() -> None:
    values = [float(v) for v in range(20, 0, -1)]
    assert nearest_rank(values, 0.95) == 19.0 and nearest_rank(values, 0.5) == 10.0
    assert nearest_rank([7.0], 0.95) == 7.0 and nearest_rank([], 0.5) is None


def test_system_counts_the_queue_now_and_the_waits_of_jobs_started_in_the_window() -> None:
    body = QueueService(FakeQueue(jobs()), TRACKED).system(WINDOW, NOW)
    assert body["queue"] == {
        "queued": 4, "processing": 3, "oldestQueuedSeconds": 3 * 86_400.0,
        "waitP50Seconds": 60.0, "waitP95Seconds": 300.0, "waitSamples": 5,
        # created in the hour: 9 of 11; left: 5 started, 1 cancelled while queued
        "arrivals": 9, "departures": 6, "netGrowthPerMinute": 3 / 60,
    }  # fmt: skip
    rows = {row.pop("provider"): row for row in body["providers"]}
    assert list(rows) == ["pika", "runway", "other"]
    assert rows["runway"] == {
        "queued": 2, "processing": 2, "oldestQueuedSeconds": 3 * 86_400.0,
        "waitP50Seconds": 120.0, "waitP95Seconds": 300.0, "waitSamples": 3,
        "arrivals": 4, "departures": 3, "netGrowthPerMinute": 1 / 60,
    }  # fmt: skip
    assert rows["pika"]["oldestQueuedSeconds"] == 240.0 and rows["pika"]["departures"] == 2
    assert rows["other"]["queued"] == 1 and rows["other"]["waitP95Seconds"] == 30.0
    assert rows["other"]["oldestQueuedSeconds"] is None  # not measured for `other`
    assert body["functions"] == []
    one = QueueService(FakeQueue(jobs()), TRACKED).system(
        WINDOW.model_copy(update={"provider": "pika"}), NOW
    )
    assert one["queue"]["queued"] == 1 and [r["provider"] for r in one["providers"]] == ["pika"]


def test_a_window_with_more_starts_than_the_cap_is_a_400_naming_from(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import video_monitoring.analytics.queue as queue_module

    monkeypatch.setattr(queue_module, "MAX_WAIT_SAMPLES", 4)
    with pytest.raises(InvalidArgument, match=r"^from: more than 4"):
        QueueService(FakeQueue(jobs()), TRACKED).system(WINDOW, NOW)


def world_with_spend() -> World:
    """This month: runway spent 6.0 USD, pika 1.0 with one quota error of two failures."""
    world = World()
    world.add("runway", "completed", 60, ago_minutes=30, costUsd=2.5)
    world.add("runway", "completed", 60, ago_minutes=20 * 24 * 60, costUsd=3.5)
    world.add("runway", "completed", 60, ago_minutes=40 * 24 * 60, costUsd=9.0)  # last month
    world.add("pika", "completed", 60, ago_minutes=10, costUsd=1.0)
    world.add(
        "pika",
        "failed",
        60,
        ago_minutes=12,
        error={"code": "rate_limited", "message": "x", "retryable": True},
    )
    world.add("pika", "failed", 60, ago_minutes=14)
    return world


def service(queue: FakeQueue, world: World) -> CapacityService:
    return CapacityService(queue, QueueService(queue, TRACKED), world.monitor.cells, lambda: NOW)


def test_capacity_sets_what_runs_now_against_each_providers_limits() -> None:
    world = world_with_spend()
    queue = FakeQueue(
        jobs(),
        {"runway": ProviderCapacity(max_concurrent=4, max_per_minute=2, monthly_budget_usd=5.0)},
    )
    rows = {r["provider"]: r for r in service(queue, world).capacity(WINDOW)["providers"]}
    assert list(rows) == ["pika", "runway"]
    assert rows["runway"].pop("forecast")["model"] == "none"  # no hourly history: test_planning
    # NOW is in November 2026 (30 days): spend per second so far, times the month's seconds.
    assert (NOW.year, NOW.month) == (2026, 11)
    elapsed = (NOW - dt.datetime(2026, 11, 1, tzinfo=dt.UTC)).total_seconds()
    forecast = 6.0 * 30 * 86_400 / elapsed
    assert forecast == pytest.approx(month_forecast(6.0, NOW))
    assert rows["runway"] == pytest.approx({
        "provider": "runway", "inFlight": 2, "queued": 2, "maxConcurrent": 4, "utilization": 0.5,
        "starts": 3, "startsPerMinute": 3 / 60, "peakStartsPerMinute": 1, "maxPerMinute": 2,
        "rateUtilization": 0.5, "failed": 0, "quotaErrors": 0, "quotaErrorShare": None,
        "monthToDateUsd": 6.0, "forecastMonthUsd": forecast, "monthlyBudgetUsd": 5.0,
        "budgetForecastShare": forecast / 5.0,
    })  # fmt: skip
    assert rows["pika"]["quotaErrorShare"] == 0.5 and rows["pika"]["utilization"] is None
    assert rows["pika"]["monthToDateUsd"] == pytest.approx(1.0)


def test_limits_are_validated_and_only_known_providers_are_accepted() -> None:
    queue = FakeQueue()
    capacity = service(queue, World())
    with pytest.raises(NotFound, match=r"^provider: 'acme'"):
        capacity.check_provider("acme")
    for bad in ("other", "Not Valid"):
        with pytest.raises(InvalidArgument, match=r"^provider:"):
            capacity.check_provider(bad)
    bad_bodies: list[tuple[Any, str]] = [
        ({"maxConcurrent": 0}, "maxConcurrent"),
        ({"size": 1}, "size"),
        ({"monthlyBudgetUsd": "lots"}, "monthlyBudgetUsd"),
        ([], "body"),
    ]
    for body, field in bad_bodies:
        with pytest.raises(InvalidArgument, match=f"^{field}:"):
            capacity.put("pika", body, "admin")
    assert queue.writes == []
    capacity.check_provider("pika")
    stored = capacity.put("pika", {"maxConcurrent": 3}, "admin")
    assert queue.limits == {"pika": stored} and stored.max_per_minute is None
    capacity.check_provider("pika")  # configured, so still accepted if no longer tracked


def test_live_figures_are_the_rule_metrics_per_scope() -> None:
    world = world_with_spend()
    queue = FakeQueue(
        jobs(), {"runway": ProviderCapacity(max_concurrent=2, monthly_budget_usd=5.0)}
    )
    live = service(queue, world).live_figures(NOW)
    assert live["overall"] == {
        "queuedJobs": 4.0, "oldestQueuedSeconds": 3 * 86_400.0, "queueWaitP95Seconds": 300.0,
        "queueWaitSamples": 5.0,
    }  # fmt: skip
    assert live["provider:runway"]["providerUtilization"] == 1.0
    assert live["provider:runway"]["budgetForecastShare"] == pytest.approx(
        month_forecast(6.0, NOW) / 5.0
    )
    assert live["provider:pika"]["providerUtilization"] is None
    assert live["provider:other"]["queuedJobs"] == 1.0


def test_provider_limit_metrics_exist_per_provider_only() -> None:
    rule: dict[str, Any] = {"metric": "providerUtilization", "threshold": 0.8, "window": "5m"}
    with pytest.raises(InvalidArgument, match="per provider only"):
        parse_rule({**rule, "scopes": ["overall", "provider"]}, "mine")
    assert parse_rule({**rule, "scopes": ["provider"]}, "mine").metric == "providerUtilization"


def test_saturation_fires_on_the_fourth_tick_above_and_budget_overrun_on_the_second() -> None:
    world = World()
    world.add("runway", "completed", 60, ago_minutes=30)
    rules = {r.rule_id: r for r in DEFAULT_RULES}
    assert (
        rules["queue_backlog"].metric == "queuedJobs" and rules["stuck_jobs"].metric == "stuckJobs"
    )
    fired = []
    for _ in range(4):
        snapshot = world.monitor.snapshot(world.clock.now)
        snapshot.live = {
            "provider:runway": {"providerUtilization": 0.9, "budgetForecastShare": 1.2}
        }
        fired.append(sorted(f.split("__")[0] for f in world.manager.run(snapshot).fired))
        world.clock.advance(minutes=5)
    assert fired == [[], ["budget_overrun"], [], ["provider_saturation"]]


def dashboard_with_capacity(queue: FakeQueue) -> Dashboard:
    world = world_with_spend()
    engine = AnalyticsEngine(world.store, world.monitor)
    return Dashboard(ApiServices(
        engine, world.clock, 400, verifier=verifier, capacity=service(queue, world),
    ))  # fmt: skip


def test_routes_serve_the_queue_and_let_admins_set_limits() -> None:
    queue = FakeQueue(jobs())
    board = dashboard_with_capacity(queue)

    def ask(
        method: str, path: str, token: str, body: bytes = b"", **params: str
    ) -> tuple[int, Any]:
        response = json_response(
            board.handle(Request(method, path, params, f"Bearer {token}", body))
        )
        return response.status, response.body

    status, body = ask("GET", "/system", "tok-analytics", window="1h")
    assert status == 200 and body["queue"]["queued"] == 4
    status, body = ask("GET", "/performance", "tok-analytics", window="1h")
    assert status == 200 and body["queue"]["queued"] == 4 and "inProgress" in body["queue"]
    assert ask("PUT", "/capacity/pika", "tok-analytics", b'{"maxConcurrent": 2}')[0] == 403
    assert ask("GET", "/capacity/pika", "tok-admin")[0] == 405
    status, body = ask("PUT", "/capacity/pika", "tok-admin", b'{"maxConcurrent": 2}')
    assert (status, body) == (200, {"provider": "pika", "maxConcurrent": 2, "maxPerMinute": None,
                                    "monthlyBudgetUsd": None})  # fmt: skip
    status, body = ask("GET", "/capacity", "tok-analytics", colour="red")
    assert status == 400 and body["error"]["message"].startswith("colour:")
    status, body = ask("GET", "/capacity", "tok-analytics", window="1h")
    assert status == 200 and body["providers"][0]["maxConcurrent"] == 2


def test_performance_still_answers_when_the_window_holds_too_many_starts_for_waits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import video_monitoring.analytics.queue as queue_module

    monkeypatch.setattr(queue_module, "MAX_WAIT_SAMPLES", 4)
    board = dashboard_with_capacity(FakeQueue(jobs()))
    request = Request("GET", "/performance", {"window": "1h"}, "Bearer tok-analytics")
    response = json_response(board.handle(request))
    assert response.status == 200
    queue = response.body["queue"]
    assert (queue["queued"], queue["processing"], queue.get("waitP95Seconds")) == (4, 3, None)
    system = json_response(
        board.handle(Request("GET", "/system", {"window": "1h"}, "Bearer tok-analytics"))
    )
    assert system.status == 400 and system.body["error"]["message"].startswith("from:")
