"""The nightly BigQuery export (docs/interfaces.md §4, §8): one UTC day of each exported collection.

A day is exported in two phases so a rerun replaces it exactly and a run that dies leaves it
either fully old or fully new:

1. stage: each table's rows are read from Firestore page by page, turned into rows by the
   table's model (`bq_rows`), and loaded in chunks of `EXPORT_LOAD_ROWS` rows into a fresh
   staging table of that day (memory holds one chunk, whatever the day's size);
2. replace: one multi-statement transaction deletes the day from every table and inserts the
   staged rows (partition decorators are not used: EMULATOR-NOTES), anonymising the rows of
   users the erasure ledger names; once it has committed, the rows of users erased while it
   ran are anonymised too, so an erasure during an export is never undone (warehouse/erasures.py
   says how and why that holds for every order).

Documents that do not fit their table are skipped and counted with their reason; users who
opted out of analytics (`analytics_opt_outs/{userId}`) are left out; with
`EXPORT_PSEUDONYMIZE_USERS`, user ids are replaced by a keyed HMAC. Every run is recorded in
`bigquery_export_runs/{day}`.
"""

from __future__ import annotations

import collections
import datetime as dt
import io
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import ValidationError

from video_monitoring.core.errors import ConfigError
from video_monitoring.core.models import describe_validation_error, rfc3339
from video_monitoring.privacy.pseudonyms import OPTED_OUT, anonymised
from video_monitoring.warehouse.erasures import LEDGER, ROW_KEY, select_columns
from video_monitoring.warehouse.rows import TABLES, bq_schema, check_counted, export_line

log = logging.getLogger(__name__)
MAX_REASONS = 20  # distinct skip reasons kept per table and run
_PROJECT = re.compile(r"^[a-z][a-z0-9.:-]{2,62}[a-z0-9]$")
_DATASET = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,1023}$")


class ExportConfigError(ConfigError):
    """The export is misconfigured (nothing was exported)."""


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[midnight, next midnight) of a UTC day."""
    start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    return start, start + dt.timedelta(days=1)


def scheduled_day(schedule_time: dt.datetime) -> dt.date:
    """The UTC day before the schedule time (the nightly run exports yesterday)."""
    if schedule_time.tzinfo is None:
        schedule_time = schedule_time.replace(tzinfo=dt.UTC)
    return (schedule_time.astimezone(dt.UTC) - dt.timedelta(days=1)).date()


def scheduled_days(
    schedule_time: dt.datetime, resettle: int, raw_horizon: dt.datetime | None = None
) -> list[dt.date]:
    """What the nightly run exports: yesterday (always: should Firestore no longer fully keep
    it, export_day refuses it loudly), then the `resettle` days before it again (those
    Firestore still fully keeps), newest first."""
    day = scheduled_day(schedule_time)
    earlier = [day - dt.timedelta(days=back) for back in range(1, resettle + 1)]
    return [day] + [d for d in earlier if raw_horizon is None or day_bounds(d)[0] >= raw_horizon]


# The nightly run also exports again every earlier day with a record changed this recently (two
# nights' worth, so one failed night loses nothing).
CHANGED_LOOKBACK = dt.timedelta(days=2)


def nightly_plan(
    schedule_time: dt.datetime,
    resettle: int,
    raw_horizon: dt.datetime | None,
    changed: Iterable[dt.date],
) -> list[tuple[dt.date, str]]:
    """(day, trigger) of the nightly run, in order: yesterday (`schedule`), the resettled days
    (`resettle`), then every older day with a changed record (`changed`: a late rating, a
    corrected status), newest first; none before the raw horizon (Firestore may have thinned
    it) and none after yesterday (not over yet)."""
    planned = scheduled_days(schedule_time, resettle, raw_horizon)
    plan = [(day, "schedule" if i == 0 else "resettle") for i, day in enumerate(planned)]
    yesterday = scheduled_day(schedule_time)
    late = {
        day
        for day in changed
        if day < yesterday
        and day not in planned
        and (raw_horizon is None or day_bounds(day)[0] >= raw_horizon)
    }
    return plan + [(day, "changed") for day in sorted(late, reverse=True)]


@dataclass
class TableCounts:
    """What one table's export did with the day's documents."""

    rows: int = 0
    skipped: int = 0
    opted_out: int = 0
    reasons: collections.Counter[str] = field(default_factory=collections.Counter)

    def skip(self, reason: str) -> None:
        """Count one skipped document under its reason (distinct reasons are capped)."""
        self.skipped += 1
        if reason in self.reasons or len(self.reasons) < MAX_REASONS:
            self.reasons[reason] += 1
        else:
            self.reasons["other reasons"] += 1

    def to_doc(self) -> dict[str, Any]:
        """The run record's part for this table."""
        return {
            "rows": self.rows,
            "skipped": self.skipped,
            "optedOut": self.opted_out,
            "skipReasons": dict(self.reasons),
        }


