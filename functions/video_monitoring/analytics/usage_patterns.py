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

from video_monitoring.analytics import sessions
from video_monitoring.analytics.sessions import MAX_SESSION, SessionEvent
from video_monitoring.config import constants
from video_monitoring.core.clock import Clock
from video_monitoring.core.models import AppEvent, Window
from video_monitoring.ingest.bounds import Bounds
from video_monitoring.ingest.monitoring_store import MonitoringStore
from video_monitoring.ingest.rollup import Totals, cover, floor_time
from video_monitoring.privacy.retention import Retention
from video_monitoring.warehouse.archive import TrendArchive


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
        """The additive `/user-insights` blocks of the window (analytics.sessions.patterns)."""
        now = self._clock()
        opted_out = self._store.opted_out_users()
        events, covered = self._session_events(window, now, opted_out)
        body = sessions.patterns(
            Window(start=covered, end=max(covered, window.end)),
            events,
            self._generations_by_hour(window, now),
        )
        body["sessionFigures"]["coveredFrom"] = covered
        return body

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
