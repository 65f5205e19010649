"""The BigQuery side of the export, on the real `google-cloud-bigquery` client.

Tables are created on first use from the row models (`bq_rows`), partitioned by day on the
table's time field. Staging tables are per table and day, expire after a day by themselves (so
a crashed run leaves nothing behind for long), and are loaded with newline-delimited JSON
through the resumable upload (the only upload the emulator accepts: EMULATOR-NOTES). The
erasure ledger (warehouse/erasures.py) is a table of the dataset too.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import secrets
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from google.api_core.client_options import ClientOptions
from google.api_core.exceptions import NotFound
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from video_monitoring.alerting.backtest import StoredRun, stored_run
from video_monitoring.alerting.rules import STORED_METRICS
from video_monitoring.config.constants import EVENT_SOURCE_MONITOR, SESSION_EVENT_TYPES
from video_monitoring.config.settings import BigQuerySettings
from video_monitoring.core.models import Window
from video_monitoring.dashboard.files import Dataset
from video_monitoring.ingest.bounds import DEFAULT_BOUNDS, Bounds
from video_monitoring.ingest.monitoring_store import UserActivity
from video_monitoring.ingest.rollup import Granularity
from video_monitoring.privacy.pseudonyms import ANONYMOUS
from video_monitoring.warehouse.archive import (
    Cells,
    cell_sql,
    cells_from_rows,
    event_cell_sql,
    event_cells_from_rows,
    keyed_cell_sql,
    keyed_params,
    points_from_rows,
    recovery_cell_sql,
    trend_sql,
    upgrade_trend_sql,
    user_day_sql,
    user_days_from_rows,
)
from video_monitoring.warehouse.erasures import (
    ERASED_COLUMNS,
    LEDGER,
    LEDGER_LIFETIME,
    ROW_KEY,
    anonymise_statement,
    ledger_key,
)
from video_monitoring.warehouse.nightly import (
    dataset_path,
    day_bounds,
    replace_statements,
    transaction_script,
)
from video_monitoring.warehouse.rows import TABLES, bq_schema, json_columns
from video_monitoring.warehouse.views import view_statements

log = logging.getLogger(__name__)
STAGING_PREFIX = "_staging_"
STAGING_LIFETIME = dt.timedelta(days=1)
# Transient API errors are retried for up to two minutes per call, then the run fails (and is
# recorded as failed) instead of hanging until the function's timeout.
RETRY = bigquery.DEFAULT_RETRY.with_deadline(120)
JOB_TIMEOUT = 600.0
MAX_UPLOADS_IN_FLIGHT = 2
UPLOAD_TIMEOUT = 300.0  # seconds per upload request (a stalled upload fails, not hangs)
EXPORT_PAGE = 5000  # rows per page when /export streams archived rows
# Columns analysts filter on most, per table (BigQuery clusters storage by them).
CLUSTERING: dict[str, list[str]] = {
    "generation_metrics": ["provider", "status"],
    "analytics_events": ["type"],
    "alert_instances": ["ruleId"],
    "system_performance_metrics": ["scope"],
}


def _json_or_none(text: Any) -> Any:
    """A JSON_QUERY result (JSON text, or NULL) as a value."""
    return None if text is None else json.loads(text)


def bigquery_client(settings: BigQuerySettings, default_project: str) -> bigquery.Client:
    """The client (in BIGQUERY_PROJECT, else `default_project`): default credentials in
    production, anonymous against an emulator."""
    project = settings.bigquery_project or default_project
    if settings.bigquery_api_endpoint:
        return bigquery.Client(
            project=project,
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            client_options=ClientOptions(api_endpoint=settings.bigquery_api_endpoint),
        )
    return bigquery.Client(project=project, location=settings.bigquery_location)


def schema_fields(table: str) -> list[bigquery.SchemaField]:
    """The table's BigQuery schema, derived from its row model."""
    model = TABLES[table][0]
    return [
        bigquery.SchemaField(column["name"], column["type"], mode=column["mode"])
        for column in bq_schema(model)
    ]