@dataclass
class DayRun:
    """One export of one day: its outcome and counts."""

    day: dt.date
    trigger: str
    started_at: dt.datetime
    tables: dict[str, TableCounts] = field(default_factory=dict)
    status: str = "running"
    finished_at: dt.datetime | None = None
    error: str | None = None
    late_erasure_rows: int = 0  # rows of users erased during the replace, anonymised after it

    def to_doc(self) -> dict[str, Any]:
        """The `bigquery_export_runs/{day}` document."""
        return {
            "day": self.day.isoformat(),
            "trigger": self.trigger,
            "status": self.status,
            "startedAt": self.started_at,
            "finishedAt": self.finished_at,
            "error": self.error,
            "tables": {name: counts.to_doc() for name, counts in self.tables.items()},
            "rows": sum(counts.rows for counts in self.tables.values()),
            "lateErasureRows": self.late_erasure_rows,
        }


class DaySource(Protocol):
    """Where the day's documents come from (Firestore, or a list in unit tests)."""

    def documents(
        self,
        collection: str,
        time_field: str,
        start: dt.datetime,
        end: dt.datetime,
        fields: Iterable[str] = (),
    ) -> Iterator[tuple[str, Mapping[str, Any]]]:
        """(document id, fields) with the time field in [start, end), read page by page;
        `fields` (when given) are the only fields needed."""
        ...

    def opted_out_users(self) -> frozenset[str]:
        """User ids that opted out of analytics."""
        ...


class Warehouse(Protocol):
    """The BigQuery side: tables, staging loads and the day's replacement."""

    def ensure_tables(self) -> None:
        """Create the dataset and tables that do not exist yet, and (re)create the BI views."""
        ...

    def new_staging(self, table: str, day: dt.date) -> str:
        """A fresh, empty staging table for the table's day; returns its name."""
        ...

    def load(self, staging: str, table: str, ndjson: bytes) -> None:
        """Append newline-delimited JSON rows to a staging table."""
        ...

    def replace_day(self, day: dt.date, staged: Mapping[str, str]) -> None:
        """In one transaction: delete the day from each table and insert its staging rows,
        anonymising those of every user the erasure ledger holds (as the transaction reads it)."""
        ...

    def erasure_ledger(self) -> frozenset[str]:
        """The keys (`erasures.ledger_key`) of the ids erased recently (erasures.LEDGER)."""
        ...

    def anonymise_day(self, day: dt.date, keys: frozenset[str]) -> int:
        """Anonymise the day's rows whose id has one of these ledger keys; rows anonymised."""
        ...

    def drop(self, staging: str) -> None:
        """Delete a staging table (absent is fine)."""
        ...


class RunLog(Protocol):
    """Where runs are recorded."""

    def record(self, run: DayRun) -> None:
        """Write the run's current state."""
        ...


@dataclass(frozen=True)
class ExportOptions:
    """How one day's export runs: what triggered it, the key that pseudonymises user ids (None:
    kept as they are), rows per load job, and since when Firestore keeps every raw record (None:
    always; an earlier day is refused)."""

    trigger: str
    pseudonym_key: bytes | None = None
    load_rows: int = 10_000
    raw_horizon: dt.datetime | None = None


