"""The fold on Firestore: every minute, the journal entries of closed minutes move into the
folded minute, hour and day buckets, generation and app event rollups each on their own, and an
entry that cannot be folded is quarantined instead of stalling the rest (ingest/quarantine.py).
Also the operator's view of the quarantine and its replay."""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from google.api_core.exceptions import (
    Aborted,
    Cancelled,
    DeadlineExceeded,
    InternalServerError,
    ResourceExhausted,
    RetryError,
    ServiceUnavailable,
    TooManyRequests,
)
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter
from google.cloud.firestore_v1.field_path import FieldPath

from video_monitoring.adapters._firestore import counted, snapshot_data
from video_monitoring.adapters.firestore_rollups import (
    FOLD_LOG_SIZE,
    FirestoreRollups,
    aggregate_expiry,
    encode_cells,
    flat_cells,
    rollup_doc_id,
)
from video_monitoring.config import constants
from video_monitoring.ingest.journal import (
    Entry,
    FoldChoice,
    FoldLog,
    bucket_of,
    choose,
    key_time,
    parse_entry,
    sum_cells,
)
from video_monitoring.ingest.quarantine import (
    JournalPage,
    QuarantinedEntry,
    quarantine_id,
    reason_of,
    settle,
)
from video_monitoring.ingest.rollup import step
from video_monitoring.privacy.retention import EXPIRE_FIELD

log = logging.getLogger(__name__)

# A fold transaction reads at most FOLD_PAGE journal documents and writes at most
# FOLD_MAX_BUCKETS folded documents plus those journal documents (under 500 writes).
FOLD_PAGE = 40
FOLD_MAX_BUCKETS = 400
KINDS = (constants.ROLLUPS, constants.EVENT_ROLLUPS)
# The backend's own failures (not an entry's): they split a chunk like any error, but on a single
# entry they stop that kind's fold for this run, and nothing is quarantined for them.
BACKEND_ERRORS = (
    Aborted,
    Cancelled,
    DeadlineExceeded,
    InternalServerError,
    ResourceExhausted,
    RetryError,
    ServiceUnavailable,
    TooManyRequests,
    ConnectionError,
)
# One journal entry as the splitting sees it: (journal document id, entry key); key None stands
# for a journal document with no entries left, which the fold deletes.
Item = tuple[str, str | None]


@dataclass
class Fold:
    """What one fold run did: journal entries moved, journal documents drained, folded bucket
    documents written (a bucket written by two transactions counts twice), entries quarantined,
    transactions tried and failed, and the rollup kinds stopped by an error."""

    entries: int = 0
    documents: int = 0
    buckets: int = 0
    remaining: bool = False
    quarantined: int = 0
    transactions: int = 0
    failed_transactions: int = 0
    stopped: list[str] = field(default_factory=list)

    def add(self, choice: FoldChoice) -> None:
        """Count one transaction's move."""
        self.entries += choice.entries
        self.documents += len(choice.drained)
        self.buckets += len(choice.targets)

    @classmethod
    def total(cls, parts: Iterable[Fold]) -> Fold:
        """The runs of both kinds as one."""
        whole = cls()
        for part in parts:
            whole.entries += part.entries
            whole.documents += part.documents
            whole.buckets += part.buckets
            whole.remaining = whole.remaining or part.remaining
            whole.quarantined += part.quarantined
            whole.transactions += part.transactions
            whole.failed_transactions += part.failed_transactions
            whole.stopped += part.stopped
        return whole


def backend_error(error: Exception) -> bool:
    """Whether an error is the backend's (on one entry: try again later), not the entry's."""
    return isinstance(error, BACKEND_ERRORS)


@dataclass
class _PlannedRead:
    """What a fold transaction reads first: the fold log, the planned entries still in the
    journal by document, and how many other entries each of those documents holds."""

    fold_log: FoldLog = field(default_factory=FoldLog)
    documents: list[tuple[str, list[tuple[str, Entry]]]] = field(default_factory=list)
    remaining: dict[str, int] = field(default_factory=dict)


