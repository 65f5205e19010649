"""Sessions folded per day: /user-insights from the folded days and the raw rest equals the
generated sessions (quantiles and users within their stated bounds), and a request reads one
document per folded day whatever the traffic."""

from __future__ import annotations

import datetime as dt
import math
import random
from typing import Any

import pytest

from tests.unit.fakes import FakeStore, FixedClock
from tests.unit.test_sessions import DAY, NOW, START, World, grid, rank
from video_monitoring.analytics import distinct
from video_monitoring.analytics.figures import AnalyticsEngine
from video_monitoring.analytics.performance import PerformanceMonitor
from video_monitoring.analytics.session_fold import bins_rank
from video_monitoring.config import constants
from video_monitoring.core.models import Window
from video_monitoring.ingest import sketch
from video_monitoring.ingest.pipeline import Counting

HOUR = dt.timedelta(hours=1)
SECOND = dt.timedelta(seconds=1)


def fold_every_day(engine: AnalyticsEngine, clock: FixedClock, first: dt.datetime) -> None:
    """Run the job once a day at 02:00 from `first` to the clock's time, as the tick does."""
    end, at = clock.now, first + 2 * HOUR
    while at <= end:
        clock.now = at
        engine.patterns.fold_days(at)
        at += DAY
    clock.now = end


def assert_within_bounds(figures: dict[str, Any], expected: dict[str, Any]) -> None:
    """Counts exact; median and p95 within sketch.ALPHA; users within 3 standard errors."""
    got, want = figures.pop("durationSeconds"), expected.pop("durationSeconds")
    for q in ("median", "p95"):
        assert abs(got[q] - want[q]) <= sketch.ALPHA * want[q] + 1e-9, q
    assert got["mean"] == pytest.approx(want["mean"])
    users, true_users = figures.pop("users"), expected.pop("users")
    assert abs(users - true_users) <= 3 * distinct.STANDARD_ERROR * true_users
    figures.pop("perUser"), expected.pop("perUser")
    assert figures == expected


def test_figures_from_folded_days_equal_the_generated_sessions() -> None:
    world = World(7)
    fold_every_day(world.engine, world.clock, START)
    folded = {d for (c, d) in world.store.snapshots if c == constants.SESSION_DAYS and d >= START}
    assert folded == {START + n * DAY for n in range(12)}  # the last two days are not final
    for window in (
        Window(start=START, end=NOW),
        Window(start=START + 3 * DAY + 5 * HOUR, end=START + 9 * DAY),
        Window(start=START + 2 * DAY + 90 * dt.timedelta(minutes=1), end=NOW - 5 * HOUR),
    ):
        counted_from = START + 2 * DAY + 2 * HOUR if window.start.minute else window.start
        result = world.engine.user_insights(window)
        figures = result["sessionFigures"]
        expected = world.expected(Window(start=counted_from, end=window.end))
        assert figures["count"] > 50 and figures["unended"] > 0 and figures["endsWithoutStart"] > 0
        assert_within_bounds(figures, expected)
        starts = [s for _, s, _ in world.truth if counted_from <= s < window.end]
        assert result["heatmap"]["sessions"] == grid(starts)


def write_sessions(store: FakeStore, sessions: int, days: int, seed: int) -> list[dt.datetime]:
    """`sessions` sessions over the `days` before NOW, three in four ended; event instants."""
    rng = random.Random(seed)
    stamps = []
    for i in range(sessions):
        start = NOW - dt.timedelta(seconds=rng.randrange(60, days * 86400))
        base = {"userId": f"u{rng.randrange(300)}", "sessionId": f"s{i}"}
        store.events[f"a{i}"] = {**base, "type": "session_start", "timestamp": start}
        stamps.append(start)
        if i % 4:
            end = start + dt.timedelta(seconds=rng.randrange(1, 7200))
            store.events[f"b{i}"] = {**base, "type": "session_end", "timestamp": end}
            stamps.append(end)
    return stamps


