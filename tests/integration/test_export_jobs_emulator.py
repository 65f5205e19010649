"""Background exports end to end: a window over the synchronous cap is a 202, the real trigger
runs the worker, the file lands in the Cloud Storage emulator through the real client, and the
link downloads exactly the rows Firestore holds, byte for byte the synchronous export's file."""

from __future__ import annotations

import csv
import datetime as dt
import io
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from local_stack.ports import Port, free_ports
from local_stack.stack import LocalStack, StackPorts, start_stack
from local_stack.storage_emulator import StorageEmulator, start_storage_emulator, storage_missing
from tests.integration.support import PROJECT, Stack, client_of, token, wait_until, whole_day

pytestmark = pytest.mark.integration
DAY, WINDOW = whole_day(1)
COUNT = 620  # more than one page of the export's reads (500)
SYNC_CAP = 100  # the stack's csv cap: COUNT rows are a background job


@pytest.fixture(scope="module")
def own_stack() -> Iterator[tuple[Stack, firestore.Client, StorageEmulator]]:
    """A stack of this test's own, with the Cloud Storage emulator and a low csv cap."""
    if storage_missing() is not None:
        pytest.fail(f"{storage_missing()}")
    firestore_port, functions_port, storage_port = free_ports(3)
    with tempfile.TemporaryDirectory(prefix="export-jobs-stack-") as logs:
        storage = start_storage_emulator(
            Port(storage_port, "Cloud Storage emulator", "free port"), Path(logs)
        )
        try:
            local = start_stack(
                PROJECT, StackPorts(firestore_port, functions_port), run_schedules=False,
                log_dir=Path(logs),
                env={
                    "BIGQUERY_ENABLED": "false", "EXPORT_SYNC_ROWS_CSV": str(SYNC_CAP),
                    **storage.env(),
                },
            )  # fmt: skip
            try:
                yield Stack(local, local.functions_base), client_of(local), storage
            finally:
                local.stop()
        finally:
            storage.stop()


def metric(i: int) -> dict[str, Any]:
    """A generation's metrics record as the pipeline stores it (the fields exports read)."""
    created = DAY + dt.timedelta(seconds=60 * i + 7)
    return {
        "generationId": f"bg-{i:04d}", "userId": "=cmd|1" if i == 3 else f"user-{i % 17}",
        "provider": "pika" if i % 3 == 0 else "runway", "model": "m1",
        "status": "failed" if i % 11 == 0 else "completed", "userTier": "free",
        "createdAt": created, "costUsd": round(0.01 * i, 2), "attempts": 1 + i % 2,
        "features": ["hd"] if i % 2 else [],
    }  # fmt: skip


@pytest.fixture(scope="module")
def loaded(own_stack: tuple[Stack, firestore.Client, StorageEmulator]) -> None:
    _, db, _ = own_stack
    batch = db.batch()
    for i in range(COUNT):
        batch.set(db.collection("video_generation_metrics").document(f"bg-{i:04d}"), metric(i))
        if i % 400 == 399:
            batch.commit()
            batch = db.batch()
    batch.commit()


def export(local: LocalStack, uid: str = "exporter", **params: str) -> requests.Response:
    return requests.get(
        local.functions_url("video_analytics_dashboard", "/export"),
        params={"dataset": "generations", **WINDOW, **params},
        headers={"Authorization": f"Bearer {token('analytics', uid=uid)}"},
        timeout=60,
    )


def job_of(local: LocalStack, queued: requests.Response, uid: str = "exporter") -> dict[str, Any]:
    """The job behind a 202, read through its Location, once finished."""
    url = urllib.parse.urljoin(queued.url, queued.headers["Location"])
    answer: dict[str, Any] = {}

    def finished() -> bool:
        response = requests.get(
            url, headers={"Authorization": f"Bearer {token('analytics', uid=uid)}"}, timeout=30
        )
        assert response.status_code == 200, response.text
        answer.update(response.json())
        time.sleep(0.25)  # polling as the console does, not as fast as possible
        return answer["status"] in ("done", "failed")

    wait_until(finished, 120)
    return answer


def independent_rows(db: firestore.Client) -> list[dict[str, Any]]:
    """The window's metrics, read straight from Firestore, oldest first."""
    start, end = (dt.datetime.fromisoformat(WINDOW[k]) for k in ("from", "to"))
    query = (
        db.collection("video_generation_metrics")
        .where(filter=FieldFilter("createdAt", ">=", start))
        .where(filter=FieldFilter("createdAt", "<", end))
        .order_by("createdAt")
        .order_by("__name__")
    )
    return [snap.to_dict() or {} for snap in query.stream()]


