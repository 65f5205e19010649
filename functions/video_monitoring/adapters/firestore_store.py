"""The Firestore adapter: the only module that turns models into documents and back."""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import functools
import hashlib
import itertools
import json
import logging
import random
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from google.api_core.exceptions import (
    Aborted,
    AlreadyExists,
    DeadlineExceeded,
    FailedPrecondition,
    InternalServerError,
    NotFound,
    ServiceUnavailable,
)
from google.cloud import firestore
from google.cloud.firestore_v1 import DocumentSnapshot, WriteBatch
from google.cloud.firestore_v1.base_query import FieldFilter
from google.cloud.firestore_v1.field_path import FieldPath
from google.cloud.firestore_v1.types import RunQueryResponse

from video_monitoring.adapters.streams import merged
from video_monitoring.config import constants as c
from video_monitoring.config.settings import get_settings
from video_monitoring.core.models import Window
from video_monitoring.dashboard.access import AuditEntry, Bucket, take_token
from video_monitoring.dashboard.files import Dataset
from video_monitoring.ingest.journal import (
    BucketKey,
    Cells,
    FoldChoice,
    FoldLog,
    JournalView,
    attribute,
    bucket_of,
    choose,
    entry_text,
    journal_doc_id,
    key_time,
    parse_entry,
    sum_cells,
)
from video_monitoring.ingest.pipeline import Plan, SourceState, StoredState
from video_monitoring.ingest.rollup import (
    BucketRange,
    RollupDelta,
    UserDay,
    bucket_key,
    bucket_starts,
    flatten,
    floor_time,
    nest,
    step,
)
from video_monitoring.ingest.store import (
    ConcurrencyError,
    Ledger,
    Planner,
    RollupDoc,
    UserActivity,
    generation_ledger,
)
from video_monitoring.privacy.pseudonyms import ERASED
from video_monitoring.privacy.retention import EXPIRE_FIELD, configured_retention
from video_monitoring.warehouse.nightly import DayRun
from video_monitoring.warehouse.rows import kept_properties

MAX_ATTEMPTS = 12
EXPORT_PAGE = 500
# The BigQuery export's pages: documents stream through (none are kept), so a page bounds one
# query's duration, not memory (a broken stream resumes after its last document). Fewer, longer
# pages measured faster on the emulator, which scans its whole database once per query.
DAY_PAGE = 100_000
DAY_PAGE_RETRIES = 3
ERASE_PAGE = 400  # documents per erasure batch (a batch holds at most 500 writes)
DAY_READERS = 2  # concurrent slices per day (measured: 2 reads 100k documents 17 % faster than 1)
TRANSIENT_READ_ERRORS = (ServiceUnavailable, DeadlineExceeded, InternalServerError)
# A reconcile's commit failed its precondition (or lost a race): read again and replan.
COMMIT_CONFLICTS = (FailedPrecondition, AlreadyExists, NotFound, Aborted)
AUDIT_PAGE = 5000  # drift audit pages (streamed through, none kept)
# A fold transaction reads at most FOLD_PAGE journal documents and writes at most
# FOLD_MAX_BUCKETS folded documents plus those journal documents (under 500 writes).
FOLD_PAGE = 40
FOLD_MAX_BUCKETS = 400
# Changes the fold log remembers (about 10 minutes of folds at 100 generations/s): a cached
# folded document older than that is read again.
FOLD_LOG_SIZE = 2000


@dataclass
class Fold:
    """What one fold run did: journal entries moved, journal documents drained, folded bucket
    documents written (a bucket written by two transactions counts twice)."""

    entries: int = 0
    documents: int = 0
    buckets: int = 0
    remaining: bool = False

    def add(self, choice: FoldChoice) -> None:
        """Count one transaction's move."""
        self.entries += choice.entries
        self.documents += len(choice.drained)
        self.buckets += len(choice.targets)


log = logging.getLogger(__name__)

# Document reads and writes of generation changes in this process (benchmarks read them).
OPERATIONS: collections.Counter[str] = collections.Counter()
_OPERATIONS_LOCK = threading.Lock()


def _count(**amounts: int) -> None:
    with _OPERATIONS_LOCK:
        OPERATIONS.update(amounts)


def counted(kind: str, snapshots: Iterable[Any]) -> Iterator[Any]:
    """Pass snapshots through, counting them as document reads of one kind (benchmarks)."""
    n = 0
    for snap in snapshots:
        n += 1
        yield snap
    _count(**{kind: max(n, 1), "queries": 1})  # a query that returns nothing bills one read


