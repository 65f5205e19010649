"""Sessions, the weekday x hour heatmap and weekly cohorts on /user-insights, against answers
computed independently from what the generator made (duplicates, out-of-order delivery,
sessions without an end, ends without a start)."""

from __future__ import annotations

import datetime as dt
import math
import random
from typing import Any

import pytest

from tests.unit.fakes import FakeStore, FixedClock
from video_monitoring.analytics.figures import AnalyticsEngine
from video_monitoring.analytics.performance import PerformanceMonitor
from video_monitoring.analytics.sessions import SessionEvent, sessions_of
from video_monitoring.core.models import Window
from video_monitoring.ingest.pipeline import Counting
from video_monitoring.ingest.service import IngestService
from video_monitoring.privacy.retention import Retention

START = dt.datetime(2026, 10, 5, tzinfo=dt.UTC)  # a Monday
DAY = dt.timedelta(days=1)
DAYS = 14
NOW = START + DAYS * DAY


def rank(values: list[float], q: float) -> float:
    """Nearest-rank quantile, written out: the k-th smallest with k = ceil(q n)."""
    k = math.ceil(q * len(values))
    return sorted(values)[k - 1]


class World:
    """Generated sessions and generations, and what each should count as."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(seed)
        self.store = FakeStore()
        self.clock = FixedClock(NOW)
        self.ingest = IngestService(self.store, shards=2, clock=self.clock)
        self.engine = AnalyticsEngine(
            self.store, PerformanceMonitor(self.store), Counting(2), self.clock
        )
        self.truth: list[tuple[str, dt.datetime, float | None]] = []  # user, start, seconds
        self.orphans: list[dt.datetime] = []
        self.generations: list[dt.datetime] = []
        writes: list[tuple[str, dict[str, Any]]] = []
        for i in range(400):
            user = f"u{rng.randrange(40)}"
            start = START + dt.timedelta(seconds=rng.randrange(0, DAYS * 86400))
            sid = f"s{i}"
            base = {"userId": user, "sessionId": sid}
            writes.append((f"a{i}", {**base, "type": "session_start", "timestamp": start}))
            if rng.random() < 0.2:  # the client sent its start twice (two event ids)
                writes.append((f"b{i}", {**base, "type": "session_start", "timestamp": start}))
            if rng.random() < 0.75:
                seconds = float(rng.randrange(1, 5400))
                end = start + dt.timedelta(seconds=seconds)
                writes.append((f"c{i}", {**base, "type": "session_end", "timestamp": end}))
                if rng.random() < 0.3:  # an earlier end of the same session: the latest counts
                    early = start + dt.timedelta(seconds=seconds / 2)
                    writes.append((f"d{i}", {**base, "type": "session_end", "timestamp": early}))
            else:
                seconds = None  # never ended
            self.truth.append((user, start, seconds))
        for i in range(30):  # ends whose start never arrived
            at = START + dt.timedelta(seconds=rng.randrange(0, DAYS * 86400))
            body = {"userId": "u1", "sessionId": f"lost{i}", "type": "session_end", "timestamp": at}
            writes.append((f"o{i}", body))
            self.orphans.append(at)
        for i in range(300):
            created = START + dt.timedelta(seconds=rng.randrange(0, DAYS * 86400))
            self.store.source[f"g{i}"] = {
                "userId": f"u{i % 40}", "provider": "runway", "status": "queued",
                "createdAt": created, "userTier": "free",
            }  # fmt: skip
            self.ingest.record_generation_metrics(f"g{i}")
            self.generations.append(created)
        rng.shuffle(writes)  # delivered in any order: ends before their starts
        for event_id, body in writes:
            self.store.events[event_id] = body
            self.ingest.record_app_event(event_id)
            if rng.random() < 0.3:
                self.ingest.record_app_event(event_id)  # delivered twice

    def expected(self, window: Window) -> dict[str, Any]:
        inside = [t for t in self.truth if window.start <= t[1] < window.end]
        durations = [s for _, _, s in inside if s is not None]
        users = {u for u, _, _ in inside}
        return {
            "count": len(inside),
            "ended": len(durations),
            "unended": len(inside) - len(durations),
            "endsWithoutStart": sum(1 for at in self.orphans if window.start <= at < window.end),
            "users": len(users),
            "perUser": len(inside) / len(users),
            "durationSeconds": {
                "median": rank(durations, 0.5),
                "p95": rank(durations, 0.95),
                "mean": sum(durations) / len(durations),
            },
            "coveredFrom": window.start,
        }


def grid(instants: list[dt.datetime]) -> list[list[int]]:
    """7 x 24 counts by weekday name order and hour, via isoweekday (1 = Monday)."""
    cells = [[0] * 24 for _ in range(7)]
    for at in instants:
        cells[at.isoweekday() - 1][at.hour] += 1
    return cells


def test_session_figures_and_heatmap_equal_the_generated_sessions() -> None:
    world = World(7)
    for window in (
        Window(start=START, end=NOW),
        Window(start=START + 3 * DAY + dt.timedelta(hours=5), end=START + 9 * DAY),
    ):
        result = world.engine.user_insights(window)
        figures = result["sessionFigures"]
        expected = world.expected(window)
        assert figures["count"] > 50 and figures["unended"] > 0 and figures["endsWithoutStart"] > 0
        assert figures["durationSeconds"].pop("mean") == pytest.approx(
            expected["durationSeconds"].pop("mean")
        )
        assert figures == expected
        starts = [s for _, s, _ in world.truth if window.start <= s < window.end]
        assert result["heatmap"]["sessions"] == grid(starts)
        created = [c for c in world.generations if window.start <= c < window.end]
        assert result["heatmap"]["generations"] == grid(created)
        assert sum(map(sum, result["heatmap"]["generations"])) == len(created) > 0
        assert result["heatmap"]["timeZone"] == "UTC"


def test_rules_for_unended_sessions_ends_without_start_and_the_cap() -> None:
    t0 = dt.datetime(2026, 11, 2, 10, tzinfo=dt.UTC)
    window = Window(start=t0, end=t0 + DAY)
    events = [
        SessionEvent("session_start", "a", "1", t0),
        SessionEvent("session_end", "a", "1", t0 + dt.timedelta(minutes=30)),
        SessionEvent("session_start", "a", "2", t0 + dt.timedelta(hours=1)),  # never ended
        SessionEvent("session_start", "b", "3", t0 + dt.timedelta(hours=2)),
        SessionEvent("session_end", "b", "3", t0 + dt.timedelta(hours=27)),  # past the cap
        SessionEvent("session_end", "b", "9", t0 + dt.timedelta(hours=3)),  # no start
        SessionEvent("session_start", "c", None, t0 + dt.timedelta(hours=4)),  # no id
        SessionEvent("session_end", "c", "4", t0 + dt.timedelta(hours=5)),  # start comes later
        SessionEvent("session_start", "c", "4", t0 + dt.timedelta(hours=6)),
    ]
    sessions, orphans = sessions_of(events + events[:3], window)
    assert [(s.user_id, s.seconds) for s in sessions] == [
        ("a", 1800.0), ("a", None), ("b", None), ("c", None), ("c", None),
    ]  # fmt: skip
    assert orphans == 2  # b/9, and c/4's end timestamped before its start


def test_cohorts_of_the_daily_snapshot_equal_first_activity_weeks() -> None:
    rng = random.Random(3)
    store = FakeStore()
    now = dt.datetime(2026, 12, 2, 3, tzinfo=dt.UTC)  # a Wednesday; snapshot of Tuesday
    clock = FixedClock(now)
    keep = Retention(3650, 3650)  # every generated event is counted, however old
    ingest = IngestService(store, shards=2, clock=clock, retention=keep)
    engine = AnalyticsEngine(store, PerformanceMonitor(store), Counting(2, retention=keep), clock)
    first = now - 30 * 7 * DAY
    for i in range(600):
        at = first + dt.timedelta(seconds=rng.randrange(0, 30 * 7 * 86400 - 6 * 3600))
        store.events[f"e{i}"] = {"type": "video_viewed", "userId": f"u{rng.randrange(90)}",
                                 "timestamp": at}  # fmt: skip
        ingest.record_app_event(f"e{i}")
        ingest.record_app_event(f"e{i}")  # duplicate delivery
    day = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    assert engine.snapshot_user_behavior(now)
    result = engine.user_insights(Window(start=day, end=day + DAY))
    table = result["cohorts"]
    assert result["latestSnapshotDay"] == day and table["asOf"] == day
    # Independently: ISO (year, week) of each user's active dates up to the snapshot day.
    weeks: dict[str, set[tuple[int, int]]] = {}
    for event in store.events.values():
        at = event["timestamp"]
        if at < day + DAY:
            iso = at.date().isocalendar()
            weeks.setdefault(event["userId"], set()).add((iso.year, iso.week))
    mondays = [dt.date(2026, 12, 1) - dt.timedelta(days=1 + 7 * k) for k in range(11, -1, -1)]
    lookback_start = mondays[0] - dt.timedelta(weeks=8)
    assert [r["week"].date() for r in table["rows"]] == mondays
    nonzero = 0
    for row, monday in zip(table["rows"], mondays, strict=True):

        def key(d: dt.date) -> tuple[int, int]:
            iso = d.isocalendar()
            return iso.year, iso.week

        seen = {
            u for u, ws in weeks.items()
            if min((w for w in ws if w >= key(lookback_start)), default=None) == key(monday)
        }  # fmt: skip
        assert row["users"] == len(seen)
        offsets = (dt.date(2026, 12, 1) - monday).days // 7 + 1
        assert [c["offset"] for c in row["weeks"]] == list(range(offsets))
        for cell in row["weeks"]:
            later = key(monday + dt.timedelta(weeks=cell["offset"]))
            active = sum(1 for u in seen if later in weeks[u])
            assert cell["active"] == active
            assert cell["share"] == (active / len(seen) if seen else None)
            assert cell["partial"] == (cell["offset"] == offsets - 1)
            nonzero += cell["offset"] > 0 and active > 0
    assert nonzero > 5
