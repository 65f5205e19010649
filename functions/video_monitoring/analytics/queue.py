"""The generation queue: what is queued now, how long jobs waited before a provider started
them, how old the oldest waiting job is and whether the queue grows, overall and per provider.

"Now" figures are exact counts of the stored records by status (docs/capacity.md says why they
are cheap); wait percentiles are over the jobs that STARTED in a window (`queueSeconds =
startedAt - createdAt`), exact nearest-rank percentiles of the waits read back, not a sketch.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from video_monitoring.config.constants import OTHER
from video_monitoring.core.errors import InvalidArgument
from video_monitoring.core.models import Window, rfc3339

# Waits read for one answer at most; a window holding more started jobs is a 400 naming `from`
# (the tick, over its last hour, reports no wait figure then rather than a partial one).
MAX_WAIT_SAMPLES = 20_000
# The tick measures queue waits over the jobs started in the last hour, whatever rule window.
LIVE_WAIT_SPAN = dt.timedelta(hours=1)
OVERALL = "overall"


@dataclass(frozen=True)
class Start:
    """A generation that left the queue by starting: its provider, creation and start times."""

    provider: str
    created_at: dt.datetime
    started_at: dt.datetime

    @property
    def wait_seconds(self) -> float:
        """queueSeconds = startedAt - createdAt."""
        return max((self.started_at - self.created_at).total_seconds(), 0.0)


@dataclass(frozen=True)
class QueueNow:
    """Counts by status now, per provider (each listed provider, `other` for the rest) and
    overall, and the creation time of the oldest queued job where it was asked for."""

    queued: Mapping[str, int]  # "overall", each listed provider, "other"
    processing: Mapping[str, int]
    oldest_queued: Mapping[str, dt.datetime | None]


class QueueSource(Protocol):
    """What the queue figures read (adapters/firestore_queue.py on Firestore)."""

    def now(self, providers: Sequence[str]) -> QueueNow:
        """Queued and processing counts overall and per listed provider (the rest under
        `other`), and the oldest queued job's creation time overall and per listed provider."""
        ...

    def starts(self, start: dt.datetime, end: dt.datetime, limit: int) -> list[Start]:
        """Generations that started in [start, end), at most `limit`."""
        ...

    def arrivals(
        self, start: dt.datetime, end: dt.datetime, providers: Sequence[str]
    ) -> dict[str, int]:
        """Generations created in [start, end), overall and per listed provider."""
        ...

    def unstarted_ends(self, start: dt.datetime, end: dt.datetime) -> list[str]:
        """Providers of the generations that ended in [start, end) without ever starting
        (cancelled or failed while queued): they left the queue too."""
        ...


def nearest_rank(values: Sequence[float], q: float) -> float | None:
    """The smallest value with at least a share `q` of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(q * len(ordered)), 1) - 1]


def provider_key(provider: str, listed: Iterable[str]) -> str:
    """A provider's scope among the listed ones (the rest count under `other`)."""
    return provider if provider in set(listed) else OTHER


def with_other(counts: Mapping[str, int], providers: Sequence[str]) -> dict[str, int]:
    """Per listed provider and `other` (overall minus the listed ones), with the overall."""
    out = {p: int(counts.get(p, 0)) for p in providers}
    out[OVERALL] = int(counts.get(OVERALL, 0))
    out[OTHER] = max(out[OVERALL] - sum(out[p] for p in providers), 0)
    return out


def waits_by_scope(starts: Iterable[Start], providers: Sequence[str]) -> dict[str, list[float]]:
    """Wait seconds of the started jobs, overall and per provider scope."""
    waits: dict[str, list[float]] = {OVERALL: []}
    for start in starts:
        wait = start.wait_seconds
        waits[OVERALL].append(wait)
        waits.setdefault(provider_key(start.provider, providers), []).append(wait)
    return waits


def age_seconds(now: dt.datetime, oldest: dt.datetime | None) -> float | None:
    """Seconds the oldest queued job has waited so far (None: nothing queued)."""
    return None if oldest is None else max((now - oldest).total_seconds(), 0.0)


