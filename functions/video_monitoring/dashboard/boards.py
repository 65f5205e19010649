"""The custom dashboards service: list, read, create or replace, and delete, each decided for the
caller (board_specs.py's rules) inside the store's transaction, so two requests never both pass
a check that only one of them may (the per-owner cap, an owner's replace racing a delete)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from video_monitoring.core.clock import Clock
from video_monitoring.core.errors import Conflict, NotFound, PermissionDenied
from video_monitoring.dashboard.auth import Caller
from video_monitoring.dashboard.board_specs import (
    MAX_PER_OWNER,
    Board,
    Layout,
    editable,
    visible,
)

# Given the stored dashboard (None: none) and how many the caller owns, the one to store.
Change = Callable[[Board | None, int], Board]


class BoardStore(Protocol):
    """Where dashboards are kept (adapters/firestore_dashboards.py)."""

    def get(self, dashboard_id: str) -> Board | None:
        """One dashboard, or None."""
        ...

    def readable(self, uid: str) -> list[Board]:
        """The dashboards `uid` owns and every shared one."""
        ...

    def change(self, dashboard_id: str, uid: str, change: Change) -> Board:
        """Store what `change` decides from the stored dashboard and `uid`'s count, in one
        transaction; what `change` raises aborts it."""
        ...

    def remove(self, dashboard_id: str, check: Callable[[Board | None], None]) -> None:
        """Delete the dashboard once `check` passed on it, in one transaction."""
        ...


def _missing(dashboard_id: str) -> NotFound:
    return NotFound(f"dashboardId: no dashboard {dashboard_id!r} you can see")


class Boards:
    """Custom dashboards as the API serves them."""

    def __init__(self, store: BoardStore, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def listed(self, caller: Caller) -> list[Board]:
        """Every dashboard the caller may see, by title then id."""
        seen = [b for b in self.store.readable(caller.uid) if visible(b, caller)]
        return sorted(seen, key=lambda b: (b.layout.title.casefold(), b.dashboard_id))

    def read(self, dashboard_id: str, caller: Caller) -> Board:
        """One dashboard; a 404 when it is missing or another user's private one."""
        board = self.store.get(dashboard_id)
        if board is None or not visible(board, caller):
            raise _missing(dashboard_id)
        return board

    def before(self, dashboard_id: str, caller: Caller) -> Board | None:
        """The stored dashboard if the caller may edit it (what an audit entry may keep)."""
        board = self.store.get(dashboard_id)
        return board if board is not None and editable(board, caller) else None

    def admit(self, dashboard_id: str, caller: Caller, deleting: bool = False) -> None:
        """Refuse, before anything is recorded, a change the caller may not make to the
        dashboard as stored now (the change checks again in its transaction)."""
        _check(dashboard_id, self.store.get(dashboard_id), caller, deleting)

    def put(self, dashboard_id: str, layout: Layout, caller: Caller) -> tuple[Board, bool]:
        """Create the dashboard (the caller owns it) or replace its layout (the owner stays);
        the board stored and whether it was created. A 403 for a dashboard the caller may not
        edit, a 409 for a new one past MAX_PER_OWNER."""
        now = self.clock()
        created = [False]

        def change(stored: Board | None, owned: int) -> Board:
            _check(dashboard_id, stored, caller, deleting=False)
            if stored is not None:
                return Board(dashboard_id, stored.owner, layout, stored.created_at, now,
                             caller.uid)  # fmt: skip
            if owned >= MAX_PER_OWNER:
                raise Conflict(f"dashboardId: you own {owned} dashboards, the most one user "
                               "may; delete one first")  # fmt: skip
            created[0] = True
            return Board(dashboard_id, caller.uid, layout, now, now, caller.uid)

        board = self.store.change(dashboard_id, caller.uid, change)
        return board, created[0]

    def delete(self, dashboard_id: str, caller: Caller) -> None:
        """Delete a dashboard the caller may edit: a 404 when they cannot see it, a 403 when
        they may see but not edit it."""
        self.store.remove(dashboard_id, lambda stored: _check(dashboard_id, stored, caller, True))


def _check(dashboard_id: str, stored: Board | None, caller: Caller, deleting: bool) -> None:
    """A 404 for deleting what the caller cannot see; a 403 for changing a stored dashboard
    they may not edit (for a PUT, also another user's private one: ids are one namespace)."""
    if stored is None or (deleting and not visible(stored, caller)):
        if deleting:
            raise _missing(dashboard_id)
        return
    if not editable(stored, caller):
        raise PermissionDenied(
            f"dashboardId: {dashboard_id!r} is another user's; only its owner (and admins, for "
            "a shared one) may change or delete it"
        )
