"""The monitor's own health: the verdict of GET /health, its caching, the endpoint's roles, and
the built-in rules that watch the system (monitor_stale and the others) firing from the tick's
figures."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.unit.fakes import FakeStore, FixedClock
from tests.unit.test_alert_manager import NOW, World
from tests.unit.test_dashboard import call, verifier
from video_monitoring.analytics.figures import AnalyticsEngine
from video_monitoring.analytics.health import (
    ExportStatus,
    HealthCheck,
    HealthInputs,
    assess,
    system_figures,
)
from video_monitoring.analytics.performance import PerformanceMonitor
from video_monitoring.dashboard.app import ApiServices, Dashboard
from video_monitoring.dashboard.http import Request


def inputs(**changes: Any) -> HealthInputs:
    healthy: dict[str, Any] = {
        "now": NOW,
        "last_tick": NOW - dt.timedelta(minutes=4),
        "oldest_unfolded": NOW - dt.timedelta(minutes=1),
        "changes_last_hour": 400,
        "rejected_last_hour": 3,
        "outbox_backlog": 0,
        "abandoned_last_day": 0,
        "last_export": ExportStatus("2026-11-24", "succeeded", NOW, {"generation_metrics": 9}),
        "queued": 12,
        "stuck": 0,
    }
    return HealthInputs(**(healthy | changes))


def test_a_healthy_monitor_is_ok_with_its_detail() -> None:
    health = assess(inputs())
    assert (health.status, health.reasons) == ("ok", ())
    assert health.to_json(with_detail=False) == {"status": "ok"}
    detail = health.to_json(with_detail=True)
    assert detail["lastTick"] == "2026-11-25T11:56:00Z"
    assert detail["pipelineLagSeconds"] == 60.0
    assert detail["rejectedLastHour"] == 3
    assert detail["outbox"] == {"backlog": 0, "abandoned24h": 0}
    assert detail["lastExport"]["rows"] == {"generation_metrics": 9}
    assert detail["deniedLastHour"] == 0


def test_refused_calls_are_a_figure_on_health_and_a_rule_metric() -> None:
    refused = inputs(denied_last_hour=150)
    assert assess(refused).to_json(with_detail=True)["deniedLastHour"] == 150
    assert assess(refused).ok  # a figure and an alert, not a verdict on the monitor
    assert system_figures(refused)["deniedRequests"] == 150.0
    assert system_figures(inputs())["deniedRequests"] == 0.0


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"last_tick": None}, "the scheduled tick aggregate_and_alert has not run yet"),
        (
            {"last_tick": NOW - dt.timedelta(minutes=16)},
            "the scheduled tick aggregate_and_alert has not run for 16 minutes "
            "(last at 2026-11-25T11:44:00Z)",
        ),
        (
            {"oldest_unfolded": NOW - dt.timedelta(minutes=11)},
            "the rollups are 11 minutes behind (fold_rollups is not keeping up)",
        ),
        (
            {"changes_last_hour": 90, "rejected_last_hour": 10},
            "10 documents rejected in the last hour (10.0% of changes)",
        ),
        ({"abandoned_last_day": 2}, "2 alert notifications abandoned in the last 24 hours"),
        (
            {"last_export": ExportStatus("2026-11-24", "failed", None, {}, "quota")},
            "the BigQuery export of 2026-11-24 failed",
        ),
        (
            {"quarantined": 5, "quarantined_last_day": 2},
            "2 rollup journal entries quarantined in the last 24 hours (the figures leave them "
            "out until they are replayed)",
        ),
    ],
)
def test_each_problem_degrades_with_a_reason(changes: dict[str, Any], reason: str) -> None:
    health = assess(inputs(**changes))
    assert health.status == "degraded"
    assert health.reasons == (reason,)
    assert health.to_json(with_detail=False) == {"status": "degraded", "reasons": [reason]}


CHECKS = ("tick", "rollups", "rejections", "notifications", "quarantine", "export")


def test_the_detail_lists_every_check_with_its_state_and_reason() -> None:
    """A healthy monitor lists six passing checks; each problem fails its own check only, with
    the reason the verdict gives."""
    healthy = assess(inputs()).to_json(with_detail=True)["checks"]
    assert healthy == [{"check": c, "ok": True, "reason": None} for c in CHECKS]
    broken = inputs(last_tick=None, abandoned_last_day=2)
    health = assess(broken)
    checks = {c["check"]: c for c in health.to_json(with_detail=True)["checks"]}
    assert [c for c in CHECKS if not checks[c]["ok"]] == ["tick", "notifications"]
    assert checks["tick"]["reason"] == "the scheduled tick aggregate_and_alert has not run yet"
    assert checks["notifications"]["reason"] == (
        "2 alert notifications abandoned in the last 24 hours"
    )
    assert [checks[c]["reason"] for c in ("tick", "notifications")] == list(health.reasons)
    assert "checks" not in health.to_json(with_detail=False)


def test_entries_held_in_quarantine_longer_than_a_day_are_detail_and_a_rule_figure() -> None:
    """Held entries keep the `fold_quarantine` rule firing until replayed or dismissed, but
    only those quarantined in the last 24 hours make /health degraded."""
    held = inputs(quarantined=4, quarantined_last_day=0)
    health = assess(held)
    assert health.ok
    assert health.detail["foldQuarantine"] == {"held": 4, "last24h": 0}
    assert system_figures(held)["quarantinedEntries"] == 4.0
    assert assess(inputs()).detail["foldQuarantine"] == {"held": 0, "last24h": 0}


def test_few_changes_are_not_judged_by_their_rejected_share() -> None:
    assert assess(inputs(changes_last_hour=5, rejected_last_hour=5)).ok
    assert (
        system_figures(inputs(changes_last_hour=5, rejected_last_hour=5))["rejectedShare"] is None
    )


class CountingSource:
    def __init__(self, given: HealthInputs) -> None:
        self.given = given
        self.reads = 0

    def health_inputs(self, now: dt.datetime, queued: int, stuck: int) -> HealthInputs:
        self.reads += 1
        return inputs(now=now, queued=queued, stuck=stuck, last_tick=self.given.last_tick)

    def record_tick(self, at: dt.datetime) -> None:
        raise AssertionError("the health check never records a tick")


def test_the_check_reads_storage_at_most_every_15_seconds() -> None:
    clock = FixedClock(NOW)
    source = CountingSource(inputs())
    check = HealthCheck(source, lambda now: (7, 1), clock)
    first = check()
    clock.advance(seconds=10)
    assert check() is first and source.reads == 1
    clock.advance(seconds=6)
    again = check()
    assert source.reads == 2 and again.detail["queue"] == {"inProgress": 7, "stuck": 1}


def dashboard(given: HealthInputs) -> Dashboard:
    store = FakeStore()
    clock = FixedClock(given.now)
    monitor = PerformanceMonitor(store)
    check = HealthCheck(CountingSource(given), lambda now: (0, 0), clock)
    return Dashboard(
        ApiServices(AnalyticsEngine(store, monitor), clock, 400, verifier=verifier, health=check)
    )


def test_health_needs_no_token_and_a_reader_gets_the_detail() -> None:
    board = dashboard(inputs())
    assert call(board, "/health", None) == (200, {"status": "ok"})
    assert call(board, "/api/health", "forged") == (200, {"status": "ok"})  # never fails on it
    assert call(board, "/health", "tok-user") == (200, {"status": "ok"})  # no role: no detail
    status, body = call(board, "/health", "tok-analytics")
    assert status == 200 and body["lastTick"] == "2026-11-25T11:56:00Z"
    status, body = call(board, "/health", None, verbose="1")
    assert (status, body["error"]["message"]) == (400, "verbose: /health takes no parameters")
    refused = board.handle(Request("POST", "/health", {}, None))
    assert (refused.status, refused.headers) == (405, {"Allow": "GET"})  # type: ignore[union-attr]


def test_a_stale_monitor_answers_503_with_the_reason() -> None:
    board = dashboard(inputs(last_tick=NOW - dt.timedelta(minutes=40)))
    status, body = call(board, "/health", None)
    assert status == 503
    assert body == {
        "status": "degraded",
        "reasons": [
            "the scheduled tick aggregate_and_alert has not run for 40 minutes "
            "(last at 2026-11-25T11:20:00Z)"
        ],
    }


@pytest.mark.parametrize(
    ("figure", "value", "rule", "clear_runs"),
    [
        ("minutesSinceLastTick", 22.0, "monitor_stale", 1),
        ("rejectedShare", 0.2, "pipeline_rejections", 2),
        ("abandonedNotifications", 3.0, "notifications_abandoned", 1),
        ("exportFailed", 1.0, "export_failed", 1),
        ("quarantinedEntries", 2.0, "fold_quarantine", 1),
        ("deniedRequests", 150.0, "access_denials", 2),
    ],
)
def test_the_system_rules_fire_on_the_first_run_that_sees_the_problem(
    figure: str, value: float, rule: str, clear_runs: int
) -> None:
    world = World()
    snapshot = world.monitor.snapshot(world.clock.now)
    snapshot.system[figure] = value
    report = world.manager.run(snapshot)
    assert [f.split("__")[:2] for f in report.fired] == [[rule, "overall"]]
    resolved: list[list[str]] = []
    for _ in range(clear_runs):
        world.clock.advance(minutes=5)
        quiet = world.monitor.snapshot(world.clock.now)
        quiet.system[figure] = 0.0
        resolved = [r.split("__")[:2] for r in world.manager.run(quiet).resolved]
    assert resolved == [[rule, "overall"]]


def test_stuck_jobs_waits_two_runs() -> None:
    world = World()
    fired = []
    for _ in range(2):
        snapshot = world.monitor.snapshot(world.clock.now)
        snapshot.system["stuckJobs"] = 80.0
        fired.append([f.split("__")[:2] for f in world.manager.run(snapshot).fired])
        world.clock.advance(minutes=5)
    assert fired == [[], [["stuck_jobs", "overall"]]]


def test_queue_backlog_measures_the_queued_jobs_not_the_stuck_ones() -> None:
    """The rule keeps its id; it fires on 501 jobs queued (its threshold is 500), after two
    runs, and stuck jobs alone never fire it."""
    world = World()
    fired = []
    for queued, stuck in ((501.0, 0.0), (501.0, 0.0), (0.0, 80.0)):
        snapshot = world.monitor.snapshot(world.clock.now)
        snapshot.live = {"overall": {"queuedJobs": queued}}
        snapshot.system["stuckJobs"] = stuck
        report = world.manager.run(snapshot)
        fired.append(sorted(f.split("__")[0] for f in report.fired))
        world.clock.advance(minutes=5)
    assert fired[:2] == [[], ["queue_backlog", "queue_depth"]]
    assert "queue_backlog" not in fired[2]


def test_performance_shows_the_queue_now_with_stuck_jobs() -> None:
    """/performance carries the backlog: in flight now and processing past the stuck limit,
    overall or for the window's provider (counted here from what the test wrote)."""
    world = World()
    world.add("pika", "processing", 0, ago_minutes=45)  # started 45 min ago: stuck
    world.add("pika", "processing", 0, ago_minutes=10)
    world.add("runway", "queued", 0, ago_minutes=1)
    world.add("runway", "completed", 40, ago_minutes=20)
    engine = AnalyticsEngine(world.store, world.monitor, clock=world.clock)
    board = Dashboard(ApiServices(engine, world.clock, 400, verifier=verifier))
    status, body = call(board, "/performance", "tok-analytics", window="1h")
    assert status == 200
    assert body["queue"] == {
        "asOf": NOW, "inProgress": 3, "stuck": 1, "stuckAfterMinutes": 30,
    }  # fmt: skip
    _, pika = call(board, "/performance", "tok-analytics", window="1h", provider="pika")
    assert (pika["queue"]["inProgress"], pika["queue"]["stuck"]) == (2, 1)
