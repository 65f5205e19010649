"""`GET /export`: one dataset over the request's window as a file, streamed, or a 202 naming a
background job when the window holds more rows than its format encodes within the request
(readers; audited, counted against the exports limit)."""

from __future__ import annotations

import datetime as dt
import functools
import itertools
from typing import Any

from pydantic import Field

from video_monitoring.core.errors import InvalidArgument
from video_monitoring.core.models import Window
from video_monitoring.dashboard.export_job_routes import queued_response
from video_monitoring.dashboard.export_jobs import JobRequest
from video_monitoring.dashboard.files import (
    DATASETS,
    FORMATS,
    Dataset,
    ExportSource,
    FileExports,
    before_deadline,
    export_chunks,
    export_source,
    file_name,
)
from video_monitoring.dashboard.http import Response, StreamResponse
from video_monitoring.dashboard.params import Prepared, WindowQuery
from video_monitoring.dashboard.report import report_figures
from video_monitoring.dashboard.routes import Call
from video_monitoring.dashboard.services import ApiServices
from video_monitoring.privacy.retention import TTL_COLLECTIONS


class ExportQuery(WindowQuery):
    """Which dataset, in which format (default csv), over the window."""

    dataset: str = Field(json_schema_extra={"enum": list(DATASETS)})
    format: str | None = Field(None, json_schema_extra={"enum": list(FORMATS)})


def export_target(call: Call) -> str:
    """The audit entry's target: the dataset."""
    query: ExportQuery = call.query
    return query.dataset


def export(config: FileExports, call: Call) -> Prepared:
    """The window checked, then the file to stream (or the job to queue)."""
    api = call.api
    deadline = api.clock() + config.deadline
    query: ExportQuery = call.query
    source = export_source(config, lambda: api.retention.raw_horizon(api.clock()))
    # Alert instances do not expire; rows Firestore no longer keeps come from BigQuery when
    # it is configured (otherwise the window is a 400 naming `from`).
    archived = config.archived is not None
    kept = None if archived else TTL_COLLECTIONS.get(DATASETS[query.dataset].collection)
    window = api.window(call.request.params, kept=kept)
    fmt = query.format or "csv"

    def run() -> StreamResponse | Response:
        call.details.update({"format": fmt, **window.to_json(), "provider": window.provider})
        file = ExportFile(api, config, source, DATASETS[query.dataset], fmt)
        return file.answer(call, window, deadline)

    return run


class ExportFile:
    """One dataset in one format from one source, within the export's limits."""

    def __init__(
        self,
        api: ApiServices,
        config: FileExports,
        source: ExportSource,
        dataset: Dataset,
        fmt: str,
    ) -> None:
        self._api, self._config, self._source = api, config, source
        self._dataset, self._fmt = dataset, fmt

    def answer(
        self, call: Call, window: Window, deadline: dt.datetime
    ) -> StreamResponse | Response:
        """The file's response, a 202 naming a background job when the window holds more rows
        than the format encodes in time, or a 400 naming `from` when it holds too many."""
        config, dataset, fmt, api = self._config, self._dataset, self._fmt, self._api
        details: dict[str, Any] = call.details
        name = dataset.name
        rows = self._source.count(dataset, window)
        details["rows"] = rows
        if rows > config.max_rows:
            raise InvalidArgument(
                f"from: the window holds {rows} {name} rows, more than the export cap of "
                f"{config.max_rows}; narrow the window (or split it)"
            )
        cap = config.sync_cap(fmt)
        if rows > cap and api.jobs is not None and call.caller is not None:
            # Too large to encode within the request: a background job writes the file.
            caller = call.caller
            asked = JobRequest(caller.uid, caller.role, name, fmt, window, rows)
            response = queued_response(api.jobs, asked, api.clock())
            details["jobId"] = response.body["jobId"]
            return response
        if rows > cap:
            raise InvalidArgument(
                f"from: the window holds {rows} {name} rows, more than a {fmt} export encodes "
                f"within the request's deadline ({cap} rows); narrow the window or choose csv"
            )
        # The first page is read before the response starts, so a failing query is an error
        # response rather than a 200 with a cut file.
        figures = report_figures(api.engine, window, api.targets) if fmt == "pdf" else None
        guard = functools.partial(before_deadline, deadline=deadline, clock=api.clock, fmt=fmt)
        chunks = export_chunks(self._source, dataset, fmt, window, figures, guard=guard)
        # The first chunk is made before the response starts: a file built whole (xlsx, pdf)
        # that misses the deadline is an error response, never a 200 with a cut file.
        head = next(chunks, b"")
        return StreamResponse(
            FORMATS[fmt], file_name(dataset, fmt, window), itertools.chain([head], chunks)
        )
