"""Custom dashboards in a real browser against the session stack: an admin creates one with two
panels from the keyboard-reachable form, the URL shows it again after a reload with each panel's
figure equal to the API's; an analyst cannot open an admin's private one nor edit a shared one;
axe finds nothing serious. Screenshots under the session's `screenshots/`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from google.cloud import firestore

from local_stack.auth_emulator import DemoUser
from local_stack.traffic import simulate
from tests.browser.test_console_browser import (
    ADMIN,
    ANALYST,
    Console,
    fresh_console_stack,
    no_csp_violation,
    open_console,
    percent,
    ready,
    serious_violations,
)
from tests.integration.support import Stack, summary, wait_until

pytestmark = pytest.mark.integration
__all__ = ["no_csp_violation"]  # every page here runs without a CSP violation too


@pytest.fixture(scope="module")
def console(stack: Stack, db: firestore.Client, run_dir: Path) -> Iterator[Console]:

    local = fresh_console_stack(stack)
    assert local.console_url is not None and local.auth is not None
    tally = simulate(db, count=150, seed=11, progress=False, prefix="boards")
    wanted = tally.generations()

    def caught_up() -> bool:
        got = summary(stack, {"window": "24h"})["generations"]
        return all(got[k] == wanted[k] for k in ("total", "completed", "failed", "inProgress"))

    wait_until(caught_up, 120)
    stack.settle()
    with open_console(stack, db, run_dir, tally) as console:
        yield console


def call(
    console: Console, user: DemoUser, method: str, path: str, body: Any = None, **params: str
) -> tuple[int, Any]:
    """Any API call on the console's origin as `user`: the status and the JSON answer."""
    token = console.auth.sign_in(user.email, user.password)
    response = requests.request(
        method, f"{console.url}/api{path}", params=params, json=body,
        headers={"Authorization": f"Bearer {token}"}, timeout=60,
    )  # fmt: skip
    return response.status_code, (response.json() if response.content else None)


def test_an_admin_builds_a_dashboard_and_its_url_shows_the_apis_figures(console: Console) -> None:
    page = console.page(ADMIN)
    page.locator("nav a", has_text="Dashboards").click()
    ready(page, "dashboards")
    # The form from the keyboard: the title, Enter creates it and opens the editor.
    page.get_by_label("Title").focus()
    page.keyboard.type("Ops review")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/dashboards/ops-review-[a-z0-9]{4}\?edit=1$"))
    ready(page, "dashboards")
    board_id = page.url.split("/dashboards/")[1].split("?")[0]
    add = page.get_by_role("button", name="Add panel")
    add.click()
    assert page.evaluate("document.activeElement.id") == "panel-0-figure"
    page.locator("#panel-0-figure").select_option("successRate")
    page.locator("#panel-0-window").select_option("24h")
    add.click()
    page.locator("#panel-1-figure").select_option("generations.total")
    page.locator("#panel-1-scope").select_option("runway")
    page.locator("#panel-1-chart").select_option("table")
    console.shot(page, "dashboard-edit")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(f"**/dashboards/{board_id}")
    ready(page, "dashboards")
    status, stored = call(console, ADMIN, "GET", f"/dashboards/{board_id}")
    assert status == 200
    assert stored["dashboard"]["panels"] == [
        {"figure": "successRate", "scope": "overall", "window": "24h", "chart": "tile"},
        {"figure": "generations.total", "scope": "runway", "window": "24h", "chart": "table"},
    ]
    assert stored["dashboard"]["shared"] is False

    page.reload()  # the URL alone shows it
    ready(page, "dashboards")
    assert page.get_by_role("heading", name="Ops review").is_visible()
    expected = call(console, ADMIN, "GET", "/summary", window="24h")[1]
    rate = expected["generations"]["successRate"]
    assert rate is not None and expected["generations"]["total"] > 0
    tile = page.locator("[data-panel='0']")
    assert tile.locator("[data-figure='successRate']").inner_text() == percent(rate, 2)
    assert float(tile.get_attribute("data-value") or "nan") == rate
    _, trends = call(console, ADMIN, "GET", "/trends", window="24h", provider="runway",
                     metric="total", granularity="hour", horizon="0")  # fmt: skip
    cells = page.locator("[data-panel='1'] [data-bucket]")
    shown = {cells.nth(i).get_attribute("data-bucket"): cells.nth(i).inner_text()
             for i in range(cells.count())}  # fmt: skip
    assert shown == {p["start"]: f"{p['total']:,}" for p in trends["series"]}
    assert sum(p["total"] for p in trends["series"]) > 0
    console.shot(page, "dashboard-show")
    page.goto(f"{console.url}/dashboards")
    ready(page, "dashboards")
    assert page.get_by_role("link", name="Ops review").is_visible()
    console.shot(page, "dashboards-list")
    page.context.close()


