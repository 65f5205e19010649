"""The BI views (docs/bi.md) on the BigQuery emulator, read with the real google-cloud-bigquery
client: generations go through the real trigger, four days spanning three ISO weeks are
exported with pseudonymised ids, and each view's rows are compared with the answer worked out
here in Python from the Firestore records (times from their timestamps, weeks from
`date.isocalendar`, pseudonyms from HMAC-SHA256)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
from collections import defaultdict
from typing import Any

import pytest
from google.cloud import firestore

from tests.integration.support import Stack
from tests.integration.test_bigquery_emulator import export_in_process, in_day
from video_monitoring.adapters.bigquery import BigQueryWarehouse
from video_monitoring.warehouse.views import VIEWS

pytestmark = pytest.mark.integration
KEY = b"bi-views-key"
TODAY = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
# The Monday three weeks back, so every day below is over: week 0 holds its Monday and its
# Sunday (late evening), week 1 its Monday (just after midnight), week 2 a Wednesday.
WEEK0 = TODAY - dt.timedelta(days=21 + (TODAY - dt.timedelta(days=21)).weekday())
# Day -> (first hour, users in turn, completed generations per provider). The last day has
# enough completed ones for p95 to tell the 95th percentile from the 90th.
DAYS = {
    WEEK0: (9, ["bi-1", "bi-2", "bi-3", "bi-4"], 6),
    WEEK0 + dt.timedelta(days=6): (21, ["bi-1", "bi-7"], 6),  # bi-7 first seen on a Sunday
    WEEK0 + dt.timedelta(days=7): (0, ["bi-1", "bi-3", "bi-5"], 6),
    WEEK0 + dt.timedelta(days=16): (12, ["bi-2", "bi-5", "bi-6"], 24),
}
OPTED_OUT_USER = "bi-4"


def generations_of(
    day: dt.datetime, hour: int, users: list[str], completed: int
) -> dict[str, dict[str, Any]]:
    """Per provider from `hour` on: `completed` generations with distinct times, two failed
    (one with a cost), one still processing."""
    docs: dict[str, dict[str, Any]] = {}
    statuses = ["completed"] * completed + ["failed"] * 2 + ["processing"]
    for p, provider in enumerate(("runway", "pika")):
        for k, status in enumerate(statuses):
            created = day + dt.timedelta(hours=hour, minutes=6 * k + p, seconds=k * 7)
            doc: dict[str, Any] = {
                "userId": users[(k + p) % len(users)],
                "provider": provider,
                "status": status,
                "createdAt": created,
                "userTier": "premium" if k % 3 == 0 else "free",
                "startedAt": created + dt.timedelta(seconds=1.25 + k + 2 * p),
            }
            if status == "completed":
                doc["completedAt"] = created + dt.timedelta(seconds=20 + 13 * k + 5 * p)
                doc.update(
                    costUsd=0.01 * (k + 1) + 0.005 * p,
                    outputSeconds=5 + k,
                    qualityScore=5 + 0.25 * (k % 20),
                )
                if k % 2 == 0:
                    doc["userRating"] = 1 + (k + p) % 5
            elif status == "failed":
                doc["completedAt"] = created + dt.timedelta(seconds=40 + k)
                doc["error"] = {"code": "timeout", "message": "x", "retryable": True}
                if k == completed:
                    doc["costUsd"] = 0.02
            docs[f"bi-{day:%m%d}-{provider}-{k}"] = doc
    return docs


def seconds(start: dt.datetime | None, end: dt.datetime | None) -> float | None:
    return None if start is None or end is None else (end - start).total_seconds()


def exported_user(user: str, opted_out: set[str]) -> str:
    """The id the export writes: 'opted-out' for users who opted out, anonymised ids as they
    are, others as HMAC-SHA256 under the export's key."""
    if user in opted_out:
        return "opted-out"
    if user in ("erased", "opted-out"):
        return user
    return hmac.new(KEY, user.encode(), hashlib.sha256).hexdigest()


def mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def close(actual: Any, expected: float | None) -> bool:
    if expected is None:
        return actual is None
    return actual is not None and math.isclose(actual, expected, rel_tol=1e-9, abs_tol=1e-9)


def test_the_export_creates_the_bi_views_and_they_answer_what_python_computes(
    stack: Stack, db: firestore.Client, bq: BigQueryWarehouse
) -> None:
    batch = db.batch()
    for day, (hour, users, completed) in DAYS.items():
        for doc_id, doc in generations_of(day, hour, users, completed).items():
            batch.set(db.collection("video_generations").document(doc_id), doc)
    batch.commit()
    db.collection("analytics_opt_outs").document(OPTED_OUT_USER).set({"at": WEEK0})
    stack.settle()
    # A view left by an older definition is replaced, not kept.
    bq.client.create_dataset(bq.dataset, exists_ok=True)
    bq.query(f"CREATE VIEW `{bq.dataset}.daily_provider_summary` AS SELECT 1 AS stale")
    for day in DAYS:
        export_in_process(db, bq, day, pseudonym_key=KEY)  # each run replaces the views again

    for name in VIEWS:
        assert bq.client.get_table(f"{bq.dataset}.{name}").table_type == "VIEW"
    opted_out = {snap.id for snap in db.collection("analytics_opt_outs").stream()}
    records = {
        doc_id: doc
        for day in DAYS
        for doc_id, doc in in_day(db, "video_generation_metrics", "createdAt", day).items()
    }
    assert {f"bi-{d:%m%d}-runway-0" for d in DAYS} <= records.keys()
    check_generation_facts(bq, records, opted_out)
    check_daily_provider_summary(bq, records)
    check_cohort_retention(bq, records, opted_out)