def test_a_request_reads_one_document_per_folded_day_and_only_the_unfolded_events() -> None:
    reads = []
    for sessions in (500, 4000):
        store, clock = FakeStore(), FixedClock(NOW)
        engine = AnalyticsEngine(store, PerformanceMonitor(store), Counting(2), clock)
        stamps = write_sessions(store, sessions, 20, seed=sessions)
        fold_every_day(engine, clock, NOW - 20 * DAY)
        store.reads.clear()
        window = Window(start=NOW - 14 * DAY, end=NOW)
        figures = engine.user_insights(window)["sessionFigures"]
        # The two days not final yet, with the 24 h before them (ends without a start) and
        # the ends written after them.
        unfolded = sum(1 for at in stamps if at >= NOW - 3 * DAY)
        assert store.reads["session_reads"] == unfolded < len(stamps) / 4
        assert store.reads[constants.SESSION_DAYS] == 12  # the final days of the window
        assert figures["count"] == sum(
            1 for e in store.events.values()
            if e["type"] == "session_start" and window.start <= e["timestamp"] < window.end
        )  # fmt: skip
        reads.append(store.reads[constants.SESSION_DAYS])
    assert reads[0] == reads[1]


def test_the_job_folds_a_day_once_it_is_final_and_only_once() -> None:
    store, clock = FakeStore(), FixedClock(NOW)
    engine = AnalyticsEngine(store, PerformanceMonitor(store), Counting(2), clock)
    day = NOW - 3 * DAY
    late = day + 23 * HOUR
    base = {"userId": "u", "sessionId": "late"}
    store.events["a"] = {**base, "type": "session_start", "timestamp": late}
    store.events["b"] = {**base, "type": "session_end", "timestamp": late + 20 * HOUR}
    # Half an hour after day + 2 days the session's end could still be in flight: not folded.
    engine.patterns.fold_days(day + 2 * DAY + 30 * dt.timedelta(minutes=1))
    assert (constants.SESSION_DAYS, day) not in store.snapshots
    assert engine.patterns.fold_days(day + 2 * DAY + 2 * HOUR) == 1
    assert engine.patterns.fold_days(day + 2 * DAY + 3 * HOUR) == 0
    cell = store.snapshots[(constants.SESSION_DAYS, day)]["hours"]["23"]
    assert (cell["count"], cell["unended"], cell["durationSum"]) == (1, 0, 20 * 3600.0)


def test_distinct_registers_estimate_merge_and_round_trip() -> None:
    for n in (1_000, 5_000, 20_000, 100_000):
        many = distinct.add(distinct.empty(), (f"x{i}" for i in range(n)))
        assert abs(distinct.estimate(many) - n) <= 3 * distinct.STANDARD_ERROR * n
    ids = [f"user-{i}" for i in range(20_000)]
    registers = distinct.add(distinct.empty(), ids)
    halves = distinct.merge(
        distinct.add(distinct.empty(), ids[:12_000]), distinct.add(distinct.empty(), ids[8_000:])
    )
    assert halves == registers  # a union, not a sum
    few = distinct.add(distinct.empty(), ids[:50])
    assert distinct.estimate(few) in (49, 50)  # at most one shared register among 50
    for sample in (few, registers):
        stored = distinct.encode(sample)
        assert distinct.decode(stored) == sample
    assert len(distinct.encode(few)) == 1 + 3 * 50 and len(distinct.encode(registers)) == 4097
    assert distinct.estimate(distinct.empty()) == 0


def test_quantiles_of_the_bins_are_within_the_sketch_bound() -> None:
    rng = random.Random(1)
    values = [rng.uniform(0.5, 86_400) for _ in range(3001)]
    bins = sketch.add({}, values)
    for q in (0.01, 0.5, 0.95, 1.0):
        exact = rank(values, q)
        assert math.isclose(bins_rank(bins, q) or 0, exact, rel_tol=sketch.ALPHA)
    assert bins_rank({}, 0.5) is None


def test_a_window_inside_one_hour_of_a_folded_day_counts_no_partial_hour() -> None:
    world = World(7)
    fold_every_day(world.engine, world.clock, START)
    inside = Window(
        start=START + 2 * DAY + 10 * HOUR + 900 * SECOND,
        end=START + 2 * DAY + 10 * HOUR + 2700 * SECOND,
    )
    figures = world.engine.user_insights(inside)["sessionFigures"]
    assert figures["coveredFrom"] == inside.end and figures["count"] == 0
    whole = Window(start=START + 2 * DAY + 10 * HOUR, end=START + 2 * DAY + 11 * HOUR)
    figures = world.engine.user_insights(whole)["sessionFigures"]
    assert figures["count"] == sum(1 for _, s, _ in world.truth if whole.start <= s < whole.end)
