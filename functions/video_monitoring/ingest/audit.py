"""The drift audit: find and repair changes no handler ever reconciled.

A trigger handler that crashes or times out past its own retries leaves its change unreconciled
until the document's next write, and for a finished job that write never comes (the Python SDK
offers no delivery retries for Firestore triggers). Every night the audit walks the settled days
(`AUDIT_DAYS`, by default yesterday and the day before) of both ledgers: the source documents
and the stored records of each day, read in the same order (time field, then id) and paired up
by a merge, so memory stays flat and each document is read once. Each pair is planned with the
pipeline's own planner; where the plan would move a counter or the stored record, the audit runs
the same `reconcile` the triggers run (fresh reads, a precondition and the source check), which
repairs the drift exactly. Nothing the audit reads is trusted for writing: the quick plan only
chooses which documents to reconcile.

Not covered: an invalid source document no handler ever saw has no rejection record written by
the audit (it counts for nothing either way), and a change to a generation older than the
audited days stays unrepaired (its day is settled; the next write to it is reconciled as usual).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from video_monitoring.ingest.pipeline import Plan, SourceState, StoredState

Document = tuple[str, Mapping[str, Any]]  # (id, fields)
PlannerFor = Callable[[str], Callable[[SourceState, StoredState], Plan]]
REPAIRED_IDS_KEPT = 50


@dataclass
class LedgerAudit:
    """What the audit of one ledger on one day found and did."""

    checked: int = 0
    suspects: int = 0
    repaired: int = 0
    reads: int = 0
    repaired_ids: list[str] = field(default_factory=list)

    def to_doc(self) -> dict[str, Any]:
        """Stored form (camelCase)."""
        return {
            "checked": self.checked,
            "suspects": self.suspects,
            "repaired": self.repaired,
            "reads": self.reads,
            "repairedIds": list(self.repaired_ids),
        }


def audit_days(schedule_time: dt.datetime, days: int) -> list[dt.date]:
    """The settled UTC days a run at `schedule_time` audits: the `days` before its day."""
    today = schedule_time.astimezone(dt.UTC).date()
    return [today - dt.timedelta(days=n) for n in range(days, 0, -1)]


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
        key_a = (a[1][time_field], a[0]) if a is not None else None
        key_b = (b[1][time_field], b[0]) if b is not None else None
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


def audit_ledger(
    pairs: Iterable[tuple[str, Mapping[str, Any] | None, Mapping[str, Any] | None]],
    planner_for: PlannerFor,
    reconcile: Callable[[str, Callable[[SourceState, StoredState], Plan]], Plan],
) -> LedgerAudit:
    """Plan every pair; reconcile (for real) those whose plan would move a count."""
    audit = LedgerAudit()
    suspected: set[str] = set()
    for doc_id, source, stored in pairs:
        audit.checked += 1
        audit.reads += int(source is not None) + int(stored is not None)
        planner = planner_for(doc_id)
        quick = planner(SourceState(source), StoredState.from_docs(stored, None))
        # A source without a record here is a suspect only if it would count (the monitor's
        # own events and invalid documents would not); a record without its source here is
        # always one (the source is gone, or moved: only a reconcile, reading both by id, can
        # tell).
        if stored is not None and source is not None and not moves_counts(quick):
            continue
        if stored is None and not moves_counts(quick):
            continue
        if doc_id in suspected:
            continue  # the other half of a moved document: already reconciled
        suspected.add(doc_id)
        audit.suspects += 1
        plan = reconcile(doc_id, planner)
        audit.reads += 3 + int(plan.writes > 0)
        if moves_counts(plan):
            audit.repaired += 1
            if len(audit.repaired_ids) < REPAIRED_IDS_KEPT:
                audit.repaired_ids.append(doc_id)
    return audit
