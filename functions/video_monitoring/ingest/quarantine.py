"""A fold that never stalls (pure): a chunk of journal entries whose transaction fails is split
in halves, down to single entries, and what still fails alone is quarantined with its reason.

`settle` plans and runs the splitting over any `attempt` (the Firestore fold transaction in
adapters/firestore_fold.py, a fake in the unit tests). One failing entry among n costs about
2·log2(n) extra attempts; entries of the halves that succeed are folded on the way. Any error
splits a chunk (a chunk too large to finish before a deadline, or too contended, goes through
in smaller pieces), but an error the backend raises for reasons of its own (unavailable, a
deadline, contention past the client's retries) is not a single entry's fault: it stops the
splitting there and nothing is quarantined, so the next run tries again.

A quarantined entry is kept whole in `rollup_quarantine` (`QuarantinedEntry`), moved there from
the journal in one transaction, so it is folded exactly once or held exactly once, never both.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from video_monitoring.ingest.journal import BadEntry, Entry, parse_entry

Item = TypeVar("Item")
REASON_LIMIT = 1500  # characters of an error kept as the reason
_PLAIN_KEY = re.compile(r"[0-9A-Za-z]{1,64}")


@dataclass
class Settled(Generic[Item]):
    """What settling a chunk did: entries folded by transactions that committed, entries that
    failed alone with their error, entries left for the next run (the time budget ran out or
    the backend failed), and the attempts it took."""

    folded: list[Item] = field(default_factory=list)
    failed: list[tuple[Item, Exception]] = field(default_factory=list)
    left: list[Item] = field(default_factory=list)
    attempts: int = 0
    failures: int = 0  # attempts that raised
    stopped_by: Exception | None = None  # the backend's error that stopped it


def settle(
    items: Sequence[Item],
    attempt: Callable[[Sequence[Item]], None],
    backend_error: Callable[[Exception], bool],
    time_left: Callable[[], bool],
) -> Settled[Item]:
    """Run `attempt` on all items; where it raises, on each half, down to single items.

    Halves are tried first half first, so entries keep their journal order. A single item whose
    attempt raises anything but a backend error has failed alone. A backend error on a single
    item, or the time budget, leaves the item at hand and everything not yet tried for the next
    run."""
    result: Settled[Item] = Settled()
    stack: list[Sequence[Item]] = [items] if items else []
    while stack:
        chunk = stack.pop()
        if not time_left():
            result.left = [*chunk, *(item for rest in reversed(stack) for item in rest)]
            return result
        result.attempts += 1
        try:
            attempt(chunk)
        except Exception as error:
            result.failures += 1
            if len(chunk) > 1:
                middle = len(chunk) // 2
                stack.extend((chunk[middle:], chunk[:middle]))
                continue
            if backend_error(error):
                result.stopped_by = error
                result.left = [*chunk, *(item for rest in reversed(stack) for item in rest)]
                return result
            result.failed.append((chunk[0], error))
            continue
        result.folded.extend(chunk)
    return result


@dataclass
class JournalPage:
    """A page of journal documents as the fold reads it: the entries it can fold, by journal
    document, and those it quarantines at once (document id, entry key or None, reason)."""

    pending: dict[str, list[tuple[str, Entry]]] = field(default_factory=dict)
    poison: list[tuple[str, str | None, str]] = field(default_factory=list)

    @classmethod
    def parse(cls, documents: Iterable[tuple[str, Mapping[str, Any] | None]]) -> JournalPage:
        """Parse each journal document's entries (id and data, None when gone)."""
        page = cls()
        for doc_id, data in documents:
            stored = (data or {}).get("d")
            if stored is not None and not isinstance(stored, Mapping):
                what = type(stored).__name__
                page.poison.append((doc_id, None, f"d: expected a map of entries, got {what}"))
                continue
            items = page.pending[doc_id] = []
            for key, text in sorted((stored or {}).items()):
                try:
                    items.append((key, parse_entry(text)))
                except BadEntry as error:
                    page.poison.append((doc_id, key, reason_of(error)))
        return page

    def drop(self, taken: Mapping[str, list[str]]) -> None:
        """Forget the entries a transaction took (journal document id -> entry keys)."""
        for doc_id, keys in taken.items():
            taken_keys = set(keys)
            left = [(k, e) for k, e in self.pending[doc_id] if k not in taken_keys]
            if left:
                self.pending[doc_id] = left
            else:
                del self.pending[doc_id]


