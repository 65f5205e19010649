"""The rollup journal: one document write per change, folded into buckets every minute (pure).

A change's rollup deltas (at minute resolution: the minute of the generation's `createdAt`) are
appended, as one map entry each, to a journal document chosen by the minute the change
*arrives* in (its epoch) and the generation's hash shard: `{epoch}_{shard}`. Every change, on
time, late or part of a backfill, writes exactly one journal document, and no journal document
receives more than (changes per second / shards) writes per second.

`fold_rollups` runs every minute and moves the entries of closed epochs into one folded document
per bucket (minute, hour and day of each entry), in transactions that also delete (or trim) the
journal documents they drained. So at any consistent read an increment is in the journal or in
all three of its folded buckets, never both and never neither.

A reader of a window reads the folded documents of the buckets that tile it, by id, and the whole
journal (what has not been folded yet: at most the open epoch and the one before it when the fold
keeps up), and adds each journal entry to the requested buckets that contain its minute. What a
read costs is therefore bounded by the tiling and by what is open, never by the history, by how
many buckets a backfill touched, or by how late the changes are.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from video_monitoring.ingest.rollup import Granularity, RollupDelta, bucket_key

Cells = dict[str, dict[str, float]]  # cell -> flat counters
BucketKey = tuple[Granularity, str]  # (granularity, bucket_key of its start)


def journal_doc_id(epoch: dt.datetime, shard: int) -> str:
    """`{arrival minute}_{shard}`: the journal document a change arriving in `epoch` writes."""
    return f"{bucket_key(epoch)}_{shard:03d}"


def entry_text(delta: RollupDelta) -> str:
    """One delta as one journal map entry: `[minute key, cell, {counter: increment}]`."""
    return json.dumps(
        [bucket_key(delta.bucket_start), delta.cell, dict(delta.values)], separators=(",", ":")
    )


@dataclass(frozen=True)
class Entry:
    """A parsed journal entry."""

    minute: str  # bucket_key of the generation's minute
    cell: str
    values: Mapping[str, int]


class BadEntry(ValueError):
    """A journal entry that is not `[minute key, cell, {counter: integer}]` (the fold
    quarantines it; readers skip it)."""


MINUTE_KEY = re.compile(r"[0-9]{8}T[0-9]{4}")
_INTEGERS = frozenset({int})


@functools.lru_cache(maxsize=65536)
def _real_minute(minute: str) -> bool:
    if not MINUTE_KEY.fullmatch(minute):
        return False
    try:
        key_time(minute)
    except ValueError:
        return False
    return True


def entry_problem(minute: Any, cell: Any, values: Any) -> str | None:
    """What is wrong with a decoded entry's parts, or None when it can be folded: a minute key
    naming a real minute, a text cell, integer counters (sums are fixed point: a float, a
    boolean or a text would not add exactly, or at all). Every read runs it per entry, so the
    good case is one expression."""
    if (
        type(minute) is str
        and type(cell) is str
        and type(values) is dict
        and _real_minute(minute)
        and {*map(type, values.values())} <= _INTEGERS
    ):
        return None
    if type(minute) is not str or not _real_minute(minute):
        return f"minute: expected a real minute as YYYYMMDDTHHMM, got {minute!r:.80}"
    if type(cell) is not str:
        return f"cell: expected text, got {cell!r:.80}"
    if type(values) is not dict:
        return f"counters: expected an object, got {values!r:.80}"
    key, value = next((k, v) for k, v in values.items() if type(v) is not int)
    return f"counter {key!r:.80}: expected an integer, got {value!r:.80}"


def parse_entry(text: Any) -> Entry:
    """Inverse of entry_text; BadEntry naming the problem for anything else."""
    if type(text) is not str:
        raise BadEntry(f"entry: expected the text of a JSON array, got {text!r:.80}")
    try:
        minute, cell, values = json.loads(text)
    except (ValueError, TypeError) as error:
        raise BadEntry(f"entry: not a JSON array [minute, cell, counters] ({error})") from None
    problem = entry_problem(minute, cell, values)
    if problem is not None:
        raise BadEntry(problem)
    return Entry(minute, cell, values)


def containing(minute: str) -> tuple[BucketKey, BucketKey, BucketKey]:
    """The day, hour and minute buckets holding a minute (by key: `YYYYMMDDTHHMM`)."""
    return (("day", minute[:9] + "0000"), ("hour", minute[:11] + "00"), ("minute", minute))


@functools.lru_cache(maxsize=65536)
def key_time(key: str) -> dt.datetime:
    """The bucket start a key names."""
    return dt.datetime(
        int(key[0:4]), int(key[4:6]), int(key[6:8]), int(key[9:11]), int(key[11:13]),
        tzinfo=dt.UTC,
    )  # fmt: skip


def add_values(cells: Cells, cell: str, values: Mapping[str, float]) -> None:
    """Add one cell's counters."""
    acc = cells.setdefault(cell, {})
    for key, value in values.items():
        acc[key] = acc.get(key, 0) + value


