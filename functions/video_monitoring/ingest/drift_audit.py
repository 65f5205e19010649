"""The drift audit: find and repair changes no handler ever reconciled, at a cost set by counts.

A trigger handler that crashes or times out past its own retries leaves its change unreconciled
until the document's next write, and for a finished job that write never comes (the Python SDK
offers no delivery retries for Firestore triggers). Every night the audit checks the settled days
(`AUDIT_DAYS`, by default yesterday and the day before) of both ledgers in three steps:

1. **Counts.** Per hour, Firestore `count()` aggregations of the source documents against the
   stored records plus the rejection records (plus, for app events, the monitor's own events,
   which never get a record); per day, the same split by status (generations), drilled down to
   the hours only for a status whose day counts differ. An aggregation bills one read per 1,000
   index entries it matches, so an exact day costs about 2 reads per 1,000 documents plus one
   per query, whatever the rate.
2. **Hour walks.** Only the hours whose counts differ are read whole: the source documents and
   the stored records of the hour, in the same order (time field, then id), paired up by a merge.
   Each pair is planned with the pipeline's own planner; where the plan would move a counter or
   the stored record, the audit runs the same `reconcile` the triggers run (fresh reads, a
   precondition and the source check), which repairs the drift exactly. Nothing the audit reads
   is trusted for writing: the quick plan only chooses which documents to reconcile.
3. **A rotating sample.** Counts cannot see a change that moves no count (a late `userRating`,
   a corrected cost), so each run also walks `SAMPLE_SIZE` documents of each ledger from a point
   of the day that differs per day and per run.

A run stops starting work when its time budget is spent and stores where it stopped (the hour
walk's last (time, id) position): the retry of the same run continues from there.

Not covered: a change that moves no count outside the sampled documents, and a change to a
generation older than the audited days (its day is settled; the next write to it is reconciled
as usual).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import takewhile
from typing import Any, Protocol

from video_monitoring.ingest.pipeline import Plan, SourceState, StoredState

Document = tuple[str, Mapping[str, Any]]  # (id, fields)
Position = tuple[dt.datetime, str]  # (time field, id): where an ordered walk stands
PlannerFor = Callable[[str], Callable[[SourceState, StoredState], Plan]]
Reconcile = Callable[[str, Callable[[SourceState, StoredState], Plan]], Plan]
OutOfTime = Callable[[], bool]
REPAIRED_IDS_KEPT = 50
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
# Firestore bills an aggregation query one read per 1,000 index entries matched (at least one).
ENTRIES_PER_BILLED_READ = 1000
# Documents of each ledger the rotating sample walks per run. Each day is audited on two nights
# with different starting points, so 200 documents a day: if a share f of a day's documents
# carry a change that moves no count, both samples miss all of them with probability
# (1 - f)^200 (5 % at f = 1.5 %), for 2 reads a document, about 400 reads a day whatever the
# rate (a fixed cost: 0.02 reads per generation at 20,000 a day, 0.00005 at 100/s).
SAMPLE_SIZE = 100


class AuditReads(Protocol):
    """What the audit reads: counts and ordered documents of a time range."""

    def count(
        self,
        collection: str,
        time_field: str,
        start: dt.datetime,
        end: dt.datetime,
        equals: tuple[str, str] | None = None,
    ) -> int:
        """Documents whose time field lies in [start, end) (and whose field equals a value)."""
        ...

    def ordered_documents(
        self,
        collection: str,
        time_field: str,
        start: dt.datetime,
        end: dt.datetime,
        after: Position | None = None,
        limit: int | None = None,
    ) -> Iterator[Document]:
        """(id, fields) of the documents whose time field lies in [start, end), ordered by that
        field then id, from after `after`, at most `limit`."""
        ...


@dataclass(frozen=True)
class AuditedLedger:
    """One reconciled stream as the audit sees it."""

    name: str
    source: str
    stored: str
    rejected: str
    time_field: str
    split: tuple[str, tuple[str, ...]] | None = None  # field and values counted apart
    ignored: tuple[str, str] | None = None  # source documents that never get a record


@dataclass
class LedgerAudit:
    """What the audit of one ledger on one day found and did."""

    checked: int = 0
    suspects: int = 0
    repaired: int = 0
    reads: int = 0
    count_queries: int = 0
    sampled: int = 0
    repaired_ids: list[str] = field(default_factory=list)

    def to_doc(self) -> dict[str, Any]:
        """Stored form (camelCase)."""
        return {
            "checked": self.checked,
            "suspects": self.suspects,
            "repaired": self.repaired,
            "reads": self.reads,
            "countQueries": self.count_queries,
            "sampled": self.sampled,
            "repairedIds": list(self.repaired_ids),
        }

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> LedgerAudit:
        """From the stored form."""
        return cls(
            checked=int(doc.get("checked", 0)),
            suspects=int(doc.get("suspects", 0)),
            repaired=int(doc.get("repaired", 0)),
            reads=int(doc.get("reads", 0)),
            count_queries=int(doc.get("countQueries", 0)),
            sampled=int(doc.get("sampled", 0)),
            repaired_ids=[str(i) for i in doc.get("repairedIds", [])],
        )


@dataclass
class LedgerProgress:
    """How far one run got with one ledger of one day (stored, so a retry continues)."""

    audit: LedgerAudit = field(default_factory=LedgerAudit)
    hours: list[int] | None = None  # the hours whose counts differ, once counted
    walked: int = 0  # of those, hours walked to the end
    after: Position | None = None  # where the walk of the next hour stopped
    sample_done: bool = False

    @property
    def done(self) -> bool:
        """Counted, every differing hour walked, sampled."""
        return self.hours is not None and self.walked == len(self.hours) and self.sample_done

    def to_doc(self) -> dict[str, Any]:
        """Stored form: the audit's figures and the cursor."""
        return {
            **self.audit.to_doc(),
            "differingHours": self.hours,
            "hoursWalked": self.walked,
            "after": list(self.after) if self.after is not None else None,
            "sampleDone": self.sample_done,
        }

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> LedgerProgress:
        """From the stored form."""
        after = doc.get("after")
        hours = doc.get("differingHours")
        return cls(
            audit=LedgerAudit.from_doc(doc),
            hours=[int(h) for h in hours] if hours is not None else None,
            walked=int(doc.get("hoursWalked", 0)),
            after=(after[0], str(after[1])) if after else None,
            sample_done=bool(doc.get("sampleDone")),
        )


