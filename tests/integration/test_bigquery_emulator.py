"""The BigQuery export against a real BigQuery API emulator, driven by google-cloud-bigquery:
tables and schemas, row counts and values, reruns, interrupted runs, backfill from the command
line, pseudonymised ids and opted-out users. Expected rows come from the Firestore documents,
read here with the plain client."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import math
import os
import random
import subprocess
import sys
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
import requests
from google.api_core.exceptions import BadRequest, ServiceUnavailable
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from local_stack.bigquery_emulator import BigQueryEmulator
from local_stack.host import FUNCTIONS_DIR
from tests.conftest import bigquery_env
from tests.integration.support import PROJECT, Stack, token, whole_day
from video_monitoring.adapters import _firestore
from video_monitoring.adapters.bigquery import STAGING_PREFIX, BigQueryWarehouse
from video_monitoring.adapters.firestore_exports import FirestoreDaySource, FirestoreRunLog
from video_monitoring.adapters.firestore_store import FirestoreStore
from video_monitoring.analytics import distinct, user_insights
from video_monitoring.analytics.figures import AnalyticsEngine
from video_monitoring.analytics.performance import PerformanceMonitor
from video_monitoring.config.settings import BigQuerySettings, Settings
from video_monitoring.core.models import Window
from video_monitoring.dashboard.http import Response
from video_monitoring.ingest import sketch
from video_monitoring.ingest.pipeline import Counting
from video_monitoring.runtime.bootstrap import bounds_of
from video_monitoring.warehouse.nightly import DayRun, ExportOptions, export_day, replace_statements
from video_monitoring.warehouse.rows import TABLES, bq_schema

pytestmark = pytest.mark.integration
DAY, _ = whole_day(3)
PREV = DAY - dt.timedelta(days=1)
NEXT = DAY + dt.timedelta(days=1)
SOURCE = "video_generations"


def generation(
    user: str, created: dt.datetime, status: str = "completed", **extra: Any
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "userId": user,
        "provider": "runway" if user.endswith(("a", "c")) else "pika",
        "status": status,
        "createdAt": created,
        "userTier": "premium" if user.endswith("b") else "free",
    }
    if status in ("completed", "failed"):
        doc["startedAt"] = created + dt.timedelta(seconds=3)
        doc["completedAt"] = created + dt.timedelta(seconds=63)
    if status == "completed":
        doc.update(costUsd=0.25, qualityScore=8.5, outputSeconds=10, features=["hd_export"])
    if status == "failed":
        doc["error"] = {"code": "timeout", "message": "x", "retryable": True}
    return {**doc, **extra}


def write_day(db: firestore.Client, day: dt.datetime, prefix: str, n: int) -> None:
    """n generations spread over the day, users a/b/c in turn, every fourth one failed."""
    batch = db.batch()
    for i in range(n):
        created = day + dt.timedelta(seconds=1 + i * (86_398 // max(n, 1)))
        status = "failed" if i % 4 == 3 else "completed"
        user = f"user-{'abc'[i % 3]}"
        batch.set(
            db.collection(SOURCE).document(f"{prefix}-{i:03d}"), generation(user, created, status)
        )
    batch.commit()


def in_day(
    db: firestore.Client, collection: str, field: str, day: dt.datetime
) -> dict[str, dict[str, Any]]:
    """Firestore documents of a collection whose time field falls in the UTC day."""
    query = (
        db.collection(collection)
        .where(filter=FieldFilter(field, ">=", day))
        .where(filter=FieldFilter(field, "<", day + dt.timedelta(days=1)))
    )
    return {snap.id: snap.to_dict() or {} for snap in query.stream()}


def bq_day(bq: BigQueryWarehouse, table: str, day: dt.datetime) -> dict[str, dict[str, Any]]:
    """BigQuery rows of a table in the UTC day, by id column."""
    _, _, field, id_column = TABLES[table]
    rows = bq.query(
        f"SELECT * FROM `{bq.dataset}.{table}` WHERE `{field}` >= @start AND `{field}` < @end",
        start=day,
        end=day + dt.timedelta(days=1),
    )
    by_id = {row[id_column]: row for row in rows}
    assert len(by_id) == len(rows), f"duplicate ids in {table}"
    return by_id


def export(day: dt.datetime, stack: Stack) -> None:
    """The nightly run for `day`, as Cloud Scheduler triggers it the morning after."""
    assert stack.run_schedule("export_to_bigquery", day + dt.timedelta(days=1, hours=2)) == 200


def run_record(db: firestore.Client, day: dt.datetime) -> dict[str, Any]:
    snap = db.collection("bigquery_export_runs").document(day.date().isoformat()).get()
    assert snap.exists
    return snap.to_dict() or {}


def export_in_process(
    db: firestore.Client, bq: BigQueryWarehouse, day: dt.datetime, **options: Any
) -> DayRun:
    return export_day(
        FirestoreDaySource(db),
        options.pop("warehouse", bq),
        day.date(),
        ExportOptions("test", **options),
        now=lambda: dt.datetime.now(dt.UTC),
        runs=FirestoreRunLog(db),
    )


def test_nightly_export_writes_every_table_of_the_day_exactly(
    stack: Stack, db: firestore.Client, bq: BigQueryWarehouse
) -> None:
    write_day(db, DAY, "d", 12)
    write_day(db, PREV, "p", 3)
    edges = db.collection(SOURCE)
    edges.document("edge-last").set(generation("user-a", NEXT - dt.timedelta(milliseconds=1)))
    edges.document("edge-next").set(generation("user-a", NEXT))
    events = db.collection("analytics_events")
    events.document("app-1").set(
        {"type": "video_shared", "userId": "user-a", "timestamp": DAY + dt.timedelta(hours=5),
         "properties": {"channel": "email", "count": 2}}
    )  # fmt: skip
    events.document("app-2").set(
        {"type": "premium_upgrade", "userId": "user-b", "timestamp": DAY + dt.timedelta(hours=6),
         "amountUsd": 9.99}
    )  # fmt: skip
    events.document("app-bad").set(
        {"type": "video_viewed", "timestamp": DAY + dt.timedelta(hours=7)}
    )
    stack.settle()
    assert stack.run_schedule("aggregate_and_alert", DAY + dt.timedelta(hours=12)) == 200
    # Too few generations to open an alert: one alert of the day, so that table is not empty.
    opened = DAY + dt.timedelta(hours=13)
    db.collection("alert_instances").document("alert-1").set(
        {"ruleId": "slow_generation", "scope": "overall", "status": "resolved",
         "severity": "warning", "metric": "avgGenerationSeconds", "value": 120.0,
         "threshold": 90.0, "window": "1h", "openedAt": opened, "open": False,
         "resolvedAt": opened + dt.timedelta(minutes=20), "resolution": "auto"}
    )  # fmt: skip

    export(DAY, stack)

    for table, (model, _, field, _) in TABLES.items():
        described = bq.client.get_table(f"{bq.dataset}.{table}")
        assert [(f.name, f.field_type, f.mode) for f in described.schema] == [
            (c["name"], c["type"], c["mode"]) for c in bq_schema(model)
        ]
        assert described.time_partitioning.field == field
    generations = bq_day(bq, "generation_metrics", DAY)
    assert sorted(generations) == sorted([f"d-{i:03d}" for i in range(12)] + ["edge-last"])
    metrics = in_day(db, "video_generation_metrics", "createdAt", DAY)
    assert sorted(metrics) == sorted(generations)
    for generation_id, doc in metrics.items():
        row = generations[generation_id]
        for column in (
            "userId",
            "provider",
            "status",
            "userTier",
            "createdAt",
            "completedAt",
            "generationSeconds",
            "costUsd",
            "qualityScore",
            "errorCode",
            "attempts",
        ):
            assert row[column] == doc.get(column), (generation_id, column)  # fmt: skip
        assert row["features"] == doc["features"]
    assert generations["d-003"]["status"] == "failed"
    assert generations["d-003"]["errorCode"] == "timeout"
    assert generations["d-000"]["generationSeconds"] == 63.0

    expected_events = in_day(db, "analytics_events", "timestamp", DAY)
    exported_events = bq_day(bq, "analytics_events", DAY)
    assert sorted(exported_events) == sorted(set(expected_events) - {"app-bad"})
    assert exported_events["app-2"]["amountUsd"] == 9.99
    assert exported_events["app-1"]["properties"] == '{"channel":"email","count":2}'
    system = bq_day(bq, "system_performance_metrics", DAY)
    stored_system = in_day(db, "system_performance_metrics", "tick", DAY)
    assert system
    assert sorted(system) == sorted(stored_system)
    for metrics_id, doc in stored_system.items():
        for column in ("windowName", "scope", "tick", "windowStart", "successRate", "backlog"):
            assert system[metrics_id][column] == doc.get(column), (metrics_id, column)
    alerts = bq_day(bq, "alert_instances", DAY)
    assert sorted(alerts) == sorted(in_day(db, "alert_instances", "openedAt", DAY))
    assert (alerts["alert-1"]["ruleId"], alerts["alert-1"]["openedAt"]) == (
        "slow_generation", opened,
    )  # fmt: skip

    record = run_record(db, DAY)
    assert record["status"] == "succeeded"
    assert record["trigger"] == "schedule"
    assert record["tables"]["generation_metrics"]["rows"] == 13
    assert record["tables"]["analytics_events"]["rows"] == len(exported_events)
    assert record["tables"]["analytics_events"]["skipped"] == 1
    assert "userId" in next(iter(record["tables"]["analytics_events"]["skipReasons"]))
    assert record["tables"]["system_performance_metrics"]["rows"] == len(system)
    assert not any(t.table_id.startswith(STAGING_PREFIX) for t in bq.client.list_tables(bq.dataset))


def test_rerun_replaces_the_day_exactly_and_leaves_other_days(
    stack: Stack, db: firestore.Client, bq: BigQueryWarehouse
) -> None:
    write_day(db, PREV, "p", 4)
    write_day(db, DAY, "d", 8)
    stack.settle()
    export(PREV, stack)
    export(DAY, stack)
    before_prev = bq_day(bq, "generation_metrics", PREV)
    assert len(before_prev) == 4 and len(bq_day(bq, "generation_metrics", DAY)) == 8

    source = db.collection(SOURCE)
    source.document("d-000").delete()
    source.document("d-001").update({"status": "cancelled"})
    source.document("d-new").set(generation("user-b", DAY + dt.timedelta(hours=20)))
    stack.settle()
    export(DAY, stack)
    export(DAY, stack)

    rows = bq_day(bq, "generation_metrics", DAY)
    metrics = in_day(db, "video_generation_metrics", "createdAt", DAY)
    assert (
        sorted(rows) == sorted(metrics) == sorted([f"d-{i:03d}" for i in range(1, 8)] + ["d-new"])
    )
    assert rows["d-001"]["status"] == "cancelled"
    assert bq_day(bq, "generation_metrics", PREV) == before_prev
    events = bq_day(bq, "analytics_events", DAY)
    assert sorted(events) == sorted(in_day(db, "analytics_events", "timestamp", DAY))


class FailingWarehouse:
    """The real warehouse, failing at one chosen step (a crash at that point)."""

    def __init__(self, real: BigQueryWarehouse, fail_at: str) -> None:
        self.real, self.fail_at, self.loads = real, fail_at, 0

    def ensure_tables(self) -> None:
        self.real.ensure_tables()

    def new_staging(self, table: str, day: dt.date) -> str:
        return self.real.new_staging(table, day)

    def load(self, staging: str, table: str, ndjson: bytes) -> None:
        self.loads += 1
        if self.fail_at == "second load" and self.loads == 2:
            raise ConnectionError("connection reset during load")
        self.real.load(staging, table, ndjson)

    def replace_day(self, day: dt.date, staged: Mapping[str, str]) -> None:
        statements = replace_statements(self.real.dataset, day, staged)
        if self.fail_at == "inside the transaction":
            # After generation_metrics was deleted and re-inserted, before the other tables.
            statements.insert(2, "SELECT ERROR('interrupted')")
        self.real.run_script(statements)

    def erasure_ledger(self) -> frozenset[str]:
        return self.real.erasure_ledger()

    def anonymise_day(self, day: dt.date, keys: frozenset[str]) -> int:
        return self.real.anonymise_day(day, keys)

    def drop(self, staging: str) -> None:
        self.real.drop(staging)


@pytest.mark.parametrize(
    ("fail_at", "error", "message"),
    [
        ("second load", ConnectionError, "connection reset"),
        ("inside the transaction", BadRequest, "interrupted"),  # the script's ERROR()
    ],
)
def test_an_interrupted_run_leaves_the_day_fully_old_and_a_rerun_makes_it_new(
    stack: Stack,
    db: firestore.Client,
    bq: BigQueryWarehouse,
    fail_at: str,
    error: type[Exception],
    message: str,
) -> None:
    write_day(db, DAY, "d", 6)
    stack.settle()
    export_in_process(db, bq, DAY)
    old = {table: bq_day(bq, table, DAY) for table in TABLES}
    source = db.collection(SOURCE)
    source.document("d-000").delete()
    for i in range(6, 10):
        source.document(f"d-{i:03d}").set(generation("user-a", DAY + dt.timedelta(hours=i)))
    stack.settle()

    with pytest.raises(error, match=message):
        export_in_process(db, bq, DAY, warehouse=FailingWarehouse(bq, fail_at), load_rows=3)

    assert {table: bq_day(bq, table, DAY) for table in TABLES} == old
    record = run_record(db, DAY)
    assert record["status"] == "failed"
    assert record["error"].startswith(f"{error.__name__}: ") and message in record["error"]
    assert not any(t.table_id.startswith(STAGING_PREFIX) for t in bq.client.list_tables(bq.dataset))

    export_in_process(db, bq, DAY, load_rows=3)
    rows = bq_day(bq, "generation_metrics", DAY)
    assert sorted(rows) == sorted(f"d-{i:03d}" for i in range(1, 10))
    assert sorted(bq_day(bq, "analytics_events", DAY)) == sorted(
        in_day(db, "analytics_events", "timestamp", DAY)
    )
    assert run_record(db, DAY)["status"] == "succeeded"


def test_backfill_from_the_command_line(
    stack: Stack,
    db: firestore.Client,
    bq: BigQueryWarehouse,
    bigquery_emulator: BigQueryEmulator,
) -> None:
    first = DAY - dt.timedelta(days=2)
    for offset, n in enumerate((2, 0, 5)):
        write_day(db, first + dt.timedelta(days=offset), f"b{offset}", n)
    stack.settle()
    env = {
        **os.environ,
        **bigquery_env(bigquery_emulator),
        "FIRESTORE_EMULATOR_HOST": stack.local.firestore_host,
        "GCLOUD_PROJECT": PROJECT,
    }
    command = [sys.executable, "-m", "video_monitoring", "export"]
    args = ["--from", first.date().isoformat(), "--to", DAY.date().isoformat()]
    done = subprocess.run(
        command + args, cwd=FUNCTIONS_DIR, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[:2] == ["day", "status"]
    assert [line.split()[:3] for line in lines[1:4]] == [
        [(first + dt.timedelta(days=i)).date().isoformat(), "succeeded", str(n)]
        for i, n in enumerate((2, 0, 5))
    ]
    assert lines[-1] == "3 of 3 days exported"
    assert "export" in done.stderr  # the progress bar
    for offset, n in enumerate((2, 0, 5)):
        day = first + dt.timedelta(days=offset)
        assert len(bq_day(bq, "generation_metrics", day)) == n
        assert run_record(db, day)["trigger"] == "cli"

    wrong = subprocess.run(
        [*command, "--from", DAY.date().isoformat(), "--to", first.date().isoformat()],
        cwd=FUNCTIONS_DIR, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert wrong.returncode == 2
    assert "--to must not be before --from" in wrong.stderr
    not_a_day = subprocess.run(
        [*command, "--from", "2026-13-01", "--to", "2026-12-01"],
        cwd=FUNCTIONS_DIR, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert not_a_day.returncode == 2
    assert "'2026-13-01' is not a date (YYYY-MM-DD)" in not_a_day.stderr
    expired = (DAY - dt.timedelta(days=120)).date().isoformat()
    too_old = subprocess.run(
        [*command, "--from", expired, "--to", expired],
        cwd=FUNCTIONS_DIR, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert too_old.returncode == 2
    assert "Firestore no longer keeps all of this day's raw records" in too_old.stderr


def test_pseudonymised_ids_are_stable_and_opted_out_users_are_anonymised(
    stack: Stack, db: firestore.Client, bq: BigQueryWarehouse
) -> None:
    write_day(db, DAY, "d", 9)  # users a, b, c in turn
    db.collection("analytics_opt_outs").document("user-c").set({"at": DAY})
    stack.settle()
    key = BigQuerySettings(export_pseudonymize_users=True, pseudonym_key="k-one").key()
    run = export_in_process(db, bq, DAY, pseudonym_key=key)

    def expected(user: str, secret: bytes) -> str:
        return hmac.new(secret, user.encode(), hashlib.sha256).hexdigest()

    assert run.tables["generation_metrics"].opted_out == 3
    assert run.tables["analytics_events"].opted_out > 0
    first = {
        table: {row["userId"] for row in bq_day(bq, table, DAY).values()}
        for table in ("generation_metrics", "analytics_events")
    }
    for users in first.values():  # user-c opted out: rows kept, no longer pointing at them
        assert users == {expected("user-a", b"k-one"), expected("user-b", b"k-one"), "opted-out"}
    generations = bq_day(bq, "generation_metrics", DAY)
    assert len(generations) == 9  # every generation still counted
    assert sum(row["userId"] == "opted-out" for row in generations.values()) == 3
    all_text = repr(bq.query(f"SELECT * FROM `{bq.dataset}.generation_metrics`")) + repr(
        bq.query(f"SELECT * FROM `{bq.dataset}.analytics_events`")
    )
    assert "user-a" not in all_text and "user-b" not in all_text and "user-c" not in all_text

    export_in_process(db, bq, DAY, pseudonym_key=key)
    again = {row["userId"] for row in bq_day(bq, "generation_metrics", DAY).values()}
    assert again == first["generation_metrics"]  # stable across runs
    export_in_process(db, bq, DAY, pseudonym_key=b"k-two")
    other = {row["userId"] for row in bq_day(bq, "generation_metrics", DAY).values()}
    # Another key, other pseudonyms: none links to the first key's.
    assert other == {expected("user-a", b"k-two"), expected("user-b", b"k-two"), "opted-out"}
    assert (other - {"opted-out"}).isdisjoint(first["generation_metrics"])
    assert run_record(db, DAY)["tables"]["generation_metrics"]["optedOut"] == 3


def test_pages_resume_after_the_last_time_and_id_even_among_equal_times(
    stack: Stack, db: firestore.Client, bq: BigQueryWarehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("video_monitoring.adapters.firestore_exports.DAY_PAGE", 3)
    monkeypatch.setattr(
        "video_monitoring.adapters.firestore_exports.DAY_READERS", 1
    )  # one ordered stream
    same = DAY + dt.timedelta(hours=9)
    batch = db.batch()
    for i in range(11):
        created = same if 2 <= i <= 7 else DAY + dt.timedelta(hours=i)
        batch.set(db.collection(SOURCE).document(f"t-{i:02d}"), generation("user-a", created))
    batch.commit()
    stack.settle()
    source = FirestoreDaySource(db)
    start, end = DAY, NEXT
    read = list(source.documents("video_generation_metrics", "createdAt", start, end, ["userId"]))
    assert [doc_id for doc_id, _ in read] == sorted(
        (f"t-{i:02d}" for i in range(11)),
        key=lambda d: (same if 2 <= int(d[2:]) <= 7 else DAY + dt.timedelta(hours=int(d[2:])), d),
    )
    assert set(read[0][1]) == {"userId", "createdAt"}  # only the asked fields travel
    monkeypatch.setattr(
        "video_monitoring.adapters.firestore_exports.DAY_READERS", 3
    )  # slices, merged
    run = export_in_process(db, bq, DAY, load_rows=4)
    assert run.tables["generation_metrics"].rows == 11
    assert sorted(bq_day(bq, "generation_metrics", DAY)) == [f"t-{i:02d}" for i in range(11)]


def test_a_broken_read_stream_resumes_after_the_last_document(
    stack: Stack, db: firestore.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("video_monitoring.adapters.firestore_exports.DAY_PAGE", 4)
    monkeypatch.setattr("video_monitoring.adapters.firestore_exports.DAY_READERS", 1)
    monkeypatch.setattr("video_monitoring.adapters._firestore.time.sleep", lambda seconds: None)
    batch = db.batch()
    for i in range(10):
        created = DAY + dt.timedelta(minutes=i)
        batch.set(db.collection(SOURCE).document(f"r-{i:02d}"), generation("user-a", created))
    batch.commit()
    stack.settle()
    real = _firestore.raw_stream
    streams = []

    def flaky(client: firestore.Client, query: Any) -> Iterator[tuple[str, dict[str, Any]]]:
        streams.append(query)
        for n, item in enumerate(real(client, query)):
            if len(streams) in (2, 3) and n == 1:  # the second and third streams break
                raise ServiceUnavailable("stream reset")  # type: ignore[no-untyped-call]
            yield item

    monkeypatch.setattr(_firestore, "raw_stream", flaky)
    source = FirestoreDaySource(db)
    read = [doc_id for doc_id, _ in source.documents(
        "video_generation_metrics", "createdAt", DAY, NEXT, ["userId"]
    )]  # fmt: skip
    assert read == [f"r-{i:02d}" for i in range(10)]
    # r00-r03; r04 then broken; r05 then broken; r06-r09; an empty page ends it.
    assert len(streams) == 5

    def always_broken(client: firestore.Client, query: Any) -> Iterator[tuple[str, dict[str, Any]]]:
        raise ServiceUnavailable("down")  # type: ignore[no-untyped-call]
        yield  # pragma: no cover

    monkeypatch.setattr(_firestore, "raw_stream", always_broken)
    with pytest.raises(ServiceUnavailable):
        list(source.documents("video_generation_metrics", "createdAt", DAY, NEXT, ["userId"]))


def test_trends_beyond_the_rollups_retention_come_from_bigquery(
    stack: Stack, db: firestore.Client, bq: BigQueryWarehouse
) -> None:
    today = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    first = today - dt.timedelta(days=800)  # long before the 760 days of rollups
    rng = random.Random(5)
    expected: dict[dt.datetime, list[dict[str, Any]]] = {}
    batch = db.batch()
    for i in range(60):
        day = first + dt.timedelta(days=i % 3)
        status = rng.choice(("completed", "completed", "failed", "cancelled"))
        doc: dict[str, Any] = {
            "generationId": f"old-{i}", "userId": f"u{i % 7}", "provider": "runway",
            "status": status, "userTier": "free",
            "createdAt": day + dt.timedelta(minutes=rng.randrange(1440)),
            "generationSeconds": round(rng.uniform(10, 120), 3) if status == "completed" else None,
            "costUsd": round(rng.uniform(0, 1), 4), "features": [],
        }  # fmt: skip
        if status == "completed":
            doc["qualityScore"] = round(rng.uniform(5, 10), 2)
        expected.setdefault(day, []).append(doc)
        batch.set(db.collection("video_generation_metrics").document(f"old-{i}"), doc)
    upgrades: dict[dt.datetime, list[float]] = {}
    for i in range(7):  # premium upgrades on the first two days
        day = first + dt.timedelta(days=i % 2)
        amount = round(rng.uniform(1, 30), 2)
        upgrades.setdefault(day, []).append(amount)
        batch.set(db.collection("analytics_events").document(f"old-up-{i}"), {
            "type": "premium_upgrade", "userId": f"u{i}", "amountUsd": amount,
            "timestamp": day + dt.timedelta(minutes=rng.randrange(1440)),
        })  # fmt: skip
    batch.commit()
    for offset in range(3):
        export_in_process(db, bq, first + dt.timedelta(days=offset))

    params = {
        "from": first.isoformat(), "to": (first + dt.timedelta(days=3)).isoformat(),
        "granularity": "day", "metric": "total",
    }  # fmt: skip
    body = trends(stack, params)
    assert body["source"] == "bigquery"
    assert [p["start"] for p in body["series"]] == [
        (first + dt.timedelta(days=i)).isoformat().replace("+00:00", "Z") for i in range(3)
    ]
    for point, day in zip(body["series"], sorted(expected), strict=True):
        docs = expected[day]
        done = sorted(d["generationSeconds"] for d in docs if d["status"] == "completed")
        failed = sum(d["status"] == "failed" for d in docs)
        assert point["total"] == len(docs)
        assert (point["completed"], point["failed"]) == (len(done), failed)
        assert point["successRate"] == pytest.approx(len(done) / (len(done) + failed))
        assert point["costUsd"] == pytest.approx(sum(d["costUsd"] for d in docs))
        scores = [d["qualityScore"] for d in docs if "qualityScore" in d]
        assert point["avgQualityScore"] == pytest.approx(sum(scores) / len(scores))
        assert point["avgUserRating"] is None  # nobody rated these
        amounts = upgrades.get(day, [])
        assert (point["upgrades"], point["freeGenerations"]) == (len(amounts), len(docs))
        assert point["revenueUsd"] == pytest.approx(sum(amounts))
        assert point["conversionRate"] == pytest.approx(len(amounts) / len(docs))
        times = point["generationTimeSeconds"]
        assert times["avg"] == pytest.approx(sum(done) / len(done))
        rank = 0.95 * (len(done) - 1)  # the order statistics around the 95th percentile
        assert done[math.floor(rank)] - 1e-9 <= times["p95"] <= done[math.ceil(rank)] + 1e-9

    # The other endpoints too, through the served dashboard.
    old = {"from": params["from"], "to": params["to"]}
    summary = get(stack, "/summary", old)
    assert summary["source"] == "bigquery"
    every = [d for docs in expected.values() for d in docs]
    assert summary["generations"]["total"] == len(every)
    assert summary["costUsd"] == pytest.approx(sum(d["costUsd"] for d in every))
    performance = get(stack, "/performance", {**old, "provider": "pika"})
    assert (performance["source"], performance["generations"]["total"]) == ("bigquery", 0)

    mixed = {
        "from": (today - dt.timedelta(days=762)).isoformat(),
        "to": (today - dt.timedelta(days=758)).isoformat(), "granularity": "day",
    }  # fmt: skip
    body = trends(stack, mixed)
    assert body["source"] == "bigquery+firestore"
    assert len(body["series"]) == 4


def trends(stack: Stack, params: dict[str, str]) -> dict[str, Any]:
    """GET /trends as an analytics user."""
    response = requests.get(
        stack.url("video_analytics_dashboard", "/trends"), params=params,
        headers={"Authorization": f"Bearer {token()}"}, timeout=60,
    )  # fmt: skip
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# Exact half-unit ties of the fixed-point sums: 2.0025 s is 2002.5 ms, 2.5e-06 USD is 2.5
# micro-dollars (Python rounds them to even, BigQuery's ROUND away from zero).
TIES = {"seconds": (2.0025, 2.0015), "usd": (2.5e-06, 3.5e-06)}


def mixed_generation(rng: random.Random, i: int, day: dt.datetime) -> dict[str, Any]:
    """A generation of any status, with every field the rollups count in some of them: ties,
    sub-millisecond times, odd error codes, tracked, untracked and repeated features."""
    created = day + dt.timedelta(seconds=rng.uniform(0, 86_000))
    status = rng.choice(
        ("completed",) * 6 + ("failed", "failed", "cancelled", "processing", "queued")
    )
    doc: dict[str, Any] = {
        "userId": f"u{rng.randrange(25)}",
        "provider": rng.choice(("runway", "pika", "heygen")),
        "status": status,
        "createdAt": created,
        "userTier": rng.choice(("free", "free", "premium")),
        "attempts": rng.choice((1, 1, 1, 2, 3)),
    }
    if status != "queued":
        doc["startedAt"] = created + dt.timedelta(
            seconds=rng.choice(TIES["seconds"]) if i % 5 == 0 else rng.uniform(0.5, 9)
        )
    if status in ("completed", "failed", "cancelled"):
        seconds = 0.0005 if i % 50 == 0 else rng.lognormvariate(math.log(70), 0.5)
        doc["completedAt"] = max(
            doc.get("startedAt", created), created + dt.timedelta(seconds=seconds)
        )
    if status == "failed":
        doc["error"] = {"code": rng.choice(("timeout", "rate limit!", "nsfw")), "message": "x",
                        "retryable": rng.random() < 0.5}  # fmt: skip
    if rng.random() < 0.05:
        doc["fallbackFrom"] = "runway"
    if rng.random() < 0.8:
        doc["costUsd"] = rng.choice(TIES["usd"]) if i % 7 == 0 else round(rng.uniform(0.01, 2), 4)
    if status == "completed":
        doc["outputSeconds"] = rng.choice((5.0, 10.0, 15.5))
        if rng.random() < 0.8:
            doc["qualityScore"] = 10.0 if i % 11 == 0 else round(rng.uniform(3, 10), 2)
        if rng.random() < 0.6:
            doc["userRating"] = rng.choice((1.0, 2.5, 4.0, 5.0))
    if rng.random() < 0.4:
        names = ("hd_export", "voice_clone", "brand_kit", "sparkles", "glitter", "hd_export")
        doc["features"] = rng.sample(names, rng.randint(1, 3))
    return doc


def mixed_event(rng: random.Random, i: int, day: dt.datetime) -> dict[str, Any]:
    """An app event of any kind, features of every shape, upgrades with ties."""
    kind = rng.choice(("session_start", "video_viewed", "video_shared", "premium_upgrade",
                       "feature_used", "feature_used"))  # fmt: skip
    event: dict[str, Any] = {
        "type": kind,
        "userId": f"u{rng.randrange(25)}",
        "timestamp": day + dt.timedelta(seconds=rng.uniform(0, 86_000)),
        "sessionId": f"s{i}",
    }
    if kind == "premium_upgrade":
        event["amountUsd"] = rng.choice((9.99, 19.99, *TIES["usd"]))
    if kind == "feature_used":
        feature = rng.choice(("hd_export", "sparkles", "", 3, None))
        event["properties"] = (
            {"feature": feature, "note": "free text"} if feature is not None else {}
        )
    return event


def add_session_ends(rng: random.Random, events: dict[str, dict[str, Any]]) -> None:
    """Ends for every other session start, each sent twice a second apart (the later counts)."""
    for key, event in list(events.items())[::2]:
        if event["type"] == "session_start":
            end = {**event, "type": "session_end"}
            end["timestamp"] = event["timestamp"] + dt.timedelta(seconds=rng.uniform(2, 300))
            events[f"{key}-end"] = end
            events[f"{key}-end2"] = {**end, "timestamp": end["timestamp"] - dt.timedelta(seconds=1)}


def test_every_endpoint_answers_windows_beyond_the_rollups_from_bigquery_with_their_figures(
    stack: Stack, db: firestore.Client, bq: BigQueryWarehouse
) -> None:
    """The same generations and events, through the real trigger into the rollups and through
    the export into BigQuery: an engine for which the day is long past the rollups' retention
    answers every rollup-based endpoint from BigQuery, and its figures are the dashboard's."""
    rng = random.Random(29)
    generations = {f"mix-{i:03d}": mixed_generation(rng, i, DAY) for i in range(260)}
    events = {f"ev-{i:03d}": mixed_event(rng, i, DAY) for i in range(160)}
    add_session_ends(rng, events)
    # Rejected by the pipeline (an upgrade without its amount): counted nowhere, exported nowhere.
    events["ev-bad"] = {
        "type": "premium_upgrade",
        "userId": "u1",
        "timestamp": DAY + dt.timedelta(hours=5),
    }
    db.collection("analytics_opt_outs").document("u3").set({"at": dt.datetime.now(dt.UTC)})
    for collection, docs in ((SOURCE, generations), ("analytics_events", events)):
        for chunk in range(0, len(docs), 200):
            batch = db.batch()
            for doc_id, doc in list(docs.items())[chunk : chunk + 200]:
                batch.set(db.collection(collection).document(doc_id), doc)
            batch.commit()
    stack.settle(quiet=1.0, timeout=120)
    assert len(in_day(db, "video_generation_metrics", "createdAt", DAY)) == len(generations)
    run = export_in_process(db, bq, DAY)
    assert run.tables["analytics_events"].skipped == 1  # ev-bad
    assert run.tables["analytics_events"].opted_out > 0  # u3's rows, kept anonymised

    store = FirestoreStore(db)
    later = DAY + dt.timedelta(days=900)
    archived = AnalyticsEngine(
        store, PerformanceMonitor(store),
        Counting(16, bounds_of(Settings())), lambda: later, archive=bq,
    )  # fmt: skip
    endpoints = {
        "/summary": archived.summary, "/performance": archived.system_metrics,
        "/quality": archived.quality, "/providers": archived.provider_comparison,
        "/business": archived.business,
    }  # fmt: skip
    windows = [
        (DAY, DAY + dt.timedelta(days=1), None),
        (DAY + dt.timedelta(hours=3), DAY + dt.timedelta(hours=17, minutes=31), None),
        (DAY, DAY + dt.timedelta(days=1), "pika"),
    ]
    for start, end, provider in windows:
        params = {"from": start.isoformat(), "to": end.isoformat()}
        if provider:
            params["provider"] = provider
        for path, answer in endpoints.items():
            if provider and path in ("/quality", "/providers", "/business"):
                continue  # these compare providers; they take no provider filter
            served = get(stack, path, params)
            assert served.pop("source") == "firestore"
            window = Window(start=start, end=end, provider=provider)
            archived_body = json.loads(Response(200, answer(window)).text())
            assert archived_body.pop("source") == "bigquery"
            if path == "/performance":  # the queue is now, whatever the window: not archived
                assert served.pop("queue")["asOf"] and archived_body.pop("queue")
                # The cost that bought nothing is there to compare (failed and retried jobs).
                assert served["failedCostUsd"] > 0 and served["retryWasteUsd"] > 0
            assert archived_body == served, (path, params)

    # User insights from the user days BigQuery's rows give, the opted-out user left out.
    whole = {"from": DAY.isoformat(), "to": (DAY + dt.timedelta(days=1)).isoformat()}
    assert stack.run_schedule("aggregate_and_alert") == 200  # the tick computes the open days
    served = get(stack, "/user-insights", whole)
    archived_body = json.loads(
        Response(200, archived.user_insights(
            Window(start=DAY, end=DAY + dt.timedelta(days=1))
        )).text()
    )  # fmt: skip
    assert (served.pop("source"), archived_body.pop("source")) == ("firestore", "bigquery")
    assert [d.pop("source") for d in served["days"]] == ["live"]
    assert [d.pop("source") for d in archived_body["days"]] == ["bigquery"]
    assert [d.pop("asOf") is None for d in served["days"] + archived_body["days"]] == [False, True]
    assert (archived_body["days"], archived_body["totals"]) == (served["days"], served["totals"])
    # Sessions from BigQuery's events and generations per hour from its hourly points.
    # The served day is final and folded by the tick: its quantiles and users carry the bounds
    # of the sketch and the registers; BigQuery's are exact.
    folded, exact = served["sessionFigures"], archived_body["sessionFigures"]
    for q in ("median", "p95"):
        want = exact["durationSeconds"].pop(q)
        assert abs(folded["durationSeconds"].pop(q) - want) <= sketch.ALPHA * want + 1e-9
    users = exact.pop("users")  # two users sharing a register are one: off by one at most here
    assert abs(folded.pop("users") - users) <= max(1.0, 3 * distinct.STANDARD_ERROR * users)
    folded.pop("perUser"), exact.pop("perUser")
    assert folded["durationSeconds"].pop("mean") == pytest.approx(
        exact["durationSeconds"].pop("mean")
    )
    assert folded == exact
    assert archived_body["heatmap"] == served["heatmap"]
    assert served["sessionFigures"]["ended"] > 5 and served["sessionFigures"]["unended"] > 5
    assert sum(map(sum, served["heatmap"]["generations"])) == len(generations)
    active = {d["userId"] for d in generations.values()} | {
        e["userId"] for k, e in events.items() if k != "ev-bad"
    }
    assert served["days"][0]["activeUsers"] == len(active - {"u3"})
    # Retention rebuilt for the last archived day (no stored snapshot), from the same activity.
    consenting = [
        a for a in store.user_days(DAY - dt.timedelta(days=30), NEXT) if a.user_id != "u3"
    ]
    expected = json.loads(Response(200, user_insights.snapshot(consenting, DAY)).text())
    assert archived_body["latestSnapshotDay"] == expected["day"]
    assert archived_body["churnRisk"] == expected["churnRisk"]
    assert archived_body["retention7"] == expected["retention7"]

    # Anchors against the documents themselves (the rest is the dashboard's, tested elsewhere).
    body = endpoints["/performance"](Window(start=DAY, end=DAY + dt.timedelta(days=1)))
    assert body["generations"]["total"] == len(generations)
    assert body["costUsd"] == pytest.approx(sum(d.get("costUsd", 0) for d in generations.values()))
    upgrades = [e for k, e in events.items() if e["type"] == "premium_upgrade" and k != "ev-bad"]
    summary = endpoints["/summary"](Window(start=DAY, end=DAY + dt.timedelta(days=1)))
    assert summary["business"]["upgrades"] == len(upgrades)


