"""Reads behind `/user-insights`' sessions and heatmap (rules in analytics.sessions).

Generations per hour come from the hour rollups (the archive's hourly points before the
aggregates' horizon); sessions from the raw session events, which Firestore keeps for the raw
retention (before it, from the archive when one is configured).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from video_monitoring.analytics import session_fold, sessions
from video_monitoring.analytics.sessions import MAX_SESSION, SessionEvent
from video_monitoring.config import constants
from video_monitoring.core.clock import Clock
from video_monitoring.core.models import AppEvent, Window
from video_monitoring.ingest.bounds import Bounds
from video_monitoring.ingest.monitoring_store import MonitoringStore
from video_monitoring.ingest.rollup import Totals, cover, floor_time
from video_monitoring.privacy.retention import Retention
from video_monitoring.warehouse.archive import TrendArchive

DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# A day's sessions are final once every end they may have (MAX_SESSION after a start) is in:
# when the next day is over; folded after FOLD_SETTLE more, for late deliveries.
FINAL_AFTER = 2 * DAY
FOLD_SETTLE = dt.timedelta(hours=1)
# Final days the job looks back over for one not folded yet (after an outage).
FOLD_LOOKBACK_DAYS = 7


def session_event(data: Mapping[str, Any]) -> SessionEvent | None:
    """A raw event as the sessions count it; None for what the pipeline does not count (a
    malformed event, the monitor's own, an erased user's)."""
    if data.get("erased") or data.get("source") == constants.EVENT_SOURCE_MONITOR:
        return None
    try:
        event = AppEvent.model_validate(dict(data))
    except ValidationError:
        return None
    if event.type not in constants.SESSION_EVENT_TYPES:
        return None
    return SessionEvent(event.type, event.userId, event.sessionId, event.timestamp)


class UsagePatterns:
    """Sessions, weekday x hour heatmap and weekly cohorts of a window."""

    def __init__(
        self,
        store: MonitoringStore,
        retention: Retention,
        bounds: Bounds,
        clock: Clock,
        archive: TrendArchive | None = None,
    ) -> None:
        self._store = store
        self._retention = retention
        self._bounds = bounds
        self._clock = clock
        self._archive = archive

    def figures(self, window: Window) -> dict[str, Any]:
        """The additive `/user-insights` blocks of the window: sessions from the folded days'
        hour cells (hours starting in the window) and from raw events for the rest."""
        now = self._clock()
        opted_out = self._store.opted_out_users()
        folded = self._folded(window, now)
        hours: list[tuple[dt.datetime, Any]] = []
        runs: list[Window] = []
        day, run_start = floor_time(window.start, "day"), None
        while day < window.end:
            if day in folded:
                if run_start is not None:
                    runs.append(Window(start=run_start, end=day))
                    run_start = None
                hours += session_fold.hours_in(day, folded[day], window)
            elif run_start is None:
                run_start = max(day, window.start)
            day += DAY
        if run_start is not None:
            runs.append(Window(start=run_start, end=window.end))
        found: list[sessions.Session] = []
        orphans, covered = 0, window.start
        for run in runs:
            events, run_from = self._session_events(run, now, opted_out)
            counted, lone = sessions.sessions_of(events, Window(start=run_from, end=run.end))
            found += counted
            orphans += lone
            if run.start == window.start:
                covered = run_from
        if floor_time(window.start, "day") in folded:
            # Counted in whole hours there: from the first hour starting in the window.
            next_hour = -(-(window.start - EPOCH) // HOUR) * HOUR + EPOCH
            covered = min(next_hour, window.end)
        figures, grid = session_fold.combine(hours, found, orphans)
        return {
            "sessionFigures": {**figures, "coveredFrom": covered},
            "heatmap": {
                "timeZone": "UTC",
                "weekdays": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
                "generations": sessions.heatmap(self._generations_by_hour(window, now).items()),
                "sessions": grid,
            },
        }

    def _folded(self, window: Window, now: dt.datetime) -> dict[dt.datetime, Any]:
        """The folded days of the window (one read by id; none for a window of recent days)."""
        horizon = self._retention.raw_horizon(now)
        days, day = [], floor_time(window.start, "day")
        while day < window.end and day + FINAL_AFTER <= now:
            if day - MAX_SESSION >= horizon:
                days.append(day)
            day += DAY
        return self._store.daily_snapshots(constants.SESSION_DAYS, days) if days else {}

    def fold_days(self, now: dt.datetime, lookback: int = FOLD_LOOKBACK_DAYS) -> int:
        """Fold each final day (its next day over FOLD_SETTLE ago) of the `lookback` days ending
        with the last final one that is not folded yet, from its raw session events with the
        MAX_SESSION around it; how many days were folded."""
        last = floor_time(now - FOLD_SETTLE, "day") - FINAL_AFTER
        horizon = self._retention.raw_horizon(now)
        days = [last - n * DAY for n in range(lookback - 1, -1, -1)]
        days = [d for d in days if d - MAX_SESSION >= horizon]
        done = self._store.daily_snapshots(constants.SESSION_DAYS, days) if days else {}
        due = [d for d in days if d not in done]
        if not due:
            return 0
        opted_out = self._store.opted_out_users()
        for day in due:
            raw = self._store.session_events(day - MAX_SESSION, day + DAY + MAX_SESSION)
            parsed = (session_event(data) for data in raw)
            events = [e for e in parsed if e is not None and e.user_id not in opted_out]
            body = session_fold.fold_day(events, day)
            self._store.put_daily_snapshot(constants.SESSION_DAYS, day, {**body, "computedAt": now})
        return len(due)

    def _session_events(
        self, window: Window, now: dt.datetime, opted_out: frozenset[str]
    ) -> tuple[list[SessionEvent], dt.datetime]:
        """The window's session events with the MAX_SESSION around it, and from when the
        sessions are counted (the raw retention's horizon without an archive)."""
        horizon = self._retention.raw_horizon(now)
        start, end = window.start - MAX_SESSION, window.end + MAX_SESSION
        raw = self._store.session_events(max(start, horizon), end)
        covered = window.start
        if start < horizon:
            if self._archive is None:
                covered = max(window.start, horizon)
            else:
                raw += self._archive.session_events(start, horizon, opted_out)
        parsed = (session_event(data) for data in raw)
        return [e for e in parsed if e is not None and e.user_id not in opted_out], covered

    def _generations_by_hour(self, window: Window, now: dt.datetime) -> dict[dt.datetime, int]:
        """Generations created per UTC hour of the window (by `createdAt`, as the rollups)."""
        horizon = self._retention.aggregate_horizon(now)
        by_hour: dict[dt.datetime, int] = {}
        if window.start < horizon and self._archive is not None:
            old = Window(start=window.start, end=min(window.end, horizon))
            for point in self._archive.trend_points(old, "hour"):
                by_hour[point["start"]] = by_hour.get(point["start"], 0) + int(point["total"])
        if window.end > horizon:
            start = max(window.start, horizon)
            for doc in self._store.rollups(cover(start, window.end, coarsest="hour")):
                totals = Totals()
                for flat in doc.cells.values():
                    totals.add(flat)
                hour = floor_time(doc.start, "hour")
                by_hour[hour] = by_hour.get(hour, 0) + totals.count()
        return by_hour
