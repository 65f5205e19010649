"""A day's sessions folded into per-hour cells, and a window's figures from folded hours plus
the sessions counted from raw events (pure; rules in analytics.sessions, docs/user-insights.md).

A cell holds what adds up across hours: sessions by start hour, the unended ones, ends without
a start by their hour, the ended sessions' duration sum and sketch bins (ingest.sketch: a
quantile within `sketch.ALPHA` of the exact one) and the users' HyperLogLog registers
(analytics.distinct), so a window reads one document per day whatever the traffic.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from video_monitoring.analytics import distinct
from video_monitoring.analytics.sessions import (
    Session,
    SessionEvent,
    heatmap,
    session_figures,
    split,
)
from video_monitoring.core.models import Window
from video_monitoring.ingest import sketch
from video_monitoring.ingest.rollup import ratio

HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)


def fold_day(events: Iterable[SessionEvent], day: dt.datetime) -> dict[str, Any]:
    """The hour cells (`"00"`..`"23"`, hours with nothing left out) of the sessions starting
    on `day` and its ends without a start, from the session events of the day with the
    MAX_SESSION before and after it."""
    sessions, orphans = split(events, Window(start=day, end=day + DAY))
    cells: dict[str, dict[str, Any]] = {}
    users: dict[str, set[str]] = {}

    def cell(at: dt.datetime) -> dict[str, Any]:
        key = f"{at.hour:02d}"
        empty = {"count": 0, "unended": 0, "endsWithoutStart": 0, "durationSum": 0.0, "bins": {}}
        return cells.setdefault(key, empty)

    for session in sessions:
        into = cell(session.start)
        into["count"] += 1
        users.setdefault(f"{session.start.hour:02d}", set()).add(session.user_id)
        if session.seconds is None:
            into["unended"] += 1
        else:
            into["durationSum"] += session.seconds
            sketch.add(into["bins"], [session.seconds])
    for at in orphans:
        cell(at)["endsWithoutStart"] += 1
    for key, ids in users.items():
        cells[key]["users"] = distinct.encode(distinct.add(distinct.empty(), ids))
    return {"day": day, "hours": cells}


def hours_in(
    day: dt.datetime, folded: Mapping[str, Any], window: Window
) -> list[tuple[dt.datetime, Mapping[str, Any]]]:
    """The folded day's hour cells whose hour starts in the window."""
    picked = []
    for key, cell in folded.get("hours", {}).items():
        at = day + int(key) * HOUR
        if window.start <= at < window.end:
            picked.append((at, cell))
    return picked


def bins_rank(bins: Mapping[str, float], q: float) -> float | None:
    """The q-quantile by nearest rank of the values binned (within sketch.ALPHA of the exact)."""
    ordered = sorted((sketch.bin_value(k), c) for k, c in bins.items() if c > 0)
    total = sum(c for _, c in ordered)
    if total <= 0:
        return None
    wanted, seen = max(math.ceil(q * total), 1), 0.0
    for value, count in ordered:
        seen += count
        if seen >= wanted:
            return value
    return ordered[-1][0]


def combine(
    hours: Sequence[tuple[dt.datetime, Mapping[str, Any]]],
    sessions: Sequence[Session],
    orphans: int,
) -> tuple[dict[str, Any], list[list[int]]]:
    """`sessionFigures` and the sessions' heatmap of folded hours and raw-counted sessions;
    exactly as from the events alone when no hour is folded."""
    grid = heatmap([*((at, int(c["count"])) for at, c in hours), *((s.start, 1) for s in sessions)])
    if not hours:
        return session_figures(sessions, orphans), grid
    durations = [s.seconds for s in sessions if s.seconds is not None]
    bins: dict[str, float] = sketch.add({}, durations)
    registers = distinct.add(distinct.empty(), (s.user_id for s in sessions))
    count, unended, total = len(sessions), len(sessions) - len(durations), sum(durations)
    for _, cell in hours:
        count += int(cell["count"])
        unended += int(cell["unended"])
        orphans += int(cell["endsWithoutStart"])
        total += float(cell["durationSum"])
        for key, n in cell["bins"].items():
            bins[key] = bins.get(key, 0) + n
        if "users" in cell:
            distinct.merge(registers, distinct.decode(cell["users"]))
    ended = count - unended
    users = distinct.estimate(registers)
    figures = {
        "count": count,
        "ended": ended,
        "unended": unended,
        "endsWithoutStart": orphans,
        "users": users,
        "perUser": ratio(count, users),
        "durationSeconds": {
            "median": bins_rank(bins, 0.5),
            "p95": bins_rank(bins, 0.95),
            "mean": total / ended if ended else None,
        },
    }
    return figures, grid
