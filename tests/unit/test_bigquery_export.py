"""The export's day logic with small fakes: chunked loads, skips with reasons, opted-out users,
failure recording, the replacement statements, settings, and the command line's checks."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import pytest

from tests.unit.test_bq_rows import hmac_sha256
from video_monitoring.config.settings import BigQuerySettings
from video_monitoring.core.errors import ConfigError
from video_monitoring.runtime import cli
from video_monitoring.warehouse.nightly import (
    DayRun,
    ExportConfigError,
    ExportOptions,
    TableCounts,
    dataset_path,
    day_bounds,
    export_day,
    nightly_plan,
    replace_statements,
    scheduled_day,
    scheduled_days,
    transaction_script,
)
from video_monitoring.warehouse.rows import TABLES

DAY = dt.date(2026, 11, 20)
START = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)


def generation(i: int, user: str = "u1") -> tuple[str, dict[str, Any]]:
    return f"g{i}", {
        "userId": user,
        "provider": "runway",
        "status": "completed",
        "userTier": "free",
        "createdAt": START + dt.timedelta(minutes=i),
        "costUsd": 0.5,
        "features": ["hd_export"],
    }


class FakeSource:
    def __init__(self, docs: dict[str, list[tuple[str, dict[str, Any]]]], opted: set[str]):
        self.docs, self.opted = docs, opted
        self.asked: list[tuple[str, str, dt.datetime, dt.datetime]] = []

    def documents(
        self,
        collection: str,
        time_field: str,
        start: dt.datetime,
        end: dt.datetime,
        fields: Iterable[str] = (),
    ) -> Iterator[tuple[str, Mapping[str, Any]]]:
        self.asked.append((collection, time_field, start, end))
        assert time_field in fields
        return iter(self.docs.get(collection, []))

    def opted_out_users(self) -> frozenset[str]:
        return frozenset(self.opted)


class FakeWarehouse:
    def __init__(self, fail_on_replace: bool = False) -> None:
        self.loads: list[tuple[str, list[dict[str, Any]]]] = []
        self.replaced: list[tuple[dt.date, dict[str, str]]] = []
        self.dropped: list[str] = []
        self.fail_on_replace = fail_on_replace

    def ensure_tables(self) -> None:
        pass

    def new_staging(self, table: str, day: dt.date) -> str:
        return f"stage_{table}"

    def load(self, staging: str, table: str, ndjson: bytes) -> None:
        rows = [json.loads(line) for line in io.BytesIO(ndjson)]
        self.loads.append((staging, rows))

    def replace_day(self, day: dt.date, staged: Mapping[str, str]) -> None:
        if self.fail_on_replace:
            raise RuntimeError("transaction aborted")
        self.replaced.append((day, dict(staged)))

    def erasure_ledger(self) -> frozenset[str]:
        return frozenset()

    def anonymise_day(self, day: dt.date, keys: frozenset[str]) -> int:
        raise AssertionError("no erasure happened during the export")

    def drop(self, staging: str) -> None:
        self.dropped.append(staging)


class Runs:
    def __init__(self) -> None:
        self.states: list[dict[str, Any]] = []

    def record(self, run: DayRun) -> None:
        self.states.append(run.to_doc())


def run_export(source: FakeSource, warehouse: FakeWarehouse, **options: Any) -> tuple[DayRun, Runs]:
    runs = Runs()
    run = export_day(
        source, warehouse, DAY, ExportOptions("test", **options), now=lambda: START, runs=runs
    )
    return run, runs


def test_rows_are_loaded_in_chunks_and_the_day_replaced_once() -> None:
    source = FakeSource({"video_generation_metrics": [generation(i) for i in range(7)]}, set())
    warehouse = FakeWarehouse()
    run, runs = run_export(source, warehouse, load_rows=3)
    sizes = [len(rows) for staging, rows in warehouse.loads]
    assert sizes == [3, 3, 1]
    assert [row["generationId"] for _, rows in warehouse.loads for row in rows] == [
        f"g{i}" for i in range(7)
    ]
    assert warehouse.loads[0][1][0]["createdAt"] == "2026-11-20T00:00:00Z"
    assert warehouse.replaced == [(DAY, {t: f"stage_{t}" for t in TABLES})]
    assert sorted(warehouse.dropped) == sorted(f"stage_{t}" for t in TABLES)
    assert run.tables["generation_metrics"].rows == 7
    assert [s["status"] for s in runs.states] == ["running", "succeeded"]
    assert runs.states[-1]["rows"] == 7
    end = START + dt.timedelta(days=1)
    assert ("video_generation_metrics", "createdAt", START, end) in source.asked
    assert ("system_performance_metrics", "tick", START, end) in source.asked


def test_bad_documents_are_skipped_with_their_reason_and_opted_out_users_anonymised() -> None:
    bad = ("g-bad", {**generation(1)[1], "status": 5})
    nan = ("g-nan", {**generation(2)[1], "costUsd": float("nan")})
    docs = [generation(0), bad, nan, generation(3, user="quiet")]
    events = [
        ("e1", {"type": "video_viewed", "userId": "quiet", "timestamp": START,
                "sessionId": "s-9", "properties": {"page": "home"}}),
        ("e2", {"type": "feature_used", "userId": "quiet", "timestamp": START,
                "properties": {"feature": "hd_export", "email": "q@example.com"}}),
        # Rejected by the pipeline (counted nowhere), so not exported either.
        ("e3", {"type": "premium_upgrade", "userId": "u1", "timestamp": START}),
        ("e4", {"type": "Not A Type", "userId": "u1", "timestamp": START}),
        # The monitor's own lifecycle events are exported as they are.
        ("e5", {"type": "generation_requested", "userId": "u1", "timestamp": START,
                "source": "monitor", "properties": {"provider": "pika"}}),
    ]  # fmt: skip
    source = FakeSource({"video_generation_metrics": docs, "analytics_events": events}, {"quiet"})
    warehouse = FakeWarehouse()
    run, runs = run_export(source, warehouse, pseudonym_key=b"k")
    counts = run.tables["generation_metrics"]
    assert (counts.rows, counts.skipped, counts.opted_out) == (2, 2, 1)
    assert any("status" in reason for reason in counts.reasons)
    assert counts.reasons["costUsd: Input should be a finite number"] == 1
    event_counts = run.tables["analytics_events"]
    assert (event_counts.rows, event_counts.skipped, event_counts.opted_out) == (3, 2, 2)
    assert any("amountUsd is required" in reason for reason in event_counts.reasons)
    assert runs.states[-1]["tables"]["generation_metrics"]["skipped"] == 2
    rows = {str(row.get("generationId") or row.get("eventId")): row
            for _, chunk in warehouse.loads for row in chunk}  # fmt: skip
    assert sorted(rows) == ["e1", "e2", "e5", "g0", "g3"]
    assert rows["g3"]["userId"] == "opted-out"  # counted, no longer pointing at the user
    assert rows["g3"]["costUsd"] == 0.5
    assert (rows["e1"]["userId"], rows["e1"]["sessionId"], rows["e1"]["properties"]) == (
        "opted-out",
        None,
        None,
    )
    assert rows["g0"]["userId"] == hmac_sha256(b"k", "u1")
    # An anonymised event keeps only the feature name the figures count.
    assert (rows["e2"]["userId"], rows["e2"]["properties"]) == (
        "opted-out",
        '{"feature":"hd_export"}',
    )
    assert rows["e5"]["properties"] == '{"provider":"pika"}'


def test_a_failing_stage_stops_the_reading_ahead() -> None:
    closed: list[str] = []

    class Reads:
        def __init__(self, docs: list[tuple[str, dict[str, Any]]]) -> None:
            self.docs = iter(docs)

        def __iter__(self) -> Reads:
            return self

        def __next__(self) -> tuple[str, dict[str, Any]]:
            return next(self.docs)

        def close(self) -> None:
            closed.append("closed")

    class ClosingSource(FakeSource):
        def documents(self, *args: Any, **kwargs: Any) -> Iterator[tuple[str, Mapping[str, Any]]]:
            return Reads([(i, dict(d)) for i, d in super().documents(*args, **kwargs)])

    class FailingLoads(FakeWarehouse):
        def load(self, staging: str, table: str, ndjson: bytes) -> None:
            raise ConnectionError("upload reset")

    source = ClosingSource({"video_generation_metrics": [generation(i) for i in range(5)]}, set())
    with pytest.raises(ConnectionError):
        run_export(source, FailingLoads(), load_rows=2)
    assert closed == ["closed"]


def test_days_firestore_no_longer_fully_keeps_are_refused() -> None:
    source = FakeSource({}, set())
    warehouse = FakeWarehouse()
    with pytest.raises(ExportConfigError, match="no longer keeps all of this day's raw records"):
        run_export(source, warehouse, raw_horizon=START + dt.timedelta(hours=1))
    assert warehouse.replaced == [] and source.asked == []
    run, _ = run_export(source, warehouse, raw_horizon=START)
    assert run.status == "succeeded"


def test_distinct_skip_reasons_are_capped() -> None:
    counts = TableCounts()
    for i in range(30):
        counts.skip(f"reason {i}")
    assert counts.skipped == 30
    assert len(counts.reasons) == 21
    assert counts.reasons["other reasons"] == 10


def test_user_ids_are_pseudonymised_with_the_key() -> None:
    source = FakeSource({"video_generation_metrics": [generation(0, user="alice")]}, set())
    warehouse = FakeWarehouse()
    run_export(source, warehouse, pseudonym_key=b"secret")
    (row,) = warehouse.loads[0][1]
    assert row["userId"] == hmac_sha256(b"secret", "alice")


def test_a_failed_replace_is_recorded_and_raised_and_staging_is_dropped() -> None:
    source = FakeSource({"video_generation_metrics": [generation(0)]}, set())
    warehouse = FakeWarehouse(fail_on_replace=True)
    runs = Runs()
    with pytest.raises(RuntimeError, match="transaction aborted"):
        export_day(source, warehouse, DAY, ExportOptions("t"), now=lambda: START, runs=runs)
    assert runs.states[-1]["status"] == "failed"
    assert runs.states[-1]["error"] == "RuntimeError: transaction aborted"
    assert len(warehouse.dropped) == len(TABLES)


def test_replacement_statements_name_every_column_and_the_day() -> None:
    statements = replace_statements("p.d", DAY, {"generation_metrics": "stage_g"})
    assert statements[0] == (
        "DELETE FROM `p.d.generation_metrics` WHERE `createdAt` >= "
        "TIMESTAMP '2026-11-20T00:00:00Z' AND `createdAt` < TIMESTAMP '2026-11-21T00:00:00Z'"
    )
    assert statements[1].startswith("INSERT INTO `p.d.generation_metrics` (`generationId`, ")
    assert statements[1].endswith("FROM `p.d.stage_g`")
    assert "`features`" in statements[1]
    script = transaction_script(statements)
    assert script.startswith("BEGIN TRANSACTION;\nDELETE")
    assert script.endswith(";\nCOMMIT TRANSACTION;")


def test_days_and_settings() -> None:
    assert scheduled_day(dt.datetime(2026, 11, 21, 2, 0, tzinfo=dt.UTC)) == DAY
    assert scheduled_day(dt.datetime(2026, 11, 21, 0, 30)) == DAY  # naive means UTC
    assert day_bounds(DAY) == (START, START + dt.timedelta(days=1))
    nightly = dt.datetime(2026, 11, 21, 2, 0, tzinfo=dt.UTC)
    before = DAY - dt.timedelta(days=1)
    assert scheduled_days(nightly, 0) == [DAY]
    assert scheduled_days(nightly, 2) == [DAY, before, DAY - dt.timedelta(days=2)]
    # A day Firestore no longer fully keeps is not exported again.
    assert scheduled_days(nightly, 2, raw_horizon=START - dt.timedelta(hours=12)) == [DAY]
    # Yesterday is always planned: with a retention too short to keep it, its export refuses
    # loudly rather than the night passing with nothing exported and nothing said.
    assert scheduled_days(nightly, 2, raw_horizon=START + dt.timedelta(hours=2)) == [DAY]
    assert BigQuerySettings().export_resettle_days == 1
    # Older days with changed records come last, newest first; none before the raw horizon,
    # none already planned, none not over yet.
    changed = {DAY, before, DAY - dt.timedelta(days=5), DAY - dt.timedelta(days=9),
               DAY + dt.timedelta(days=1), DAY - dt.timedelta(days=40)}  # fmt: skip
    assert nightly_plan(nightly, 1, START - dt.timedelta(days=30), changed) == [
        (DAY, "schedule"), (before, "resettle"),
        (DAY - dt.timedelta(days=5), "changed"), (DAY - dt.timedelta(days=9), "changed"),
    ]  # fmt: skip
    assert BigQuerySettings(export_pseudonymize_users=False, pseudonym_key="k").key() is None
    assert BigQuerySettings(export_pseudonymize_users=True, pseudonym_key="k").key() == b"k"
    with pytest.raises(ConfigError, match="PSEUDONYM_KEY is not set"):
        BigQuerySettings(export_pseudonymize_users=True).key()
    assert "k-secret" not in repr(BigQuerySettings(pseudonym_key="k-secret"))
    assert dataset_path("demo-cvplus", "video_monitoring") == "demo-cvplus.video_monitoring"
    with pytest.raises(ExportConfigError, match="BIGQUERY_DATASET"):
        dataset_path("demo-cvplus", "x`; DROP")
    with pytest.raises(ExportConfigError, match="BIGQUERY_PROJECT"):
        dataset_path("Bad Project", "d")


def test_command_line_checks_its_days(capsys: pytest.CaptureFixture[str]) -> None:
    for argv, message in (
        (["export", "--from", "2026-11-02", "--to", "2026-11-01"], "--to must not be before"),
        (["export", "--from", "2026-11-31", "--to", "2026-12-01"], "is not a date (YYYY-MM-DD)"),
        (["export", "--from", "2000-01-01", "--to", "2026-12-01"], "at most 3660 days"),
        (["export", "--to", "2026-12-01"], "the following arguments are required: --from"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            cli.main(argv)
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err


def test_summary_table_shows_rows_per_table_per_day() -> None:
    run = DayRun(day=DAY, trigger="cli", started_at=START, status="succeeded")
    for table in TABLES:
        run.tables[table] = TableCounts(rows=4)
    run.tables["analytics_events"].skipped = 2
    lines = cli.summary_table([run]).splitlines()
    assert lines[0].split() == ["day", "status", *TABLES]
    assert lines[1].split()[:3] == ["2026-11-20", "succeeded", "4"]
    assert "4 (2 skipped)" in lines[1]