class FoldedCache:
    """Folded rollup documents as last read (their blob, or None when absent), with the fold
    log's id and sequence at that read; least recently used first out past `max_bytes`.

    A closed bucket's folded document changes only when a fold moves a late change into it, and
    every such fold logs it (`journal.FoldLog`), so an entry is served only while the log,
    read in the same transaction as everything else, says it is unchanged: a figure is never
    staler than the read itself. Shared by the threads of a process."""

    ENTRY_OVERHEAD = 200  # bytes of bookkeeping per entry, on top of the blob

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: collections.OrderedDict[tuple[str, str], tuple[str, int, bytes | None]] = (
            collections.OrderedDict()
        )
        self._journals: dict[str, tuple[tuple[tuple[str, int, int], ...], JournalView]] = {}
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def lookup(self, collection: str, doc_id: str, log: FoldLog) -> tuple[bool, bytes | None]:
        """(True, blob) when the cached document is still what is stored, else (False, None)."""
        key = (collection, doc_id)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and log.still_valid(doc_id, entry[0], entry[1]):
                self._entries.move_to_end(key)
                self.hits += 1
                return True, entry[2]
            if entry is not None:
                self._drop(key)
            self.misses += 1
            return False, None

    def store(self, collection: str, doc_id: str, log: FoldLog, blob: bytes | None) -> None:
        """Remember a document read under `log`."""
        if log.log_id is None:
            return
        key = (collection, doc_id)
        size = self.ENTRY_OVERHEAD + len(blob or b"")
        if size > self.max_bytes:
            return
        with self._lock:
            if key in self._entries:
                self._drop(key)
            self._entries[key] = (log.log_id, log.seq, blob)
            self._bytes += size
            while self._bytes > self.max_bytes:
                self._drop(next(iter(self._entries)))

    def journal_view(
        self, collection: str, versions: tuple[tuple[str, int, int], ...]
    ) -> JournalView | None:
        """The arranged journal read last time, if its documents are still those versions."""
        with self._lock:
            held = self._journals.get(collection)
            if held is not None and held[0] == versions:
                self.hits += 1
                return held[1]
            return None

    def store_journal_view(
        self, collection: str, versions: tuple[tuple[str, int, int], ...], view: JournalView
    ) -> None:
        """Keep one arranged journal per rollup kind (when it fits in a quarter of the cache)."""
        with self._lock:
            old = self._journals.pop(collection, None)
            if old is not None:
                self._bytes -= old[1].size_bytes
            if view.size_bytes <= self.max_bytes // 4:
                self._journals[collection] = (versions, view)
                self._bytes += view.size_bytes
                while self._bytes > self.max_bytes and self._entries:
                    self._drop(next(iter(self._entries)))

    def _drop(self, key: tuple[str, str]) -> None:
        _, _, blob = self._entries.pop(key)
        self._bytes -= self.ENTRY_OVERHEAD + len(blob or b"")

    @property
    def size_bytes(self) -> int:
        """Bytes held (blobs and bookkeeping)."""
        return self._bytes


@functools.cache
def folded_cache() -> FoldedCache | None:
    """The process's cache of folded documents (ROLLUP_CACHE_MB; None when 0)."""
    megabytes = get_settings().rollup_cache_mb
    return FoldedCache(megabytes * 1024 * 1024) if megabytes else None


@functools.cache
def firestore_client() -> firestore.Client:
    """The process's Firestore client, created on first use (anonymous on the emulator)."""
    return firestore.Client(project=get_settings().project_id)


def encode_cells(cells: Mapping[str, Mapping[str, float]]) -> bytes:
    """A compacted bucket's cells as one compressed JSON blob: one field to decode instead of
    thousands of map entries (and none of them indexed), a fraction of the size."""
    return zlib.compress(json.dumps(cells, separators=(",", ":")).encode(), 6)


def decode_cells(blob: bytes) -> dict[str, dict[str, float]]:
    """Inverse of encode_cells."""
    cells: dict[str, dict[str, float]] = json.loads(zlib.decompress(blob))
    return cells