def reason_of(error: BaseException) -> str:
    """An error as a quarantine reason: its type and message, cut at REASON_LIMIT."""
    text = f"{type(error).__name__}: {error}"
    return text if len(text) <= REASON_LIMIT else text[: REASON_LIMIT - 1] + "…"


def quarantine_id(rollups: str, journal_id: str, entry_key: str | None) -> str:
    """The quarantine document of one journal entry (or of a whole journal document whose
    entries are not a map: `entry_key` None): `{rollups}__{journal id}__{entry key}`, or a hash
    of the key where it holds characters an id cannot. Deterministic: quarantining the same
    entry twice names the same document."""
    key = "all" if entry_key is None else entry_key
    if not _PLAIN_KEY.fullmatch(key) or not _PLAIN_KEY.fullmatch(journal_id.replace("_", "")):
        digest = hashlib.sha256(f"{journal_id}\0{entry_key}".encode()).hexdigest()[:32]
        return f"{rollups}__h{digest}"
    return f"{rollups}__{journal_id}__{key}"


@dataclass(frozen=True)
class QuarantinedEntry:
    """One `rollup_quarantine` document: a journal entry the fold could not fold, as it was
    stored (any value), where it came from, and why."""

    rollups: str  # generation_rollups | event_rollups
    journal_id: str  # the journal document it was taken from
    entry_key: str | None  # its key in that document's `d` (None: the whole `d`)
    entry: Any  # the entry exactly as stored (normally its text)
    reason: str
    quarantined_at: dt.datetime
    epoch: dt.datetime | None  # the journal document's arrival minute
    shard: int | None

    def to_doc(self, expire_field: str, expire_at: dt.datetime | None) -> dict[str, Any]:
        """The stored form (with its expiry, that of the aggregates it would have fed)."""
        doc: dict[str, Any] = {
            "rollups": self.rollups,
            "journalId": self.journal_id,
            "entryKey": self.entry_key,
            "entry": self.entry,
            "reason": self.reason,
            "quarantinedAt": self.quarantined_at,
            "epoch": self.epoch,
            "shard": self.shard,
        }
        if expire_at is not None:
            doc[expire_field] = expire_at
        return doc

    @classmethod
    def from_doc(cls, data: Mapping[str, Any]) -> QuarantinedEntry:
        """Inverse of to_doc."""
        shard = data.get("shard")
        return cls(
            rollups=str(data.get("rollups")),
            journal_id=str(data.get("journalId")),
            entry_key=None if data.get("entryKey") is None else str(data.get("entryKey")),
            entry=data.get("entry"),
            reason=str(data.get("reason", "")),
            quarantined_at=data["quarantinedAt"],
            epoch=data.get("epoch"),
            shard=None if shard is None else int(shard),
        )

    def journal_body(self, expire_field: str, expire_at: dt.datetime | None) -> dict[str, Any]:
        """The set-with-merge body that puts the entry back into its journal document (a
        replay): the next fold takes it like any entry of a closed minute."""
        body: dict[str, Any] = {
            "d": self.entry if self.entry_key is None else {self.entry_key: self.entry}
        }
        if self.epoch is not None:
            body["epoch"] = self.epoch
        if self.shard is not None:
            body["shard"] = self.shard
        if expire_at is not None:
            body[expire_field] = expire_at
        return body