def _read_planned(
    transaction: firestore.Transaction,
    log_ref: firestore.DocumentReference,
    refs: list[firestore.DocumentReference],
    planned: Mapping[str, list[str]],
) -> _PlannedRead:
    """Read the fold log and the planned journal documents in the transaction."""
    read = _PlannedRead()
    for snap in counted("fold_reads", transaction.get_all([log_ref, *refs])):
        data = snapshot_data(snap)
        if snap.reference.path == log_ref.path:
            read.fold_log = FoldLog.from_doc(data)
            continue
        if data is None:
            continue  # drained by another fold meanwhile
        stored = data.get("d") or {}
        keys = [key for key in planned[snap.id] if key in stored]
        read.remaining[snap.id] = len(stored) - len(keys)
        read.documents.append((snap.id, [(key, parse_entry(stored[key])) for key in keys]))
    return read


def _drain_journal(
    transaction: firestore.Transaction,
    journal: firestore.CollectionReference,
    choice: FoldChoice,
    remaining: Mapping[str, int],
) -> None:
    """Delete the taken entries from the journal, and the documents left with none."""
    for doc_id, keys in choice.taken.items():
        ref = journal.document(doc_id)
        if remaining[doc_id] == 0:
            transaction.delete(ref)
            choice.drained.add(doc_id)
            continue
        choice.drained.discard(doc_id)
        if keys:
            transaction.update(
                ref, {FieldPath("d", key).to_api_repr(): firestore.DELETE_FIELD for key in keys}
            )


