"""The demo's system pressure seen in a real browser: the demo's own step (runway held at its
`maxConcurrent`, 40 jobs queued every 5 minutes, the tick run until `provider_saturation` and
`queue_depth` fire) runs against the local stack; then the System page shows the queue and the
open `queue_depth` alert, and the Capacity page runway at 100% with the open
`provider_saturation` alert, each equal to the API's answer. Screenshots go to `screenshots/`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from google.cloud import firestore

from local_stack.demo_system import MAX_CONCURRENT, SATURATED, run_system_pressure
from local_stack.run_demo import last_tick
from tests.browser.test_console_browser import (
    ADMIN,
    ANALYST,
    Console,
    fresh_console_stack,
    open_console,
    ready,
    serious_violations,
)
from tests.integration.support import PROJECT, Stack, token
from video_monitoring.alerting.rules import METRIC_GROUPS

pytestmark = pytest.mark.integration

from playwright.sync_api import Page  # noqa: E402


@pytest.fixture(scope="module")
def console(stack: Stack, db: firestore.Client, run_dir: Path) -> Iterator[Console]:
    local = fresh_console_stack(stack)
    assert local.console_url is not None and local.auth is not None
    # The users the demo's step calls the API as must exist, as the dashboard checks accounts.
    token("admin", uid="demo-admin")
    token("analytics", uid="demo-operator")
    assert run_system_pressure(local, db, PROJECT, last_tick(db))
    stack.settle()
    with open_console(stack, db, run_dir) as console:
        yield console


def open_alerts(page: Page) -> list[str]:
    """The page's open-alert rows as `ruleId · scope`."""
    section = page.locator("section[data-open-alerts]")
    return sorted(section.locator("tbody a").all_inner_texts())


def expected(console: Console, about: str) -> list[str]:
    """Every open alert on the group's metrics, as the page names them."""
    active: list[dict[str, Any]] = console.api(ANALYST, "/alerts", status="open")["active"]
    mine = (a for a in active if a["metric"] in METRIC_GROUPS[about])
    return sorted(f"{a['ruleId']} · {a['scope']}" for a in mine)


def test_the_system_page_shows_the_grown_queue_and_the_open_queue_depth_alert(
    console: Console,
) -> None:
    page = console.page(ANALYST)
    page.goto(f"{console.url}/system?window=1h")
    ready(page, "system")
    body = console.api(ANALYST, "/system", window="1h")
    queued = page.locator("[data-figure='system.queued']").inner_text()
    assert queued == f"{body['queue']['queued']:,}"
    assert body["queue"]["queued"] > 100  # past queue_depth's threshold
    rows = open_alerts(page)
    assert "queue_depth · overall" in rows
    assert rows == expected(console, "system")
    # The alert's link opens its page.
    page.get_by_role("link", name="queue_depth · overall").click()
    ready(page, "alerts")
    assert page.get_by_role("heading", level=1).inner_text() == "queue_depth · overall"
    console.shot(page, "system-pressure-alert")
    page.go_back()
    ready(page, "system")
    console.shot(page, "system-pressure")
    assert serious_violations(page) == []
    assert console.violations == []


def test_the_capacity_page_shows_runway_at_its_limit_and_the_open_saturation_alert(
    console: Console,
) -> None:
    page = console.page(ADMIN)
    page.goto(f"{console.url}/capacity?window=1h")
    ready(page, "capacity")
    body = console.api(ADMIN, "/capacity", window="1h")
    runway = next(p for p in body["providers"] if p["provider"] == SATURATED)
    assert (runway["inFlight"], runway["maxConcurrent"]) == (MAX_CONCURRENT, MAX_CONCURRENT)
    cell = page.locator(f"[data-capacity-figure='{SATURATED}.utilization']").first
    assert cell.inner_text() == "100.0%"
    rows = open_alerts(page)
    assert rows == [f"provider_saturation · provider:{SATURATED}"]
    assert rows == expected(console, "limits")
    console.shot(page, "capacity-pressure")
    assert serious_violations(page) == []
    # Keyboard: the alert's link is reachable by Tab from the page's start.
    page.locator("h1").first.focus()
    for _ in range(40):
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement && document.activeElement.textContent")
        if focused == f"provider_saturation · provider:{SATURATED}":
            break
    else:
        pytest.fail("the open alert's link is not reachable by keyboard")
    assert console.violations == []
