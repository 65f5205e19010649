"""Sessions and time-of-day patterns (pure; rules in docs/user-insights.md).

A session is one (userId, sessionId) pair: it starts at its earliest `session_start` and ends at
its latest `session_end` no earlier than that start and at most `MAX_SESSION` after it. A session
with no such end is unended: counted, with no duration (its length is unknown). A `session_start`
without a sessionId is a session of its own, unended. A `session_end` with no `session_start` of
its session in the `MAX_SESSION` before it is counted in `endsWithoutStart` and starts nothing.
Every figure is a function of the set of events, so duplicates and delivery order change nothing.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from video_monitoring.core.models import Window
from video_monitoring.ingest.rollup import ratio

SESSION_START = "session_start"
SESSION_END = "session_end"
# An end later than this after its start belongs to no session (a lost end, a reused id), and
# is how far before and after the window the session events are read.
MAX_SESSION = dt.timedelta(hours=24)


@dataclass(frozen=True)
class SessionEvent:
    """A `session_start` or `session_end` as counted (valid, consenting, not the monitor's)."""

    kind: str
    user_id: str
    session_id: str | None
    at: dt.datetime


@dataclass(frozen=True)
class Session:
    """One session: its user, start, and duration in seconds (None when unended)."""

    user_id: str
    start: dt.datetime
    seconds: float | None


def sessions_of(events: Iterable[SessionEvent], window: Window) -> tuple[list[Session], int]:
    """The sessions starting in the window, and its ends without a start (rules above)."""
    sessions, orphans = split(events, window)
    return sessions, len(orphans)


def split(
    events: Iterable[SessionEvent], window: Window
) -> tuple[list[Session], list[dt.datetime]]:
    """The sessions starting in the window, and the instants of its ends without a start."""
    starts: dict[tuple[str, str], dt.datetime] = {}
    ends: dict[tuple[str, str], list[dt.datetime]] = {}
    loose: list[Session] = []
    for event in set(events):
        if event.session_id is None:
            if event.kind == SESSION_START and window.start <= event.at < window.end:
                loose.append(Session(event.user_id, event.at, None))
            continue
        key = (event.user_id, event.session_id)
        if event.kind == SESSION_START:
            starts[key] = min(starts.get(key, event.at), event.at)
        else:
            ends.setdefault(key, []).append(event.at)
    sessions = list(loose)
    for key, start in starts.items():
        if not window.start <= start < window.end:
            continue
        closing = [e for e in ends.get(key, []) if start <= e <= start + MAX_SESSION]
        seconds = (max(closing) - start).total_seconds() if closing else None
        sessions.append(Session(key[0], start, seconds))
    orphans: list[dt.datetime] = []
    for key, stamps in ends.items():
        began = starts.get(key)
        for at in set(stamps):
            if window.start <= at < window.end and (
                began is None or not began <= at <= began + MAX_SESSION
            ):
                orphans.append(at)
    return sorted(sessions, key=lambda s: (s.start, s.user_id)), sorted(orphans)


def nearest_rank(values: Sequence[float], q: float) -> float | None:
    """The q-quantile by nearest rank (the smallest value with at least q of them at or below)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(q * len(ordered)), 1) - 1]


def session_figures(sessions: Sequence[Session], ends_without_start: int) -> dict[str, Any]:
    """Count, ended and unended sessions, median and p95 duration of the ended, per user."""
    durations = [s.seconds for s in sessions if s.seconds is not None]
    users = len({s.user_id for s in sessions})
    return {
        "count": len(sessions),
        "ended": len(durations),
        "unended": len(sessions) - len(durations),
        "endsWithoutStart": ends_without_start,
        "users": users,
        "perUser": ratio(len(sessions), users),
        "durationSeconds": {
            "median": nearest_rank(durations, 0.5),
            "p95": nearest_rank(durations, 0.95),
            "mean": sum(durations) / len(durations) if durations else None,
        },
    }


def heatmap(counts: Iterable[tuple[dt.datetime, int]]) -> list[list[int]]:
    """7 x 24 sums by UTC weekday (Monday first) and hour of the instants' counts."""
    grid = [[0] * 24 for _ in range(7)]
    for at, n in counts:
        at = at.astimezone(dt.UTC)
        grid[at.weekday()][at.hour] += n
    return grid


def patterns(
    window: Window,
    events: Iterable[SessionEvent],
    generations_by_hour: Mapping[dt.datetime, int],
) -> dict[str, Any]:
    """The additive `/user-insights` blocks: sessions and the heatmap."""
    sessions, orphans = sessions_of(events, window)
    return {
        "sessionFigures": session_figures(sessions, orphans),
        "heatmap": {
            "timeZone": "UTC",
            "weekdays": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
            "generations": heatmap(generations_by_hour.items()),
            "sessions": heatmap((s.start, 1) for s in sessions),
        },
    }
