"""The drill-down in a real browser: a provider row's link opens the Generations page filtered to
that provider, its rows and pages equal to GET /generations; an error code's link and a chart
bucket's link do the same for their filters. Screenshots go to the stack's `screenshots/`."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from google.cloud import firestore

from local_stack.auth_emulator import AuthEmulator
from tests.browser.test_console_browser import (
    ANALYST,
    CHROMIUM,
    fresh_console_stack,
    ready,
    serious_violations,
    sign_in,
)
from tests.integration.support import Stack, wait_until

pytestmark = pytest.mark.integration

from playwright.sync_api import Browser, Page, sync_playwright  # noqa: E402

PIKA, RUNWAY = 70, 20  # pika fills more than one page of 50


@dataclass
class Drill:
    """The console's URL, the Auth emulator, the browser and where screenshots go."""

    url: str
    auth: AuthEmulator
    browser: Browser
    shots: Path

    def page(self) -> Page:
        """A fresh context signed in as the analyst, on the overview."""
        page = self.browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        page.goto(self.url + "/")
        ready(page, "signin")
        sign_in(page, ANALYST)
        ready(page, "overview")
        return page

    def api(self, path: str, **params: str) -> dict[str, Any]:
        """GET an API path on the console's origin as the analyst."""
        token = self.auth.sign_in(ANALYST.email, ANALYST.password)
        response = requests.get(
            f"{self.url}/api{path}",
            params=params,
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


def generation(i: int, provider: str, now: dt.datetime) -> dict[str, Any]:
    created = now - dt.timedelta(minutes=50, seconds=-30 * i)
    failed = i % 4 == 1
    doc: dict[str, Any] = {
        "userId": f"drill-user-{i % 9}",
        "provider": provider,
        "status": "failed" if failed else "completed",
        "createdAt": created,
        "startedAt": created + dt.timedelta(seconds=2),
        "completedAt": created + dt.timedelta(seconds=20 + i % 30),
        "userTier": "free",
        "costUsd": 0.02 * (i % 5),
        "outputSeconds": 5,
    }
    if failed:
        doc["error"] = {"code": "provider_timeout", "message": "timed out", "retryable": True}
    return doc


@pytest.fixture(scope="module")
def drill(stack: Stack, db: firestore.Client, run_dir: Path) -> Iterator[Drill]:
    local = fresh_console_stack(stack)
    assert local.console_url is not None and local.auth is not None
    now = dt.datetime.now(dt.UTC)
    batch = db.batch()
    for i in range(PIKA + RUNWAY):
        provider = "pika" if i < PIKA else "runway"
        batch.set(
            db.collection("video_generations").document(f"br-{i:03d}"), generation(i, provider, now)
        )
    batch.commit()
    metrics = db.collection("video_generation_metrics")
    wait_until(lambda: sum(1 for _ in metrics.select([]).stream()) == PIKA + RUNWAY, 120)
    stack.settle()
    shots = run_dir / "screenshots"
    shots.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield Drill(local.console_url, local.auth, browser, shots)
        finally:
            browser.close()


def shown_rows(page: Page) -> list[str]:
    """The generation ids of the page's table, top to bottom."""
    return page.locator("main tbody tr td:nth-child(2)").all_inner_texts()


def query_of(page: Page) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(page.url).query).items()}


def cursor_of(text: str) -> dict[str, Any]:
    """A list cursor's content (base64url JSON, `w` its window)."""
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    return data


def window_start(cursor: dict[str, Any]) -> dt.datetime:
    return dt.datetime.fromisoformat(cursor["w"][0].replace("Z", "+00:00"))