def flat_cells(data: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """The cells of a rollup document, flat per cell, whether compacted (blob) or a shard
    (nested maps that Firestore increments)."""
    blob = data.get("blob")
    if blob is not None:
        return decode_cells(bytes(blob))
    return {cell: flatten(nested) for cell, nested in data.get("cells", {}).items()}


def snapshot_data(snap: DocumentSnapshot[Any]) -> dict[str, Any] | None:
    """A snapshot's fields without the deep copy `to_dict()` makes (read-only use only: a
    30-day read spent most of its time copying)."""
    if not snap.exists:
        return None
    data = getattr(snap, "_data", None)
    return data if isinstance(data, dict) else snap.to_dict()


def source_version(snap: DocumentSnapshot[Any]) -> dt.datetime | None:
    """Which version of a source document a snapshot saw: its update time (None: absent)."""
    return snap.update_time if snap.exists else None


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


def aggregate_expiry(start: dt.datetime) -> dt.datetime:
    """When an aggregate of a period starting at `start` expires (privacy/retention.py)."""
    return configured_retention().aggregate_until(start)


def rollup_doc_id(granularity: str, start: dt.datetime, shard: int | None) -> str:
    """Deterministic id: granularity, bucket, shard (or `c` for the compacted document)."""
    suffix = "c" if shard is None else f"{shard:03d}"
    return f"{granularity}_{bucket_key(start)}_{suffix}"


def journal_writes(
    deltas: Iterable[RollupDelta], arrived: dt.datetime
) -> list[tuple[str, dict[str, Any]]]:
    """Set-with-merge bodies adding a plan's rollup deltas to the journal: one document per
    shard (one in practice: a generation keeps its shard), one new map entry per delta under a
    key of its own, so no two commits ever overwrite each other's entries."""
    epoch = floor_time(arrived, "minute")
    nonce = uuid.uuid4().hex[:16]
    entries: dict[int, dict[str, str]] = {}
    for i, delta in enumerate(deltas):
        entries.setdefault(delta.shard, {})[f"{nonce}{i:x}"] = entry_text(delta)
    return [
        (
            journal_doc_id(epoch, shard),
            {"epoch": epoch, "shard": shard, "d": d, EXPIRE_FIELD: aggregate_expiry(epoch)},
        )
        for shard, d in sorted(entries.items())
    ]


def opted_out_users(client: firestore.Client) -> frozenset[str]:
    """Ids of the `analytics_opt_outs` documents (ids only: no fields are read)."""
    refs = client.collection(c.ANALYTICS_OPT_OUTS).list_documents()
    return frozenset(ref.id for ref in refs)


class FirestoreAdapter:
    """Base of the Firestore adapters: a given client, or the process's shared one on first use
    (so importing a module never opens a connection)."""

    def __init__(self, client: firestore.Client | None = None) -> None:
        self._client = client

    @property
    def client(self) -> firestore.Client:
        """The Firestore client (shared, created lazily)."""
        if self._client is None:
            self._client = firestore_client()
        return self._client


class FirestoreStore(FirestoreAdapter):
    """MonitoringStore on Firestore."""

    def __init__(
        self,
        client: firestore.Client | None = None,
        before_commit: Callable[[str, Plan], None] | None = None,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        cache: FoldedCache | Literal["process"] | None = "process",
    ) -> None:
        super().__init__(client)
        # Called between a reconcile's reads and its commit: interleaving tests pause there, and
        # the local host can delay there to widen races (LOCAL_COMMIT_DELAY_MS).
        self.before_commit = before_commit
        # The arrival time of a change (its journal epoch); tests may pin it.
        self.clock = clock
        # Folded documents already read, shared by the stores of this process (None: no cache).
        self.cache = folded_cache() if cache == "process" else cache
        self._logs_checked: set[str] = set()

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
        ledger = ledger or generation_ledger()
        source_ref = client.collection(ledger.source).document(doc_id)
        metrics_ref = client.collection(ledger.stored).document(doc_id)
        rejected_ref = client.collection(ledger.rejected).document(doc_id)
        committed: Plan | None = None
        for attempt in range(MAX_ATTEMPTS):
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
                StoredState(
                    metrics=metrics_snap.to_dict() if metrics_snap.exists else None,
                    rejected=rejected_snap.to_dict() if rejected_snap.exists else None,
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
                time.sleep(min(0.01 * 2**attempt, 0.5) * random.random())
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
        journal = self.client.collection(c.SHARDS_OF[rollup_collection])
        for doc_id, body in journal_writes(plan.rollup_deltas, self.clock()):
            batch.set(journal.document(doc_id), body, merge=True)
        days = self.client.collection(c.USER_DAYS)
        for day in plan.user_deltas:
            batch.set(
                days.document(user_day_id(day.day, day.user_id)),
                user_day_increment(day),
                merge=True,
            )
        metrics_ref = metrics_snap.reference
        if metrics_snap.exists:
            unchanged = self.client.write_option(last_update_time=metrics_snap.update_time)
            if plan.delete_metrics:
                batch.delete(metrics_ref, option=unchanged)
            elif plan.metrics is not None:
                # Every field is listed, so this update replaces the document.
                batch.update(metrics_ref, plan.metrics, option=unchanged)
            elif plan.rollup_deltas:
                raise AssertionError("rollup deltas without a metrics write")
        elif plan.metrics is not None:
            batch.create(metrics_ref, plan.metrics)
        events = self.client.collection(c.EVENTS)
        for event_id, body in plan.events:
            batch.set(events.document(event_id), body)
        if plan.rejected is not None:
            batch.set(rejected_ref, plan.rejected)
        if plan.delete_rejected:
            batch.delete(rejected_ref)

    def rollups(
        self, ranges: Iterable[BucketRange], collection: str = c.ROLLUPS
    ) -> list[RollupDoc]:
        """Each bucket the ranges tile, with every increment it holds: its folded document,
        read by id, plus the journal entries not folded yet that fall in it. The journal is
        read whole (it holds only what arrived since the last fold); both reads share one
        read-only transaction, so a fold that moves entries in between cannot make a reader
        count them twice or not at all. See `journal` for why reads stay bounded."""
        buckets = {(r.granularity, start) for r in ranges for start in bucket_starts(r)}
        if not buckets:
            return []
        folded = self.client.collection(collection)
        ids = {rollup_doc_id(g, start, None): (g, start) for g, start in buckets}
        refs = [folded.document(doc_id) for doc_id in sorted(ids)]
        wanted = {(g, bucket_key(start)) for g, start in buckets}
        journal = self.client.collection(c.SHARDS_OF[collection])
        log_ref = self.client.collection(c.FOLD_LOGS).document(collection)
        found: dict[tuple[str, dt.datetime], dict[str, dict[str, float]]] = {}
        cached: dict[tuple[str, dt.datetime], bytes] = {}
        pending: dict[BucketKey, Cells] = {}
        cache = self.cache
        if cache is not None and collection not in self._logs_checked:
            # Caching needs the fold log; before the first fold (or during a scheduler
            # outage on a fresh database) there is none yet.
            self._ensure_fold_log(collection)
            self._logs_checked.add(collection)

        @firestore.transactional
        def read(transaction: firestore.Transaction) -> None:
            found.clear()
            cached.clear()
            pending.clear()
            misses = refs
            log = FoldLog()
            if cache is not None:
                log_snaps = list(counted("rollup_reads", transaction.get_all([log_ref])))
                log = FoldLog.from_doc(snapshot_data(log_snaps[0]) if log_snaps else None)
                misses = []
                for ref in refs:
                    hit, blob = cache.lookup(collection, ref.id, log)
                    if not hit:
                        misses.append(ref)
                    elif blob is not None:
                        cached[ids[ref.id]] = blob
            for snap in counted("rollup_reads", transaction.get_all(misses)) if misses else ():
                data = snapshot_data(snap)
                if cache is not None and log.log_id is not None:
                    blob = data.get("blob") if data is not None else None
                    cache.store(collection, snap.id, log, None if blob is None else bytes(blob))
                if data is not None:
                    found[ids[snap.id]] = flat_cells(data)
            versions, documents = journal_entries(self.client, journal, transaction)
            if cache is None:
                attribute(entry_texts(documents), wanted, pending)
                return
            view = cache.journal_view(collection, versions)
            if view is None:
                view = JournalView.build(entry_texts(documents))
                cache.store_journal_view(collection, versions, view)
            view.attribute(wanted, pending)

        read(self.client.transaction(read_only=True))
        _count(rollup_cache_hits=len(cached))
        for (g, start), blob in cached.items():
            found[(g, start)] = decode_cells(blob)
        for key, cells in pending.items():
            bucket = bucket_of(key)
            found[bucket] = sum_cells(found.get(bucket, {}), cells)
        return [
            RollupDoc(granularity=g, start=start, shard=-1, cells=cells)
            for (g, start), cells in found.items()
        ]

    def fold(self, closed_before: dt.datetime, budget_seconds: float = 50.0) -> Fold:
        """Move the journal entries of epochs before `closed_before` into the folded buckets.

        Both rollup kinds (generations, then app events), the oldest epochs first, a page of
        journal documents at a time, until nothing closed is left or the time budget is spent
        (the next run goes on from there). A page is read once and cut into chunks of entries
        touching at most FOLD_MAX_BUCKETS buckets; each chunk moves in one transaction that
        reads just the journal documents it takes from, the folded documents of its buckets
        and the fold log, writes the sums and the log, and deletes each journal document it
        drained (or removes the entries it took from one it did not). A handler writing a
        journal document in between makes the transaction start over. A failing transaction
        is logged and left for the next run.
        """
        deadline = time.monotonic() + budget_seconds
        result = Fold()
        for collection in (c.ROLLUPS, c.EVENT_ROLLUPS):
            self._ensure_fold_log(collection)
            journal = self.client.collection(c.SHARDS_OF[collection])
            closed = (
                journal.where(filter=FieldFilter("epoch", "<", closed_before))
                .order_by("epoch")
                .limit(FOLD_PAGE)
            )
            while True:
                documents = sorted(
                    (snap.id, sorted(((snapshot_data(snap) or {}).get("d") or {}).items()))
                    for snap in counted("fold_reads", closed.stream())
                )
                if not documents:
                    break
                pending = {
                    doc_id: [(key, parse_entry(text)) for key, text in items]
                    for doc_id, items in documents
                }
                while pending:
                    if time.monotonic() >= deadline:
                        result.remaining = True
                        return result
                    plan = choose(sorted(pending.items()), FOLD_MAX_BUCKETS)
                    try:
                        moved = self._fold_chunk(journal, collection, plan.taken)
                    except Exception:
                        log.exception("folding %d journal entries of %s failed", plan.entries,
                                      collection)  # fmt: skip
                        result.remaining = True
                        return result
                    result.add(moved)
                    for doc_id, keys in plan.taken.items():
                        taken = set(keys)
                        left = [(k, e) for k, e in pending[doc_id] if k not in taken]
                        if left:
                            pending[doc_id] = left
                        else:
                            del pending[doc_id]
        return result

    def _ensure_fold_log(self, collection: str) -> None:
        """Create the fold log of a rollup kind that has none yet (a fresh database, or one
        whose journal never held anything), so readers can cache its folded documents."""
        ref = self.client.collection(c.FOLD_LOGS).document(collection)
        _count(fold_reads=1)
        if ref.get(field_paths=["seq"]).exists:
            return
        with contextlib.suppress(AlreadyExists):
            ref.create(FoldLog().after([], FOLD_LOG_SIZE, uuid.uuid4().hex).to_doc())

    def _fold_chunk(
        self,
        journal: firestore.CollectionReference,
        collection: str,
        planned: Mapping[str, list[str]],
    ) -> FoldChoice:
        """Move the planned entries (journal document id -> entry keys) in one transaction."""
        folded = self.client.collection(collection)
        log_ref = self.client.collection(c.FOLD_LOGS).document(collection)
        refs = [journal.document(doc_id) for doc_id in sorted(planned)]
        chosen: list[FoldChoice] = []

        @firestore.transactional
        def run(transaction: firestore.Transaction) -> None:
            chosen.clear()
            snaps = list(counted("fold_reads", transaction.get_all([log_ref, *refs])))
            log = FoldLog()
            documents = []
            remaining: dict[str, int] = {}
            for snap in snaps:
                data = snapshot_data(snap)
                if snap.reference.path == log_ref.path:
                    log = FoldLog.from_doc(data)
                    continue
                if data is None:
                    continue  # drained by another fold meanwhile
                stored = data.get("d") or {}
                keys = [key for key in planned[snap.id] if key in stored]
                remaining[snap.id] = len(stored) - len(keys)
                documents.append((snap.id, [(key, parse_entry(stored[key])) for key in keys]))
            # A subset of the planned entries: it touches at most the planned buckets.
            choice = choose(sorted(documents), FOLD_MAX_BUCKETS)
            targets = {
                key: folded.document(rollup_doc_id(key[0], key_time(key[1]), None))
                for key in choice.targets
            }
            current = {
                snap.id: snapshot_data(snap)
                for snap in counted("fold_reads", transaction.get_all(list(targets.values())))
            } if targets else {}  # fmt: skip
            for key, cells in choice.targets.items():
                granularity, start = bucket_of(key)
                ref = targets[key]
                before = current.get(ref.id)
                total = sum_cells(flat_cells(before or {}), cells)
                if not total:  # everything in it cancelled out (deleted generations)
                    if before is not None:
                        transaction.delete(ref)
                    continue
                transaction.set(
                    ref,
                    {
                        "g": granularity,
                        "start": start,
                        "end": start + step(granularity),
                        "shard": -1,
                        "blob": encode_cells(total),
                        EXPIRE_FIELD: aggregate_expiry(start),
                    },
                )
            if targets:
                changed = [ref.id for ref in targets.values()]
                transaction.set(
                    log_ref, log.after(changed, FOLD_LOG_SIZE, uuid.uuid4().hex).to_doc()
                )
            for doc_id, keys in choice.taken.items():
                ref = journal.document(doc_id)
                if remaining[doc_id] == 0:
                    transaction.delete(ref)
                    choice.drained.add(doc_id)
                    continue
                choice.drained.discard(doc_id)
                if keys:
                    transaction.update(
                        ref,
                        {FieldPath("d", key).to_api_repr(): firestore.DELETE_FIELD for key in keys},
                    )
            chosen.append(choice)

        run(self.client.transaction())
        return chosen[0] if chosen else FoldChoice()

    def user_days(self, start: dt.datetime, end: dt.datetime) -> list[UserActivity]:
        """One range query on `day` (single-field index); one document per active user-day."""
        query = (
            self.client.collection(c.USER_DAYS)
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

        for collection in (c.EVENT_CONTRIBUTIONS, c.METRICS):
            report[collection] = {
                "anonymised": self._each_of_user(collection, user_id, anonymise_page)
            }
        events = {"anonymised": 0, "deleted": 0}

        def event_page(batch: WriteBatch, page: list[DocumentSnapshot[Any]]) -> None:
            records = self.client.collection(c.EVENT_CONTRIBUTIONS)
            counted_ids = {
                snap.id
                for snap in self.client.get_all(
                    [records.document(s.id) for s in page], field_paths=["erased"]
                )
                if snap.exists and (snap.to_dict() or {}).get("erased")
            }
            for snap in page:
                data = snap.to_dict() or {}
                if snap.id in counted_ids and data.get("source") != c.EVENT_SOURCE_MONITOR:
                    batch.set(snap.reference, {**anonymous_event(data), **erased})
                    events["anonymised"] += 1
                else:
                    batch.delete(snap.reference)
                    events["deleted"] += 1

        self._each_of_user(c.EVENTS, user_id, event_page, list(ANONYMOUS_EVENT_FIELDS))
        report[c.EVENTS] = events
        report[c.USER_DAYS] = {"deleted": self._each_of_user(c.USER_DAYS, user_id, delete_page)}
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
        self, collection: str, time_field: str, start: dt.datetime, end: dt.datetime
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """(id, fields) of the documents whose time field lies in [start, end), ordered by that
        field then id, streamed in pages (the drift audit merges two such streams)."""
        query = (
            self.client.collection(collection)
            .where(filter=FieldFilter(time_field, ">=", start))
            .where(filter=FieldFilter(time_field, "<", end))
            .order_by(time_field)
            .order_by("__name__")
        )
        return paged(self.client, query, time_field, AUDIT_PAGE)

    def record_audit(self, day: dt.date, body: Mapping[str, Any]) -> None:
        """Store one day's drift audit (`pipeline_audits/{YYYY-MM-DD}`, the latest run)."""
        self.client.collection(c.PIPELINE_AUDITS).document(day.isoformat()).set(dict(body))

    def audit_repairs_since(self, since: dt.datetime) -> int | None:
        """Changes the drift audits that ran since `since` repaired (None: no audit ran)."""
        query = self.client.collection(c.PIPELINE_AUDITS).where(
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

    def open_alerts(self) -> list[Mapping[str, Any]]:
        """Firing or acknowledged alert instances."""
        query = self.client.collection(c.ALERT_INSTANCES).where(
            filter=FieldFilter("status", "in", ["firing", "acknowledged"])
        )
        return [snap.to_dict() or {} for snap in counted("alert_reads", query.stream())]

    def backlog(self, stuck_before: dt.datetime) -> dict[str, tuple[int, int]]:
        """Reads one document per job in flight (projected to four fields), whatever the history:
        the backlog is small next to the history, and a large one is itself what to look at."""
        query = (
            self.client.collection(c.METRICS)
            .where(filter=FieldFilter("status", "in", ["queued", "processing"]))
            .select(["provider", "userTier", "status", "startedAt"])
        )
        docs = (snap.to_dict() or {} for snap in counted("backlog_reads", query.stream()))
        return tally_backlog(docs, stuck_before)


class FirestoreExportSource(FirestoreAdapter):
    """ExportSource on Firestore: range queries on the dataset's time field, paged."""

    def _query(self, dataset: Dataset, window: Window) -> Any:
        query = (
            self.client.collection(dataset.collection)
            .where(filter=FieldFilter(dataset.time_field, ">=", window.start))
            .where(filter=FieldFilter(dataset.time_field, "<", window.end))
        )
        if window.provider is not None and dataset.provider_field is not None:
            query = query.where(filter=FieldFilter(dataset.provider_field, "==", window.provider))
        return query

    def opted_out_users(self) -> frozenset[str]:
        """Users who opted out of analytics (left out of exports)."""
        return opted_out_users(self.client)

    def count(self, dataset: Dataset, window: Window) -> int:
        """One aggregation query (billed per 1,000 index entries, not per row)."""
        result = self._query(dataset, window).count(alias="n").get()
        return int(result[0][0].value)

    def rows(self, dataset: Dataset, window: Window) -> Iterator[tuple[str, Mapping[str, Any]]]:
        """Pages of EXPORT_PAGE documents ordered by time then id (see `paged`)."""
        query = self._query(dataset, window).order_by(dataset.time_field).order_by("__name__")
        return paged(self.client, query, dataset.time_field, EXPORT_PAGE)


class FirestoreDaySource(FirestoreAdapter):
    """DaySource on Firestore for the BigQuery export: large pages of only the exported fields,
    in concurrent time slices (`paged`, `raw_stream`)."""

    def documents(
        self,
        collection: str,
        time_field: str,
        start: dt.datetime,
        end: dt.datetime,
        fields: Iterable[str] = (),
    ) -> Iterator[tuple[str, Mapping[str, Any]]]:
        """(id, fields) in [start, end) on the time field. The range is split into DAY_READERS
        equal slices read concurrently (the decoding holds the GIL, the waiting does not);
        within a slice documents come oldest first."""
        step = (end - start) / DAY_READERS
        edges = [start + step * i for i in range(DAY_READERS)] + [end]
        slices = [
            self._slice(collection, time_field, low, high, fields)
            for low, high in itertools.pairwise(edges)
        ]
        return slices[0] if len(slices) == 1 else merged(slices, depth=10_000)

    def _slice(
        self,
        collection: str,
        time_field: str,
        start: dt.datetime,
        end: dt.datetime,
        fields: Iterable[str],
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """Pages of DAY_PAGE documents, each after the last one's time and id; a broken stream
        resumes after the last document it delivered."""
        query = (
            self.client.collection(collection)
            .where(filter=FieldFilter(time_field, ">=", start))
            .where(filter=FieldFilter(time_field, "<", end))
            .order_by(time_field)
            .order_by("__name__")
        )
        wanted = sorted(set(fields) | {time_field})
        if fields:
            query = query.select(wanted)
        return paged(self.client, query, time_field, DAY_PAGE)

    def opted_out_users(self) -> frozenset[str]:
        """Users who opted out of analytics."""
        return opted_out_users(self.client)

    def changed_days(self, since: dt.datetime) -> set[dt.date]:
        """UTC days (of the exported time field) of the records changed since `since`: metrics
        and event records by `updatedAt`, alert instances by when they fired, were acknowledged
        or resolved (field-masked range reads of the changes only)."""
        changes = (
            (c.METRICS, "updatedAt", "createdAt"),
            (c.EVENT_CONTRIBUTIONS, "updatedAt", "timestamp"),
            (c.ALERT_INSTANCES, "firedAt", "openedAt"),
            (c.ALERT_INSTANCES, "acknowledgedAt", "openedAt"),
            (c.ALERT_INSTANCES, "resolvedAt", "openedAt"),
        )
        days: set[dt.date] = set()
        for collection, changed_at, time_field in changes:
            query = (
                self.client.collection(collection)
                .where(filter=FieldFilter(changed_at, ">=", since))
                .order_by(changed_at)
                .order_by("__name__")
                .select([changed_at, time_field])
            )
            for _, data in paged(self.client, query, changed_at, DAY_PAGE):
                if isinstance(data.get(time_field), dt.datetime):
                    days.add(data[time_field].astimezone(dt.UTC).date())
        return days


# What an erased app event keeps: the fields its counted contribution comes from.
ANONYMOUS_EVENT_FIELDS = (
    "type",
    "timestamp",
    "generationId",
    "amountUsd",
    "source",
    "properties",
    EXPIRE_FIELD,
)


def anonymous_event(data: Mapping[str, Any]) -> dict[str, Any]:
    """An app event reduced to what it counted for (an allow-list: any other field the writer
    added goes): type, time, generation, amount, expiry and the feature name; no session."""
    kept = {k: data[k] for k in ANONYMOUS_EVENT_FIELDS if k in data and k != "properties"}
    return {**kept, "sessionId": None, "properties": kept_properties(data.get("properties")) or {}}


def paged(
    client: firestore.Client, query: Any, time_field: str, page_size: int
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(id, fields) of a query ordered by the time field then the id, in pages of `page_size`,
    each after the last document's time and id; a broken stream resumes after the last document
    it delivered (up to DAY_PAGE_RETRIES times)."""
    cursor: dict[str, Any] | None = None
    failures = 0
    while True:
        page = query.limit(page_size)
        if cursor is not None:
            page = page.start_after(cursor)
        count = 0
        last: tuple[str, dict[str, Any]] | None = None
        try:
            for last in counted("export_reads", raw_stream(client, page)):
                count += 1
                yield last
        except TRANSIENT_READ_ERRORS:
            failures += 1
            if failures > DAY_PAGE_RETRIES:
                raise
            time.sleep(0.5 * 2**failures)
            count = page_size  # go on after the last document read (or redo the page)
        if count < page_size:
            return
        if last is not None:
            doc_id, data = last
            cursor = {time_field: data[time_field], "__name__": query._parent.document(doc_id)}


def raw_stream(client: firestore.Client, query: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """(id, fields) of one query, decoded straight from the RunQuery protobuf stream.

    The high-level `Query.stream()` spends ~0.25 ms of CPU per document wrapping each response
    in proto-plus, decoding it and deep-copying it into a snapshot; exports need none of that,
    and reading was 95 % of the BigQuery export's time (bench/bigquery_export_bench.py). This
    reads the same RunQuery stream the client does, through the client's own API object, and
    decodes the raw values itself. It relies on internals of google-cloud-firestore (pinned in
    requirements); the emulator tests compare exported rows with the documents, so a change
    there fails the tests, not the exports.
    """
    for document in raw_documents(client, query):
        doc_id = document.name.rsplit("/", 1)[1]
        yield doc_id, {k: _plain_value(v) for k, v in document.fields.items()}


def raw_documents(client: firestore.Client, query: Any, transaction: Any = None) -> Iterator[Any]:
    """The raw protobuf documents of a query's RunQuery stream (in `transaction` if given),
    through the client's own API object (see `raw_stream`)."""
    request: dict[str, Any] = {
        "parent": query._parent._parent_info()[0],
        "structured_query": query._to_protobuf(),
    }
    if transaction is not None:
        request["transaction"] = transaction._id
    for response in client._firestore_api.run_query(request=request, metadata=client._rpc_metadata):
        raw = RunQueryResponse.pb(response)
        if raw.HasField("document"):
            yield raw.document


def journal_entries(
    client: firestore.Client, journal: firestore.CollectionReference, transaction: Any
) -> tuple[tuple[tuple[str, int, int], ...], list[Any]]:
    """Every journal document's (id, update time) and the raw documents, read in
    `transaction` (counted as rollup reads) straight from the RunQuery protobuf stream like
    `raw_stream`: a backlog of thousands of entries is read on every request until it is
    folded, and wrapping each map value in the client's Python types cost a third of such a
    read."""
    versions = []
    documents = []
    for document in raw_documents(client, journal.select(["d"]), transaction):
        stamp = document.update_time
        versions.append((document.name.rsplit("/", 1)[1], stamp.seconds, stamp.nanos))
        documents.append(document)
    _count(rollup_reads=max(len(versions), 1), queries=1)
    return tuple(sorted(versions)), documents


def entry_texts(documents: Iterable[Any]) -> Iterator[str]:
    """The entry texts of raw journal documents (from `journal_entries`)."""
    for document in documents:
        entries = document.fields.get("d")
        if entries is not None:
            for value in entries.map_value.fields.values():
                yield value.string_value


def _plain_value(value: Any) -> Any:
    """A Firestore protobuf Value as a plain Python value (timestamps as aware UTC datetimes)."""
    kind = value.WhichOneof("value_type")
    if kind == "map_value":
        return {k: _plain_value(v) for k, v in value.map_value.fields.items()}
    if kind == "array_value":
        return [_plain_value(v) for v in value.array_value.values]
    if kind == "timestamp_value":
        return value.timestamp_value.ToDatetime(tzinfo=dt.UTC)
    if kind == "null_value" or kind is None:
        return None
    return getattr(value, kind)


class FirestoreRunLog(FirestoreAdapter):
    """RunLog on Firestore: `bigquery_export_runs/{day}` holds the day's latest run."""

    def record(self, run: DayRun) -> None:
        """Write the run's current state."""
        doc = run.to_doc()
        ref = self.client.collection(c.EXPORT_RUNS).document(doc["day"])
        ref.set({**doc, "updatedAt": firestore.SERVER_TIMESTAMP})


class FirestoreAuditLog(FirestoreAdapter):
    """AuditLog on Firestore: one document per entry (auto id), written synchronously so an
    action is never served without its record."""

    def record(self, entry: AuditEntry) -> None:
        """Append one entry."""
        self.client.collection(c.AUDIT_LOG).add(entry.to_doc())


class FirestoreRateLimiter(FirestoreAdapter):
    """RateLimiter on Firestore: one bucket document per key, updated in a transaction, so
    concurrent function instances share the limit."""

    def __init__(
        self, capacity: int, period: dt.timedelta, client: firestore.Client | None = None
    ) -> None:
        super().__init__(client)
        self._capacity = capacity
        self._period = period

    def take(self, key: str, now: dt.datetime) -> float | None:
        """None when allowed, else seconds until a token is free."""
        client = self.client
        ref = client.collection(c.RATE_LIMITS).document(key)
        outcome: list[float | None] = [None]

        @firestore.transactional
        def run(transaction: firestore.Transaction) -> None:
            snap = ref.get(transaction=transaction)
            data = snap.to_dict() if snap.exists else None
            bucket = Bucket(float(data["tokens"]), data["updated"]) if data else None
            bucket, wait = take_token(bucket, now, self._capacity, self._period)
            transaction.set(ref, {"tokens": bucket.tokens, "updated": bucket.updated})
            outcome[0] = wait

        try:
            run(client.transaction(max_attempts=20))
        except (ValueError, Aborted):
            # The bucket stayed contended through every attempt: refuse (fail closed) and ask
            # for a retry shortly, rather than let a burst through unmetered.
            return 1.0
        return outcome[0]


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
