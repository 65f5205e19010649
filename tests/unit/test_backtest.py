"""Rule backtests: a replay over the stored runs agrees exactly with what the live runs did,
hand-computed episodes, another threshold, threshold suggestions, and refusals."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence

import pytest

from tests.unit.test_alert_manager import NOW, World
from video_monitoring.alerting.backtest import (
    History,
    Pace,
    SplitRuns,
    StoredRun,
    WhatIf,
    backtest_rule,
    replay,
    suggest,
)
from video_monitoring.alerting.records import Measurement
from video_monitoring.alerting.rules import AlertRule
from video_monitoring.core.budget import Budget
from video_monitoring.core.errors import DeadlineExceeded, InvalidArgument, NotFound

TICK = dt.timedelta(minutes=5)
TICKS = 48  # four hours


def phase(i: int) -> tuple[float, int]:
    """pika's generation seconds and failures of 6 per tick: healthy, degraded, healthy."""
    if 12 <= i < 30:
        return 150.0, 3
    return 40.0, 0


def traffic_world(edit: dict[str, float] | None = None) -> World:
    """Four hours of scheduled runs; every 5 minutes 6 runway and 6 pika generations, pika
    slow and failing half of them from the second hour for an hour and a half, then recovered."""
    world = World()
    world.manager.rule_book.seed_default_rules()
    if edit:
        for rule_id, threshold in edit.items():
            rule = world.alerts.get_rule(rule_id)
            assert rule is not None
            world.alerts.put_rule(rule.model_copy(update={"threshold": threshold}), "t", NOW)
    for i in range(TICKS):
        seconds, failures = phase(i)
        for j in range(6):
            ago = -(i * 5) + 4 - j * 0.5  # created in the 5 minutes before the tick
            world.add("runway", "completed", 40, ago_minutes=ago)
            world.add("pika", "failed" if j < failures else "completed", seconds, ago_minutes=ago)
        world.clock.now = NOW + i * TICK
        world.tick()
    return world


def live_episodes(world: World, rule_id: str) -> list[tuple[str, dt.datetime, dt.datetime | None]]:
    return sorted(
        (i.scope, i.fired_at, i.resolved_at)
        for i in world.alerts.instances.values()
        if i.rule_id == rule_id and i.fired_at is not None
    )


def replayed(body: dict[str, object]) -> list[tuple[str, dt.datetime, dt.datetime | None]]:
    episodes = body["episodes"]
    assert isinstance(episodes, list)
    return sorted((e["scope"], e["from"], e["to"]) for e in episodes)


@pytest.fixture(scope="module")
def world() -> World:
    return traffic_world()


@pytest.mark.parametrize("rule_id", ["low_success_rate", "slow_generation"])
def test_a_backtest_agrees_with_the_live_alerts_on_the_same_runs(
    world: World, rule_id: str
) -> None:
    body = world.manager.rule_book.backtest(rule_id, NOW, NOW + TICKS * TICK)
    live = live_episodes(world, rule_id)
    assert live, "the degraded hour must have fired the rule"
    assert any(to is not None for _, _, to in live), "and the recovery resolved it"
    assert replayed(body) == live
    assert body["firings"] == len(live)
    assert body["runs"] == TICKS
    assert body["evaluations"] == TICKS * 3  # overall, provider:pika, provider:runway
    assert body["unmeasured"] == 0


class CutReader:
    """A RunReader holding only the runs at or after (or before) a cut, as Firestore after its
    retention and BigQuery hold them; records what it was asked."""

    def __init__(self, inner: World, keep: Callable[[dt.datetime], bool]) -> None:
        self.inner, self.keep = inner, keep
        self.asked: list[tuple[dt.datetime, dt.datetime]] = []

    def rule_runs(
        self, metric: str, window: str, start: dt.datetime, end: dt.datetime, kinds: Sequence[str]
    ) -> list[StoredRun]:
        self.asked.append((start, end))
        runs = self.inner.alerts.rule_runs(metric, window, start, end, kinds)
        return [r for r in runs if self.keep(r.tick)]


