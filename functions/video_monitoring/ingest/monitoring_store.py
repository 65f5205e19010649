"""What the ingest and analytics services need from storage: the ledgers of the reconciled
streams, the records read back (rollup documents, user days), and the MonitoringStore protocol
that the Firestore adapter and the unit tests' in-memory store implement."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from video_monitoring.config import constants
from video_monitoring.ingest.pipeline import Plan, SourceState, StoredState
from video_monitoring.ingest.rollup import BucketRange

Planner = Callable[[SourceState, StoredState], Plan]


class ConcurrencyError(RuntimeError):
    """A generation's metrics document kept changing under the reconcile (raised for a retry)."""


@dataclass(frozen=True)
class Ledger:
    """Collections of one reconciled stream: the source documents, the stored contribution per
    source document, rejection records, and the rollups the contributions add up to."""

    source: str
    stored: str
    rejected: str
    rollups: str


def generation_ledger(source_collection: str) -> Ledger:
    """Generations, read from `source_collection` (a setting, docs/interfaces.md §1)."""
    return Ledger(source_collection, constants.METRICS, constants.REJECTED, constants.ROLLUPS)


EVENT_LEDGER = Ledger(
    constants.EVENTS,
    constants.EVENT_CONTRIBUTIONS,
    constants.REJECTED_EVENTS,
    constants.EVENT_ROLLUPS,
)


@dataclass(frozen=True)
class UserActivity:
    """One user's activity counters on one UTC day (from `user_days`)."""

    day: dt.datetime
    user_id: str
    counters: Mapping[str, float]


@dataclass(frozen=True)
class OpenAlert:
    """A firing or acknowledged alert, as the summary counts it."""

    scope: str
    severity: str

    @classmethod
    def from_doc(cls, data: Mapping[str, Any]) -> OpenAlert:
        """From an `alert_instances` document."""
        return cls(str(data.get("scope") or ""), str(data.get("severity") or ""))


@dataclass(frozen=True)
class RollupDoc:
    """One rollup document as read: its bucket and its cells."""

    granularity: str
    start: dt.datetime
    shard: int
    cells: Mapping[str, Mapping[str, float]]  # cell -> flat counters


class MonitoringStore(Protocol):
    """What the services need from storage; FirestoreStore and the unit tests' fake implement it."""

    def reconcile(self, doc_id: str, planner: Planner, ledger: Ledger | None = None) -> Plan:
        """Read source, stored contribution and rejection, plan, and commit the plan atomically
        (the generation ledger unless another is given)."""
        ...

    def rollups(
        self, ranges: Iterable[BucketRange], collection: str = constants.ROLLUPS
    ) -> list[RollupDoc]:
        """One document per bucket beginning inside the ranges, holding every increment of
        that bucket (folded or still in the journal)."""
        ...

    def open_alerts(self) -> list[OpenAlert]:
        """Alert instances that are firing or acknowledged."""
        ...

    def user_days(self, start: dt.datetime, end: dt.datetime) -> list[UserActivity]:
        """Every user's activity on each UTC day starting in [start, end)."""
        ...

    def session_events(self, start: dt.datetime, end: dt.datetime) -> list[dict[str, Any]]:
        """The raw `session_start` and `session_end` events timestamped in [start, end)."""
        ...

    def daily_snapshots(self, collection: str, days: list[dt.datetime]) -> dict[dt.datetime, Any]:
        """Stored daily snapshots (`{YYYYMMDD}` ids) by day; days without one are absent."""
        ...

    def put_daily_snapshot(
        self, collection: str, day: dt.datetime, body: Mapping[str, Any]
    ) -> None:
        """Store (or replace) one day's snapshot."""
        ...

    def backlog(self, stuck_before: dt.datetime) -> dict[str, tuple[int, int]]:
        """Per scope ("overall", "provider:x", "tier:y"): generations queued or processing now,
        and those processing since before `stuck_before`."""
        ...

    def opted_out_users(self) -> frozenset[str]:
        """Users who opted out of analytics (left out of user-behaviour insights)."""
        ...
