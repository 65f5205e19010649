"""`GET /generations`: the generations behind a figure, filtered and paged by cursor (readers;
audited like an export, since it names users)."""

from __future__ import annotations

from typing import Any

from video_monitoring.core.errors import InvalidArgument
from video_monitoring.core.models import Status
from video_monitoring.dashboard.generation_list import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    Cursor,
    GenerationFilter,
    GenerationList,
    check_error_code,
    cursor_params,
)
from video_monitoring.dashboard.params import Prepared, WindowQuery, int_param
from video_monitoring.dashboard.routes import Call
from video_monitoring.privacy.retention import RAW


class GenerationsQuery(WindowQuery):
    """The window, the filters, the page size and the cursor of a later page."""

    status: Status | None = None
    errorCode: str | None = None
    limit: str | None = None
    cursor: str | None = None


def generations_target(call: Call) -> str:
    """The audit entry's target: the dataset, as an export's."""
    return "generations"


def generations(source: GenerationList, call: Call) -> Prepared:
    """The filters and the cursor checked, then the page to read."""
    api, params = call.api, call.request.params
    query: GenerationsQuery = call.query
    limit = int_param(params, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    # Raw records expire: a window before their horizon would silently miss generations.
    window = api.window(params, kept=RAW)
    error_code = check_error_code(query.errorCode)
    asked = cursor_params(params)
    after = None
    if query.cursor is not None:
        cursor = Cursor.decode(query.cursor, window.provider)
        if cursor.params != asked:
            raise InvalidArgument(
                "cursor: belongs to a list with other window or filter parameters; repeat "
                "them unchanged, or leave cursor out to start again"
            )
        # The window the first page resolved, so a named window does not slide while paging.
        span = {"from": cursor.window.to_json()["from"], "to": cursor.window.to_json()["to"]}
        window = api.window({**span, **_provider(window.provider)}, kept=RAW)
        after = cursor.after
    wanted = GenerationFilter(window, query.status, error_code)

    def run() -> dict[str, Any]:
        call.details.update(
            {**window.to_json(), "provider": window.provider, "status": query.status,
             "errorCode": error_code, "cursor": query.cursor is not None}
        )  # fmt: skip
        body = source.page(wanted, asked, after, limit)
        call.details["rows"] = len(body["generations"])
        return body

    return run


def _provider(provider: str | None) -> dict[str, str]:
    return {} if provider is None else {"provider": provider}
