"""The System page in a real browser against the session stack: the queue and the functions'
runtime it shows equal GET /system's for the same window, for an admin and an analyst; a
screenshot of each is saved under the session's stack directory (`screenshots/`)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from google.cloud import firestore

from local_stack.auth_emulator import DemoUser
from tests.browser.test_console_browser import (
    ADMIN,
    ANALYST,
    Console,
    figure,
    fresh_console_stack,
    no_csp_violation,
    open_console,
    ready,
)
from tests.integration.support import Stack, wait_until

pytestmark = pytest.mark.integration
__all__ = ["no_csp_violation"]  # every page here runs without a CSP violation too
# (provider, status, minutes ago created, minutes ago started): a queue with waits and an age.
JOBS = (
    ("runway", "queued", 12, None), ("runway", "queued", 4, None), ("pika", "queued", 7, None),
    ("runway", "processing", 20, 15), ("pika", "processing", 9, 8),
    ("runway", "completed", 30, 29), ("pika", "completed", 25, 22),
)  # fmt: skip
BROKEN = 2  # deliveries the trigger fails on


@pytest.fixture(scope="module")
def console(stack: Stack, db: firestore.Client, run_dir: Path) -> Iterator[Console]:

    local = fresh_console_stack(stack)
    assert local.console_url is not None and local.auth is not None
    now = dt.datetime.now(dt.UTC)
    for n, (provider, status, created, started) in enumerate(JOBS):
        doc = {
            "userId": f"sys-user-{n}", "provider": provider, "status": status,
            "userTier": "free", "createdAt": now - dt.timedelta(minutes=created),
        }  # fmt: skip
        if started is not None:
            doc["startedAt"] = now - dt.timedelta(minutes=started)
        if status == "completed":
            doc["completedAt"] = now - dt.timedelta(minutes=1)
        db.collection("video_generations").document(f"sys-{n}").set(doc)
    ledger = db.collection("video_generation_metrics")
    wait_until(lambda: len(list(ledger.select([]).stream())) == len(JOBS), timeout=60)
    stack.settle()
    event = stack.recorded("sys-0")[0]
    for _ in range(BROKEN):
        headers = {**event["headers"], "content-type": "application/protobuf"}
        url = f"{stack.functions_base}{event['path']}"
        assert requests.post(url, data=b"\x0a\xff", headers=headers, timeout=30).status_code == 500
    stack.settle()
    with open_console(stack, db, run_dir) as console:
        yield console


def seconds_shown(text: str) -> float:
    """The number of a `12.3 s` figure."""
    match = re.fullmatch(r"([0-9,.]+) s", text.strip())
    assert match, text
    return float(match.group(1).replace(",", ""))


@pytest.mark.parametrize("user", [ADMIN, ANALYST], ids=["admin", "analytics"])
def test_the_system_page_shows_the_apis_queue_and_functions(
    console: Console, user: DemoUser
) -> None:
    page = console.page(user)
    page.goto(f"{console.url}/system?window=1h")
    ready(page, "system")
    body = console.api(user, "/system", window="1h")
    queue = body["queue"]
    queued = sum(1 for _, status, _, _ in JOBS if status == "queued")
    assert queue["queued"] == queued
    assert figure(page, "system.queued") == f"{queued:,}"
    # The oldest queued job's age grows while the test runs: the page's read came first.
    shown = seconds_shown(figure(page, "system.oldestQueuedSeconds"))
    assert queue["oldestQueuedSeconds"] - 30 <= shown <= queue["oldestQueuedSeconds"] + 0.05
    assert 12 * 60 - 1 <= shown <= 12 * 60 + 60
    assert figure(page, "system.netGrowthPerMinute") == f"{queue['netGrowthPerMinute']:,.2f}"
    for row in body["providers"]:
        cell = page.locator(f"[data-system-figure='{row['provider']}.queued']")
        assert cell.inner_text() == f"{row['queued']:,}"
        wait = row["waitP95Seconds"]
        shown_wait = page.locator(f"[data-system-figure='{row['provider']}.waitP95Seconds']")
        assert shown_wait.inner_text() == ("–" if wait is None else f"{wait:.1f} s")
    # The generations' trigger ran once per written generation and once per broken delivery.
    trigger = {f["function"]: f for f in body["functions"]}["on_generation_written"]
    assert (trigger["executions"], trigger["errors"]) == (len(JOBS) + BROKEN, BROKEN)
    cells = {
        name: page.locator(f"[data-system-figure='on_generation_written.{name}']").inner_text()
        for name in ("executions", "errors", "errorRate", "p95ExecutionMs")
    }
    assert cells["executions"] == f"{len(JOBS) + BROKEN:,}" and cells["errors"] == f"{BROKEN}"
    assert cells["errorRate"] == f"{trigger['errorRate'] * 100:.1f}%"
    assert cells["p95ExecutionMs"] == f"{trigger['p95ExecutionMs']:,.1f} ms"
    assert "Read from the local functions host." in page.locator("main").inner_text()
    console.shot(page, f"system-{'admin' if user is ADMIN else 'analytics'}")
    page.context.close()
