"""Reading the generation records for the drill-down: one page of a window's records, filtered
by provider, status and error code, newest first (composite indexes in firestore.indexes.json)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from video_monitoring.adapters._firestore import FirestoreAdapter, Paging, opted_out_users, paged
from video_monitoring.config import constants
from video_monitoring.dashboard.generation_list import GenerationFilter, Position

TIME_FIELD = "createdAt"


class FirestoreGenerations(FirestoreAdapter):
    """GenerationSource on the metrics collection (what the exports read: erased users are
    already anonymous there)."""

    def page(
        self, wanted: GenerationFilter, after: Position | None, limit: int
    ) -> Sequence[tuple[str, Mapping[str, Any]]]:
        """At most `limit` matching records after `after`, createdAt then id descending."""
        window = wanted.window
        query = (
            self.client.collection(constants.METRICS)
            .where(filter=FieldFilter(TIME_FIELD, ">=", window.start))
            .where(filter=FieldFilter(TIME_FIELD, "<", window.end))
        )
        equal = {
            "provider": window.provider,
            "status": wanted.status,
            "errorCode": wanted.error_code,
        }
        for field, value in equal.items():
            if value is not None:
                query = query.where(filter=FieldFilter(field, "==", value))
        query = query.order_by(TIME_FIELD, direction=firestore.Query.DESCENDING).order_by(
            "__name__", direction=firestore.Query.DESCENDING
        )
        paging = Paging(TIME_FIELD, limit, after=after, limit=limit, kind="generation_list_reads")
        return list(paged(self.client, query, paging))

    def opted_out_users(self) -> frozenset[str]:
        """Users who opted out of analytics."""
        return opted_out_users(self.client)