def check_generation_facts(
    bq: BigQueryWarehouse, records: dict[str, dict[str, Any]], opted_out: set[str]
) -> None:
    facts = {
        row["generation_id"]: row
        for row in bq.query(f"SELECT * FROM `{bq.dataset}.generation_facts`")
    }
    assert facts.keys() == records.keys()
    for generation_id, doc in records.items():
        row = facts[generation_id]
        created, started, completed = doc["createdAt"], doc.get("startedAt"), doc.get("completedAt")
        expected = {
            "day": created.date(),
            "user_id": exported_user(doc["userId"], opted_out),
            "provider": doc["provider"],
            "tier": doc["userTier"],
            "status": doc["status"],
            "cost_usd": doc.get("costUsd"),
            "quality_score": doc.get("qualityScore"),
        }
        assert {k: row[k] for k in expected} == expected, generation_id
        for column, value in (
            ("queue_wait_seconds", seconds(created, started)),
            ("processing_seconds", seconds(started, completed)),
            ("total_seconds", seconds(created, completed)),
        ):
            assert close(row[column], value), (generation_id, column, row[column], value)
    assert any(r["status"] == "processing" and r["total_seconds"] is None for r in facts.values())
    assert any(r["user_id"] == "opted-out" for r in facts.values())
    assert not any(r["user_id"].startswith("bi-") for r in facts.values())  # pseudonymised


def check_daily_provider_summary(bq: BigQueryWarehouse, records: dict[str, dict[str, Any]]) -> None:
    groups: dict[tuple[dt.date, str], list[dict[str, Any]]] = defaultdict(list)
    for doc in records.values():
        groups[(doc["createdAt"].date(), doc["provider"])].append(doc)
    rows = bq.query(f"SELECT * FROM `{bq.dataset}.daily_provider_summary`")
    summary = {(row["day"], row["provider"]): row for row in rows}
    assert len(summary) == len(rows) and summary.keys() == groups.keys()
    for key, docs in groups.items():
        row = summary[key]
        done = [d for d in docs if d["status"] == "completed"]
        failed = [d for d in docs if d["status"] == "failed"]
        times = sorted(seconds(d["createdAt"], d["completedAt"]) or 0.0 for d in done)
        cost = sum(d.get("costUsd") or 0.0 for d in docs)
        output = sum(d["outputSeconds"] for d in done if d.get("outputSeconds") is not None)
        assert (row["generations"], row["completed"], row["failed"]) == (
            len(docs),
            len(done),
            len(failed),
        ), key
        assert close(row["success_rate"], len(done) / (len(done) + len(failed))), key
        assert close(row["avg_generation_seconds"], mean(times)), key
        assert close(row["cost_usd"], cost), key
        assert close(row["cost_per_output_second_usd"], cost / output if output else None), key
        quality = [d["qualityScore"] for d in docs if d.get("qualityScore") is not None]
        rating = [d["userRating"] for d in docs if d.get("userRating") is not None]
        assert close(row["avg_quality_score"], mean(quality)), key
        assert close(row["avg_user_rating"], mean(rating)), key
        # APPROX_QUANTILES is approximate by definition: the answer must be a completed
        # generation's time at the nearest rank or the one above (the emulator takes the
        # value at index floor(q * n), BigQuery is exact at this size).
        assert len(set(times)) == len(times) >= 6, key
        for q, column in ((0.5, "p50_generation_seconds"), (0.95, "p95_generation_seconds")):
            rank = math.ceil(q * len(times))
            assert row[column] in times[rank - 1 : rank + 1], (key, column, row[column], times)


def check_cohort_retention(
    bq: BigQueryWarehouse, records: dict[str, dict[str, Any]], opted_out: set[str]
) -> None:
    weeks: dict[str, set[dt.date]] = defaultdict(set)
    for doc in records.values():
        user = exported_user(doc["userId"], opted_out)
        if user not in ("erased", "opted-out"):
            day = doc["createdAt"].date()
            year, week, _ = day.isocalendar()
            weeks[user].add(dt.date.fromisocalendar(year, week, 1))
    first = {user: min(active) for user, active in weeks.items()}
    last = max(max(active) for active in weeks.values())
    expected = set()
    for cohort in sorted(set(first.values())):
        members = [u for u, f in first.items() if f == cohort]
        for offset in range((last - cohort).days // 7 + 1):
            week = cohort + dt.timedelta(weeks=offset)
            active = sum(week in weeks[u] for u in members)
            iso = cohort.isocalendar()
            expected.add(
                (cohort, f"{iso[0]}-W{iso[1]:02d}", offset, week, len(members), active,
                 active / len(members))
            )  # fmt: skip
    rows = bq.query(f"SELECT * FROM `{bq.dataset}.cohort_retention`")
    actual = {
        (r["cohort_week"], r["cohort_iso_week"], r["week_offset"], r["week"], r["cohort_users"],
         r["active_users"], r["share_active"])
        for r in rows
    }  # fmt: skip
    assert len(actual) == len(rows)
    assert actual == expected
    # The data's own shape: bi-7 (first seen on a Sunday) belongs to week 0's cohort.
    assert (WEEK0.date(), 0) in {(row[0], row[2]) for row in expected}
    assert first[exported_user("bi-7", opted_out)] == WEEK0.date()
