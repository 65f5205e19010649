"""Backtests beyond Firestore's retention: runs stored 100 days ago are exported nightly to the
BigQuery emulator; the served backtest of that day reads them from BigQuery (the real client)
and gives the episodes worked out by hand here, the same as a replay of the Firestore documents
they came from. A table made before the backtest columns existed gains them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import requests
from google.cloud import bigquery, firestore

from tests.integration.support import Stack, token
from tests.integration.test_bigquery_emulator import export_in_process
from video_monitoring.adapters.bigquery import BigQueryWarehouse, schema_fields
from video_monitoring.adapters.firestore_alerts import FirestoreAlertStore
from video_monitoring.alerting.backtest import backtest_rule
from video_monitoring.alerting.metrics import system_metrics_id
from video_monitoring.alerting.rules import DEFAULT_RULES

pytestmark = pytest.mark.integration
TICK = dt.timedelta(minutes=5)
RULE = next(r for r in DEFAULT_RULES if r.rule_id == "low_success_rate")


def run_doc(tick: dt.datetime, scope: str, successes: int, samples: int) -> dict[str, Any]:
    """A `system_performance_metrics` document as the tick writes it (the fields a backtest
    and the export read)."""
    rate = successes / samples
    return {
        "tick": tick, "windowName": "1h", "scope": scope, "scopeKind": scope.partition(":")[0],
        "windowStart": tick - dt.timedelta(hours=1), "windowEnd": tick,
        "provider": scope.partition(":")[2] or None, "tier": None,
        "successRate": rate,
        "ruleMetrics": {"successRate": rate},
        "ruleMeasurements": {
            "successRate": {"value": rate, "samples": samples, "successes": successes}
        },
    }  # fmt: skip


def test_a_backtest_beyond_firestores_retention_reads_the_runs_from_bigquery(
    stack: Stack, db: firestore.Client, bq: BigQueryWarehouse
) -> None:
    today = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    day = today - dt.timedelta(days=100)  # Firestore keeps runs for 90 days
    start = day + dt.timedelta(hours=10)
    # 24 runs: pika completes 20 of 40 in runs 6 to 13 (Wilson upper bound 65% < 95%), 40 of
    # 40 otherwise; overall stays healthy.
    batch = db.batch()
    for i in range(24):
        tick = start + i * TICK
        pika = 20 if 6 <= i <= 13 else 40
        for scope, successes, samples in (("overall", 400, 400), ("provider:pika", pika, 40)):
            doc_id = system_metrics_id(tick, "1h", scope)
            batch.set(db.collection("system_performance_metrics").document(doc_id),
                      run_doc(tick, scope, successes, samples))  # fmt: skip
    # Two more runs as an earlier release stored them: no scopeKind, no measurements.
    for i in (24, 25):
        tick = start + i * TICK
        for scope in ("overall", "provider:pika"):
            old = run_doc(tick, scope, 40, 40)
            for field in ("scopeKind", "ruleMetrics", "ruleMeasurements"):
                del old[field]
            batch.set(db.collection("system_performance_metrics")
                      .document(system_metrics_id(tick, "1h", scope)), old)  # fmt: skip
    batch.commit()
    export_in_process(db, bq, day)

    params = {"from": start.isoformat(), "to": (start + 26 * TICK).isoformat()}
    response = requests.get(
        stack.url("video_analytics_dashboard", "/alert-rules/low_success_rate/backtest"),
        params=params, headers={"Authorization": f"Bearer {token()}"}, timeout=60,
    )  # fmt: skip
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["source"] == "bigquery" and body["runs"] == 26
    assert body["unmeasured"] == 4  # the older rows: read, judged as no data
    # Pending after run 6, firing at run 7 (two breaches); clear at runs 14 and 15, resolved
    # at run 15 (two clear evaluations).
    fired, resolved = start + 7 * TICK, start + 15 * TICK
    assert [(e["scope"], e["from"], e["to"]) for e in body["episodes"]] == [
        ("provider:pika", iso(fired), iso(resolved))
    ]
    # The same runs read from the Firestore documents they were exported from.
    firestore_runs = backtest_rule(RULE, FirestoreAlertStore(db), None, start, start + 24 * TICK)
    assert firestore_runs["episodes"] == [
        {**e, "from": parse(e["from"]), "to": parse(e["to"])} for e in body["episodes"]
    ]


def iso(value: dt.datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def parse(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_a_table_made_before_the_backtest_columns_gains_them(bq: BigQueryWarehouse) -> None:
    bq.ensure_tables()
    table_id = f"{bq.dataset}.system_performance_metrics"
    old = [f for f in schema_fields("system_performance_metrics")
           if f.name not in ("scopeKind", "ruleMetrics", "ruleMeasurements")]  # fmt: skip
    bq.client.delete_table(table_id)
    bq.client.create_table(bigquery.Table(table_id, schema=old))
    bq.ensure_tables()
    names = [f.name for f in bq.client.get_table(table_id).schema]
    assert names[-3:] == ["scopeKind", "ruleMetrics", "ruleMeasurements"]
    assert names == [f.name for f in schema_fields("system_performance_metrics")]
