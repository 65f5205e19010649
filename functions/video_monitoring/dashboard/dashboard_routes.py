"""Custom dashboards over HTTP: `GET /dashboards` (those the caller may see) and
`GET|PUT|DELETE /dashboards/{dashboardId}`: PUT creates (201, `Location`) or replaces (200),
both audited as `dashboard.update`, DELETE as `dashboard.delete` (docs/dashboards.md)."""

from __future__ import annotations

import logging
from typing import Any

from video_monitoring.dashboard.auth import Caller
from video_monitoring.dashboard.board_specs import (
    CHARTS,
    FIGURES,
    MAX_PANELS,
    MAX_PER_OWNER,
    MAX_TITLE,
    Layout,
    parse_layout,
)
from video_monitoring.dashboard.boards import Boards
from video_monitoring.dashboard.http import Response
from video_monitoring.dashboard.params import Prepared
from video_monitoring.dashboard.routes import Call

log = logging.getLogger(__name__)


def _caller(call: Call) -> Caller:
    assert call.caller is not None  # the routes need a role
    return call.caller


def limits() -> dict[str, Any]:
    """The bounds a dashboard is held to, and what a panel may show."""
    return {
        "maxPanels": MAX_PANELS, "maxTitleLength": MAX_TITLE, "maxPerOwner": MAX_PER_OWNER,
        "figures": [{"figure": f, "source": src, "overTime": metric is not None}
                    for f, (src, metric) in FIGURES.items()],
        "charts": list(CHARTS),
    }  # fmt: skip


def dashboards(boards: Boards, call: Call) -> Prepared:
    """GET /dashboards."""
    caller = _caller(call)
    return lambda: {"dashboards": [b.answer(caller) for b in boards.listed(caller)],
                    "limits": limits()}  # fmt: skip


def dashboard(boards: Boards, call: Call) -> Prepared:
    """GET /dashboards/{dashboardId}."""
    caller = _caller(call)
    return lambda: {"dashboard": boards.read(call.path["dashboardId"], caller).answer(caller)}


def layout_body(call: Call, body: dict[str, Any]) -> Layout:
    """PUT /dashboards/{dashboardId}'s body, checked field by field."""
    return parse_layout(body, call.path["dashboardId"])


def board_before(boards: Boards, call: Call) -> dict[str, Any] | None:
    """The dashboard before the change, for the audit entry (None: new, or not the caller's
    to change, whose layout the entry does not copy)."""
    before = boards.before(call.path["dashboardId"], _caller(call))
    return None if before is None else before.answer(_caller(call))


def replace_board(boards: Boards, call: Call) -> Prepared:
    """PUT /dashboards/{dashboardId}: 201 with `Location` when created, 200 when replaced."""
    caller = _caller(call)
    dashboard_id = call.path["dashboardId"]
    boards.admit(dashboard_id, caller)

    def run() -> Response:
        board, created = boards.put(dashboard_id, call.body, caller)
        log.info("dashboard %s %s by %s", dashboard_id, "created" if created else "replaced",
                 call.who)  # fmt: skip
        body = {"dashboard": board.answer(caller)}
        if created:
            return Response(201, body, {"Location": call.request.path.rstrip("/")})
        return Response(200, body)

    return run


def stored_board(response: Response) -> Any:
    """The audit entry's `after`: the dashboard as stored."""
    return response.body["dashboard"]


def delete_board(boards: Boards, call: Call) -> Prepared:
    """DELETE /dashboards/{dashboardId}: 204."""
    caller = _caller(call)
    boards.admit(call.path["dashboardId"], caller, deleting=True)

    def run() -> Response:
        boards.delete(call.path["dashboardId"], caller)
        log.info("dashboard %s deleted by %s", call.path["dashboardId"], call.who)
        return Response(204, None)

    return run
