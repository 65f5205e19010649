"""`/export`: a window of one dataset as csv, ndjson or json, streamed in pages.

Rows are read from Firestore a page at a time and written out as they come, so memory does not
grow with the row count. Before streaming, an aggregation count checks the row cap (a 400 names
it, rather than a silently cut file). CSV cells that a spreadsheet would run as a formula (a
string starting with `=`, `+`, `-`, `@`, tab or carriage return) are prefixed with `'`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import json
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

from video_monitoring.config import constants
from video_monitoring.core.clock import Clock
from video_monitoring.core.errors import DeadlineExceeded
from video_monitoring.core.models import Window
from video_monitoring.core.values import plain
from video_monitoring.dashboard.report import PdfTable, ReportFigures, pdf_report
from video_monitoring.privacy.pseudonyms import ANONYMOUS, OPTED_OUT, anonymised, pseudonym
from video_monitoring.privacy.retention import TTL_COLLECTIONS

FORMATS = {
    "csv": "text/csv",
    "ndjson": "application/x-ndjson",
    "json": "application/json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}
CHUNK = 64 * 1024
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PAGE = 500


@dataclass(frozen=True)
class Dataset:
    """One exportable collection: where it lives, its time field, its columns."""

    name: str
    collection: str
    time_field: str
    columns: tuple[str, ...]
    provider_field: str | None = None
    pdf_columns: tuple[str, ...] = ()  # the columns a printed page has room for
    tally: str | None = None  # the column whose values the PDF's totals count


DATASETS: dict[str, Dataset] = {
    "generations": Dataset(
        "generations", constants.METRICS, "createdAt",
        ("generationId", "userId", "provider", "model", "status", "userTier", "createdAt",
         "startedAt", "completedAt", "generationSeconds", "queueSeconds", "renderSeconds",
         "attempts", "fallbackFrom", "errorCode", "errorRetryable", "qualityScore", "userRating",
         "costUsd", "outputSeconds", "resolution", "features"),
        provider_field="provider",
        pdf_columns=("createdAt", "provider", "status", "userTier", "generationSeconds",
                     "qualityScore", "userRating", "costUsd"),
        tally="status",
    ),
    "events": Dataset(
        "events", constants.EVENTS, "timestamp",
        ("eventId", "type", "userId", "timestamp", "sessionId", "generationId", "amountUsd",
         "source", "properties"),
        pdf_columns=("timestamp", "type", "userId", "generationId", "amountUsd", "source"),
        tally="type",
    ),
    "alerts": Dataset(
        "alerts", constants.ALERT_INSTANCES, "openedAt",
        ("alertId", "ruleId", "scope", "status", "severity", "metric", "comparator", "threshold",
         "window", "value", "samples", "openedAt", "firedAt", "acknowledgedAt", "acknowledgedBy",
         "resolvedAt", "resolvedBy", "resolution", "level"),
        pdf_columns=("openedAt", "ruleId", "scope", "severity", "status", "value", "threshold",
                     "resolvedAt"),
        tally="status",
    ),
    "system": Dataset(
        "system", constants.SYSTEM_METRICS, "tick",
        ("tick", "windowName", "scope", "windowStart", "windowEnd", "generations", "successRate",
         "generationTimeSeconds", "queueSeconds", "renderSeconds", "errors", "retryRate",
         "fallbackRate", "avgAttempts", "costUsd", "costPerOutputSecondUsd", "throughputPerHour",
         "backlog", "stuckJobs"),
        pdf_columns=("tick", "windowName", "scope", "successRate", "costUsd", "backlog",
                     "stuckJobs"),
        tally="windowName",
    ),
}  # fmt: skip


class ExportSource(Protocol):
    """Where rows come from (Firestore in production, a list in unit tests)."""

    def count(self, dataset: Dataset, window: Window) -> int:
        """Rows of the dataset in the window."""
        ...

    def rows(self, dataset: Dataset, window: Window) -> Iterator[tuple[str, Mapping[str, Any]]]:
        """(document id, fields) of the window's rows, oldest first, read page by page."""
        ...

    def opted_out_users(self) -> frozenset[str]:
        """Users who opted out of analytics: their rows are left out of exports."""
        ...


class ArchivedRows(Protocol):
    """Where a dataset's rows older than Firestore keeps them come from (BigQuery)."""

    def count_rows(self, dataset: Dataset, window: Window) -> int:
        """Archived rows of the dataset in the window."""
        ...

    def archived_rows(
        self, dataset: Dataset, window: Window
    ) -> Iterator[tuple[str, Mapping[str, Any]]]:
        """(id, fields) of the window's archived rows, oldest first, streamed."""
        ...

    def aliases(self, users: frozenset[str]) -> frozenset[str]:
        """The ids these users have in the archive besides their own (their pseudonyms where
        the export pseudonymises)."""
        ...


