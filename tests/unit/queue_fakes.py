"""An in-memory queue source and capacity store: generations as plain records, counted and
filtered the way the Firestore adapter's queries do."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from video_monitoring.analytics.capacity import ProviderCapacity
from video_monitoring.analytics.queue import OVERALL, QueueNow, Start


@dataclass(frozen=True)
class Job:
    """One stored generation record, as far as the queue reads it."""

    provider: str
    status: str
    created: dt.datetime
    started: dt.datetime | None = None
    completed: dt.datetime | None = None


@dataclass(eq=False)
class FakeQueue:
    """QueueSource and CapacityStore over a list of jobs and a dict of limits."""

    jobs: list[Job] = field(default_factory=list)
    limits: dict[str, ProviderCapacity] = field(default_factory=dict)
    writes: list[tuple[str, ProviderCapacity, str]] = field(default_factory=list)

    def now(self, providers: Sequence[str]) -> QueueNow:
        def mine(scope: str, status: str) -> list[Job]:
            return [
                j for j in self.jobs
                if j.status == status and (scope == OVERALL or j.provider == scope)
            ]  # fmt: skip

        scopes = (OVERALL, *providers)
        return QueueNow(
            {s: len(mine(s, "queued")) for s in scopes},
            {s: len(mine(s, "processing")) for s in scopes},
            {s: min((j.created for j in mine(s, "queued")), default=None) for s in scopes},
        )

    def starts(self, start: dt.datetime, end: dt.datetime, limit: int) -> list[Start]:
        found = [
            Start(j.provider, j.created, j.started) for j in self.jobs
            if j.started is not None and start <= j.started < end
        ]  # fmt: skip
        return found[:limit]

    def arrivals(
        self, start: dt.datetime, end: dt.datetime, providers: Sequence[str]
    ) -> dict[str, int]:
        inside = [j for j in self.jobs if start <= j.created < end]
        return {
            OVERALL: len(inside),
            **{p: sum(j.provider == p for j in inside) for p in providers},
        }

    def unstarted_ends(self, start: dt.datetime, end: dt.datetime) -> list[str]:
        return [
            j.provider for j in self.jobs
            if j.started is None and j.completed is not None and start <= j.completed < end
        ]  # fmt: skip

    def capacities(self) -> dict[str, ProviderCapacity]:
        return dict(self.limits)

    def put_capacity(
        self, provider: str, capacity: ProviderCapacity, by: str, now: dt.datetime
    ) -> None:
        self.limits[provider] = capacity
        self.writes.append((provider, capacity, by))
