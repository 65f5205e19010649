"""Rollups on Firestore: the journal writes of a change, the reads of a window's buckets plus the
journal, and the instance cache of folded buckets checked against the fold log (the fold of
closed minutes into minute, hour and day buckets is in firestore_fold)."""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import functools
import json
import logging
import threading
import uuid
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from google.api_core.exceptions import AlreadyExists
from google.cloud import firestore

from video_monitoring.adapters._firestore import (
    FirestoreAdapter,
    _count,
    configured_retention,
    counted,
    entry_texts,
    journal_entries,
    snapshot_data,
)
from video_monitoring.config import constants
from video_monitoring.config.settings import get_settings
from video_monitoring.ingest.journal import (
    BucketKey,
    Cells,
    FoldLog,
    JournalView,
    attribute,
    bucket_of,
    entry_text,
    journal_doc_id,
    sum_cells,
)
from video_monitoring.ingest.monitoring_store import RollupDoc
from video_monitoring.ingest.rollup import (
    BucketRange,
    RollupDelta,
    bucket_key,
    bucket_starts,
    flatten,
    floor_time,
)
from video_monitoring.privacy.retention import EXPIRE_FIELD

log = logging.getLogger(__name__)

# Changes the fold log remembers (about 10 minutes of folds at 100 generations/s): a cached
# folded document older than that is read again.
FOLD_LOG_SIZE = 2000


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
    megabytes = get_settings().rollups.rollup_cache_mb
    return FoldedCache(megabytes * 1024 * 1024) if megabytes else None


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


@dataclass
class _BucketRead:
    """One read of rollup buckets: what it asks for, and what its transaction gathered."""

    collection: str
    ids: dict[str, tuple[str, dt.datetime]]  # folded document id -> (granularity, start)
    wanted: set[BucketKey]  # (granularity, bucket key) of every bucket asked for
    found: dict[tuple[str, dt.datetime], dict[str, dict[str, float]]] = field(default_factory=dict)
    cached: dict[tuple[str, dt.datetime], bytes] = field(default_factory=dict)
    pending: dict[BucketKey, Cells] = field(default_factory=dict)

    def clear(self) -> None:
        """Forget what a previous attempt of the transaction gathered."""
        self.found.clear()
        self.cached.clear()
        self.pending.clear()

    def docs(self) -> list[RollupDoc]:
        """One document per bucket found: folded (read or cached) plus its pending entries."""
        found = dict(self.found)
        for bucket, blob in self.cached.items():
            found[bucket] = decode_cells(blob)
        for key, cells in self.pending.items():
            bucket = bucket_of(key)
            found[bucket] = sum_cells(found.get(bucket, {}), cells)
        return [
            RollupDoc(granularity=g, start=start, shard=-1, cells=cells)
            for (g, start), cells in found.items()
        ]


class FirestoreRollups(FirestoreAdapter):
    """Rollup reads and the fold on Firestore (the rollup half of MonitoringStore)."""

    def __init__(
        self,
        client: firestore.Client | None = None,
        cache: FoldedCache | Literal["process"] | None = "process",
    ) -> None:
        super().__init__(client)
        # Folded documents already read, shared by the stores of this process (None: no cache).
        self.cache = folded_cache() if cache == "process" else cache
        self._logs_checked: set[str] = set()

    def rollups(
        self, ranges: Iterable[BucketRange], collection: str = constants.ROLLUPS
    ) -> list[RollupDoc]:
        """Each bucket the ranges tile, with every increment it holds: its folded document,
        read by id, plus the journal entries not folded yet that fall in it. The journal is
        read whole (it holds only what arrived since the last fold); both reads share one
        read-only transaction, so a fold that moves entries in between cannot make a reader
        count them twice or not at all. See `journal` for why reads stay bounded."""
        buckets = {(r.granularity, start) for r in ranges for start in bucket_starts(r)}
        if not buckets:
            return []
        got = _BucketRead(
            collection,
            ids={rollup_doc_id(g, start, None): (g, start) for g, start in buckets},
            wanted={(g, bucket_key(start)) for g, start in buckets},
        )
        if self.cache is not None and collection not in self._logs_checked:
            # Caching needs the fold log; before the first fold (or during a scheduler
            # outage on a fresh database) there is none yet.
            self._ensure_fold_log(collection)
            self._logs_checked.add(collection)

        @firestore.transactional
        def read(transaction: firestore.Transaction) -> None:
            got.clear()
            fold_log, misses = self._cached_folded(transaction, got)
            self._read_folded(transaction, got, fold_log, misses)
            self._read_journal(transaction, got)

        read(self.client.transaction(read_only=True))
        _count(rollup_cache_hits=len(got.cached))
        return got.docs()

    def _cached_folded(
        self, transaction: firestore.Transaction, got: _BucketRead
    ) -> tuple[FoldLog, list[firestore.DocumentReference]]:
        """The fold log, and the folded documents the cache cannot answer (all without one)."""
        folded = self.client.collection(got.collection)
        refs = [folded.document(doc_id) for doc_id in sorted(got.ids)]
        cache = self.cache
        if cache is None:
            return FoldLog(), refs
        log_ref = self.client.collection(constants.FOLD_LOGS).document(got.collection)
        log_snaps = list(counted("rollup_reads", transaction.get_all([log_ref])))
        fold_log = FoldLog.from_doc(snapshot_data(log_snaps[0]) if log_snaps else None)
        misses = []
        for ref in refs:
            hit, blob = cache.lookup(got.collection, ref.id, fold_log)
            if not hit:
                misses.append(ref)
            elif blob is not None:
                got.cached[got.ids[ref.id]] = blob
        return fold_log, misses

    def _read_folded(
        self,
        transaction: firestore.Transaction,
        got: _BucketRead,
        fold_log: FoldLog,
        misses: list[firestore.DocumentReference],
    ) -> None:
        """Read the folded documents the cache missed, and cache them against the fold log."""
        if not misses:
            return
        cache = self.cache if fold_log.log_id is not None else None
        for snap in counted("rollup_reads", transaction.get_all(misses)):
            data = snapshot_data(snap)
            if cache is not None:
                blob = data.get("blob") if data is not None else None
                cache.store(
                    got.collection, snap.id, fold_log, None if blob is None else bytes(blob)
                )
            if data is not None:
                got.found[got.ids[snap.id]] = flat_cells(data)

    def _read_journal(self, transaction: firestore.Transaction, got: _BucketRead) -> None:
        """Attribute the journal's entries not folded yet to the buckets the read wants."""
        journal = self.client.collection(constants.SHARDS_OF[got.collection])
        versions, documents = journal_entries(self.client, journal, transaction)
        cache = self.cache
        if cache is None:
            attribute(entry_texts(documents), got.wanted, got.pending)
            return
        view = cache.journal_view(got.collection, versions)
        if view is None:
            view = JournalView.build(entry_texts(documents))
            cache.store_journal_view(got.collection, versions, view)
        view.attribute(got.wanted, got.pending)

    def _ensure_fold_log(self, collection: str) -> None:
        """Create the fold log of a rollup kind that has none yet (a fresh database, or one
        whose journal never held anything), so readers can cache its folded documents."""
        ref = self.client.collection(constants.FOLD_LOGS).document(collection)
        _count(fold_reads=1)
        if ref.get(field_paths=["seq"]).exists:
            return
        with contextlib.suppress(AlreadyExists):
            ref.create(FoldLog().after([], FOLD_LOG_SIZE, uuid.uuid4().hex).to_doc())