@dataclass(frozen=True)
class QueueFigures:
    """The queue in one scope: now, and over a window."""

    queued: int
    processing: int
    oldest_queued_seconds: float | None
    waits: Sequence[float]
    arrivals: int
    departures: int  # started, or ended without starting, in the window
    minutes: float

    def to_json(self) -> dict[str, Any]:
        """The `queue` object of `GET /system` and `/performance`."""
        growth = (self.arrivals - self.departures) / self.minutes if self.minutes > 0 else None
        return {
            "queued": self.queued,
            "processing": self.processing,
            "oldestQueuedSeconds": self.oldest_queued_seconds,
            "waitP50Seconds": nearest_rank(self.waits, 0.5),
            "waitP95Seconds": nearest_rank(self.waits, 0.95),
            "waitSamples": len(self.waits),
            "arrivals": self.arrivals,
            "departures": self.departures,
            "netGrowthPerMinute": growth,
        }


class QueueService:
    """The queue figures `GET /system`, `/performance` and the tick read."""

    def __init__(self, source: QueueSource, providers: Sequence[str]) -> None:
        self._source = source
        self._providers = tuple(sorted(set(providers)))

    @property
    def providers(self) -> tuple[str, ...]:
        """The providers counted on their own (the tracked ones); the rest are `other`."""
        return self._providers

    def now(self) -> QueueNow:
        """Counts by status now."""
        return self._source.now(self._providers)

    def starts(self, start: dt.datetime, end: dt.datetime) -> list[Start]:
        """Jobs started in [start, end); a 400 naming `from` beyond MAX_WAIT_SAMPLES."""
        starts = self._source.starts(start, end, MAX_WAIT_SAMPLES + 1)
        if len(starts) > MAX_WAIT_SAMPLES:
            raise InvalidArgument(
                f"from: more than {MAX_WAIT_SAMPLES} generations started in the window; "
                "narrow it for the queue wait percentiles"
            )
        return starts

    def figures(self, window: Window, now: dt.datetime) -> dict[str, QueueFigures]:
        """Per scope ("overall", each provider, `other`): the queue now and over the window."""
        providers = self._providers
        current = self.now()
        waits = waits_by_scope(self.starts(window.start, window.end), providers)
        arrivals = with_other(self._source.arrivals(window.start, window.end, providers), providers)
        departures = {scope: len(w) for scope, w in waits.items()}
        for provider in self._source.unstarted_ends(window.start, window.end):
            for scope in (OVERALL, provider_key(provider, providers)):
                departures[scope] = departures.get(scope, 0) + 1
        minutes = (window.end - window.start).total_seconds() / 60
        queued = with_other(current.queued, providers)
        processing = with_other(current.processing, providers)
        return {
            scope: QueueFigures(
                queued[scope],
                processing[scope],
                age_seconds(now, current.oldest_queued.get(scope)),
                waits.get(scope, []),
                arrivals[scope],
                departures.get(scope, 0),
                minutes,
            )
            for scope in (OVERALL, *providers, OTHER)
        }

    def current(self, scope: str, now: dt.datetime) -> dict[str, Any]:
        """The queue now in one scope (queued, processing, the oldest queued job's age)."""
        counts = self.now()
        return {
            "queued": with_other(counts.queued, self._providers)[scope],
            "processing": with_other(counts.processing, self._providers)[scope],
            "oldestQueuedSeconds": age_seconds(now, counts.oldest_queued.get(scope)),
        }

    def system(self, window: Window, now: dt.datetime) -> dict[str, Any]:
        """`GET /system`: the queue (the window's provider's when it names one) and per
        provider; `functions` is empty here (dashboard/runtime_routes.py adds the runtime)."""
        figures = self.figures(window, now)
        scope = OVERALL
        if window.provider is not None:
            scope = provider_key(window.provider, self._providers)
        rows = [
            {"provider": p, **figures[p].to_json()}
            for p in (*self._providers, OTHER)
            if window.provider is None or p == scope
        ]
        return {
            "asOf": rfc3339(now),
            "window": window.to_json(),
            "queue": figures[scope].to_json(),
            "providers": rows,
            "functions": [],
        }