class ArchivedExportSource:
    """ExportSource over two stores: the part of a window before `horizon()` (the raw
    records' retention horizon) from the archive, the rest from Firestore, oldest first. Only
    the datasets in `archived` are split (alert instances do not expire)."""

    def __init__(
        self,
        recent: ExportSource,
        archive: ArchivedRows,
        horizon: Callable[[], dt.datetime],
        archived: frozenset[str],
    ) -> None:
        self._recent = recent
        self._archive = archive
        self._horizon = horizon
        self._archived = archived

    def _split(self, dataset: Dataset, window: Window) -> tuple[Window | None, Window | None]:
        if dataset.name not in self._archived:
            return None, window
        horizon = max(self._horizon(), window.start)
        old = window.model_copy(update={"end": min(horizon, window.end)})
        recent = window.model_copy(update={"start": horizon})
        return (old if old.start < old.end else None), (
            recent if recent.start < recent.end else None
        )

    def count(self, dataset: Dataset, window: Window) -> int:
        """Archived rows before the horizon plus Firestore's after it."""
        old, recent = self._split(dataset, window)
        return (0 if old is None else self._archive.count_rows(dataset, old)) + (
            0 if recent is None else self._recent.count(dataset, recent)
        )

    def rows(self, dataset: Dataset, window: Window) -> Iterator[tuple[str, Mapping[str, Any]]]:
        """The archive's rows, then Firestore's (each oldest first)."""
        old, recent = self._split(dataset, window)
        if old is not None:
            yield from self._archive.archived_rows(dataset, old)
        if recent is not None:
            yield from self._recent.rows(dataset, recent)

    def opted_out_users(self) -> frozenset[str]:
        """Firestore's opt-outs, with the ids they have in the archive: rows exported before
        a user opted out carry their (pseudonymised) id and are anonymised on the way out."""
        users = self._recent.opted_out_users()
        return users | self._archive.aliases(users)


@dataclass(frozen=True)
class PseudonymisedSource:
    """Firestore's rows with user ids as the BigQuery export writes them: each its keyed
    pseudonym while `key()` gives a key, so in a window across the retention horizon a user's
    recent rows and archived rows carry one id. Opted-out users keep their raw id here (and
    their pseudonyms join `opted_out_users`), so the file anonymises them whichever store a
    row came from."""

    inner: ExportSource
    key: Callable[[], bytes | None]

    def count(self, dataset: Dataset, window: Window) -> int:
        """The inner source's count."""
        return self.inner.count(dataset, window)

    def rows(self, dataset: Dataset, window: Window) -> Iterator[tuple[str, Mapping[str, Any]]]:
        """The inner source's rows, user ids pseudonymised."""
        key = self.key()
        if key is None:
            yield from self.inner.rows(dataset, window)
            return
        kept = ANONYMOUS | self.inner.opted_out_users()
        for doc_id, data in self.inner.rows(dataset, window):
            user = data.get("userId")
            if isinstance(user, str) and user not in kept:
                data = {**data, "userId": pseudonym(user, key)}
            yield doc_id, data

    def opted_out_users(self) -> frozenset[str]:
        """The opted-out users' raw ids and, while pseudonymising, their pseudonyms."""
        users = self.inner.opted_out_users()
        key = self.key()
        return users if key is None else users | {pseudonym(u, key) for u in users}


@dataclass(frozen=True)
class FileExports:
    """What `/export` needs: where rows come from, the most rows one file may hold, the
    archive that answers for rows Firestore no longer keeps, and the request's time budget."""

    source: ExportSource
    max_rows: int = 100_000
    archived: ArchivedRows | None = None
    # The most rows each format encodes within the request's deadline (missing: max_rows).
    sync_rows: Mapping[str, int] = field(default_factory=dict)
    deadline: dt.timedelta = dt.timedelta(seconds=50)

    def sync_cap(self, fmt: str) -> int:
        """The most rows a synchronous export in `fmt` may hold."""
        return min(self.sync_rows.get(fmt, self.max_rows), self.max_rows)


def export_source(exports: FileExports, horizon: Callable[[], dt.datetime]) -> ExportSource:
    """Where a window's rows come from: Firestore, and the archive for the part of a window
    before `horizon()` when one is configured (alert instances do not expire)."""
    if exports.archived is None:
        return exports.source
    expiring = frozenset(n for n, d in DATASETS.items() if d.collection in TTL_COLLECTIONS)
    return ArchivedExportSource(exports.source, exports.archived, horizon, expiring)


def before_deadline(
    rows: Iterable[dict[str, Any]], deadline: dt.datetime, clock: Clock, fmt: str
) -> Iterator[dict[str, Any]]:
    """The rows, stopping with DeadlineExceeded at the first one read after `deadline`.

    Formats built whole before their first byte (xlsx, pdf) answer that as a 503 error; a
    text format already streaming is cut without its last chunk, which HTTP clients report as
    a failed download, never as a complete file."""
    for count, row in enumerate(rows):
        if clock() >= deadline:
            raise DeadlineExceeded(
                f"from: the {fmt} export stopped after {count} rows at the request's deadline; "
                "narrow the window or choose csv"
            )
        yield row