def attribute(texts: Iterable[str], wanted: set[BucketKey], into: dict[BucketKey, Cells]) -> None:
    """Add each entry (as stored: `entry_text`) to every wanted bucket that contains its
    minute. The read path runs this once per journal entry on every request, so it parses
    and sums inline. An entry that cannot be folded counts nowhere: the fold quarantines it."""
    loads = json.loads
    for text in texts:
        try:
            minute, cell, values = loads(text)
        except (ValueError, TypeError):
            continue
        if entry_problem(minute, cell, values) is not None:
            continue
        for bucket in (("day", minute[:9] + "0000"), ("hour", minute[:11] + "00"),
                       ("minute", minute)):  # fmt: skip
            if bucket not in wanted:
                continue
            cells = into.get(bucket)
            if cells is None:
                cells = into[bucket] = {}
            acc = cells.get(cell)
            if acc is None:
                cells[cell] = dict(values)
                continue
            for key, value in values.items():
                acc[key] = acc.get(key, 0) + value


def sum_cells(*parts: Mapping[str, Mapping[str, float]]) -> Cells:
    """Cells summed, counters that reach zero and cells left empty dropped (a folded document
    keeps only what is there)."""
    total: Cells = {}
    for cells in parts:
        for cell, values in cells.items():
            add_values(total, cell, values)
    kept = {cell: {k: v for k, v in values.items() if v != 0} for cell, values in total.items()}
    return {cell: values for cell, values in kept.items() if values}


@dataclass
class FoldChoice:
    """What one fold transaction moves: entries of some journal documents, and the sums they
    add to each bucket."""

    taken: dict[str, list[str]] = field(default_factory=dict)  # document id -> entry keys
    drained: set[str] = field(default_factory=set)  # documents whose every entry is taken
    targets: dict[BucketKey, Cells] = field(default_factory=dict)
    entries: int = 0


def choose(
    documents: Iterable[tuple[str, list[tuple[str, Entry]]]], max_targets: int
) -> FoldChoice:
    """Take entries in order while their buckets number at most `max_targets` (a transaction's
    writes are bounded), always at least one entry. A document whose entries are all taken is
    drained (deleted by the fold); one cut short keeps the rest for the next transaction."""
    choice = FoldChoice()
    for doc_id, items in documents:
        taken: list[str] = []
        for key, entry in items:
            buckets = containing(entry.minute)
            new = sum(1 for b in buckets if b not in choice.targets)
            if choice.entries and len(choice.targets) + new > max_targets:
                if taken:
                    choice.taken[doc_id] = taken
                return choice
            for bucket in buckets:
                add_values(choice.targets.setdefault(bucket, {}), entry.cell, entry.values)
            taken.append(key)
            choice.entries += 1
        choice.taken[doc_id] = taken
        choice.drained.add(doc_id)
    return choice


def bucket_of(key: BucketKey) -> tuple[Granularity, dt.datetime]:
    """(granularity, start) of a bucket key."""
    return key[0], key_time(key[1])


