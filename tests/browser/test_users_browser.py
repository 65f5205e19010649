"""The Users page's sessions, heatmaps and cohort table in a real browser against the session
stack: every figure equals GET /user-insights' for the same window (and what was written), for
an admin and an analyst; the page passes axe and its tables scroll from the keyboard;
screenshots are saved under the session's stack directory (`screenshots/`)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
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
    serious_violations,
)
from tests.integration.session_traffic import Traffic, write
from tests.integration.support import Stack

pytestmark = pytest.mark.integration
__all__ = ["no_csp_violation"]  # every page here runs without a CSP violation too


@pytest.fixture(scope="module")
def traffic(stack: Stack, db: firestore.Client) -> Traffic:
    """The sessions and generations, on a freshly wiped console stack, and the tick's snapshot."""
    fresh_console_stack(stack)
    written = write(stack, db)
    assert stack.run_schedule("aggregate_and_alert") == 200  # the snapshot with the cohorts
    return written


@pytest.fixture(scope="module")
def console(
    stack: Stack, db: firestore.Client, run_dir: Path, traffic: Traffic
) -> Iterator[Console]:

    local = stack.local
    assert local.console_url is not None and local.auth is not None
    with open_console(stack, db, run_dir) as console:
        yield console


def window(traffic: Traffic) -> dict[str, str]:
    start, end = traffic.window()
    return {"from": start.isoformat().replace("+00:00", "Z"),
            "to": end.isoformat().replace("+00:00", "Z")}  # fmt: skip


def shown(value: float, digits: int) -> str:
    """As the page's toLocaleString: the shortest decimal of the number, rounded half up."""
    exact = Decimal(repr(value)).quantize(Decimal(1).scaleb(-digits), ROUND_HALF_UP)
    return f"{exact:,}"


def minutes(seconds: float | None) -> str:
    return "–" if seconds is None else f"{shown(seconds / 60, 1)} min"


def share(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.0f}%"


@pytest.mark.parametrize("user", [ADMIN, ANALYST], ids=["admin", "analytics"])
def test_the_users_page_shows_the_apis_sessions_heatmaps_and_cohorts(
    console: Console, traffic: Traffic, user: DemoUser
) -> None:
    params = window(traffic)
    page = console.page(user)
    page.goto(f"{console.url}/users?from={params['from']}&to={params['to']}")
    ready(page, "users")
    body: dict[str, Any] = console.api(user, "/user-insights", **params)
    s = body["sessionFigures"]
    assert s["count"] == traffic.session_figures()["count"] > 10
    assert figure(page, "sessions.count") == f"{s['count']:,}"
    assert figure(page, "sessions.median") == minutes(s["durationSeconds"]["median"])
    assert figure(page, "sessions.p95") == minutes(s["durationSeconds"]["p95"])
    assert figure(page, "sessions.perUser") == shown(s["perUser"], 2)
    for name in ("generations", "sessions"):
        grid = body["heatmap"][name]
        assert grid == traffic.grid(
            traffic.generations if name == "generations" else [t for _, t, _ in traffic.sessions]
        )
        cells = page.locator(f"[data-heat^='{name}.']").evaluate_all(
            "els => els.map(e => [e.dataset.heat, e.textContent])"
        )
        days = body["heatmap"]["weekdays"]
        expected = [
            [f"{name}.{days[d]}.{h}", f"{grid[d][h]:,}"] for d in range(7) for h in range(24)
        ]
        assert cells == expected
    rows = body["cohorts"]["rows"]
    assert sum(r["users"] for r in rows) >= 8
    for row in rows:
        users = page.locator(f"[data-cohort='{row['week']}.users']").inner_text()
        assert users == f"{row['users']:,}"
        for cell in row["weeks"]:
            text = page.locator(f"[data-heat='cohort.{row['week']}.{cell['offset']}']").inner_text()
            star = "*" if cell["partial"] and cell["share"] is not None else ""
            assert text == share(cell["share"]) + star
    console.shot(page, f"users-sessions-{'admin' if user is ADMIN else 'analytics'}")
    page.context.close()


@pytest.mark.parametrize("width", [1280, 390])
def test_the_users_page_passes_axe_and_its_tables_scroll_from_the_keyboard(
    console: Console, traffic: Traffic, width: int
) -> None:
    params = window(traffic)
    page = console.page(ADMIN, width=width, dark=width < 600)
    page.goto(f"{console.url}/users?from={params['from']}&to={params['to']}")
    ready(page, "users")
    bad = serious_violations(page)
    assert bad == []
    console.shot(page, f"users-sessions-{width}")
    region = page.get_by_role("region", name="Table: sessions by UTC weekday and hour")
    region.focus()
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == (
        "Table: sessions by UTC weekday and hour"
    )
    page.keyboard.press("Tab")  # the next stop is the cohort table's region
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == (
        "Table: weekly cohort retention"
    )
    if width < 600:  # the 24 hours do not fit: the heatmap scrolls sideways from the keyboard
        assert region.evaluate("el => el.scrollWidth > el.clientWidth")
        region.focus()
        for _ in range(5):
            page.keyboard.press("ArrowRight")
        page.wait_for_function("() => document.activeElement.scrollLeft > 0", timeout=5000)
    page.context.close()
