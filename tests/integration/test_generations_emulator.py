"""`GET /generations` over generations recorded by the real triggers: filters, exactly-once
paging (also with generations written between pages), user ids equal to the export's, audit."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
import requests
from google.cloud import firestore

from tests.integration.support import Stack, token, wait_until, whole_day

pytestmark = [pytest.mark.integration, pytest.mark.shared_data]
DAY, WINDOW = whole_day(1)
COUNT = 90
PROVIDERS = ("pika", "runway", "luma")
OPTED_OUT_USER = "user-4"


def get(stack: Stack, path: str, **params: str) -> requests.Response:
    return requests.get(
        stack.url("video_analytics_dashboard", path),
        params=params,
        headers={"Authorization": f"Bearer {token('analytics', uid='drill-reader')}"},
        timeout=60,
    )


def generation(i: int, day: dt.datetime = DAY) -> dict[str, Any]:
    """Generation i: pairs share their creation time (ties go by id) unless one is a multiple
    of five (250 us later); a third fail with one of two codes, a tenth still run."""
    created = day + dt.timedelta(minutes=7 * (i // 2) + 3, microseconds=0 if i % 5 else 250)
    status = "failed" if i % 3 == 1 else "processing" if i % 10 == 0 else "completed"
    doc: dict[str, Any] = {
        "userId": f"user-{i % 6}",
        "provider": PROVIDERS[i % 3 if i % 4 else 1],
        "status": status,
        "createdAt": created,
        "startedAt": created + dt.timedelta(seconds=4),
        "userTier": "premium" if i % 2 else "free",
        "costUsd": 0.05 * (i % 7),
        "outputSeconds": 6,
    }
    if status != "processing":
        doc["completedAt"] = created + dt.timedelta(seconds=30 + i % 20)
    if status == "failed":
        code = "provider_timeout" if i % 2 else "content_policy"
        doc["error"] = {"code": code, "message": "failed", "retryable": i % 2 == 1}
    return doc


def seed(stack: Stack, db: firestore.Client, docs: dict[str, dict[str, Any]]) -> None:
    """Write source documents and wait until the triggers recorded every one."""
    batch = db.batch()
    for doc_id, doc in docs.items():
        batch.set(db.collection("video_generations").document(doc_id), doc)
    batch.commit()
    metrics = db.collection("video_generation_metrics")
    wait_until(lambda: all(metrics.document(i).get().exists for i in docs), 120)
    stack.settle()


@pytest.fixture(scope="module")
def loaded(stack: Stack, db: firestore.Client) -> dict[str, dict[str, Any]]:
    stack.wipe()
    docs = {f"dr-{i:03d}": generation(i) for i in range(COUNT)}
    seed(stack, db, docs)
    db.collection("analytics_opt_outs").document(OPTED_OUT_USER).set(
        {"at": firestore.SERVER_TIMESTAMP}
    )
    return docs


def expected(docs: dict[str, dict[str, Any]], **wanted: str) -> list[str]:
    """The list computed here from the seed: matching, newest first, ties by id descending."""
    keep = []
    for doc_id, doc in docs.items():
        fields = {
            "provider": doc["provider"],
            "status": doc["status"],
            "errorCode": doc.get("error", {}).get("code"),
        }
        if all(fields[k] == v for k, v in wanted.items()):
            keep.append((doc["createdAt"], doc_id))
    return [doc_id for _, doc_id in sorted(keep, reverse=True)]


def pages(stack: Stack, limit: int, **params: str) -> list[list[dict[str, Any]]]:
    """Every page of a list, following `next`."""
    found, cursor = [], params.pop("cursor", None)
    while True:
        extra = {} if cursor is None else {"cursor": cursor}
        response = get(stack, "/generations", limit=str(limit), **params, **extra)
        assert response.status_code == 200, response.text
        body = response.json()
        found.append(body["generations"])
        cursor = body["next"]
        if cursor is None:
            return found


@pytest.mark.parametrize(
    "wanted",
    [
        {},
        {"provider": "runway"},
        {"status": "failed"},
        {"status": "processing", "provider": "pika"},
        {"errorCode": "provider_timeout"},
        {"status": "failed", "errorCode": "content_policy", "provider": "runway"},
    ],
)
def test_filtered_pages_hold_each_matching_generation_once(
    stack: Stack, loaded: dict[str, dict[str, Any]], wanted: dict[str, str]
) -> None:
    found = pages(stack, 7, **WINDOW, **wanted)
    ids = [row["generationId"] for page in found for row in page]
    assert ids == expected(loaded, **wanted)
    assert ids and all(len(page) <= 7 for page in found) and found[-1]
    for row in (row for page in found for row in page):
        source = loaded[row["generationId"]]
        assert (row["provider"], row["status"]) == (source["provider"], source["status"])
        if "completedAt" in source and source["status"] == "completed":
            seconds = (source["completedAt"] - source["createdAt"]).total_seconds()
            assert row["generationSeconds"] == pytest.approx(seconds)


def test_user_ids_and_figures_equal_the_exports(
    stack: Stack, loaded: dict[str, dict[str, Any]]
) -> None:
    listed = {row["generationId"]: row for page in pages(stack, 500, **WINDOW) for row in page}
    export = get(stack, "/export", dataset="generations", format="json", **WINDOW)
    assert export.status_code == 200, export.text
    exported = {row["generationId"]: row for row in json.loads(export.text)}
    assert listed == exported and len(listed) == COUNT
    opted = {i for i, d in loaded.items() if d["userId"] == OPTED_OUT_USER}
    assert opted and {listed[i]["userId"] for i in opted} == {"opted-out"}
    others = set(listed) - opted
    assert all(listed[i]["userId"] == loaded[i]["userId"] for i in others)


def test_each_page_is_in_the_audit_log(stack: Stack, db: firestore.Client) -> None:
    def entries() -> dict[str, dict[str, Any]]:
        found = ((d.id, d.to_dict() or {}) for d in db.collection("audit_log").stream())
        return {i: e for i, e in found if e.get("action") == "generations.list"}

    before = entries()
    first = get(stack, "/generations", status="failed", limit="5", **WINDOW).json()
    get(stack, "/generations", status="failed", limit="5", cursor=first["next"], **WINDOW)
    assert get(stack, "/generations", status="lost", **WINDOW).status_code == 400
    mine = [e for i, e in entries().items() if i not in before]
    assert all(e["details"]["status"] == "failed" for e in mine)  # the refusal wrote nothing
    assert sorted(e["details"]["cursor"] for e in mine) == [False, True]
    assert {(e["target"], e["outcome"], e["details"]["rows"]) for e in mine} == {
        ("generations", "ok", 5)
    }


def test_generations_written_between_pages_are_given_once(
    stack: Stack, db: firestore.Client
) -> None:
    day, window = whole_day(2)
    docs = {f"dw-{i:03d}": generation(i, day) for i in range(30)}
    seed(stack, db, docs)
    first = get(stack, "/generations", limit="10", **window).json()
    position = dt.datetime.fromisoformat(first["generations"][-1]["createdAt"])
    later = {  # one newer than the cursor's position (already passed), one older
        "dw-new": generation(1, day) | {"createdAt": position + dt.timedelta(seconds=1)},
        "dw-old": generation(2, day) | {"createdAt": day + dt.timedelta(seconds=1)},
    }
    later["dw-new"].pop("startedAt")
    later["dw-new"].pop("completedAt", None)
    later["dw-new"]["status"] = "queued"
    later["dw-new"].pop("error", None)
    later["dw-old"].update(startedAt=None, status="queued")
    later["dw-old"].pop("completedAt", None)
    later["dw-old"].pop("error", None)
    seed(stack, db, later)
    rest = pages(stack, 10, cursor=first["next"], **window)
    ids = [r["generationId"] for r in first["generations"]] + [
        r["generationId"] for page in rest for r in page
    ]
    assert len(ids) == len(set(ids))
    assert set(ids) == set(docs) | {"dw-old"}
    assert ids[-1] == "dw-old"