def export_day(
    source: DaySource,
    warehouse: Warehouse,
    day: dt.date,
    options: ExportOptions,
    *,
    now: Callable[[], dt.datetime],
    runs: RunLog,
) -> DayRun:
    """Export one UTC day of every table; replaces the day in BigQuery atomically. Raises when
    the export fails (the run is recorded as failed first, and the day is left as it was), and
    refuses a day starting before `raw_horizon` (Firestore's TTL may have removed part of it)."""
    raw_horizon = options.raw_horizon
    if raw_horizon is not None and day_bounds(day)[0] < raw_horizon:
        raise ExportConfigError(
            f"{day.isoformat()}: Firestore no longer keeps all of this day's raw records (kept "
            f"since {rfc3339(raw_horizon)}); re-exporting it would replace BigQuery's full copy "
            "with what is left"
        )
    run = DayRun(day=day, trigger=options.trigger, started_at=now())
    runs.record(run)
    staged: dict[str, str] = {}
    try:
        warehouse.ensure_tables()
        opted_out = source.opted_out_users()
        start, end = day_bounds(day)
        for table, (model, collection, time_field, _) in TABLES.items():
            staging = warehouse.new_staging(table, day)
            staged[table] = staging
            docs = source.documents(collection, time_field, start, end, list(model.model_fields))
            try:
                run.tables[table] = _stage(warehouse, table, staging, docs, opted_out, options)
            finally:
                close = getattr(docs, "close", None)
                if close is not None:
                    close()  # stop any reading ahead (threads, streams) on every outcome
        # The ledger before and after the replace: ids erased in between may be missing from
        # what the replace read, so their rows of the day are anonymised now (erasures.py).
        erased = warehouse.erasure_ledger()
        warehouse.replace_day(day, staged)
        late = warehouse.erasure_ledger() - erased
        if late:
            run.late_erasure_rows = warehouse.anonymise_day(day, late)
    except Exception as error:
        run.status, run.error, run.finished_at = "failed", _describe(error), now()
        runs.record(run)
        raise
    finally:
        for staging in staged.values():
            _drop_quietly(warehouse, staging)
    run.status, run.finished_at = "succeeded", now()
    runs.record(run)
    return run


def _stage(
    warehouse: Warehouse,
    table: str,
    staging: str,
    docs: Iterator[tuple[str, Mapping[str, Any]]],
    opted_out: frozenset[str],
    options: ExportOptions,
) -> TableCounts:
    """Turn the documents into rows and load them in chunks; returns the table's counts."""
    counts = TableCounts()
    chunk = io.BytesIO()
    pending = 0
    for doc_id, data in docs:
        try:
            check_counted(table, data)
            if data.get("userId") in opted_out:
                counts.opted_out += 1
                data = anonymised(data, OPTED_OUT)
            line = export_line(table, doc_id, data, options.pseudonym_key)
        except ValidationError as error:
            counts.skip(describe_validation_error(error))
            continue
        chunk.write(line)
        chunk.write(b"\n")
        pending += 1
        if pending >= options.load_rows:
            warehouse.load(staging, table, chunk.getvalue())
            counts.rows += pending
            chunk, pending = io.BytesIO(), 0
    if pending:
        warehouse.load(staging, table, chunk.getvalue())
        counts.rows += pending
    return counts


def _drop_quietly(warehouse: Warehouse, staging: str) -> None:
    try:
        warehouse.drop(staging)
    except Exception as error:  # a leftover staging table expires by itself
        log.warning("could not drop staging table %s: %s", staging, _describe(error))


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:1000]


def replace_statements(dataset: str, day: dt.date, staged: Mapping[str, str]) -> list[str]:
    """The statements replacing a day in each table from its staging table (explicit columns,
    literal day bounds: the day is a date, never user text); rows of ids in the erasure ledger
    are inserted anonymised."""
    start, end = day_bounds(day)
    bounds = f"TIMESTAMP '{rfc3339(start)}'", f"TIMESTAMP '{rfc3339(end)}'"
    erased = f"{ROW_KEY} IN (SELECT idHash FROM `{dataset}.{LEDGER}`)"
    statements: list[str] = []
    for table, staging in staged.items():
        model, _, time_field, _ = TABLES[table]
        names = [column["name"] for column in bq_schema(model)]
        columns = ", ".join(f"`{name}`" for name in names)
        statements.append(
            f"DELETE FROM `{dataset}.{table}` "
            f"WHERE `{time_field}` >= {bounds[0]} AND `{time_field}` < {bounds[1]}"
        )
        statements.append(
            f"INSERT INTO `{dataset}.{table}` ({columns}) "
            f"SELECT {select_columns(table, names, erased)} FROM `{dataset}.{staging}`"
        )
    return statements


def transaction_script(statements: list[str]) -> str:
    """One multi-statement transaction: all statements take effect, or none."""
    return "BEGIN TRANSACTION;\n" + "".join(f"{s};\n" for s in statements) + "COMMIT TRANSACTION;"


def dataset_path(project: str, dataset: str) -> str:
    """`project.dataset`, after checking both are plain identifiers (they end up in SQL)."""
    if not _PROJECT.fullmatch(project):
        raise ExportConfigError(f"BIGQUERY_PROJECT {project!r} is not a project id")
    if not _DATASET.fullmatch(dataset):
        raise ExportConfigError(
            f"BIGQUERY_DATASET {dataset!r} must be letters, digits and underscores"
        )
    return f"{project}.{dataset}"