@pytest.mark.parametrize("hours", [0, 2, 5])
def test_runs_split_between_the_archive_and_firestore_replay_as_one(
    world: World, hours: int
) -> None:
    """Whatever the cut, the replay over the archive's runs then Firestore's is the replay
    over all of them: each run is read from exactly one store."""
    cut = NOW + dt.timedelta(hours=hours)
    recent = CutReader(world, lambda tick: tick >= cut)
    archive = CutReader(world, lambda tick: tick < cut)
    runs = SplitRuns(recent, archive, lambda: cut)
    end = NOW + TICKS * TICK
    whole = world.manager.rule_book.backtest("low_success_rate", NOW, end)
    split = backtest_rule(world.alerts.rules["low_success_rate"], runs, runs.source, NOW, end)
    assert replayed(split) == replayed(whole) and split["runs"] == whole["runs"] == TICKS
    assert split["source"] == {0: "firestore", 2: "bigquery+firestore", 5: "bigquery"}[hours]
    assert whole["source"] == "firestore"
    assert archive.asked == ([] if hours == 0 else [(NOW, min(cut, end))])
    assert recent.asked == ([] if hours == 5 else [(max(NOW, cut), end)])


def test_another_threshold_replays_as_the_live_runs_of_the_edited_rule() -> None:
    edited = traffic_world({"slow_generation": 120.0, "low_success_rate": 0.6})
    base = traffic_world()
    for rule_id, threshold in (("slow_generation", 120.0), ("low_success_rate", 0.6)):
        body = base.manager.rule_book.backtest(
            rule_id, NOW, NOW + TICKS * TICK, threshold=threshold
        )
        assert body["threshold"] == threshold and body["storedThreshold"] != threshold
        assert replayed(body) == live_episodes(edited, rule_id)
    stored = base.alerts.get_rule("slow_generation")
    assert stored is not None and stored.threshold == 90.0  # nothing saved


def run(minute: int, value: float | None, samples: int = 30) -> StoredRun:
    return StoredRun(NOW + dt.timedelta(minutes=minute), "overall", Measurement(value, samples))


def test_episodes_by_hand_with_pending_and_resolve_streaks() -> None:
    rule = AlertRule.model_validate(
        {"ruleId": "r", "metric": "avgGenerationSeconds", "comparator": "gt", "threshold": 90,
         "minSamples": 20, "pendingEvaluations": 2, "resolveEvaluations": 2}
    )  # fmt: skip
    values = [100, 50, 100, 100, 100, 50, 100, 50, 50, 100, 100]
    #         p    del  p    F@3  .    c1   b    c1   R@8  p    F@10 (open at the end)
    runs = [run(5 * i, v) for i, v in enumerate(values)]
    runs.append(run(5 * 11, 100, samples=3))  # too few samples: no data, keeps firing
    result = replay(rule, History(runs), NOW, NOW + dt.timedelta(hours=1))
    at = [(e.start - NOW, e.end and e.end - NOW) for e in result.episodes]
    minutes = [dt.timedelta(minutes=m) for m in (15, 40, 50)]
    assert at == [(minutes[0], minutes[1]), (minutes[2], None)]
    assert result.evaluations == 12 and result.firings == 2
    assert result.per_week() == pytest.approx(2 * 7 * 24)


def test_a_suggested_threshold_meets_the_page_budget_and_names_what_it_misses() -> None:
    rule = AlertRule.model_validate(
        {"ruleId": "r", "metric": "avgGenerationSeconds", "comparator": "gt", "threshold": 90,
         "minSamples": 1, "pendingEvaluations": 1, "resolveEvaluations": 1}
    )  # fmt: skip
    # Three spikes: 95, 130 and 200 s, each one run long, over seven days.
    spikes = {100: 95.0, 900: 130.0, 1800: 200.0}
    runs = [run(5 * i, spikes.get(i, 60.0)) for i in range(2016)]
    end = NOW + dt.timedelta(days=7)
    history = History(runs)
    current = replay(rule, history, NOW, end)
    assert current.firings == 3
    one = suggest(rule, history, Pace(Budget.unlimited(), NOW, end), 1.0, current)
    assert one.threshold is not None and 130.0 <= one.threshold < 200.0
    assert one.replay is not None and one.replay.firings == 1
    assert [e.value for e in one.missed] == [95.0, 130.0]
    two = suggest(rule, history, Pace(Budget.unlimited(), NOW, end), 2.0, current)
    assert two.threshold is not None and 95.0 <= two.threshold < 130.0
    assert [e.value for e in two.missed] == [95.0]
    none = suggest(rule, history, Pace(Budget.unlimited(), NOW, end), 5.0, current)
    assert none.threshold == 90.0 and none.missed == []  # the rule already meets the target