class BigQueryWarehouse:
    """Warehouse on BigQuery: one dataset, the tables of docs/interfaces.md §8, per-day staging
    tables."""

    def __init__(self, client: bigquery.Client, dataset: str, location: str = "US") -> None:
        self.client = client
        self.dataset = dataset_path(client.project, dataset)
        self.location = location
        self._uploader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bq-upload")
        self._uploads: list[Future[bigquery.LoadJob]] = []
        self._finished_jobs: list[bigquery.LoadJob] = []

    def ensure_tables(self) -> None:
        """Create the dataset and any missing table, and (re)create the BI views (a handful of
        calls, once per day run, so a dataset deleted by hand comes back on the next run)."""
        dataset = bigquery.Dataset(self.dataset)
        dataset.location = self.location
        self.client.create_dataset(dataset, exists_ok=True, retry=RETRY)
        for table, (_, _, time_field, _) in TABLES.items():
            spec = bigquery.Table(f"{self.dataset}.{table}", schema=schema_fields(table))
            spec.time_partitioning = bigquery.TimePartitioning(
                type_=bigquery.TimePartitioningType.DAY, field=time_field
            )
            spec.clustering_fields = CLUSTERING.get(table)
            spec.description = f"Exported daily from Firestore `{TABLES[table][1]}`."
            created = self.client.create_table(spec, exists_ok=True, retry=RETRY)
            self._add_missing_columns(created)
        self._ensure_ledger()
        # One script for the views: a single job, and CREATE OR REPLACE makes it idempotent.
        job = self.client.query(";\n".join(view_statements(self.dataset)), retry=RETRY)
        job.result(retry=RETRY, timeout=JOB_TIMEOUT)

    def _ensure_ledger(self) -> None:
        """Create the erasure ledger unless it exists (NotFound without the dataset)."""
        # Asked first: creating a table in a missing dataset is a 404 on BigQuery but a 500 on
        # the emulator, which the client's retry repeats for two minutes.
        self.client.get_dataset(self.dataset, retry=RETRY)
        spec = bigquery.Table(
            f"{self.dataset}.{LEDGER}",
            schema=[
                bigquery.SchemaField("idHash", "STRING", mode="REQUIRED"),
                bigquery.SchemaField("erasedAt", "TIMESTAMP", mode="REQUIRED"),
            ],
        )
        spec.time_partitioning = bigquery.TimePartitioning(
            type_=bigquery.TimePartitioningType.DAY,
            field="erasedAt",
            expiration_ms=int(LEDGER_LIFETIME.total_seconds() * 1000),
        )
        spec.description = "SHA-256 of user ids erased lately; the export anonymises their rows."
        self.client.create_table(spec, exists_ok=True, retry=RETRY)

    def _add_missing_columns(self, table: bigquery.Table) -> None:
        """A table created by an earlier version gains the columns its row model added since
        (nullable, so the rows already there read them as NULL)."""
        have = {field.name for field in table.schema}
        missing = [f for f in schema_fields(table.table_id) if f.name not in have]
        if missing:
            table.schema = [*table.schema, *missing]
            self.client.update_table(table, ["schema"], retry=RETRY)
            log.info("%s: added columns %s", table.table_id, [f.name for f in missing])

    def new_staging(self, table: str, day: dt.date) -> str:
        """A fresh staging table `_staging_{table}_{YYYYMMDD}_{random}` that expires in a day
        (its own per run, so overlapping runs of one day never share one)."""
        name = f"{STAGING_PREFIX}{table}_{day:%Y%m%d}_{secrets.token_hex(4)}"
        self.client.delete_table(f"{self.dataset}.{name}", not_found_ok=True, retry=RETRY)
        spec = bigquery.Table(f"{self.dataset}.{name}", schema=schema_fields(table))
        spec.expires = dt.datetime.now(dt.UTC) + STAGING_LIFETIME
        self.client.create_table(spec, retry=RETRY)
        return name

    def load(self, staging: str, table: str, ndjson: bytes) -> None:
        """Upload rows to a staging table and start its load job, in the background: the next
        chunk is built while this one travels. At most MAX_UPLOADS_IN_FLIGHT chunks are held
        (memory stays flat whatever the day's size); replace_day waits for every load."""
        while len(self._uploads) >= MAX_UPLOADS_IN_FLIGHT:
            self._finished_jobs.append(self._uploads.pop(0).result())
        self._uploads.append(self._uploader.submit(self._upload, staging, table, ndjson))

    def _upload(self, staging: str, table: str, ndjson: bytes) -> bigquery.LoadJob:
        config = bigquery.LoadJobConfig(
            source_format=bigquery.SourceFormat.NEWLINE_DELIMITED_JSON,
            write_disposition=bigquery.WriteDisposition.WRITE_APPEND,
            schema=schema_fields(table),
        )
        return self.client.load_table_from_file(
            io.BytesIO(ndjson),
            f"{self.dataset}.{staging}",
            job_config=config,
            timeout=UPLOAD_TIMEOUT,
        )

    def wait_for_loads(self) -> None:
        """Wait until every chunk loaded so far is in its staging table (raises if a load
        failed)."""
        jobs = self._finished_jobs + self._settle_uploads()
        self._finished_jobs = []
        for job in jobs:
            job.result(retry=RETRY, timeout=JOB_TIMEOUT)

    def replace_day(self, day: dt.date, staged: Mapping[str, str]) -> None:
        """Wait for every upload and load, then delete the day from every table and insert the
        staged rows, in one transaction."""
        self.wait_for_loads()
        self.run_script(replace_statements(self.dataset, day, staged))

    def run_script(self, statements: list[str]) -> None:
        """Run statements as one transaction and wait for it."""
        job = self.client.query(transaction_script(statements), retry=RETRY)
        job.result(retry=RETRY, timeout=JOB_TIMEOUT)

    def drop(self, staging: str) -> None:
        """Delete a staging table (absent is fine) once no upload to it is in flight, and forget
        its loads (a failed run's loads must not be waited for by the next run)."""
        self._finished_jobs += self._settle_uploads(raise_errors=False)
        self._finished_jobs = [
            job for job in self._finished_jobs if job.destination.table_id != staging
        ]
        self.client.delete_table(f"{self.dataset}.{staging}", not_found_ok=True, retry=RETRY)

    def _settle_uploads(self, raise_errors: bool = True) -> list[bigquery.LoadJob]:
        """Wait for the uploads in flight; their load jobs (a failed upload raises, or is
        dropped when `raise_errors` is off)."""
        uploads, self._uploads = self._uploads, []
        jobs = []
        for upload in uploads:
            error = upload.exception()
            if error is None:
                jobs.append(upload.result())
            elif raise_errors:
                raise error
        return jobs

    def erasure_ledger(self) -> frozenset[str]:
        """The ledger keys of the ids erased lately (none before the ledger exists)."""
        rows = self._rows_of(f"SELECT DISTINCT idHash FROM `{self.dataset}.{LEDGER}`", {})
        return frozenset(str(row["idHash"]) for row in rows)

    def anonymise_day(self, day: dt.date, keys: frozenset[str]) -> int:
        """Anonymise the day's rows whose id has one of these ledger keys; rows anonymised."""
        start, end = day_bounds(day)
        params = {"start": start, "end": end, "keys": sorted(keys)}
        total = 0
        for table in ERASED_COLUMNS:
            time_field = TABLES[table][2]
            in_day = f"`{time_field}` >= @start AND `{time_field}` < @end"
            where = f"{in_day} AND {ROW_KEY} IN UNNEST(@keys)"
            total += self._anonymise(f"{self.dataset}.{table}", table, where, params)
        return total

    def erase_user(self, user_ids: list[str]) -> dict[str, int]:
        """Anonymise the rows of these user ids (raw and pseudonymised) as Firestore's records
        are: first record them in the erasure ledger (so an export in flight cannot bring them
        back), then anonymise the tables holding user ids and every staging table of them (an
        export's, loaded but not yet replaced). Rows anonymised by table, staging tables
        together (a dataset or table not created yet holds none)."""
        anonymised = dict.fromkeys([*ERASED_COLUMNS, "staging"], 0)
        try:
            self._ensure_ledger()
        except NotFound:  # no dataset: nothing was exported, and an export that starts now
            return anonymised  # creates it after the erasure anonymised Firestore
        keys = sorted({ledger_key(user_id) for user_id in user_ids})
        self.query(
            f"INSERT INTO `{self.dataset}.{LEDGER}` (idHash, erasedAt) "
            "SELECT k, CURRENT_TIMESTAMP() FROM UNNEST(@keys) AS k",
            keys=keys,
        )
        params = {"ids": list(user_ids)}
        staging = [t.table_id for t in self.client.list_tables(self.dataset, retry=RETRY)]
        for table in ERASED_COLUMNS:
            where = "userId IN UNNEST(@ids)"
            anonymised[table] = self._anonymise(f"{self.dataset}.{table}", table, where, params)
            for name in staging:
                if name.startswith(f"{STAGING_PREFIX}{table}_"):
                    path = f"{self.dataset}.{name}"
                    anonymised["staging"] += self._anonymise(path, table, where, params)
        return anonymised

    def _anonymise(self, path: str, table: str, where: str, params: Mapping[str, Any]) -> int:
        """Give the matching rows of `path` the erasure's values; how many there were (none
        when the table does not exist, or no longer: a finished export drops its staging)."""
        try:
            (row,) = self.query(f"SELECT COUNT(*) AS n FROM `{path}` WHERE {where}", **params)
            if row["n"]:
                self.query(anonymise_statement(path, table, where), **params)
        except NotFound:
            return 0
        return int(row["n"])

    def trend_points(self, window: Window, granularity: Granularity) -> list[dict[str, Any]]:
        """TrendArchive: the window's trend points from `generation_metrics`
        (warehouse/archive.py); a table not created yet holds nothing."""
        table = f"{self.dataset}.generation_metrics"
        bounds: dict[str, Any] = {"start": window.start, "end": window.end}
        params = bounds | ({"provider": window.provider} if window.provider else {})
        events = upgrade_trend_sql(f"{self.dataset}.analytics_events", granularity)
        with ThreadPoolExecutor(max_workers=2) as pool:
            rows = pool.submit(
                self._rows_of, trend_sql(table, granularity, bool(window.provider)), params
            )
            upgrades = pool.submit(self._rows_of, events, bounds)
            return points_from_rows(rows.result(), window, granularity, upgrades.result())

    def rule_runs(
        self,
        metric: str,
        window: str,
        start: dt.datetime,
        end: dt.datetime,
        kinds: Sequence[str],
    ) -> list[StoredRun]:
        """The stored runs of one rule metric, window and scope kinds in [start, end), as
        `system_performance_metrics` rows hold them (alerting/backtest.py replays them)."""
        if metric not in STORED_METRICS:  # the name goes into a JSON path
            raise ValueError(f"unknown rule metric {metric!r}")
        sql = (
            f"SELECT tick, scope, JSON_QUERY(ruleMeasurements, '$.{metric}') AS measured, "
            f"JSON_QUERY(ruleMetrics, '$.{metric}') AS figure "
            f"FROM `{self.dataset}.system_performance_metrics` WHERE windowName = @window "
            # Rows exported before scopeKind existed: their kind is the scope's prefix (they
            # carry no measurements, so they count as unmeasured runs).
            "AND COALESCE(scopeKind, SPLIT(scope, ':')[SAFE_OFFSET(0)]) IN UNNEST(@kinds) "
            "AND tick >= @start AND tick < @end "
            "ORDER BY tick, scope"
        )
        params = {"window": window, "kinds": list(kinds), "start": start, "end": end}
        return [
            stored_run(
                {
                    "tick": row["tick"],
                    "scope": row["scope"],
                    "ruleMeasurements": {metric: _json_or_none(row["measured"])},
                    "ruleMetrics": {metric: _json_or_none(row["figure"])},
                },
                metric,
            )
            for row in self._rows_of(sql, params)
        ]

    def cells(self, window: Window, bounds: Bounds) -> Cells:
        """TrendArchive: the generation rollup cells of the window, rebuilt from
        `generation_metrics` (warehouse/archive.py); the plain, keyed and recovery counters are
        queried together."""
        table = f"{self.dataset}.generation_metrics"
        span = {"start": window.start, "end": window.end}
        with ThreadPoolExecutor(max_workers=3) as pool:
            plain = pool.submit(self._rows_of, cell_sql(table), span)
            keyed = pool.submit(self._rows_of, keyed_cell_sql(table), span | keyed_params())
            recovery = pool.submit(self._rows_of, recovery_cell_sql(table), span)
            return cells_from_rows(plain.result(), keyed.result() + recovery.result(), bounds)

    def event_cells(self, window: Window, bounds: Bounds) -> Cells:
        """TrendArchive: the event rollup cells of the window, from `analytics_events`."""
        table = f"{self.dataset}.analytics_events"
        rows = self._rows_of(event_cell_sql(table), {"start": window.start, "end": window.end})
        return event_cells_from_rows(rows, bounds)

    def user_days(
        self,
        start: dt.datetime,
        end: dt.datetime,
        excluded: frozenset[str],
        bounds: Bounds = DEFAULT_BOUNDS,
    ) -> list[UserActivity]:
        """TrendArchive: user activity per UTC day from `generation_metrics` and
        `analytics_events` (warehouse/archive.py); `excluded` holds ids as BigQuery stores them (the
        caller adds pseudonyms where the export pseudonymises)."""
        sql = user_day_sql(f"{self.dataset}.generation_metrics", f"{self.dataset}.analytics_events")
        params = {"start": start, "end": end, "excluded": sorted(excluded)}
        return user_days_from_rows(self._rows_of(sql, params), bounds)

    def session_events(
        self, start: dt.datetime, end: dt.datetime, excluded: frozenset[str]
    ) -> list[dict[str, Any]]:
        """TrendArchive: the counted session events of `analytics_events` in [start, end)."""
        placeholders = ", ".join(repr(a) for a in sorted(ANONYMOUS))
        types = ", ".join(repr(t) for t in SESSION_EVENT_TYPES)
        sql = (
            "SELECT type, userId, sessionId, timestamp "
            f"FROM `{self.dataset}.analytics_events` "
            f"WHERE timestamp >= @start AND timestamp < @end AND type IN ({types}) "
            f"AND userId NOT IN ({placeholders}) AND userId NOT IN UNNEST(@excluded) "
            f"AND (source IS NULL OR source != '{EVENT_SOURCE_MONITOR}')"
        )
        params = {"start": start, "end": end, "excluded": sorted(excluded)}
        return [dict(row) for row in self._rows_of(sql, params)]

    def count_rows(self, dataset: Dataset, window: Window) -> int:
        """ArchivedRows: rows of the dataset's table in the window (none before it exists)."""
        table, where, params = self._export_query(dataset, window)
        rows = self._rows_of(f"SELECT COUNT(*) AS n FROM `{table}` {where}", params)
        return int(rows[0]["n"]) if rows else 0

    def archived_rows(
        self, dataset: Dataset, window: Window
    ) -> Iterator[tuple[str, Mapping[str, Any]]]:
        """ArchivedRows: the window's rows of the dataset's table by time then id, streamed
        page by page; JSON text columns (maps) back as maps, so the file reads as Firestore's."""
        table, where, params = self._export_query(dataset, window)
        model, _, time_field, id_column = TABLES[table.rsplit(".", 1)[1]]
        maps = json_columns(model)
        columns = [id_column, *(c for c in dataset.columns if c in model.model_fields)]
        sql = (
            f"SELECT {', '.join(dict.fromkeys(columns))} FROM `{table}` {where} "
            f"ORDER BY {time_field}, {id_column}"
        )
        try:
            result = self._results(sql, params, page_size=EXPORT_PAGE)
        except NotFound:
            return
        for row in result:
            data = dict(row.items())
            for name in maps & data.keys():
                if data[name] is not None:
                    data[name] = json.loads(data[name])
            yield str(data[id_column]), data

    def _export_query(self, dataset: Dataset, window: Window) -> tuple[str, str, dict[str, Any]]:
        """The table of an exported dataset, the window's WHERE clause and its parameters."""
        (table,) = [t for t, spec in TABLES.items() if spec[1] == dataset.collection]
        where = f"WHERE {dataset.time_field} >= @start AND {dataset.time_field} < @end"
        params: dict[str, Any] = {"start": window.start, "end": window.end}
        if window.provider is not None and dataset.provider_field is not None:
            where += f" AND {dataset.provider_field} = @provider"
            params["provider"] = window.provider
        return f"{self.dataset}.{table}", where, params

    def _rows_of(self, sql: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """A query's rows; none when its table has not been created yet."""
        try:
            return self.query(sql, **params)
        except NotFound:
            return []

    def query(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        """Rows of a query or DML statement with named scalar parameters (waits for it)."""
        return [dict(row.items()) for row in self._results(sql, params)]

    def _results(
        self, sql: str, params: Mapping[str, Any], page_size: int | None = None
    ) -> Iterator[Any]:
        """The row iterator of a query with named parameters, once the job is done (its
        pages are fetched as they are iterated)."""
        config = bigquery.QueryJobConfig(query_parameters=[_param(k, v) for k, v in params.items()])
        job = self.client.query(sql, job_config=config, retry=RETRY)
        rows: Iterator[Any] = job.result(retry=RETRY, timeout=JOB_TIMEOUT, page_size=page_size)
        return rows


_KINDS = {bool: "BOOL", int: "INT64", float: "FLOAT64", str: "STRING", dt.datetime: "TIMESTAMP"}


def _param(name: str, value: Any) -> bigquery.ScalarQueryParameter | bigquery.ArrayQueryParameter:
    """A named query parameter; a list is an array of strings."""
    if isinstance(value, list):
        return bigquery.ArrayQueryParameter(name, "STRING", value)
    return bigquery.ScalarQueryParameter(name, _KINDS[type(value)], value)