def test_a_provider_row_opens_its_generations_page_by_page(drill: Drill) -> None:
    page = drill.page()
    page.goto(f"{drill.url}/providers?window=24h")
    ready(page, "providers")
    page.screenshot(path=str(drill.shots / "providers-links.png"), full_page=True)
    page.get_by_role("link", name=f"{PIKA} generations of pika: list them").click()
    ready(page, "generations")
    assert query_of(page) == {"window": "24h", "provider": "pika"}
    first = drill.api("/generations", window="24h", provider="pika")
    assert len(first["generations"]) == 50 and first["next"]
    assert shown_rows(page) == [g["generationId"] for g in first["generations"]]
    assert page.locator("[data-figure='generations.shown']").inner_text() == (
        "First page: 50 generations"
    )
    drill_row = first["generations"][0]
    cells = page.locator("main tbody tr").first.locator("td").all_inner_texts()
    assert cells[2:5] == ["pika", drill_row["status"], drill_row["errorCode"] or ""]
    assert cells[8] == f"${drill_row['costUsd']:,.4f}"
    page.screenshot(path=str(drill.shots / "generations-pika.png"), full_page=True)
    page.get_by_role("link", name="Next page").click()
    ready(page, "generations")
    # The page's list and the test's may have resolved `24h` a minute apart: the cursors then
    # differ in their window only, never in the position they continue after.
    shown_cursor, api_cursor = cursor_of(query_of(page)["cursor"]), cursor_of(first["next"])
    assert {k: v for k, v in shown_cursor.items() if k != "w"} == {
        k: v for k, v in api_cursor.items() if k != "w"
    }
    assert abs(window_start(shown_cursor) - window_start(api_cursor)) <= dt.timedelta(minutes=1)
    second = drill.api("/generations", window="24h", provider="pika", cursor=first["next"])
    assert second["next"] is None and len(second["generations"]) == PIKA - 50
    assert shown_rows(page) == [g["generationId"] for g in second["generations"]]
    assert page.get_by_text("Last page").is_visible()
    every = shown_rows(page)
    page.go_back()
    ready(page, "generations")
    assert set(every).isdisjoint(shown_rows(page))
    assert len(set(every) | set(shown_rows(page))) == PIKA
    page.context.close()


def test_an_error_code_link_lists_the_failed_generations_with_it(drill: Drill) -> None:
    page = drill.page()
    page.goto(f"{drill.url}/providers?window=24h")
    ready(page, "providers")
    failed = sum(1 for i in range(RUNWAY) if (PIKA + i) % 4 == 1)
    page.get_by_role("link", name=f"provider_timeout {failed}").last.click()
    ready(page, "generations")
    wanted = {"window": "24h", "provider": "runway", "status": "failed"}
    assert query_of(page) == {**wanted, "errorCode": "provider_timeout"}
    body = drill.api("/generations", **wanted, errorCode="provider_timeout")
    assert len(body["generations"]) == failed
    assert shown_rows(page) == [g["generationId"] for g in body["generations"]]
    page.screenshot(path=str(drill.shots / "generations-runway-failed.png"), full_page=True)
    page.context.close()


def test_a_chart_bucket_links_to_its_minutes(drill: Drill) -> None:
    page = drill.page()
    page.goto(f"{drill.url}/?window=1h")
    ready(page, "overview")
    volume = page.locator("figure", has_text="Generations per bucket")
    volume.locator("summary").click()
    page.screenshot(path=str(drill.shots / "overview-bucket-links.png"), full_page=True)
    links = volume.locator("details a")
    trends = drill.api("/trends", window="1h", granularity="minute", horizon="0")
    busy = next(s for s in trends["series"] if s["total"] > 0)
    link = links.and_(page.locator(f"[data-bucket='{busy['start']}']"))
    link.click()
    ready(page, "generations")
    asked = query_of(page)
    assert asked["from"] == busy["start"].replace(".000", "")
    body = drill.api("/generations", **asked)
    assert len(body["generations"]) == busy["total"] == len(shown_rows(page))
    page.context.close()


@pytest.mark.parametrize("width", [1280, 390])
def test_the_page_passes_axe_and_works_from_the_keyboard(drill: Drill, width: int) -> None:
    page = drill.page()
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{drill.url}/generations?window=24h&provider=pika&status=lost")
    ready(page, "error")  # the API's 400, readable, naming the parameter
    assert "status: expected one of" in page.locator("main").inner_text()
    page.goto(f"{drill.url}/generations?window=24h&provider=pika")
    ready(page, "generations")
    bad = serious_violations(page)
    assert bad == []
    page.screenshot(path=str(drill.shots / f"generations-{width}.png"), full_page=True)
    # The status filter from the keyboard: a new list from its first page.
    page.focus("#ctl-status")
    page.keyboard.press("ArrowDown")  # any -> queued
    page.wait_for_url("**/generations?*status=queued*")
    ready(page, "generations")
    assert query_of(page) == {"window": "24h", "provider": "pika", "status": "queued"}
    assert page.get_by_text("No generation matches in this window.").is_visible()
    page.context.close()