def audit_days(schedule_time: dt.datetime, days: int) -> list[dt.date]:
    """The settled UTC days a run at `schedule_time` audits: the `days` before its day."""
    today = schedule_time.astimezone(dt.UTC).date()
    return [today - dt.timedelta(days=n) for n in range(days, 0, -1)]


def billed_reads(matched: int) -> int:
    """Reads Firestore bills for an aggregation query that matched `matched` index entries."""
    return max(1, -(-matched // ENTRIES_PER_BILLED_READ))


def position(doc: Document, time_field: str) -> Position:
    """Where a document stands in a walk ordered by (time field, id)."""
    return doc[1][time_field], doc[0]


def paired(
    sources: Iterable[Document], stored: Iterable[Document], time_field: str
) -> Iterator[tuple[str, Mapping[str, Any] | None, Mapping[str, Any] | None]]:
    """Merge two streams ordered by (time field, id) into (id, source, stored) pairs.

    A record whose time differs from its source's (the source moved, which is drift) comes out
    twice, once from each side, each unpaired; reconciling it twice is harmless.
    """
    left, right = iter(sources), iter(stored)
    a, b = next(left, None), next(right, None)
    while a is not None or b is not None:
        key_a = position(a, time_field) if a is not None else None
        key_b = position(b, time_field) if b is not None else None
        if b is None or (key_a is not None and key_b is not None and key_a < key_b):
            assert a is not None
            yield a[0], a[1], None
            a = next(left, None)
        elif a is None or (key_a is not None and key_b is not None and key_b < key_a):
            yield b[0], None, b[1]
            b = next(right, None)
        else:
            yield a[0], a[1], b[1]
            a, b = next(left, None), next(right, None)


def moves_counts(plan: Plan) -> bool:
    """Whether a plan changes what is counted or the stored record (rejection records and the
    monitor's lifecycle events alone are not drift the audit repairs)."""
    return bool(
        plan.rollup_deltas or plan.user_deltas or plan.metrics is not None or plan.delete_metrics
    )


def _never() -> bool:
    return False


def _unsaved() -> None:
    return None


@dataclass(frozen=True)
class AuditHooks:
    """What an audit calls out to: the planner of a document, the reconcile that repairs one
    for real, whether its time is up, and the save of its progress (after each step)."""

    planner_for: PlannerFor
    reconcile: Reconcile
    out_of_time: OutOfTime = _never
    save: Callable[[], None] = _unsaved


def audit_pairs(
    pairs: Iterable[tuple[str, Mapping[str, Any] | None, Mapping[str, Any] | None]],
    hooks: AuditHooks,
    audit: LedgerAudit,
    time_field: str,
    position: Position | None = None,
    rejected_ids: Collection[str] | None = None,
) -> tuple[bool, Position | None]:
    """Plan every pair; reconcile (for real) those whose plan would move a count or, where the
    ids of the stored rejection records are given, that would be rejected without one. Returns
    whether it walked to the end, and the position of the last pair it finished (`position` if
    none)."""
    suspected: set[str] = set()
    for doc_id, source, stored in pairs:
        if hooks.out_of_time():
            return False, position
        position = ((source or stored or {})[time_field], doc_id)
        audit.checked += 1
        audit.reads += int(source is not None) + int(stored is not None)
        planner = hooks.planner_for(doc_id)
        quick = planner(SourceState(source), StoredState.from_docs(stored, None))
        # A source without a record here is a suspect only if it would count or be rejected
        # (the monitor's own events would not); a record without its source here is always
        # one (the source is gone, or moved: only a reconcile, reading both by id, can tell).
        if stored is not None and source is not None and not moves_counts(quick):
            continue
        unrecorded = (
            rejected_ids is not None and quick.rejected is not None and doc_id not in rejected_ids
        )
        if stored is None and not moves_counts(quick) and not unrecorded:
            continue
        if doc_id in suspected:
            continue  # the other half of a moved document: already reconciled
        suspected.add(doc_id)
        audit.suspects += 1
        plan = hooks.reconcile(doc_id, planner)
        audit.reads += 3 + int(plan.writes > 0)
        if moves_counts(plan):
            audit.repaired += 1
            if len(audit.repaired_ids) < REPAIRED_IDS_KEPT:
                audit.repaired_ids.append(doc_id)
    return True, position


def audit_ledger(
    pairs: Iterable[tuple[str, Mapping[str, Any] | None, Mapping[str, Any] | None]],
    planner_for: PlannerFor,
    reconcile: Reconcile,
    time_field: str = "createdAt",
) -> LedgerAudit:
    """Plan and repair every pair of a whole stream (no time budget)."""
    audit = LedgerAudit()
    audit_pairs(pairs, AuditHooks(planner_for, reconcile), audit, time_field)
    return audit


def differing_hours(
    reads: AuditReads, ledger: AuditedLedger, day: dt.datetime, audit: LedgerAudit
) -> list[int]:
    """The hours of the day whose source documents and records do not add up, by total per
    hour and, for a split ledger, by value per day (then per hour for a value that differs)."""

    def count(
        collection: str, start: dt.datetime, end: dt.datetime, equals: tuple[str, str] | None
    ) -> int:
        n = reads.count(collection, ledger.time_field, start, end, equals)
        audit.reads += billed_reads(n)
        audit.count_queries += 1
        return n

    def balance(start: dt.datetime, end: dt.datetime, equals: tuple[str, str] | None) -> int:
        """Source documents minus what accounts for them (0 when they add up)."""
        accounted = count(ledger.stored, start, end, equals)
        if rejected or equals is None:
            accounted += count(ledger.rejected, start, end, equals)
        if ledger.ignored is not None and equals is None:
            accounted += count(ledger.source, start, end, ledger.ignored)
        return count(ledger.source, start, end, equals) - accounted

    hours = [day + h * HOUR for h in range(24)]
    rejected = True  # counted per hour first; the split skips them on a day without any
    differing = {h for h, start in enumerate(hours) if balance(start, start + HOUR, None)}
    if ledger.split is None:
        return sorted(differing)
    rejected = count(ledger.rejected, day, day + DAY, None) > 0
    name, values = ledger.split
    for value in values:
        if balance(day, day + DAY, (name, value)):
            differing |= {
                h
                for h, start in enumerate(hours)
                if h not in differing and balance(start, start + HOUR, (name, value))
            }
    return sorted(differing)


def sample_start(day: dt.datetime, run: str) -> dt.datetime:
    """Where the run `run` starts its sample of `day`: a point that differs per day and run."""
    digest = hashlib.sha256(f"{day:%Y-%m-%d}/{run}".encode()).digest()
    return day + dt.timedelta(seconds=int.from_bytes(digest[:8]) % 86400)


def sample_pairs(
    reads: AuditReads, ledger: AuditedLedger, day: dt.datetime, run: str, size: int
) -> Iterator[tuple[str, Mapping[str, Any] | None, Mapping[str, Any] | None]]:
    """Pairs of `size` source documents from the run's starting point on (wrapping round to
    the day's start) with the records of the same (time, id) span."""
    start = sample_start(day, run)
    for lower, upper in ((start, day + DAY), (day, start)):
        if size <= 0:
            return
        sources = list(
            reads.ordered_documents(ledger.source, ledger.time_field, lower, upper, limit=size)
        )
        if not sources:
            continue
        size -= len(sources)
        last = position(sources[-1], ledger.time_field)
        end = last[0] + dt.timedelta(microseconds=1)
        records = reads.ordered_documents(
            ledger.stored, ledger.time_field, lower, end, limit=2 * len(sources)
        )
        yield from paired(sources, up_to(records, ledger.time_field, last), ledger.time_field)


def rejected_in(
    reads: AuditReads,
    ledger: AuditedLedger,
    start: dt.datetime,
    end: dt.datetime,
    audit: LedgerAudit,
) -> set[str]:
    """Ids of the rejection records of [start, end) (few: invalid documents are rare)."""
    ids = {
        doc_id
        for doc_id, _ in reads.ordered_documents(ledger.rejected, ledger.time_field, start, end)
    }
    audit.reads += max(1, len(ids))
    return ids


def up_to(documents: Iterable[Document], time_field: str, last: Position) -> Iterator[Document]:
    """The ordered documents up to and including the position `last`."""
    return takewhile(lambda doc: position(doc, time_field) <= last, documents)


def audit_ledger_day(
    reads: AuditReads,
    ledger: AuditedLedger,
    day: dt.datetime,
    run: str,
    progress: LedgerProgress,
    hooks: AuditHooks,
) -> bool:
    """Carry one ledger's audit of one day on from `progress` (saved after each step); True
    when it is done, False when time ran out first."""
    audit = progress.audit
    if progress.hours is None:
        if hooks.out_of_time():
            return False
        progress.hours = differing_hours(reads, ledger, day, audit)
        hooks.save()
    while progress.walked < len(progress.hours):
        start = day + progress.hours[progress.walked] * HOUR
        pairs = paired(
            reads.ordered_documents(
                ledger.source, ledger.time_field, start, start + HOUR, progress.after
            ),
            reads.ordered_documents(
                ledger.stored, ledger.time_field, start, start + HOUR, progress.after
            ),
            ledger.time_field,
        )
        rejected = rejected_in(reads, ledger, start, start + HOUR, audit)
        finished, progress.after = audit_pairs(
            pairs, hooks, audit, ledger.time_field, progress.after, rejected
        )
        if not finished:
            hooks.save()
            return False
        progress.walked += 1
        progress.after = None
        hooks.save()
    if not progress.sample_done:
        if hooks.out_of_time():
            return False
        checked = audit.checked
        audit_pairs(
            sample_pairs(reads, ledger, day, run, SAMPLE_SIZE),
            AuditHooks(hooks.planner_for, hooks.reconcile),
            audit,
            ledger.time_field,
            rejected_ids=rejected_in(reads, ledger, day, day + DAY, audit),
        )
        audit.sampled += audit.checked - checked
        progress.sample_done = True
        hooks.save()
    return True
