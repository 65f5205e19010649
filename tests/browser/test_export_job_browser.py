"""A background export in the console, in a real browser: a window over the csv format's
synchronous cap is answered 202, the Exports page follows the job (queued, then preparing) until
the worker has written the file to the Cloud Storage emulator, then offers its link, and the link
serves exactly the rows Firestore holds.

The session stack's functions host is restarted for this module with the storage emulator's
settings and a csv cap of a few rows, and restarted again with its own settings afterwards."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from google.cloud import firestore

from local_stack.ports import Port, free_ports
from local_stack.storage_emulator import start_storage_emulator, storage_missing
from tests.browser.test_console_browser import (
    ANALYST,
    CHROMIUM,
    fresh_console_stack,
    ready,
    sign_in,
)
from tests.integration.support import Stack

pytestmark = pytest.mark.integration

from playwright.sync_api import Browser, sync_playwright  # noqa: E402

COUNT = 37  # generations in the last day
SYNC_CAP = 10  # the host's csv cap while this module runs: COUNT rows are a background job


@dataclass
class JobConsole:
    url: str
    browser: Browser
    shots: Path
    rows: list[dict[str, Any]]  # the generations written, oldest first


def generation(i: int, now: dt.datetime) -> dict[str, Any]:
    """A generation's metrics record as the pipeline stores it (the fields exports read)."""
    return {
        "generationId": f"job-{i:03d}", "userId": f"user-{i % 7}",
        "provider": ("runway", "pika", "heygen")[i % 3], "model": "m1",
        "status": "failed" if i % 9 == 0 else "completed", "userTier": "free",
        "createdAt": now - dt.timedelta(minutes=30 * (COUNT - i)),
        "costUsd": round(0.05 * i, 2), "attempts": 1,
    }  # fmt: skip


@pytest.fixture(scope="module")
def job_console(stack: Stack, db: firestore.Client, run_dir: Path) -> Iterator[JobConsole]:
    local = fresh_console_stack(stack)
    assert local.console_url is not None and local.auth is not None
    missing = storage_missing()
    if missing is not None:
        if os.environ.get("CI"):
            raise AssertionError(f"CI must run the background export's browser test: {missing}")
        pytest.skip(missing)
    (storage_port,) = free_ports(1)
    storage = start_storage_emulator(
        Port(storage_port, "Cloud Storage emulator", "free port"), run_dir
    )
    saved = dict(local.host_env)
    local.stop_host()
    local.host_env.update({**storage.env(), "EXPORT_SYNC_ROWS_CSV": str(SYNC_CAP)})
    local.start_host()
    try:
        now = dt.datetime.now(dt.UTC)
        rows = [generation(i, now) for i in range(COUNT)]
        batch = db.batch()
        for row in rows:
            batch.set(db.collection("video_generation_metrics").document(row["generationId"]), row)
        batch.commit()
        shots = run_dir / "screenshots"
        shots.mkdir(exist_ok=True)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            try:
                yield JobConsole(local.console_url, browser, shots, rows)
            finally:
                browser.close()
    finally:
        local.stop_host()
        local.host_env.clear()
        local.host_env.update(saved)
        local.start_host()
        storage.stop()


def test_a_large_csv_is_prepared_in_the_background_and_its_link_serves_every_row(
    job_console: JobConsole,
) -> None:
    context = job_console.browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(job_console.url + "/")
    ready(page, "signin")
    sign_in(page, ANALYST)
    ready(page, "overview")
    page.goto(f"{job_console.url}/exports?window=24h")
    ready(page, "exports")
    page.get_by_role("button", name="Download CSV").click()

    # The 202: the page names the job and follows it.
    # (The handle outlives the element, which the next poll replaces.)
    following = page.wait_for_selector("[data-export-job]", timeout=20_000)
    assert following is not None
    job_id = following.get_attribute("data-export-job")
    assert job_id and len(job_id) == 32
    assert "in the background" in (following.text_content() or "")
    page.screenshot(path=str(job_console.shots / "exports-job-preparing.png"), full_page=True)

    # Done: a notice with the row count and the link.
    link = page.locator(f"[data-export-link='{job_id}']")
    link.wait_for(timeout=60_000)
    notice = page.locator(".message.notice").inner_text()
    assert f"({COUNT} rows" in notice, notice
    page.screenshot(path=str(job_console.shots / "exports-job-ready.png"), full_page=True)
    href = link.get_attribute("href")
    assert href and href.startswith("http://127.0.0.1:")
    file_name = link.get_attribute("download")
    assert file_name and file_name.endswith(".csv")

    # The link, fetched by the browser's context, serves the rows Firestore holds, oldest first.
    served = context.request.get(href)
    assert served.status == 200
    read = list(csv.DictReader(io.StringIO(served.text())))
    expected = sorted(job_console.rows, key=lambda r: r["createdAt"])
    assert [r["generationId"] for r in read] == [r["generationId"] for r in expected]
    for got, want in zip(read, expected, strict=True):
        assert got["provider"] == want["provider"] and got["status"] == want["status"]
        assert float(got["costUsd"]) == want["costUsd"]
    context.close()
