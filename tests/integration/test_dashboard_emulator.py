"""The dashboard over real Firestore data: exports paged and streamed, quality and business."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from typing import Any

import pytest
import requests
from google.cloud import firestore

from tests.integration.support import Stack, token, wait_until, whole_day

# Three tests read the traffic `loaded` writes once (COUNT generations through the triggers).
pytestmark = [pytest.mark.integration, pytest.mark.shared_data]
DAY, WINDOW = whole_day(1)
COUNT = 620  # more than one export page (500)


def get(stack: Stack, path: str, role: str = "analytics", **params: str) -> requests.Response:
    return requests.get(
        stack.url("video_analytics_dashboard", path),
        params=params,
        headers={"Authorization": f"Bearer {token(role)}"},
        timeout=60,
    )


def generation(i: int) -> dict[str, Any]:
    created = DAY + dt.timedelta(seconds=60 * i + 7)
    return {
        "userId": f"=cmd|{i}" if i == 0 else f"user-{i}",
        "provider": "pika" if i % 3 == 0 else "runway",
        "status": "completed",
        "createdAt": created,
        "startedAt": created + dt.timedelta(seconds=2),
        "completedAt": created + dt.timedelta(seconds=50 + i % 40),
        "userTier": "premium" if i % 2 else "free",
        "qualityScore": 5 + i % 5,
        "userRating": 1 + i % 5,
        "costUsd": 0.5,
        "outputSeconds": 10,
    }


@pytest.fixture(scope="module")
def loaded(stack: Stack, db: firestore.Client) -> list[dict[str, Any]]:
    stack.wipe()
    docs = [generation(i) for i in range(COUNT)]
    batch = db.batch()
    for i, doc in enumerate(docs):
        batch.set(db.collection("video_generations").document(f"ex-{i:04d}"), doc)
        if i % 400 == 399:
            batch.commit()
            batch = db.batch()
    batch.commit()
    metrics = db.collection("video_generation_metrics")
    wait_until(lambda: sum(1 for _ in metrics.select([]).stream()) == COUNT, 120)
    stack.settle()
    return docs


def test_export_streams_every_row_across_pages(stack: Stack, loaded: list[dict[str, Any]]) -> None:
    response = get(stack, "/export", dataset="generations", format="csv", **WINDOW)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/csv")
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="generations_')
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["generationId"] for r in rows] == [f"ex-{i:04d}" for i in range(COUNT)]
    assert rows[0]["userId"] == "'=cmd|0"  # a formula is never live in a spreadsheet
    assert rows[5]["generationSeconds"] == str(float(50 + 5 % 40))

    pika = get(stack, "/export", dataset="generations", format="ndjson", provider="pika", **WINDOW)
    lines = [json.loads(line) for line in pika.text.splitlines()]
    assert len(lines) == sum(1 for d in loaded if d["provider"] == "pika")
    assert {line["provider"] for line in lines} == {"pika"}

    xlsx = get(stack, "/export", dataset="generations", format="xlsx", **WINDOW)
    assert xlsx.status_code == 200 and xlsx.headers["Content-Disposition"].endswith('.xlsx"')
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(xlsx.content), read_only=True)["generations"]
    cells = list(sheet.iter_rows(values_only=True))
    assert len(cells) == COUNT + 1 and cells[1][1] == "'=cmd|0"
    pdf = get(stack, "/export", dataset="alerts", format="pdf", **WINDOW)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")

    bad = get(stack, "/export", dataset="users", **WINDOW)
    assert bad.status_code == 400 and bad.json()["error"]["message"].startswith("dataset:")


def test_quality_and_business_from_the_rollups(stack: Stack, loaded: list[dict[str, Any]]) -> None:
    quality = get(stack, "/quality", **WINDOW)
    assert quality.status_code == 200, quality.text
    by_name = {p["provider"]: p for p in quality.json()["providers"]}
    for name in ("pika", "runway"):
        mine = [d for d in loaded if d["provider"] == name]
        assert by_name[name]["generations"] == len(mine)
        mean = sum(d["qualityScore"] for d in mine) / len(mine)
        assert by_name[name]["quality"]["avgScore"] == pytest.approx(mean, abs=1e-3)
    assert quality.json()["qualityVsSatisfaction"]["pairs"] == COUNT
    business = get(stack, "/business", **WINDOW).json()
    premium = sum(1 for d in loaded if d["userTier"] == "premium")
    assert business["generations"]["premium"] == premium
    assert get(stack, "/business", role="nobody", **WINDOW).status_code == 403


def test_user_insights_from_user_days(stack: Stack, loaded: list[dict[str, Any]]) -> None:
    before = get(stack, "/user-insights", **WINDOW).json()["days"][0]
    assert (before["activeUsers"], before["asOf"]) == (0, None)  # not computed by a request
    assert stack.run_schedule("aggregate_and_alert") == 200  # the tick computes the open days
    response = get(stack, "/user-insights", **WINDOW)
    assert response.status_code == 200, response.text
    body = response.json()
    # Yesterday: the tick's open-day figures, or its final snapshot once past 01:00 UTC.
    assert [d["source"] for d in body["days"]] in (["live"], ["snapshot"])
    day = body["days"][0]
    assert day["asOf"] is not None
    assert day["activeUsers"] == len({d["userId"] for d in loaded})
    assert day["generations"] == COUNT
    premium = {d["userId"] for d in loaded if d["userTier"] == "premium"}
    assert day["segments"]["premium"]["users"] == len(premium)
    bad = get(stack, "/user-insights", provider="pika", **WINDOW)
    assert bad.status_code == 400 and bad.json()["error"]["message"].startswith("provider:")


def test_admin_actions_leave_an_audit_trail(stack: Stack, db: firestore.Client) -> None:
    assert stack.run_schedule("aggregate_and_alert") == 200  # seeds the default rules
    url = stack.url("video_analytics_dashboard", "/alert-rules/slow_generation")
    rule = get(stack, "/alert-rules/slow_generation").json()["rule"]
    body = {k: v for k, v in rule.items() if k != "ruleId"} | {"threshold": 100.0}
    for role, status in (("analytics", 403), ("admin", 200)):
        response = requests.put(
            url, json=body, headers={"Authorization": f"Bearer {token(role)}"}, timeout=30
        )
        assert response.status_code == status, response.text
    entries = [
        d.to_dict() or {}
        for d in db.collection("audit_log").stream()
        if (d.to_dict() or {}).get("action") == "rule.update"
    ]
    outcomes = sorted((e["role"], e["outcome"]) for e in entries)
    assert outcomes == [("admin", "ok")]  # the refused call is counted, not recorded
    done = next(e for e in entries if e["outcome"] == "ok")
    assert done["details"]["before"]["threshold"] == 90.0
    assert done["details"]["after"]["threshold"] == 100.0


def test_export_rate_limit_holds_across_concurrent_instances(db: firestore.Client) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from video_monitoring.adapters.firestore_access import FirestoreRateLimiter

    limiter = FirestoreRateLimiter(3, dt.timedelta(hours=1), client=db)
    now = dt.datetime.now(dt.UTC)
    with ThreadPoolExecutor(max_workers=4) as pool:
        waits = list(pool.map(lambda _: limiter.take("export__racer", now), range(6)))
    assert sum(1 for w in waits if w is None) == 3  # transactions: no lost update
    assert all(w is not None and w > 0 for w in waits if w is not None)


def test_cors_for_the_listed_web_app_only(stack: Stack) -> None:
    from tests.conftest import WEB_APP

    url = stack.url("video_analytics_dashboard", "/summary")
    preflight = requests.options(
        url,
        headers={"Origin": WEB_APP, "Access-Control-Request-Method": "GET",
                 "Access-Control-Request-Headers": "authorization"},
        timeout=10,
    )  # fmt: skip
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == WEB_APP
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
    auth = {"Authorization": f"Bearer {token()}"}
    allowed = requests.get(url, headers={**auth, "Origin": WEB_APP}, timeout=30)
    assert allowed.status_code == 200
    assert allowed.headers["Access-Control-Allow-Origin"] == WEB_APP
    other = requests.get(url, headers={**auth, "Origin": "https://evil.example"}, timeout=30)
    assert "Access-Control-Allow-Origin" not in other.headers
    assert other.headers["Vary"] == "Origin"
