"""Every query the code runs is served by an index production has: single-field indexes (automatic)
or a composite index declared in firestore.indexes.json. The emulator does not enforce indexes,
so the queries are recorded as the code really builds them (running each code path against the
emulator) and checked against Firestore's index rules."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from google.cloud import firestore
from google.cloud.firestore_v1.aggregation import AggregationQuery
from google.cloud.firestore_v1.query import Query
from google.cloud.firestore_v1.types import StructuredQuery

from local_stack.stack import REPO_ROOT
from tests.integration.support import Stack
from video_monitoring.adapters import _firestore
from video_monitoring.adapters.firestore_access import FirestoreAuditLog
from video_monitoring.adapters.firestore_alerts import FirestoreAlertStore
from video_monitoring.adapters.firestore_digests import FirestoreDigestStore
from video_monitoring.adapters.firestore_exports import FirestoreDaySource, FirestoreExportSource
from video_monitoring.adapters.firestore_generations import FirestoreGenerations
from video_monitoring.adapters.firestore_queue import FirestoreQueue
from video_monitoring.adapters.firestore_store import FirestoreStore
from video_monitoring.core.audit_log import AuditFilter
from video_monitoring.core.models import Window
from video_monitoring.dashboard.files import DATASETS
from video_monitoring.dashboard.generation_list import GenerationFilter
from video_monitoring.ingest.drift_audit import LedgerAudit, differing_hours
from video_monitoring.ingest.rollup import cover
from video_monitoring.runtime.jobs import audit_ledgers
from video_monitoring.warehouse.rows import TABLES

pytestmark = pytest.mark.integration
EQUALITY = {"EQUAL", "IN", "ARRAY_CONTAINS", "ARRAY_CONTAINS_ANY"}


@dataclass(frozen=True)
class Shape:
    """What an index must serve: the collection, filters (field, operator) and orders."""

    collection: str
    filters: tuple[tuple[str, str], ...]
    orders: tuple[tuple[str, str], ...]


def shape_of(query: Query) -> Shape:
    pb = query._to_protobuf()
    filters: list[tuple[str, str]] = []

    def walk(node: Any) -> None:
        if "composite_filter" in node:
            for child in node.composite_filter.filters:
                walk(child)
        elif "field_filter" in node:
            f = node.field_filter
            filters.append((f.field.field_path, StructuredQuery.FieldFilter.Operator(f.op).name))
        elif "unary_filter" in node:
            filters.append((node.unary_filter.field.field_path, "EQUAL"))

    if "where" in pb:
        walk(pb.where)
    orders = tuple(
        (o.field.field_path, StructuredQuery.Direction(o.direction).name)
        for o in pb.order_by
        if o.field.field_path != "__name__"
    )
    return Shape(pb.from_[0].collection_id, tuple(filters), orders)


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Shape]]:
    shapes: list[Shape] = []
    stream, get = Query.stream, AggregationQuery.get

    def recording_stream(self: Query, *args: Any, **kwargs: Any) -> Any:
        shapes.append(shape_of(self))
        return stream(self, *args, **kwargs)

    def recording_get(self: AggregationQuery, *args: Any, **kwargs: Any) -> Any:
        shapes.append(shape_of(self._nested_query))
        return get(self, *args, **kwargs)

    raw_stream = _firestore.raw_stream

    def recording_raw_stream(client: firestore.Client, query: Query) -> Any:
        shapes.append(shape_of(query))
        return raw_stream(client, query)

    monkeypatch.setattr(Query, "stream", recording_stream)
    monkeypatch.setattr(AggregationQuery, "get", recording_get)
    monkeypatch.setattr(_firestore, "raw_stream", recording_raw_stream)
    yield shapes


def needs_composite(shape: Shape) -> bool:
    fields = {f for f, _ in shape.filters} | {f for f, _ in shape.orders}
    ranged = {f for f, op in shape.filters if op not in EQUALITY}
    if len(fields) <= 1:
        return False
    return bool(ranged or shape.orders)  # equality only: served by merging single-field indexes


def covered(shape: Shape, indexes: list[dict[str, Any]]) -> bool:
    equal = {f for f, op in shape.filters if op in EQUALITY}
    ranged = [f for f, op in shape.filters if op not in EQUALITY]
    # A composite index serves its orders in its own directions (the inequality's is ascending).
    tail = list(shape.orders) or [(f, "ASCENDING") for f in ranged[:1]]
    for index in indexes:
        if index["collectionGroup"] != shape.collection:
            continue
        fields = [(f["fieldPath"], f.get("order")) for f in index["fields"]]
        head, rest = fields[: len(equal)], fields[len(equal) :]
        if {f for f, _ in head} == equal and rest[: len(tail)] == tail:
            return True
    return False


def read_filtered_lists(db: firestore.Client, window: Window, now: dt.datetime) -> None:
    """The lists read with filters a caller chooses: the audit log, the exports, the drill-down."""
    exports = FirestoreExportSource(db)
    # GET /audit-log: every combination of its filters, with and without a time range.
    audit_log = FirestoreAuditLog(db)
    for actor, action in ((None, None), ("adam", None), (None, "export"), ("adam", "export")):
        for start in (None, window.start):
            audit_log.page(AuditFilter(actor, action, start, None, None, 5))
    for dataset in DATASETS.values():
        for provider in (None, "pika"):
            scoped = Window(start=window.start, end=window.end, provider=provider)
            exports.count(dataset, scoped)
            list(exports.rows(dataset, scoped))
    # The drill-down: every combination of its filters, a first page and one after a cursor.
    generations = FirestoreGenerations(db)
    for provider, status, code in itertools.product((None, "pika"), (None, "failed"), (None, "x")):
        wanted = GenerationFilter(window.model_copy(update={"provider": provider}), status, code)
        generations.page(wanted, None, 5)
        generations.page(wanted, (now, "queued-1"), 5)


def test_every_query_is_served_by_an_index(
    stack: Stack, db: firestore.Client, recorded: list[Shape]
) -> None:
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    window = Window(start=now - dt.timedelta(days=30), end=now)
    store, alerts = FirestoreStore(db), FirestoreAlertStore(db)
    store.rollups(cover(window.start, window.end))
    store.rollups(cover(window.start, window.end), "event_rollups")
    store.fold(now)
    store.backlog(now)
    # The queue and capacity figures (counts, oldest queued, starts, unstarted ends).
    queue = FirestoreQueue(db)
    db.collection("video_generation_metrics").document("queued-1").set(
        {"status": "queued", "provider": "pika", "createdAt": now, "startedAt": None}
    )
    queue.now(["pika"])
    queue.starts(window.start, window.end, 10)
    queue.arrivals(window.start, window.end, ["pika"])
    queue.unstarted_ends(window.start, window.end)
    queue.capacities()
    store.open_alerts()
    store.user_days(window.start, window.end)
    store.session_events(window.start, window.end)
    alerts.load_rules()
    alerts.load_states()
    alerts.load_instances(open_only=True)
    alerts.load_instances(open_only=False)
    alerts.instances_opened(window.start, window.end)
    alerts.due_notifications(now, 50)
    alerts.deliveries("some-alert")
    alerts.figure("successRate", "provider:pika", "1h", window.start, window.end)
    alerts.rule_runs("successRate", "1h", window.start, window.end)
    digests = FirestoreDigestStore(db)
    digests.subscribers("weekly")
    digests.control_changes(window.start, window.end)
    read_filtered_lists(db, window, now)
    day_source = FirestoreDaySource(db)
    for model, collection, time_field, _ in TABLES.values():
        fields = list(model.model_fields)
        list(day_source.documents(collection, time_field, window.start, window.end, fields))
    day_source.changed_days(window.start)
    # The drift audit's counts (by status, with a rejection that day) and its hour walks.
    day = window.start.replace(hour=0, minute=0)
    db.collection("rejected_generations").document("audit-bad").set(
        {"createdAt": day + dt.timedelta(hours=1), "status": "completed", "reason": "x"}
    )
    for ledger in audit_ledgers("video_generations"):
        differing_hours(store, ledger, day, LedgerAudit())
        list(store.ordered_documents(ledger.source, ledger.time_field, day, window.end))

    spec = json.loads((REPO_ROOT / "firestore.indexes.json").read_text())
    exempt = {
        (o["collectionGroup"], o["fieldPath"]) for o in spec.get("fieldOverrides", [])
        if not o.get("indexes")
    }  # fmt: skip
    shapes = set(recorded)
    assert len(shapes) >= 15  # every code path above ran a query
    assert any(needs_composite(s) for s in shapes)  # and the check is not vacuous
    for shape in shapes:
        for field, _ in (*shape.filters, *shape.orders):
            assert (shape.collection, field) not in exempt, shape
        if needs_composite(shape):
            assert covered(shape, spec["indexes"]), f"no composite index serves {shape}"
    # Nothing declared that no query needs.
    used = [
        i for i in spec["indexes"] if any(covered(s, [i]) for s in shapes if needs_composite(s))
    ]
    assert len(used) == len(spec["indexes"])
