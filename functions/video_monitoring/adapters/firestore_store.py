"""MonitoringStore on Firestore: the exactly-once reconcile of one change (ledger records,
rejections, journal entries, user days), the erasure of one user, the audit's reads, snapshots
and backlog counts. Rollup reads are in firestore_rollups, the fold in firestore_fold."""

from __future__ import annotations

import collections
import datetime as dt
import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Literal

from google.api_core.exceptions import (
    FailedPrecondition,
    NotFound,
)
from google.cloud import firestore
from google.cloud.firestore_v1 import DocumentSnapshot, WriteBatch
from google.cloud.firestore_v1.base_query import FieldFilter

from video_monitoring.adapters._firestore import (
    COMMIT_CONFLICTS,
    Paging,
    _count,
    counted,
    opted_out_users,
    paged,
    snapshot_data,
    source_version,
)
from video_monitoring.adapters.firestore_exports import (
    ANONYMOUS_EVENT_FIELDS,
    anonymous_event,
)
from video_monitoring.adapters.firestore_fold import FirestoreFold
from video_monitoring.adapters.firestore_rollups import (
    FoldedCache,
    aggregate_expiry,
    journal_writes,
)
from video_monitoring.config import constants
from video_monitoring.config.settings import get_settings
from video_monitoring.core.backoff import Backoff
from video_monitoring.ingest.drift_audit import billed_reads
from video_monitoring.ingest.monitoring_store import (
    ConcurrencyError,
    Ledger,
    OpenAlert,
    Planner,
    UserActivity,
    generation_ledger,
)
from video_monitoring.ingest.pipeline import Plan, SourceState, StoredState
from video_monitoring.ingest.rollup import (
    UserDay,
    flatten,
    nest,
)
from video_monitoring.privacy.pseudonyms import ERASED
from video_monitoring.privacy.retention import EXPIRE_FIELD

MAX_ATTEMPTS = 12
# A commit that lost a race waits 10 ms doubling to 0.5 s, jittered so the racers spread out.
CONFLICT_BACKOFF = Backoff(first=0.01, cap=0.5, jitter=True)
ERASE_PAGE = 400  # documents per erasure batch (a batch holds at most 500 writes)
AUDIT_PAGE = 5000  # drift audit pages (streamed through, none kept)


log = logging.getLogger(__name__)


def user_day_id(day: dt.datetime, user_id: str) -> str:
    """`{YYYYMMDD}__{hash of the user id}` (user ids may hold characters ids cannot)."""
    digest = hashlib.sha256(user_id.encode()).hexdigest()[:32]
    return f"{day:%Y%m%d}__{digest}"


def user_day_increment(day: UserDay) -> dict[str, Any]:
    """A set-with-merge body adding a user's activity on one day."""
    increments = {k: firestore.Increment(v) for k, v in day.values.items()}
    return {
        "day": day.day,
        "userId": day.user_id,
        "c": nest(increments),
        EXPIRE_FIELD: aggregate_expiry(day.day),
    }