def test_refusals_name_the_field(world: World) -> None:
    with pytest.raises(NotFound, match="ruleId"):
        world.manager.rule_book.backtest("no_such_rule", NOW, NOW + TICK)
    with pytest.raises(InvalidArgument, match=r"^threshold: .*baseline"):
        world.manager.rule_book.backtest("conversion_drop", NOW, NOW + TICK, threshold=4.0)
    anomaly = AlertRule.model_validate(
        {"ruleId": "hourly", "kind": "anomaly", "metric": "total", "window": "1h"}
    )
    world.alerts.put_rule(anomaly, "t", NOW)
    with pytest.raises(InvalidArgument, match=r"^ruleId: anomaly"):
        world.manager.rule_book.backtest("hourly", NOW, NOW + TICK)


class Ticking:
    """A monotonic clock that moves `step` seconds each time it is read, and more by hand."""

    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


class SlowReader:
    """The world's runs, read at `seconds_per_hour` of the clock per hour of window asked."""

    def __init__(self, inner: World, clock: Ticking, seconds_per_hour: float) -> None:
        self.inner, self.clock, self.rate = inner, clock, seconds_per_hour

    def rule_runs(
        self, metric: str, window: str, start: dt.datetime, end: dt.datetime, kinds: Sequence[str]
    ) -> list[StoredRun]:
        self.clock.now += self.rate * ((end - start) / dt.timedelta(hours=1))
        return self.inner.alerts.rule_runs(metric, window, start, end, kinds)


def proposed(message: str) -> tuple[dt.datetime, dt.datetime]:
    """The `from` and `to` the refusal proposes."""
    found = re.search(r"e\.g\. from=(\S+)&to=(\S+)$", message)
    assert found, message
    return dt.datetime.fromisoformat(found[1]), dt.datetime.fromisoformat(found[2])


@pytest.mark.parametrize(
    ("read_per_hour", "step", "pages"),
    [(15.0, 0.0, None),  # reading 4 hours of runs takes 60 s: the read alone runs late
     (0.0, 0.2, 1.0)],  # each run replayed takes 0.2 s: the suggestion's replays run late
)  # fmt: skip
def test_a_backtest_that_cannot_finish_by_the_deadline_stops_and_names_a_window_that_fits(
    world: World, read_per_hour: float, step: float, pages: float | None
) -> None:
    clock = Ticking(step)
    reader = SlowReader(world, clock, read_per_hour)
    rule = world.alerts.rules["low_success_rate"]
    end = NOW + TICKS * TICK

    def backtest(start: dt.datetime) -> dict[str, object]:
        return backtest_rule(rule, reader, None, start, end, WhatIf(None, pages, Budget(50, clock)))

    with pytest.raises(DeadlineExceeded) as refused:
        backtest(NOW)
    message = str(refused.value)
    assert message.startswith("from: the backtest of 4 hours stopped at the request's deadline")
    assert refused.value.http_status == 503
    fits, to = proposed(message)
    assert to == end and NOW < fits < end - dt.timedelta(
        minutes=59
    )  # a shorter window, of whole hours
    began = clock.now
    body = backtest(fits)  # the window proposed finishes within the same budget
    assert clock.now - began < 50
    assert body == backtest_rule(rule, world.alerts, None, fits, end, WhatIf(None, pages))
