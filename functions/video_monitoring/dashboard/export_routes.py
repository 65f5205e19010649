"""`GET /export`: one dataset over the request's window as a file, streamed (readers; audited,
counted against the exports limit)."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from pydantic import Field

from video_monitoring.core.errors import InvalidArgument
from video_monitoring.core.models import Window
from video_monitoring.dashboard.files import (
    DATASETS,
    FORMATS,
    ArchivedExportSource,
    Dataset,
    ExportSource,
    FileExports,
    before_deadline,
    encode,
    file_name,
    row_of,
)
from video_monitoring.dashboard.http import StreamResponse
from video_monitoring.dashboard.params import Prepared, WindowQuery
from video_monitoring.dashboard.report import report_figures
from video_monitoring.dashboard.routes import Call
from video_monitoring.dashboard.services import ApiServices
from video_monitoring.privacy.pseudonyms import OPTED_OUT
from video_monitoring.privacy.retention import TTL_COLLECTIONS
from video_monitoring.warehouse.nightly import anonymised


class ExportQuery(WindowQuery):
    """Which dataset, in which format (default csv), over the window."""

    dataset: str = Field(json_schema_extra={"enum": list(DATASETS)})
    format: str | None = Field(None, json_schema_extra={"enum": list(FORMATS)})


def export_source(api: ApiServices, config: FileExports) -> ExportSource:
    """Where rows come from: rows older than Firestore keeps come from BigQuery when it is
    configured."""
    if config.archived is None:
        return config.source
    return ArchivedExportSource(
        config.source,
        config.archived,
        lambda: api.retention.raw_horizon(api.clock()),
        frozenset(n for n, d in DATASETS.items() if d.collection in TTL_COLLECTIONS),
    )


def export_target(call: Call) -> str:
    """The audit entry's target: the dataset."""
    query: ExportQuery = call.query
    return query.dataset


def export(config: FileExports, call: Call) -> Prepared:
    """The window checked, then the file to stream."""
    api = call.api
    deadline = api.clock() + config.deadline
    query: ExportQuery = call.query
    source = export_source(api, config)
    # Alert instances do not expire; rows Firestore no longer keeps come from BigQuery when
    # it is configured (otherwise the window is a 400 naming `from`).
    archived = isinstance(source, ArchivedExportSource)
    kept = None if archived else TTL_COLLECTIONS.get(DATASETS[query.dataset].collection)
    window = api.window(call.request.params, kept=kept)
    fmt = query.format or "csv"

    def run() -> StreamResponse:
        call.details.update({"format": fmt, **window.to_json(), "provider": window.provider})
        file = ExportFile(api, config, source, DATASETS[query.dataset], fmt)
        return file.stream(window, call.details, deadline)

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

    def stream(
        self, window: Window, details: dict[str, Any], deadline: dt.datetime
    ) -> StreamResponse:
        """The file's response; a 400 naming `from` when the window holds too many rows."""
        config, dataset, fmt = self._config, self._dataset, self._fmt
        name = dataset.name
        rows = self._source.count(dataset, window)
        details["rows"] = rows
        if rows > config.max_rows:
            raise InvalidArgument(
                f"from: the window holds {rows} {name} rows, more than the export cap of "
                f"{config.max_rows}; narrow the window (or split it)"
            )
        if rows > (cap := config.sync_cap(fmt)):
            raise InvalidArgument(
                f"from: the window holds {rows} {name} rows, more than a {fmt} export encodes "
                f"within the request's deadline ({cap} rows); narrow the window or choose csv"
            )
        # The first page is read before the response starts, so a failing query is an error
        # response rather than a 200 with a cut file.
        opted_out = self._source.opted_out_users()
        rows_read = (
            (doc_id, anonymised(data, OPTED_OUT) if data.get("userId") in opted_out else data)
            for doc_id, data in self._source.rows(dataset, window)
        )
        first = list(itertools.islice(rows_read, 1))
        api = self._api
        chunks = encode(
            dataset,
            fmt,
            before_deadline(
                (row_of(dataset, i, d) for i, d in itertools.chain(first, rows_read)),
                deadline, api.clock, fmt,
            ),
            window,
            report_figures(api.engine, window, api.targets) if fmt == "pdf" else None,
        )  # fmt: skip
        # The first chunk is made before the response starts: a file built whole (xlsx, pdf)
        # that misses the deadline is an error response, never a 200 with a cut file.
        head = next(chunks, b"")
        return StreamResponse(
            FORMATS[fmt], file_name(dataset, fmt, window), itertools.chain([head], chunks)
        )