def test_a_window_over_the_sync_cap_is_written_by_the_worker_and_downloads_whole(
    own_stack: tuple[Stack, firestore.Client, StorageEmulator], loaded: None
) -> None:
    stack, db, _ = own_stack
    queued = export(stack.local, format="csv")
    assert queued.status_code == 202, queued.text
    body = queued.json()
    assert body["status"] == "queued" and body["statusUrl"] == queued.headers["Location"]
    assert queued.headers["Location"] == f"export-jobs/{body['jobId']}"

    job = job_of(stack.local, queued)
    assert job["status"] == "done", job
    assert job["rows"] == COUNT
    download = requests.get(job["downloadUrl"], timeout=60)
    assert download.status_code == 200
    assert len(download.content) == job["bytes"]
    rows = list(csv.DictReader(io.StringIO(download.content.decode())))
    expected = independent_rows(db)
    assert len(expected) == COUNT
    assert [r["generationId"] for r in rows] == [e["generationId"] for e in expected]
    for row, doc in zip(rows, expected, strict=True):
        assert row["provider"] == doc["provider"] and row["status"] == doc["status"]
        assert float(row["costUsd"]) == doc["costUsd"]
        assert row["createdAt"] == doc["createdAt"].isoformat().replace("+00:00", "Z")
        cell = "'" + doc["userId"] if doc["userId"].startswith("=") else doc["userId"]
        assert row["userId"] == cell  # inert in a spreadsheet, as in a synchronous export
    job_doc = db.collection("export_jobs").document(job["jobId"]).get().to_dict() or {}
    assert job_doc["uid"] == "exporter" and job_doc["attempts"] == 1
    assert job_doc["expireAt"] > job_doc["createdAt"]  # the TTL field

    # The same window under a cap that allows it is answered in the request: the same bytes.
    local = stack.local
    local.stop_host()
    local.host_env["EXPORT_SYNC_ROWS_CSV"] = str(COUNT)
    local.start_host()
    try:
        sync = export(local, format="csv")
        assert sync.status_code == 200, sync.text
        assert sync.content == download.content
    finally:
        local.stop_host()
        local.host_env["EXPORT_SYNC_ROWS_CSV"] = str(SYNC_CAP)
        local.start_host()


def object_generation(storage: StorageEmulator, name: str) -> str:
    bucket, quoted = storage.bucket, urllib.parse.quote(name, safe="")
    meta = requests.get(f"{storage.host}/storage/v1/b/{bucket}/o/{quoted}", timeout=10)
    assert meta.status_code == 200, meta.text
    return str(meta.json()["generation"])


def test_a_redelivered_trigger_does_not_write_the_file_again(
    own_stack: tuple[Stack, firestore.Client, StorageEmulator], loaded: None
) -> None:
    stack, db, storage = own_stack
    queued = export(stack.local, uid="redelivered", format="csv", provider="pika")
    assert queued.status_code == 202, queued.text
    job = job_of(stack.local, queued, uid="redelivered")
    assert job["status"] == "done" and job["rows"] == sum(1 for i in range(COUNT) if i % 3 == 0)
    ref = db.collection("export_jobs").document(job["jobId"])
    before = ref.get().to_dict() or {}
    written = object_generation(storage, before["objectName"])
    deliveries = stack.recorded(job["jobId"])
    assert len(deliveries) == 1
    ok = stack.trigger_successes("run_export_job")
    assert stack.replay(deliveries[0]) == 204  # handled, doing nothing
    assert stack.trigger_successes("run_export_job") == ok + 1
    assert ref.get().to_dict() == before
    assert object_generation(storage, before["objectName"]) == written


def test_a_failing_worker_marks_the_job_failed_with_a_reason(
    own_stack: tuple[Stack, firestore.Client, StorageEmulator], loaded: None
) -> None:
    stack, _, _ = own_stack
    local = stack.local
    local.stop_host()
    local.host_env["EXPORT_BUCKET"] = "no-such-bucket"  # the upload is refused: 404
    local.start_host()
    try:
        queued = export(local, uid="unlucky", format="csv")
        assert queued.status_code == 202, queued.text
        job = job_of(local, queued, uid="unlucky")
    finally:
        local.stop_host()
        local.host_env.update(own_stack[2].env())
        local.start_host()
    assert job["status"] == "failed"
    assert job["error"].startswith(
        "Unavailable: Cloud Storage refused the upload to gs://no-such-bucket/exports/"
    ), job["error"]
    assert job["error"].endswith(": HTTP 404")
    assert "downloadUrl" not in job and job["finishedAt"] is not None
