"""Custom dashboards on Firestore: `dashboards/{dashboardId}`, each change decided and written in
one transaction with the caller's count of dashboards (single-field index on `owner`)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from video_monitoring.adapters._firestore import FirestoreAdapter
from video_monitoring.config import constants
from video_monitoring.core.errors import InvalidArgument
from video_monitoring.dashboard.board_specs import (
    MAX_PER_OWNER,
    MAX_TITLE,
    Board,
    Layout,
    parse_panel,
)
from video_monitoring.dashboard.boards import Change

log = logging.getLogger(__name__)
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def board_of(dashboard_id: str, doc: dict[str, Any]) -> Board:
    """A stored dashboard. A panel that no longer validates (a figure since withdrawn) is left
    out and logged, never the dashboard: its owner and sharing always hold."""
    panels = []
    for i, panel in enumerate(doc.get("panels") or []):
        try:
            panels.append(parse_panel(f"panels[{i}]", panel))
        except InvalidArgument as error:
            log.warning("dashboard %s: %s", dashboard_id, error)
    title = str(doc.get("title") or "").strip()[:MAX_TITLE] or dashboard_id
    owner = str(doc.get("owner") or "")
    layout = Layout(title, doc.get("shared") is True, tuple(panels))
    return Board(dashboard_id, owner, layout, doc.get("createdAt") or EPOCH,
                 doc.get("updatedAt") or EPOCH, str(doc.get("updatedBy") or owner))  # fmt: skip


class FirestoreBoardStore(FirestoreAdapter):
    """BoardStore on Firestore."""

    def _collection(self) -> Any:
        return self.client.collection(constants.DASHBOARDS)

    def get(self, dashboard_id: str) -> Board | None:
        """One dashboard, or None."""
        snap = self._collection().document(dashboard_id).get()
        return board_of(snap.id, snap.to_dict() or {}) if snap.exists else None

    def readable(self, uid: str) -> list[Board]:
        """The dashboards `uid` owns (at most MAX_PER_OWNER) and every shared one."""
        found: dict[str, Board] = {}
        owned = self._collection().where(filter=FieldFilter("owner", "==", uid))
        shared = self._collection().where(filter=FieldFilter("shared", "==", True))
        for query in (owned.limit(MAX_PER_OWNER + 1), shared):
            for snap in query.stream():
                found[snap.id] = board_of(snap.id, snap.to_dict() or {})
        return list(found.values())

    def change(self, dashboard_id: str, uid: str, change: Change) -> Board:
        """Store what `change` decides, read and written in one transaction."""
        ref = self._collection().document(dashboard_id)
        owned_query = self._collection().where(filter=FieldFilter("owner", "==", uid))
        result: list[Board] = []

        @firestore.transactional
        def run(transaction: firestore.Transaction) -> None:
            snap = ref.get(transaction=transaction)
            stored = board_of(snap.id, snap.to_dict() or {}) if snap.exists else None
            owned = sum(1 for _ in transaction.get(owned_query.limit(MAX_PER_OWNER + 1)))
            board = change(stored, owned)
            transaction.set(ref, board.to_doc())
            result[:] = [board]

        run(self.client.transaction())
        return result[0]

    def remove(self, dashboard_id: str, check: Callable[[Board | None], None]) -> None:
        """Delete the dashboard once `check` passed on it, in one transaction."""
        ref = self._collection().document(dashboard_id)

        @firestore.transactional
        def run(transaction: firestore.Transaction) -> None:
            snap = ref.get(transaction=transaction)
            check(board_of(snap.id, snap.to_dict() or {}) if snap.exists else None)
            transaction.delete(ref)

        run(self.client.transaction())