class FirestoreFold(FirestoreRollups):
    """The fold and the quarantine on Firestore (the rest of the rollups in FirestoreRollups)."""

    def fold(self, closed_before: dt.datetime, budget_seconds: float = 50.0) -> Fold:
        """Move the journal entries of epochs before `closed_before` into the folded buckets.

        Generation and app event rollups fold at the same time, each in a thread of its own
        with the whole time budget, so neither a backlog nor a failure of one delays the other.
        Each goes through its journal oldest epoch first, a page of documents at a time, until
        nothing closed is left or the budget is spent (the next run goes on from there). A
        page is read once; entries that cannot be parsed are quarantined at once; the rest is
        cut into chunks touching at most FOLD_MAX_BUCKETS buckets, each moved in one
        transaction (`_fold_chunk`). A chunk whose transaction fails is split in halves down
        to single entries (`quarantine.settle`), and an entry that fails alone is quarantined
        with its reason (`_quarantine`), except after a backend failure, which stops that kind
        for this run instead.
        """
        deadline = time.monotonic() + budget_seconds
        with ThreadPoolExecutor(max_workers=len(KINDS)) as pool:
            runs = [
                pool.submit(
                    contextvars.copy_context().run, self._fold_kind, kind, closed_before, deadline
                )
                for kind in KINDS
            ]
            return Fold.total(run.result() for run in runs)

    def _fold_kind(self, collection: str, closed_before: dt.datetime, deadline: float) -> Fold:
        """Fold one rollup kind; whatever stops it is logged and reported, never raised."""
        result = Fold()
        try:
            self._fold_journal(collection, closed_before, deadline, result)
        except Exception as error:
            log.exception("folding %s stopped (%s); the next run goes on", collection,
                          reason_of(error))  # fmt: skip
            result.remaining = True
            result.stopped.append(collection)
        if result.quarantined:
            log.error("folding %s quarantined %d journal entries (%s)", collection,
                      result.quarantined, constants.ROLLUP_QUARANTINE)  # fmt: skip
        return result

    def _fold_journal(
        self, collection: str, closed_before: dt.datetime, deadline: float, result: Fold
    ) -> None:
        self._ensure_fold_log(collection)
        journal = self.client.collection(constants.SHARDS_OF[collection])
        closed = (
            journal.where(filter=FieldFilter("epoch", "<", closed_before))
            .order_by("epoch")
            .limit(FOLD_PAGE)
        )
        while True:
            snaps = sorted(counted("fold_reads", closed.stream()), key=lambda snap: snap.id)
            if not snaps:
                return
            page = JournalPage.parse((snap.id, snapshot_data(snap)) for snap in snaps)
            if not (
                self._quarantine_poison(collection, page, deadline, result)
                and self._fold_page(collection, page, deadline, result)
            ):
                result.remaining = True
                return

    def _quarantine_poison(
        self, collection: str, page: JournalPage, deadline: float, result: Fold
    ) -> bool:
        """Quarantine the page's entries that cannot be parsed; False when the time ran out."""
        for doc_id, key, reason in page.poison:
            if time.monotonic() >= deadline:
                return False
            result.quarantined += self._quarantine(collection, doc_id, key, reason)
        return True

    def _fold_page(self, collection: str, page: JournalPage, deadline: float, result: Fold) -> bool:
        """Fold the page's parsed entries chunk by chunk; False when part is left for later."""
        while page.pending:
            if time.monotonic() >= deadline:
                return False
            plan = choose(sorted(page.pending.items()), FOLD_MAX_BUCKETS)
            if not self._settle(collection, plan, deadline, result):
                return False
            page.drop(plan.taken)
        return True

    def _settle(self, collection: str, plan: FoldChoice, deadline: float, result: Fold) -> bool:
        """Fold a planned chunk, splitting it where it fails and quarantining what fails
        alone; False when a backend error or the time budget left part of it for later."""
        journal = self.client.collection(constants.SHARDS_OF[collection])
        items: list[Item] = [
            item
            for doc_id, keys in plan.taken.items()
            for item in ([(doc_id, key) for key in keys] if keys else [(doc_id, None)])
        ]

        def attempt(chunk: Sequence[Item]) -> None:
            planned: dict[str, list[str]] = {}
            for doc_id, key in chunk:
                keys = planned.setdefault(doc_id, [])
                if key is not None:
                    keys.append(key)
            result.add(self._fold_chunk(journal, collection, planned))

        settled = settle(items, attempt, backend_error, lambda: time.monotonic() < deadline)
        result.transactions += settled.attempts
        result.failed_transactions += settled.failures
        if settled.stopped_by is not None:
            log.warning("folding %s: the backend failed (%s); the next run goes on",
                        collection, reason_of(settled.stopped_by))  # fmt: skip
        for (doc_id, key), error in settled.failed:
            log.warning("folding %s: journal entry %s/%s fails alone: %s", collection, doc_id,
                        key, reason_of(error))  # fmt: skip
            result.quarantined += self._quarantine(collection, doc_id, key, reason_of(error))
        return not settled.left

    def _quarantine(self, collection: str, doc_id: str, key: str | None, reason: str) -> int:
        """Move one journal entry (key None: a whole document whose `d` is not a map of
        entries) into `rollup_quarantine`, in one transaction that reads the journal document:
        an entry already folded or quarantined by an overlapping run is left alone. 1 when
        moved, else 0."""
        ref = self.client.collection(constants.SHARDS_OF[collection]).document(doc_id)
        held = self.client.collection(constants.ROLLUP_QUARANTINE).document(
            quarantine_id(collection, doc_id, key)
        )
        moved: list[int] = []

        @firestore.transactional
        def run(transaction: firestore.Transaction) -> None:
            moved.clear()
            snap = next(iter(counted("fold_reads", transaction.get_all([ref]))))
            data = snapshot_data(snap)
            if data is None:
                return
            stored = data.get("d")
            if key is None:
                if isinstance(stored, Mapping) and stored:
                    return  # entries arrived meanwhile: the next run folds them
                value: Any = stored
                transaction.delete(ref)
            else:
                if not isinstance(stored, Mapping) or key not in stored:
                    return
                value = stored[key]
                if len(stored) == 1:
                    transaction.delete(ref)
                else:
                    transaction.update(
                        ref, {FieldPath("d", key).to_api_repr(): firestore.DELETE_FIELD}
                    )
            epoch, shard = data.get("epoch"), data.get("shard")
            record = QuarantinedEntry(
                rollups=collection,
                journal_id=doc_id,
                entry_key=key,
                entry=value,
                reason=reason,
                quarantined_at=dt.datetime.now(dt.UTC),
                epoch=epoch if isinstance(epoch, dt.datetime) else None,
                shard=shard if isinstance(shard, int) else None,
            )
            # create: an entry is never quarantined over an earlier quarantine of itself.
            transaction.create(held, record.to_doc(EXPIRE_FIELD, data.get(EXPIRE_FIELD)))
            moved.append(1)

        run(self.client.transaction())
        return len(moved)

    def _fold_chunk(
        self,
        journal: firestore.CollectionReference,
        collection: str,
        planned: Mapping[str, list[str]],
    ) -> FoldChoice:
        """Move the planned entries (journal document id -> entry keys) in one transaction."""
        log_ref = self.client.collection(constants.FOLD_LOGS).document(collection)
        refs = [journal.document(doc_id) for doc_id in sorted(planned)]
        chosen: list[FoldChoice] = []

        @firestore.transactional
        def run(transaction: firestore.Transaction) -> None:
            chosen.clear()
            read = _read_planned(transaction, log_ref, refs, planned)
            # A subset of the planned entries: it touches at most the planned buckets.
            choice = choose(sorted(read.documents), FOLD_MAX_BUCKETS)
            changed = self._write_buckets(transaction, collection, choice)
            if changed:
                fold_log = read.fold_log.after(changed, FOLD_LOG_SIZE, uuid.uuid4().hex)
                transaction.set(log_ref, fold_log.to_doc())
            _drain_journal(transaction, journal, choice, read.remaining)
            chosen.append(choice)

        run(self.client.transaction())
        return chosen[0] if chosen else FoldChoice()

    def _write_buckets(
        self, transaction: firestore.Transaction, collection: str, choice: FoldChoice
    ) -> list[str]:
        """Add the chosen sums to their folded buckets; the ids of the bucket documents."""
        folded = self.client.collection(collection)
        targets = {
            key: folded.document(rollup_doc_id(key[0], key_time(key[1]), None))
            for key in choice.targets
        }
        if not targets:
            return []
        current = {
            snap.id: snapshot_data(snap)
            for snap in counted("fold_reads", transaction.get_all(list(targets.values())))
        }
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
        return [ref.id for ref in targets.values()]

    def quarantined(self, limit: int = 1000) -> list[tuple[str, QuarantinedEntry]]:
        """Quarantined entries, oldest first (id and record)."""
        query = (
            self.client.collection(constants.ROLLUP_QUARANTINE)
            .order_by("quarantinedAt")
            .limit(limit)
        )
        return [
            (snap.id, QuarantinedEntry.from_doc(snapshot_data(snap) or {}))
            for snap in query.stream()
        ]

    def replay_quarantined(self, ids: Iterable[str]) -> list[str]:
        """Put quarantined entries back into their journal documents (after a fix), each in
        one transaction that also deletes its quarantine record: the next fold takes them like
        any entry of a closed minute (and quarantines again what still fails). The ids
        replayed (an id no longer held is skipped)."""
        return [doc_id for doc_id in ids if self._replay(doc_id)]

    def _replay(self, doc_id: str) -> bool:
        held = self.client.collection(constants.ROLLUP_QUARANTINE).document(doc_id)
        moved: list[bool] = []

        @firestore.transactional
        def run(transaction: firestore.Transaction) -> None:
            moved.clear()
            data = snapshot_data(next(iter(transaction.get_all([held]))))
            if data is None:
                return
            record = QuarantinedEntry.from_doc(data)
            journal = constants.SHARDS_OF.get(record.rollups)
            if journal is None:
                raise ValueError(f"{doc_id}: unknown rollups {record.rollups!r}")
            ref = self.client.collection(journal).document(record.journal_id)
            expire = None if record.epoch is None else aggregate_expiry(record.epoch)
            transaction.set(ref, record.journal_body(EXPIRE_FIELD, expire), merge=True)
            transaction.delete(held)
            moved.append(True)

        run(self.client.transaction())
        return bool(moved)
