"""The drift audit's reads over the in-memory store: counts and ordered documents of its dicts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any

from tests.unit.fakes import FakeStore
from video_monitoring.config import constants
from video_monitoring.ingest.drift_audit import Document, Position, position

SOURCE = "video_generations"


class FakeAuditReads:
    """What `FirestoreStore.count` and `ordered_documents` answer, from a FakeStore's dicts;
    remembers the count queries and the documents streamed."""

    def __init__(self, store: FakeStore) -> None:
        self.store = store
        self.count_queries = 0
        self.streamed = 0

    def _collection(self, name: str) -> Mapping[str, Mapping[str, Any]]:
        store = self.store
        return {
            SOURCE: store.source,
            constants.METRICS: store.metrics,
            constants.REJECTED: store.rejected,
            constants.EVENTS: store.events,
            constants.EVENT_CONTRIBUTIONS: store.event_records,
            constants.REJECTED_EVENTS: store.rejected_events,
        }[name]

    def _inside(
        self, name: str, time_field: str, start: dt.datetime, end: dt.datetime
    ) -> list[Document]:
        docs = [
            (doc_id, data)
            for doc_id, data in self._collection(name).items()
            if isinstance(data.get(time_field), dt.datetime) and start <= data[time_field] < end
        ]
        return sorted(docs, key=lambda doc: position(doc, time_field))

    def count(
        self,
        collection: str,
        time_field: str,
        start: dt.datetime,
        end: dt.datetime,
        equals: tuple[str, str] | None = None,
    ) -> int:
        """Documents in the range (with the field equal to the value)."""
        self.count_queries += 1
        docs = self._inside(collection, time_field, start, end)
        if equals is not None:
            docs = [d for d in docs if d[1].get(equals[0]) == equals[1]]
        return len(docs)

    def ordered_documents(
        self,
        collection: str,
        time_field: str,
        start: dt.datetime,
        end: dt.datetime,
        after: Position | None = None,
        limit: int | None = None,
    ) -> Iterator[Document]:
        """Documents in the range by (time, id), after `after`, at most `limit` (copies)."""
        docs = self._inside(collection, time_field, start, end)
        if after is not None:
            docs = [d for d in docs if position(d, time_field) > after]
        for doc_id, data in docs[:limit]:
            self.streamed += 1
            yield doc_id, dict(data)
