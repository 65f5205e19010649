"""A generation source in memory for the drill-down, filtered and ordered like Firestore's."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from video_monitoring.dashboard.generation_list import GenerationFilter, Position


class ListGenerations:
    """Generation records by id; pages read newest first (createdAt, then id, descending)."""

    def __init__(self, docs: list[tuple[str, dict[str, Any]]] | None = None) -> None:
        self.docs = dict(docs or [])
        self.opted_out: set[str] = set()
        self.reads = 0

    def page(
        self, wanted: GenerationFilter, after: Position | None, limit: int
    ) -> Sequence[tuple[str, Mapping[str, Any]]]:
        window = wanted.window
        equal = {
            "provider": window.provider,
            "status": wanted.status,
            "errorCode": wanted.error_code,
        }
        found = [
            (doc_id, data)
            for doc_id, data in self.docs.items()
            if window.start <= data["createdAt"] < window.end
            and all(v is None or data.get(k) == v for k, v in equal.items())
            and (after is None or (data["createdAt"], doc_id) < after)
        ]
        found.sort(key=lambda item: (item[1]["createdAt"], item[0]), reverse=True)
        self.reads += 1
        return found[:limit]

    def opted_out_users(self) -> frozenset[str]:
        return frozenset(self.opted_out)
