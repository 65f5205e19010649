"""In-memory stand-in for the Firestore adapter, implementing the same MonitoringStore interface."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from video_monitoring.adapters.firestore_rollups import rollup_doc_id
from video_monitoring.adapters.firestore_store import tally_backlog, user_day_id
from video_monitoring.config import constants
from video_monitoring.core.errors import Unavailable
from video_monitoring.core.identity import Account
from video_monitoring.ingest.monitoring_store import (
    Ledger,
    OpenAlert,
    Planner,
    RollupDoc,
    UserActivity,
)
from video_monitoring.ingest.pipeline import Plan, SourceState, StoredState
from video_monitoring.ingest.rollup import BucketRange, bucket_starts, flatten, floor_time, nest


class FakeStore:
    """Dicts instead of collections; reconcile applies a plan atomically like the transaction."""

    def __init__(self) -> None:
        self.source: dict[str, dict[str, Any]] = {}
        self.metrics: dict[str, dict[str, Any]] = {}
        self.rejected: dict[str, dict[str, Any]] = {}
        # analytics_events: the monitor's own events and app events, as in Firestore.
        self.events: dict[str, dict[str, Any]] = {}
        self.rollup_docs: dict[str, dict[str, Any]] = {}
        self.event_records: dict[str, dict[str, Any]] = {}
        self.rejected_events: dict[str, dict[str, Any]] = {}
        self.event_rollup_docs: dict[str, dict[str, Any]] = {}
        self.alerts: list[dict[str, Any]] = []
        self.user_day_docs: dict[str, dict[str, Any]] = {}
        self.snapshots: dict[tuple[str, dt.datetime], dict[str, Any]] = {}
        self.opted_out: set[str] = set()
        self.reconciles = 0
        # Documents the reads returned, by kind (as the Firestore adapter counts them).
        self.reads: dict[str, int] = {}

    def _read(self, kind: str, found: int) -> None:
        self.reads[kind] = self.reads.get(kind, 0) + found

    def _collections(self, ledger: Ledger | None) -> tuple[dict[str, Any], ...]:
        if ledger is None or ledger.source != constants.EVENTS:
            return self.source, self.metrics, self.rejected, self.rollup_docs
        return self.events, self.event_records, self.rejected_events, self.event_rollup_docs

    def reconcile(self, doc_id: str, planner: Planner, ledger: Ledger | None = None) -> Plan:
        """Plan against the current dicts and apply the plan."""
        self.reconciles += 1
        source, stored, rejected, rollups = self._collections(ledger)
        data = source.get(doc_id)
        plan = planner(
            SourceState(data=dict(data) if data is not None else None),
            StoredState.from_docs(stored.get(doc_id), rejected.get(doc_id)),
        )
        for delta in plan.rollup_deltas:
            rollup_id = rollup_doc_id(delta.granularity, delta.bucket_start, delta.shard)
            doc = rollups.setdefault(
                rollup_id,
                {"g": delta.granularity, "start": delta.bucket_start, "shard": delta.shard},
            )
            cells = doc.setdefault("cells", {})
            flat = flatten(cells.get(delta.cell, {}))
            for key, value in delta.values.items():
                flat[key] = flat.get(key, 0) + value
            cells[delta.cell] = nest(flat)
        for day in plan.user_deltas:
            entry = self.user_day_docs.setdefault(
                user_day_id(day.day, day.user_id),
                {"day": day.day, "userId": day.user_id, "c": {}},
            )
            counters = flatten(entry["c"])
            for key, value in day.values.items():
                counters[key] = counters.get(key, 0) + value
            entry["c"] = nest(counters)  # nested maps, as Firestore stores them
        if plan.metrics is not None:
            stored[doc_id] = plan.metrics
        if plan.delete_metrics:
            stored.pop(doc_id, None)
        for event_id, body in plan.events:
            self.events[event_id] = body
        if plan.rejected is not None:
            rejected[doc_id] = plan.rejected
        if plan.delete_rejected:
            rejected.pop(doc_id, None)
        return plan

    def rollups(
        self, ranges: Iterable[BucketRange], collection: str = constants.ROLLUPS
    ) -> list[RollupDoc]:
        """Each bucket beginning inside one of the ranges, summed from the minute documents the
        deltas landed in."""
        docs = self.event_rollup_docs if collection == constants.EVENT_ROLLUPS else self.rollup_docs
        wanted = {(r.granularity, start) for r in ranges for start in bucket_starts(r)}
        found: dict[tuple[str, dt.datetime], dict[str, dict[str, float]]] = {}
        for doc in docs.values():
            for granularity in ("minute", "hour", "day"):
                bucket = (granularity, floor_time(doc["start"], granularity))
                if bucket not in wanted:
                    continue
                cells = found.setdefault(bucket, {})
                for cell, nested in doc["cells"].items():
                    acc = cells.setdefault(cell, {})
                    for key, value in flatten(nested).items():
                        acc[key] = acc.get(key, 0) + value
        return [RollupDoc(g, start, -1, cells) for (g, start), cells in found.items()]

    def user_days(self, start: dt.datetime, end: dt.datetime) -> list[UserActivity]:
        """User-day documents whose day is in [start, end)."""
        return [
            UserActivity(d["day"], d["userId"], flatten(d["c"]))
            for d in self.user_day_docs.values()
            if start <= d["day"] < end
        ]

    def session_events(self, start: dt.datetime, end: dt.datetime) -> list[dict[str, Any]]:
        """Raw session events timestamped in [start, end)."""
        found = [
            dict(e)
            for e in self.events.values()
            if e.get("type") in constants.SESSION_EVENT_TYPES and start <= e["timestamp"] < end
        ]
        self._read("session_reads", len(found))
        return found

    def daily_snapshots(self, collection: str, days: list[dt.datetime]) -> dict[dt.datetime, Any]:
        """Stored snapshots of the days."""
        found = {
            d: self.snapshots[(collection, d)] for d in days if (collection, d) in self.snapshots
        }
        self._read(collection, len(found))
        return found

    def put_daily_snapshot(
        self, collection: str, day: dt.datetime, body: Mapping[str, Any]
    ) -> None:
        """Store one day's snapshot."""
        self.snapshots[(collection, day)] = dict(body)

    def open_alerts(self) -> list[OpenAlert]:
        """Firing or acknowledged alerts."""
        open_ = [a for a in self.alerts if a.get("status") in ("firing", "acknowledged")]
        return [OpenAlert.from_doc(a) for a in open_]

    def backlog(self, stuck_before: dt.datetime) -> dict[str, tuple[int, int]]:
        """Same tally as the Firestore adapter, over the in-memory metrics."""
        flying = [m for m in self.metrics.values() if m.get("status") in ("queued", "processing")]
        return tally_backlog(flying, stuck_before)

    def opted_out_users(self) -> frozenset[str]:
        """The users in `opted_out`."""
        return frozenset(self.opted_out)


class FixedClock:
    """A clock the test moves by hand."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        """Move forward."""
        self.now += dt.timedelta(**delta)


class FakeAccounts:
    """Accounts held in memory, counting lookups; `down` makes every lookup fail."""

    def __init__(self, *accounts: Account) -> None:
        self.accounts = {a.uid: a for a in accounts}
        self.lookups = 0
        self.down = False

    def account(self, uid: str, *, fresh: bool = False) -> Account | None:
        self.lookups += 1
        if self.down:
            raise Unavailable("Authorization: Firebase Auth did not answer")
        return self.accounts.get(uid)
