"""Custom dashboards in a dict, as `dashboards` holds them (BoardStore)."""

from __future__ import annotations

from collections.abc import Callable

from video_monitoring.dashboard.board_specs import Board
from video_monitoring.dashboard.boards import Change


class DictBoards:
    """BoardStore over a dict; a change or removal applies only if its decision raised nothing,
    as the transaction does."""

    def __init__(self) -> None:
        self.boards: dict[str, Board] = {}

    def get(self, dashboard_id: str) -> Board | None:
        return self.boards.get(dashboard_id)

    def readable(self, uid: str) -> list[Board]:
        return [b for b in self.boards.values() if b.owner == uid or b.layout.shared]

    def change(self, dashboard_id: str, uid: str, change: Change) -> Board:
        owned = sum(1 for b in self.boards.values() if b.owner == uid)
        board = change(self.boards.get(dashboard_id), owned)
        self.boards[dashboard_id] = board
        return board

    def remove(self, dashboard_id: str, check: Callable[[Board | None], None]) -> None:
        check(self.boards.get(dashboard_id))
        self.boards.pop(dashboard_id, None)