def get(stack: Stack, path: str, params: dict[str, str]) -> dict[str, Any]:
    """GET a dashboard endpoint as an analytics user."""
    response = requests.get(
        stack.url("video_analytics_dashboard", path), params=params,
        headers={"Authorization": f"Bearer {token()}"}, timeout=60,
    )  # fmt: skip
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_exports_of_rows_firestore_no_longer_keeps_come_from_bigquery(
    stack: Stack, db: firestore.Client, bq: BigQueryWarehouse
) -> None:
    """A window across the raw records' horizon (90 days): the rows of days TTL has deleted
    from Firestore come from BigQuery, the later ones from Firestore, one file in time order."""
    now = dt.datetime.now(dt.UTC)
    old_day = (now - dt.timedelta(days=100)).replace(hour=0, minute=0, second=0, microsecond=0)
    metrics = db.collection("video_generation_metrics")
    docs: dict[str, dict[str, Any]] = {}
    for i in range(12):
        created = old_day + dt.timedelta(hours=2 * i, minutes=3)
        docs[f"old-{i:02d}"] = {
            "generationId": f"old-{i:02d}", "userId": f"u{i % 4}", "provider": "runway",
            "status": "completed", "userTier": "free", "createdAt": created,
            "generationSeconds": 30.5 + i, "costUsd": 0.125 * i, "features": ["hd_export"],
        }  # fmt: skip
    for i in range(5):
        created = now - dt.timedelta(days=80, hours=i)
        docs[f"new-{i}"] = {
            "generationId": f"new-{i}", "userId": "u9", "provider": "pika", "status": "failed",
            "userTier": "premium", "createdAt": created, "errorCode": "timeout", "features": [],
        }  # fmt: skip
    for doc_id, doc in docs.items():
        metrics.document(doc_id).set(doc)
    export_in_process(db, bq, old_day)
    for doc_id in docs:
        if doc_id.startswith("old-"):
            metrics.document(doc_id).delete()  # what TTL does after 90 days

    window = {"from": (old_day - dt.timedelta(days=1)).isoformat(),
              "to": (now - dt.timedelta(days=70)).isoformat()}  # fmt: skip
    response = requests.get(
        stack.url("video_analytics_dashboard", "/export"),
        params={"dataset": "generations", "format": "ndjson", **window},
        headers={"Authorization": f"Bearer {token()}"}, timeout=60,
    )  # fmt: skip
    assert response.status_code == 200, response.text
    rows = [json.loads(line) for line in response.text.splitlines()]
    expected = sorted(docs.values(), key=lambda d: d["createdAt"])
    assert [r["generationId"] for r in rows] == [d["generationId"] for d in expected]
    for row, doc in zip(rows, expected, strict=True):
        assert row["createdAt"] == doc["createdAt"].isoformat().replace("+00:00", "Z")
        assert (row["costUsd"], row["features"], row["errorCode"]) == (
            doc.get("costUsd"), doc["features"], doc.get("errorCode"),
        )  # fmt: skip


