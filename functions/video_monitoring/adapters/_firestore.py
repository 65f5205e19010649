"""The Firestore internals every adapter shares: the lazily created client, the read counters
benchmarks use, snapshot helpers, and the fast readers that decode RunQuery protobufs straight
from the stream (used where thousands of documents are read: exports, the audit, the rollup
journal). Private to adapters/."""

from __future__ import annotations

import collections
import datetime as dt
import functools
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

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
from google.cloud.firestore_v1 import DocumentSnapshot
from google.cloud.firestore_v1.base_query import FieldFilter
from google.cloud.firestore_v1.types import RunQueryResponse

from video_monitoring.config import constants
from video_monitoring.config.settings import get_settings
from video_monitoring.core.backoff import Backoff
from video_monitoring.privacy.retention import Retention, retention_of

# A broken export stream resumes after its last document: 1 s, 2 s, 4 s, then it gives up.
PAGE_BACKOFF = Backoff(first=1.0, cap=4.0, retries=3)
TRANSIENT_READ_ERRORS = (ServiceUnavailable, DeadlineExceeded, InternalServerError)
# A reconcile's commit failed its precondition (or lost a race): read again and replan.
COMMIT_CONFLICTS = (FailedPrecondition, AlreadyExists, NotFound, Aborted)
# Document reads and writes of generation changes in this process (benchmarks read them).
OPERATIONS: collections.Counter[str] = collections.Counter()
_OPERATIONS_LOCK = threading.Lock()


def _count(**amounts: int) -> None:
    with _OPERATIONS_LOCK:
        OPERATIONS.update(amounts)


def count(**amounts: int) -> None:
    """Add document operations of one kind to the process's counters (benchmarks read them)."""
    _count(**amounts)


def counted(kind: str, snapshots: Iterable[Any]) -> Iterator[Any]:
    """Pass snapshots through, counting them as document reads of one kind (benchmarks)."""
    n = 0
    for snap in snapshots:
        n += 1
        yield snap
    _count(**{kind: max(n, 1), "queries": 1})  # a query that returns nothing bills one read


@functools.cache
def firestore_client() -> firestore.Client:
    """The process's Firestore client, created on first use (anonymous on the emulator)."""
    return firestore.Client(project=get_settings().runtime.project)


def configured_retention() -> Retention:
    """The process's retention, from its settings (the expiry the adapters write)."""
    return retention_of(get_settings().retention)


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


class OptOuts:
    """The ids of the `analytics_opt_outs` documents, kept by the process and brought up to date
    on every call without listing them again: one query for the opt-outs written since the last
    look (their `at`, less a minute for clock skew and late commits) and one `count()` of the
    collection. Where the count differs from the set (an opt-out deleted, or written without a
    fresh `at`), the collection is listed again. A call costs 1 read plus the opt-outs of the
    last minute plus 1 per 1,000 opt-outs; a full list (the first call, or after a change the
    query cannot see) costs one read per opt-out. Nothing is stale: every call sees every
    opt-out committed before it."""

    OVERLAP = dt.timedelta(minutes=1)

    def __init__(self, clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)):
        self._clock = clock
        self._users: dict[str, frozenset[str]] = {}  # by database
        self._since: dict[str, dt.datetime] = {}
        self._lock = threading.Lock()

    def users(self, client: firestore.Client) -> frozenset[str]:
        """Users who opted out of analytics, as of now."""
        collection: Any = client.collection(constants.ANALYTICS_OPT_OUTS)
        database = client._database_string
        with self._lock:
            users, since = self._users.get(database), self._since.get(database)
        looked = self._clock() - self.OVERLAP
        if users is not None and since is not None:
            query = collection.where(filter=FieldFilter("at", ">=", since)).select([])
            users = users | {snap.id for snap in counted("opt_out_reads", query.stream())}
            result = collection.count(alias="n").get()
            total = int(result[0][0].value)
            _count(opt_out_reads=max(1, -(-total // 1000)), queries=1)
            if total != len(users):
                users = None
        if users is None:
            users = frozenset(
                ref.id for ref in counted("opt_out_reads", collection.list_documents())
            )
        with self._lock:
            self._users[database], self._since[database] = users, looked
        return users


OPT_OUTS = OptOuts()


def opted_out_users(client: firestore.Client) -> frozenset[str]:
    """Ids of the `analytics_opt_outs` documents (the process's OptOuts, brought up to date)."""
    return OPT_OUTS.users(client)


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


@dataclass(frozen=True)
class Paging:
    """How `paged` walks a query: the time field it is ordered by (then the id), documents per
    page, the (time, id) it starts after, how many documents at most, the reads it counts."""

    time_field: str
    page_size: int
    after: tuple[dt.datetime, str] | None = None
    limit: int | None = None
    kind: str = "export_reads"


def paged(
    client: firestore.Client, query: Any, paging: Paging
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(id, fields) of a query ordered by the time field then the id, in pages, each after the
    last document's time and id (the first after `paging.after`), `paging.limit` documents at
    most; a broken stream resumes after the last document it delivered (as PAGE_BACKOFF
    allows)."""
    position: tuple[Any, str] | None = paging.after
    waits = PAGE_BACKOFF.delays()
    left = paging.limit
    while left is None or left > 0:
        size = paging.page_size if left is None else min(paging.page_size, left)
        page = query.limit(size)
        if position is not None:
            time_value, doc_id = position
            cursor = {paging.time_field: time_value, "__name__": query._parent.document(doc_id)}
            page = page.start_after(cursor)
        count, broken, last = yield from _page(client, page, paging.kind, waits)
        if left is not None:
            left -= count
        if count < size and not broken:
            return
        if last is not None:
            position = (last[1][paging.time_field], last[0])


def _page(
    client: firestore.Client, page: Any, kind: str, waits: Iterator[float]
) -> Generator[
    tuple[str, dict[str, Any]], None, tuple[int, bool, tuple[str, dict[str, Any]] | None]
]:
    """Stream one page; then (documents delivered, whether the stream broke, the last one)."""
    count = 0
    last: tuple[str, dict[str, Any]] | None = None
    try:
        for last in counted(kind, raw_stream(client, page)):
            count += 1
            yield last
    except TRANSIENT_READ_ERRORS:
        wait = next(waits, None)
        if wait is None:
            raise
        time.sleep(wait)
        return count, True, last  # go on after the last document read (or redo the page)
    return count, False, last


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