def export_chunks(
    source: ExportSource,
    dataset: Dataset,
    fmt: str,
    window: Window,
    figures: ReportFigures | None,
    guard: Callable[[Iterator[dict[str, Any]]], Iterator[dict[str, Any]]] | None = None,
) -> Iterator[bytes]:
    """The file of a window, chunk by chunk: rows read page by page, opted-out users'
    anonymised, passed through `guard` (a deadline, a count) when given. The first page is
    read now, so a failing query raises before any chunk."""
    opted_out = source.opted_out_users()
    rows_read = (
        (doc_id, anonymised(data, OPTED_OUT) if data.get("userId") in opted_out else data)
        for doc_id, data in source.rows(dataset, window)
    )
    first = list(itertools.islice(rows_read, 1))
    rows: Iterator[dict[str, Any]] = (
        row_of(dataset, i, d) for i, d in itertools.chain(first, rows_read)
    )
    return encode(dataset, fmt, rows if guard is None else guard(rows), window, figures)


def counting(rows: Iterator[dict[str, Any]], counter: list[int]) -> Iterator[dict[str, Any]]:
    """The rows, each counted into counter[0] as it passes."""
    for row in rows:
        counter[0] += 1
        yield row


def row_of(dataset: Dataset, doc_id: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """The exported columns of one document (its id fills a missing id column)."""
    id_column = dataset.columns[0]
    row = {column: plain(data.get(column)) for column in dataset.columns}
    if row.get(id_column) is None and id_column.endswith("Id"):
        row[id_column] = doc_id
    return row


def safe_cell(value: Any) -> str:
    """A CSV cell: nested values as JSON; strings that a spreadsheet would evaluate made inert."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    text = (
        value
        if isinstance(value, str)
        else json.dumps(value, separators=(",", ":"), allow_nan=False)
    )
    return inert(text)


def inert(text: str) -> str:
    """Text a spreadsheet would evaluate, made inert with a leading apostrophe."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def encode(
    dataset: Dataset,
    fmt: str,
    rows: Iterable[dict[str, Any]],
    window: Window | None = None,
    figures: ReportFigures | None = None,
) -> Iterator[bytes]:
    """The file, chunk by chunk, as bytes (text formats in UTF-8); a PDF opens with the
    report of `figures` when given."""
    if fmt == "xlsx":
        yield from _xlsx(dataset, rows)
    elif fmt == "pdf":
        layout = PdfTable(dataset.name, dataset.pdf_columns or dataset.columns[:8], dataset.tally)
        yield from pdf_report(layout, rows, window, figures, _spooled)
    else:
        for text in _text(dataset, fmt, rows):
            yield text.encode()


def _text(dataset: Dataset, fmt: str, rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(dataset.columns)
        for row in rows:
            writer.writerow([safe_cell(row[column]) for column in dataset.columns])
            if buffer.tell() > 64 * 1024:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()
    elif fmt == "ndjson":
        for row in rows:
            yield json.dumps(row, separators=(",", ":"), allow_nan=False) + "\n"
    else:
        yield "["
        for i, row in enumerate(rows):
            yield ("," if i else "") + json.dumps(row, separators=(",", ":"), allow_nan=False)
        yield "]"


def _spooled(write: Callable[[IO[bytes]], None]) -> Iterator[bytes]:
    """Write a file to a temporary file, then hand it out in chunks (and remove it)."""
    with tempfile.TemporaryFile() as spool:
        write(spool)
        spool.seek(0)
        while chunk := spool.read(CHUNK):
            yield chunk


def xlsx_cell(value: Any) -> Any:
    """A worksheet value: numbers and booleans as such, everything else inert text."""
    if value is None or isinstance(value, bool | int | float):
        return value
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return inert(text)


def _xlsx(dataset: Dataset, rows: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    def write(spool: IO[bytes]) -> None:
        book = Workbook(write_only=True)  # rows go to a temporary file as they come
        sheet = book.create_sheet(dataset.name)
        sheet.append(list(dataset.columns))
        try:
            for row in rows:
                cells = []
                for column in dataset.columns:
                    cell = WriteOnlyCell(sheet, value=xlsx_cell(row[column]))
                    if isinstance(cell.value, str):
                        cell.data_type = "s"  # a string, never a formula
                    cells.append(cell)
                sheet.append(cells)
        except BaseException:
            sheet.close()  # its row writer and temporary file, before the error goes up
            raise
        book.save(spool)

    return _spooled(write)


def file_name(dataset: Dataset, fmt: str, window: Window) -> str:
    """`{dataset}_{from}_{to}[_{provider}].{fmt}`, times compact UTC."""
    stamp = "%Y%m%dT%H%MZ"
    parts = [dataset.name, window.start.strftime(stamp), window.end.strftime(stamp)]
    if window.provider and dataset.provider_field:
        parts.append(window.provider)
    return "_".join(parts) + "." + fmt