def test_the_nightly_run_exports_yesterday_again_so_late_changes_reach_bigquery(
    stack: Stack, db: firestore.Client, bq: BigQueryWarehouse
) -> None:
    """A generation still processing at its day's export finishes later: the next night's run
    exports that day again (EXPORT_RESETTLE_DAYS=1), so BigQuery holds its final state."""
    late = PREV + dt.timedelta(hours=23, minutes=50)
    source = db.collection(SOURCE).document("late-1")
    source.set(
        generation("user-a", late, "processing") | {"startedAt": late + dt.timedelta(seconds=5)}
    )
    stack.settle()
    export(PREV, stack)
    assert bq_day(bq, "generation_metrics", PREV)["late-1"]["status"] == "processing"

    source.set(generation("user-a", late, "completed"))
    stack.settle()
    export(DAY, stack)
    row = bq_day(bq, "generation_metrics", PREV)["late-1"]
    assert (row["status"], row["costUsd"]) == ("completed", 0.25)
    assert run_record(db, PREV)["trigger"] == "resettle"
    assert run_record(db, DAY)["trigger"] == "schedule"


def test_the_nightly_run_exports_older_days_again_when_their_records_changed(
    stack: Stack, db: firestore.Client, bq: BigQueryWarehouse
) -> None:
    """A rating given days after its generation's day was exported (and resettled) reaches
    BigQuery with the next nightly run, which exports that day again (trigger `changed`)."""
    old_day = DAY - dt.timedelta(days=3)
    created = old_day + dt.timedelta(hours=9)
    source = db.collection(SOURCE).document("rated-later")
    source.set(generation("user-a", created))
    stack.settle()
    export(old_day, stack)
    assert bq_day(bq, "generation_metrics", old_day)["rated-later"]["userRating"] is None

    source.update({"userRating": 4.5})
    stack.settle()
    export(DAY, stack)
    assert bq_day(bq, "generation_metrics", old_day)["rated-later"]["userRating"] == 4.5
    assert run_record(db, old_day)["trigger"] == "changed"
    assert run_record(db, DAY)["trigger"] == "schedule"