def test_an_analyst_cannot_open_an_admins_private_one_nor_edit_a_shared_one(
    console: Console,
) -> None:
    private = {"title": "Admin only", "panels": [{"figure": "costUsd"}]}
    assert call(console, ADMIN, "PUT", "/dashboards/admin-private", private)[0] in (200, 201)
    shared = {"title": "Team board", "shared": True, "panels": [{"figure": "generations.total"}]}
    assert call(console, ADMIN, "PUT", "/dashboards/team-board", shared)[0] in (200, 201)
    page = console.page(ANALYST)
    page.goto(f"{console.url}/dashboards/admin-private")
    ready(page, "error")
    assert page.get_by_role("heading", name="Not found").is_visible()
    page.goto(f"{console.url}/dashboards")
    ready(page, "dashboards")
    assert page.get_by_role("link", name="Admin only").count() == 0
    page.get_by_role("link", name="Team board").click()
    ready(page, "dashboards")
    assert page.get_by_text("you may view it, not change it").is_visible()
    assert page.get_by_role("link", name="Edit").count() == 0
    assert page.get_by_role("button", name="Delete").count() == 0
    expected = call(console, ANALYST, "GET", "/summary", window="24h")[1]
    shown = page.locator("[data-figure='generations.total']").inner_text()
    assert shown == f"{expected['generations']['total']:,}"
    page.goto(f"{console.url}/dashboards/team-board?edit=1")  # the editor is not offered
    ready(page, "dashboards")
    assert page.get_by_role("button", name="Save").count() == 0
    console.shot(page, "dashboard-analyst-shared")
    status, body = call(console, ANALYST, "PUT", "/dashboards/team-board", {"title": "Mine"})
    assert (status, body["error"]["code"]) == (403, "permission-denied")
    assert call(console, ANALYST, "GET", "/dashboards/admin-private")[0] == 404
    page.context.close()


@pytest.mark.parametrize("width", [1280, 390])
def test_the_pages_pass_axe_and_the_editor_works_from_the_keyboard(
    console: Console, width: int
) -> None:
    body = {"title": "Axe board", "panels": [
        {"figure": "successRate", "chart": "line"}, {"figure": "costUsd", "chart": "bar"},
        {"figure": "queue.queued"}, {"figure": "business.revenueUsd", "chart": "table"},
    ]}  # fmt: skip
    assert call(console, ADMIN, "PUT", "/dashboards/axe-board", body)[0] in (200, 201)
    page = console.page(ADMIN, width=width, dark=width < 600)
    found: dict[str, list[str]] = {}

    def check(name: str) -> None:
        bad = serious_violations(page)
        if bad:
            found[name] = bad
        console.shot(page, f"dashboards-{width}-{name}")

    page.goto(f"{console.url}/dashboards")
    ready(page, "dashboards")
    check("list")
    page.goto(f"{console.url}/dashboards/axe-board")
    ready(page, "dashboards")
    assert page.locator("[data-panel] .chart").count() == 2
    check("show")
    # Edit from the keyboard: Tab reaches the Edit link; Enter opens the editor.
    page.locator("main a", has_text="All dashboards").focus()
    for _ in range(5):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "Edit":
            break
    assert page.evaluate("document.activeElement.textContent") == "Edit"
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/dashboards/axe-board\?edit=1$"))
    ready(page, "dashboards")
    page.get_by_role("button", name="Remove panel 4").focus()
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.textContent") == "Add panel"
    check("edit")
    page.get_by_role("button", name="Save").focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/dashboards/axe-board")
    ready(page, "dashboards")
    assert len(call(console, ADMIN, "GET", "/dashboards/axe-board")[1]["dashboard"]["panels"]) == 3
    assert found == {}
    page.context.close()
