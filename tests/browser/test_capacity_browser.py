"""The Capacity page in a real browser against the local stack: fifteen days of hourly history and
jobs in flight written through the real triggers, limits set by an admin; the page's figures equal
GET /capacity's, an analytics user sees no form, and an admin's edit is refused with the API's
reason when bad and stored (then shown) when good. Screenshots go to `screenshots/`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from google.cloud import firestore

from tests.browser.test_console_browser import (
    ADMIN,
    ANALYST,
    Console,
    fresh_console_stack,
    open_console,
    ready,
)
from tests.integration.support import Stack, api, wait_until
from tests.integration.test_planning_emulator import RENDER_SECONDS, seeds

pytestmark = pytest.mark.integration

from playwright.sync_api import Page  # noqa: E402

LIMITS = {"maxConcurrent": 4, "maxPerMinute": 10, "monthlyBudgetUsd": 50.0}


@pytest.fixture(scope="module")
def console(stack: Stack, db: firestore.Client, run_dir: Path) -> Iterator[Console]:
    local = fresh_console_stack(stack)
    assert local.console_url is not None and local.auth is not None
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    today = now.replace(hour=0, minute=0, second=0)
    docs: dict[str, dict[str, Any]] = {}
    for doc_id, created in seeds(today):
        docs[doc_id] = {
            "status": "completed", "createdAt": created,
            "startedAt": created + dt.timedelta(seconds=10),
            "completedAt": created + dt.timedelta(seconds=10 + RENDER_SECONDS),
            "costUsd": 0.5,
        }  # fmt: skip
    for i in range(3):  # in flight now
        created = now - dt.timedelta(minutes=5 + i)
        docs[f"now-{i}"] = {"status": "processing", "createdAt": created,
                            "startedAt": created + dt.timedelta(seconds=30)}  # fmt: skip
    for doc_id, body in docs.items():
        provider = "pika" if doc_id == "now-2" else "runway"
        db.collection("video_generations").document(doc_id).set(
            {"userId": f"user-{doc_id}", "provider": provider, "userTier": "free", **body}
        )
    ledger = db.collection("video_generation_metrics")
    wait_until(lambda: len(list(ledger.select([]).stream())) == len(docs), timeout=90)
    stack.settle()
    assert api(stack, "PUT", "/capacity/runway", LIMITS)[0] == 200
    with open_console(stack, db, run_dir) as console:
        yield console


def number(value: float | None, digits: int = 0) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def percent(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def shown(page: Page, name: str) -> str:
    return page.locator(f"[data-capacity-figure='{name}']").first.inner_text()


def open_capacity(console: Console, page: Page) -> None:
    page.goto(f"{console.url}/capacity?window=1h")
    ready(page, "capacity")


def check_figures(page: Page, body: dict[str, Any]) -> None:
    """Every provider's figures on the page equal the API's answer."""
    for row in body["providers"]:
        p, f = row["provider"], row["forecast"]
        peak = max((d["peakPerHour"] for d in f["days"]), default=0.0)
        assert shown(page, f"{p}.inFlight") == number(row["inFlight"]), p
        assert shown(page, f"{p}.maxConcurrent") == number(row["maxConcurrent"]), p
        assert shown(page, f"{p}.utilization") == percent(row["utilization"]), p
        assert shown(page, f"{p}.rateUtilization") == percent(row["rateUtilization"]), p
        assert shown(page, f"{p}.peakPerHour") == number(peak, 1), p
        assert shown(page, f"{p}.monthToDateUsd") == f"${number(row['monthToDateUsd'], 2)}", p
        assert shown(page, f"{p}.capacityPerHour") == number(f["capacityPerHour"], 1), p
        assert shown(page, f"{p}.headroom") == percent(f["headroom"]), p
        if f["crosses80At"] is not None:
            assert shown(page, f"{p}.crosses80At") == f["crosses80At"], p


def test_an_analyst_sees_the_apis_figures_and_the_forecast_but_no_form(
    console: Console,
) -> None:
    page = console.page(ANALYST)
    open_capacity(console, page)
    body = console.api(ANALYST, "/capacity", window="1h")
    runway = next(r for r in body["providers"] if r["provider"] == "runway")
    assert (runway["inFlight"], runway["utilization"]) == (2, 0.5)  # two of four slots
    assert runway["forecast"]["model"] == "trend+hour-of-week"
    # 4 slots each held 1,300 s serve 11.1 an hour: the seed's peaks of 1.6 to 2.6 stay under.
    assert runway["forecast"]["capacityPerHour"] == pytest.approx(4 * 3600 / RENDER_SECONDS)
    assert runway["forecast"]["crosses80At"] is None
    assert shown(page, "runway.crosses80At") == "not within 14 days"
    check_figures(page, body)
    assert page.locator("form[aria-label^='Limits of']").count() == 0
    charted = [r for r in body["providers"] if r["forecast"]["model"] != "none"]
    assert page.locator("figure.chart canvas").count() == len(charted) >= 1
    assert page.locator("#nav a[data-page='capacity']").get_attribute("aria-current") is not None
    assert page.outside == []  # type: ignore[attr-defined]
    console.shot(page, "capacity-analytics")
    page.context.close()


def test_an_admin_edit_is_refused_when_bad_and_round_trips_when_good(console: Console) -> None:
    page = console.page(ADMIN)
    open_capacity(console, page)
    form = page.locator("form[aria-label='Limits of runway']")
    assert form.get_by_label("Max concurrent").input_value() == "4"
    form.get_by_label("Max concurrent").fill("0")
    form.get_by_role("button", name="Save runway's limits").click()
    error = form.get_by_role("alert")
    error.wait_for()
    assert "maxConcurrent:" in error.inner_text()
    assert form.get_by_label("Max concurrent").get_attribute("aria-invalid") == "true"
    rows = console.api(ADMIN, "/capacity")["providers"]
    assert next(r for r in rows if r["provider"] == "runway")["maxConcurrent"] == 4  # unwritten
    console.shot(page, "capacity-admin-refused")

    form.get_by_label("Max concurrent").fill("8")
    form.get_by_label("Monthly budget (USD)").fill("")
    form.get_by_role("button", name="Save runway's limits").click()
    page.get_by_role("status").filter(has_text="Saved runway's limits.").wait_for()
    body = console.api(ADMIN, "/capacity", window="1h")
    runway = next(r for r in body["providers"] if r["provider"] == "runway")
    assert (runway["maxConcurrent"], runway["maxPerMinute"], runway["monthlyBudgetUsd"]) == (
        8,
        10,
        None,
    )
    page.wait_for_function(
        "() => document.querySelector(\"[data-capacity-figure='runway.utilization']\")"
        "?.textContent === '25.0%'"
    )
    check_figures(page, body)
    console.shot(page, "capacity-admin")
    page.context.close()