class FirestoreStore(FirestoreFold):
    """MonitoringStore on Firestore."""

    def __init__(
        self,
        client: firestore.Client | None = None,
        before_commit: Callable[[str, Plan], None] | None = None,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        cache: FoldedCache | Literal["process"] | None = "process",
    ) -> None:
        super().__init__(client, cache)
        # Called between a reconcile's reads and its commit: interleaving tests pause there, and
        # the local host can delay there to widen races (LOCAL_COMMIT_DELAY_MS).
        self.before_commit = before_commit
        # The arrival time of a change (its journal epoch); tests may pin it.
        self.clock = clock

    def reconcile(self, doc_id: str, planner: Planner, ledger: Ledger | None = None) -> Plan:
        """Read, plan, commit with a precondition on the stored record, then check the source.

        The three reads go in one BatchGet; the plan commits as one atomic batch whose write of
        the stored record carries a precondition (absent, or unchanged since the read), so a
        concurrent reconcile of the same document makes this one start over from fresh reads:
        increments are always computed against the contribution that is really stored. After
        a commit, the source document's update time is read again (one read, no fields); if
        the source changed since the plan read it, this handler plans again from fresh reads,
        because a handler of that newer write may already have found nothing to do (see the
        argument in `pipeline`). A plan with nothing to write needs no check.
        """
        client = self.client
        ledger = ledger or generation_ledger(get_settings().runtime.source_collection)
        source_ref = client.collection(ledger.source).document(doc_id)
        metrics_ref = client.collection(ledger.stored).document(doc_id)
        rejected_ref = client.collection(ledger.rejected).document(doc_id)
        committed: Plan | None = None
        waits = CONFLICT_BACKOFF.delays()
        for _ in range(MAX_ATTEMPTS):
            snapshots = {
                snap.reference.path: snap
                for snap in client.get_all([source_ref, metrics_ref, rejected_ref])
            }
            source_snap = snapshots[source_ref.path]
            metrics_snap = snapshots[metrics_ref.path]
            rejected_snap = snapshots[rejected_ref.path]
            seen = source_version(source_snap)
            plan = planner(
                SourceState(
                    data=source_snap.to_dict() if source_snap.exists else None,
                    update_time=seen,
                ),
                StoredState.from_docs(
                    metrics_snap.to_dict() if metrics_snap.exists else None,
                    rejected_snap.to_dict() if rejected_snap.exists else None,
                ),
            )
            _count(attempts=1, reads=3, round_trips=1)
            if plan.writes == 0:
                _count(changes=1)
                return committed or plan
            if self.before_commit is not None:
                self.before_commit(doc_id, plan)
            batch = client.batch()
            self._apply(batch, plan, metrics_snap, rejected_ref, ledger.rollups)
            try:
                batch.commit()
            except COMMIT_CONFLICTS:
                _count(conflicts=1, round_trips=1)
                time.sleep(next(waits))
                continue
            _count(writes=plan.writes, reads=1, round_trips=2)  # the commit and the check
            committed = plan
            if source_version(source_ref.get(field_paths=[])) == seen:
                _count(changes=1)
                return plan
            _count(replans=1)  # the source moved while we planned: plan again from it
        raise ConcurrencyError(
            f"{ledger.source}/{doc_id}: did not settle in {MAX_ATTEMPTS} tries (the stored "
            "contribution or the source kept changing)"
        )

    def _apply(
        self,
        batch: WriteBatch,
        plan: Plan,
        metrics_snap: DocumentSnapshot[Any],
        rejected_ref: firestore.DocumentReference,
        rollup_collection: str,
    ) -> None:
        journal = self.client.collection(constants.SHARDS_OF[rollup_collection])
        for doc_id, body in journal_writes(plan.rollup_deltas, self.clock()):
            batch.set(journal.document(doc_id), body, merge=True)
        days = self.client.collection(constants.USER_DAYS)
        for day in plan.user_deltas:
            batch.set(
                days.document(user_day_id(day.day, day.user_id)),
                user_day_increment(day),
                merge=True,
            )
        self._write_metrics(batch, plan, metrics_snap)
        events = self.client.collection(constants.EVENTS)
        for event_id, body in plan.events:
            batch.set(events.document(event_id), body)
        if plan.rejected is not None:
            batch.set(rejected_ref, plan.rejected)
        if plan.delete_rejected:
            batch.delete(rejected_ref)

    def _write_metrics(
        self, batch: WriteBatch, plan: Plan, metrics_snap: DocumentSnapshot[Any]
    ) -> None:
        """Create, replace or delete the metrics document, only if unchanged since it was read."""
        metrics_ref = metrics_snap.reference
        if not metrics_snap.exists:
            if plan.metrics is not None:
                batch.create(metrics_ref, plan.metrics)
            return
        unchanged = self.client.write_option(last_update_time=metrics_snap.update_time)
        if plan.delete_metrics:
            batch.delete(metrics_ref, option=unchanged)
        elif plan.metrics is not None:
            # Every field is listed, so this update replaces the document.
            batch.update(metrics_ref, plan.metrics, option=unchanged)
        elif plan.rollup_deltas:
            raise AssertionError("rollup deltas without a metrics write")

    def user_days(self, start: dt.datetime, end: dt.datetime) -> list[UserActivity]:
        """One range query on `day` (single-field index); one document per active user-day."""
        query = (
            self.client.collection(constants.USER_DAYS)
            .where(filter=FieldFilter("day", ">=", start))
            .where(filter=FieldFilter("day", "<", end))
        )
        found = []
        for snap in counted("user_reads", query.stream()):
            data = snapshot_data(snap) or {}
            found.append(UserActivity(data["day"], str(data["userId"]), flatten(data.get("c", {}))))
        return found

    def daily_snapshots(self, collection: str, days: list[dt.datetime]) -> dict[dt.datetime, Any]:
        """Snapshots read by id, one BatchGet."""
        refs = [self.client.collection(collection).document(f"{d:%Y%m%d}") for d in days]
        by_id = {f"{d:%Y%m%d}": d for d in days}
        found: dict[dt.datetime, Any] = {}
        for snap in counted("snapshot_reads", self.client.get_all(refs)):
            data = snapshot_data(snap)
            if data is not None:
                found[by_id[snap.id]] = data
        return found

    def session_events(self, start: dt.datetime, end: dt.datetime) -> list[dict[str, Any]]:
        """One query on (`type`, `timestamp`) (composite index): the raw session events."""
        query = (
            self.client.collection(constants.EVENTS)
            .where(filter=FieldFilter("type", "in", list(constants.SESSION_EVENT_TYPES)))
            .where(filter=FieldFilter("timestamp", ">=", start))
            .where(filter=FieldFilter("timestamp", "<", end))
        )
        return [snapshot_data(s) or {} for s in counted("session_reads", query.stream())]

    def opted_out_users(self) -> frozenset[str]:
        """Users who opted out of analytics."""
        return opted_out_users(self.client)

    def erase_user(self, user_id: str) -> dict[str, dict[str, int]]:
        """Erase one user's records (privacy/erasure.py says what and why): the ledger records are
        anonymised first, so nothing the user contributed is withdrawn from the aggregates
        afterwards; then each app event whose record was counted is rewritten as its anonymous
        counted part (so a re-export of its day still counts it), every other event of the user
        (their generations' lifecycle events, rejected or not yet recorded app events) is
        deleted, and so are their user days. Pages of ERASE_PAGE, each one batch; a rerun
        finishes an interrupted erasure."""
        erased = {"userId": ERASED, "erased": True, "erasedAt": firestore.SERVER_TIMESTAMP}
        anonymise = {**erased, "userDay": firestore.DELETE_FIELD}
        report: dict[str, dict[str, int]] = {}

        def anonymise_page(batch: WriteBatch, page: list[DocumentSnapshot[Any]]) -> None:
            for snap in page:
                batch.update(snap.reference, anonymise)

        def delete_page(batch: WriteBatch, page: list[DocumentSnapshot[Any]]) -> None:
            for snap in page:
                batch.delete(snap.reference)

        for collection in (constants.EVENT_CONTRIBUTIONS, constants.METRICS):
            report[collection] = {
                "anonymised": self._each_of_user(collection, user_id, anonymise_page)
            }
        events = {"anonymised": 0, "deleted": 0}

        def event_page(batch: WriteBatch, page: list[DocumentSnapshot[Any]]) -> None:
            records = self.client.collection(constants.EVENT_CONTRIBUTIONS)
            counted_ids = {
                snap.id
                for snap in self.client.get_all(
                    [records.document(s.id) for s in page], field_paths=["erased"]
                )
                if snap.exists and (snap.to_dict() or {}).get("erased")
            }
            for snap in page:
                data = snap.to_dict() or {}
                if snap.id in counted_ids and data.get("source") != constants.EVENT_SOURCE_MONITOR:
                    batch.set(snap.reference, {**anonymous_event(data), **erased})
                    events["anonymised"] += 1
                else:
                    batch.delete(snap.reference)
                    events["deleted"] += 1

        self._each_of_user(constants.EVENTS, user_id, event_page, list(ANONYMOUS_EVENT_FIELDS))
        report[constants.EVENTS] = events
        report[constants.USER_DAYS] = {
            "deleted": self._each_of_user(constants.USER_DAYS, user_id, delete_page)
        }
        return report

    def _each_of_user(
        self,
        collection: str,
        user_id: str,
        write: Callable[[WriteBatch, list[DocumentSnapshot[Any]]], Any],
        fields: list[str] | None = None,
    ) -> int:
        """Write every document of the user (read with `fields`), a page at a time into one
        batch (a written document no longer matches, so each page is the next)."""
        query = (
            self.client.collection(collection)
            .where(filter=FieldFilter("userId", "==", user_id))
            .select(["userId", *(fields or [])])
            .limit(ERASE_PAGE)
        )
        total = 0
        while True:
            snaps = list(counted("erase_reads", query.stream()))
            if not snaps:
                return total
            batch = self.client.batch()
            write(batch, snaps)
            batch.commit()
            total += len(snaps)

    def ordered_documents(
        self,
        collection: str,
        time_field: str,
        start: dt.datetime,
        end: dt.datetime,
        after: tuple[dt.datetime, str] | None = None,
        limit: int | None = None,
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """(id, fields) of the documents whose time field lies in [start, end), ordered by that
        field then id, from after `after`, at most `limit`, streamed in pages (the drift audit
        merges two such streams)."""
        query = (
            self.client.collection(collection)
            .where(filter=FieldFilter(time_field, ">=", start))
            .where(filter=FieldFilter(time_field, "<", end))
            .order_by(time_field)
            .order_by("__name__")
        )
        return paged(
            self.client, query, Paging(time_field, AUDIT_PAGE, after, limit, "audit_reads")
        )

    def count(
        self,
        collection: str,
        time_field: str,
        start: dt.datetime,
        end: dt.datetime,
        equals: tuple[str, str] | None = None,
    ) -> int:
        """One `count()` aggregation of the documents whose time field lies in [start, end)
        (and whose field `equals[0]` is `equals[1]`: a composite index, firestore.indexes.json);
        counted as the reads Firestore bills, one per 1,000 index entries matched."""
        query: Any = (
            self.client.collection(collection)
            .where(filter=FieldFilter(time_field, ">=", start))
            .where(filter=FieldFilter(time_field, "<", end))
        )
        if equals is not None:
            query = query.where(filter=FieldFilter(equals[0], "==", equals[1]))
        result = query.count(alias="n").get()
        matched = int(result[0][0].value)
        _count(aggregation_reads=billed_reads(matched), queries=1)
        return matched

    def audit_progress(self, day: dt.date) -> dict[str, Any] | None:
        """The stored audit of one day (its latest run, finished or not), or None."""
        snap = self.client.collection(constants.PIPELINE_AUDITS).document(day.isoformat()).get()
        _count(audit_reads=1)
        return snap.to_dict() if snap.exists else None

    def record_audit(self, day: dt.date, body: Mapping[str, Any]) -> None:
        """Store one day's drift audit (`pipeline_audits/{YYYY-MM-DD}`, the latest run)."""
        self.client.collection(constants.PIPELINE_AUDITS).document(day.isoformat()).set(dict(body))

    def audit_repairs_since(self, since: dt.datetime) -> int | None:
        """Changes the drift audits that ran since `since` repaired (None: no audit ran)."""
        query = self.client.collection(constants.PIPELINE_AUDITS).where(
            filter=FieldFilter("ranAt", ">=", since)
        )
        runs = [snap.to_dict() or {} for snap in counted("audit_reads", query.stream())]
        return sum(int(run.get("repaired", 0)) for run in runs) if runs else None

    def stamp_expiry(
        self, ref: firestore.DocumentReference, expire_at: dt.datetime, seen: dt.datetime
    ) -> bool:
        """Set a document's expiry unless it changed since `seen` (its newer write's own
        trigger stamps it then); False when it had changed or is gone."""
        unchanged = self.client.write_option(last_update_time=seen)
        try:
            ref.update({EXPIRE_FIELD: expire_at}, option=unchanged)
        except (FailedPrecondition, NotFound):
            return False
        return True

    def put_daily_snapshot(
        self, collection: str, day: dt.datetime, body: Mapping[str, Any]
    ) -> None:
        """Overwrite the day's document (a recomputation replaces it)."""
        doc = {**body, EXPIRE_FIELD: aggregate_expiry(day)}
        self.client.collection(collection).document(f"{day:%Y%m%d}").set(doc)

    def open_alerts(self) -> list[OpenAlert]:
        """Firing or acknowledged alert instances."""
        query = self.client.collection(constants.ALERT_INSTANCES).where(
            filter=FieldFilter("status", "in", ["firing", "acknowledged"])
        )
        snaps = counted("alert_reads", query.select(["scope", "severity"]).stream())
        return [OpenAlert.from_doc(snap.to_dict() or {}) for snap in snaps]

    def backlog(self, stuck_before: dt.datetime) -> dict[str, tuple[int, int]]:
        """Reads one document per job in flight (projected to four fields), whatever the history:
        the backlog is small next to the history, and a large one is itself what to look at."""
        query = (
            self.client.collection(constants.METRICS)
            .where(filter=FieldFilter("status", "in", ["queued", "processing"]))
            .select(["provider", "userTier", "status", "startedAt"])
        )
        docs = (snap.to_dict() or {} for snap in counted("backlog_reads", query.stream()))
        return tally_backlog(docs, stuck_before)


def tally_backlog(
    docs: Iterable[Mapping[str, Any]], stuck_before: dt.datetime
) -> dict[str, tuple[int, int]]:
    """Backlog and stuck counts per scope from in-flight metrics documents."""
    counts: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    for doc in docs:
        started = doc.get("startedAt")
        stuck = doc.get("status") == "processing" and started is not None and started < stuck_before
        for scope in ("overall", f"provider:{doc.get('provider')}", f"tier:{doc.get('userTier')}"):
            counts[scope][0] += 1
            counts[scope][1] += int(stuck)
    return {scope: (n, s) for scope, (n, s) in counts.items()}