@dataclass(frozen=True)
class FoldLog:
    """Which folded documents each fold transaction changed, by sequence number: a reader that
    cached a folded document at sequence `s` may keep using it while no logged change to it
    is newer than `s` and the log still covers every change since `s`.

    Stored as one document per rollup kind, rewritten by every fold transaction (in the same
    transaction as the folded documents, so the log and the documents always agree); it keeps
    the `size` most recent changes, and `complete_since` says from which sequence on nothing
    was dropped. A log that is recreated (after a wipe) gets a new id, which no cached
    document matches."""

    log_id: str | None = None  # None: no log yet (nothing may be cached against it)
    seq: int = 0
    complete_since: int = 1
    changed: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def from_doc(cls, data: Mapping[str, Any] | None) -> FoldLog:
        """The stored form (None: no fold has run yet)."""
        if not data:
            return cls()
        changed = data.get("changed")
        return cls(
            log_id=str(data.get("logId")),
            seq=int(data.get("seq", 0)),
            complete_since=int(data.get("completeSince", 1)),
            changed=dict(changed) if isinstance(changed, Mapping) else {},
        )

    def to_doc(self) -> dict[str, Any]:
        """Inverse of from_doc."""
        return {
            "logId": self.log_id,
            "seq": self.seq,
            "completeSince": self.complete_since,
            "changed": dict(self.changed),
        }

    def after(self, doc_ids: Iterable[str], size: int, new_id: str) -> FoldLog:
        """The log once one more fold transaction has changed `doc_ids` (a log that did not
        exist starts under `new_id`)."""
        seq = self.seq + 1
        changed = dict(self.changed) | dict.fromkeys(doc_ids, seq)
        complete_since = self.complete_since
        if len(changed) > size:
            ordered = sorted(changed.items(), key=lambda item: item[1], reverse=True)
            kept, dropped = ordered[:size], ordered[size:]
            complete_since = max(complete_since, max(s for _, s in dropped) + 1)
            changed = dict(kept)
        return FoldLog(self.log_id or new_id, seq, complete_since, changed)

    def still_valid(self, doc_id: str, log_id: str, cached_at: int) -> bool:
        """Whether a folded document read under log `log_id` at sequence `cached_at` is
        unchanged now."""
        return (
            self.log_id is not None
            and log_id == self.log_id
            and self.complete_since <= cached_at + 1
            and self.changed.get(doc_id, 0) <= cached_at
        )


@dataclass
class JournalView:
    """The journal as of one set of document versions, arranged for any window: entries summed
    per day bucket, and kept as text per hour and per minute (parsed only when a window asks
    for that hour or minute). An instance that reads the same journal again (a backlog the fold
    has not taken yet, during an outage) then pays per requested bucket, not per entry."""

    days: dict[str, Cells] = field(default_factory=dict)
    hours: dict[str, list[str]] = field(default_factory=dict)
    minutes: dict[str, list[str]] = field(default_factory=dict)
    size_bytes: int = 0

    @classmethod
    def build(cls, texts: Iterable[str]) -> JournalView:
        """Arrange entry texts (as stored: `entry_text`)."""
        view = cls()
        wanted_days: set[BucketKey] = set()
        everything = list(texts)
        for text in everything:
            minute = text[2:15]  # '["YYYYMMDDTHHMM",...'
            view.hours.setdefault(minute[:11] + "00", []).append(text)
            view.minutes.setdefault(minute, []).append(text)
            wanted_days.add(("day", minute[:9] + "0000"))
            view.size_bytes += len(text) + 100
        by_day: dict[BucketKey, Cells] = {}
        attribute(everything, wanted_days, by_day)
        view.days = {key[1]: cells for key, cells in by_day.items()}
        view.size_bytes += sum(len(c) * 2000 for c in view.days.values())
        return view

    def attribute(self, wanted: set[BucketKey], into: dict[BucketKey, Cells]) -> None:
        """What `attribute` adds for these entries, from the arrangement."""
        for granularity, key in wanted:
            if granularity == "day":
                cells = self.days.get(key)
                if cells:
                    target = into.setdefault((granularity, key), {})
                    for cell, values in cells.items():
                        add_values(target, cell, values)
            else:
                texts = (self.hours if granularity == "hour" else self.minutes).get(key)
                if texts:
                    attribute(texts, {(granularity, key)}, into)
