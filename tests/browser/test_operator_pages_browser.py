"""The Health, Objectives, Erase a user and Digests pages and the navigation's menus in a real
browser against the session stack: per role, figures equal to the API's (and to counts taken
from Firestore), validation errors the API gives, the keyboard and axe-core; screenshots under
the session's stack directory (`screenshots/`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter
from playwright.sync_api import Page, Response, expect

from local_stack.auth_emulator import DemoUser
from tests.browser.test_console_browser import (
    ADMIN,
    ANALYST,
    Console,
    fresh_console_stack,
    no_csp_violation,
    open_console,
    ready,
    serious_violations,
)
from tests.integration.support import Stack, wait_until

pytestmark = pytest.mark.integration
__all__ = ["no_csp_violation"]  # every page here runs without a CSP violation too
ERASED_USER = "erase-me-7"
# (user, provider, status, minutes ago): a failure spends the success objective's budget.
JOBS = (
    ("ops-a", "runway", "completed", 50), ("ops-a", "runway", "failed", 40),
    ("ops-b", "pika", "completed", 30), ("ops-b", "pika", "completed", 20),
)  # fmt: skip
# The erased user's, yesterday (minutes after noon), so the nightly export puts them in BigQuery.
YESTERDAYS = (
    (ERASED_USER, "runway", "completed", 35), (ERASED_USER, "pika", "failed", 25),
    (ERASED_USER, "pika", "completed", 15),
)  # fmt: skip
ALL_JOBS = JOBS + YESTERDAYS
USER_COLLECTIONS = (
    "video_generation_metrics", "analytics_events", "event_contributions", "user_days",
)  # fmt: skip


@pytest.fixture(scope="module")
def console(stack: Stack, db: firestore.Client, run_dir: Path) -> Iterator[Console]:

    local = fresh_console_stack(stack)
    assert local.console_url is not None and local.auth is not None
    now = dt.datetime.now(dt.UTC)
    noon = now.replace(hour=12, minute=0, second=0, microsecond=0) - dt.timedelta(days=1)
    for n, (user, provider, status, minutes) in enumerate(ALL_JOBS):
        if n < len(JOBS):
            created = now - dt.timedelta(minutes=minutes)
        else:
            created = noon + dt.timedelta(minutes=minutes)
        doc: dict[str, Any] = {
            "userId": user, "provider": provider, "status": status, "userTier": "free",
            "createdAt": created, "startedAt": created + dt.timedelta(seconds=3),
            "completedAt": created + dt.timedelta(seconds=40),
        }  # fmt: skip
        if status == "failed":
            doc["error"] = {"code": "provider_timeout", "message": "timed out", "retryable": True}
        db.collection("video_generations").document(f"ops-{n}").set(doc)
    db.collection("analytics_events").document("ops-view").set(
        {"type": "video_viewed", "userId": ERASED_USER, "timestamp": now - dt.timedelta(minutes=9)}
    )
    ledger = db.collection("video_generation_metrics")
    wait_until(lambda: len(list(ledger.select([]).stream())) == len(ALL_JOBS), timeout=60)
    stack.settle()
    tick = now.replace(second=0, microsecond=0) - dt.timedelta(minutes=1)
    assert stack.run_schedule("aggregate_and_alert", tick) == 200
    # The nightly export: yesterday's rows into the BigQuery tables an erasure anonymises.
    assert stack.run_schedule("export_to_bigquery", now) == 200
    with open_console(stack, db, run_dir) as console:
        yield console


def call(
    console: Console, method: str, path: str, user: DemoUser = ADMIN, body: Any = None, **q: str
) -> tuple[int, Any]:
    """Any API call on the console's origin; the status and the JSON answer."""
    token = console.auth.sign_in(user.email, user.password)
    response = requests.request(
        method, f"{console.url}/api{path}", params=q, json=body,
        headers={"Authorization": f"Bearer {token}"}, timeout=120,
    )  # fmt: skip
    return response.status_code, (response.json() if response.content else None)


def shown(page: Page, attribute: str, name: str) -> str:
    return page.locator(f"[{attribute}='{name}']").first.inner_text().strip()


def role_name(user: DemoUser) -> str:
    return "admin" if user is ADMIN else "analytics"


def test_the_navigation_puts_secondary_pages_in_menus_that_fit_one_row(console: Console) -> None:
    page = console.page(ADMIN)
    nav = page.locator("#nav")
    # At 1280 px every entry of the bar sits on one row (the bar wrapped before the menus).
    tops = nav.evaluate("n => [...n.children].map(c => Math.round(c.getBoundingClientRect().top))")
    assert len(set(tops)) == 1, tops
    assert nav.locator("summary").all_inner_texts() == ["More", "Admin"]
    health = nav.locator("a[data-page='health']")
    assert not health.is_visible()  # in the closed menu
    # The keyboard: Tab to the menu's label, Enter opens it, Tab reaches its first link.
    more = nav.locator("summary", has_text="More")
    more.focus()
    page.keyboard.press("Enter")
    assert nav.locator("details[data-group='More']").get_attribute("open") is not None
    console.shot(page, "nav-more-open")
    page.keyboard.press("Escape")  # closes it, the focus back on the label
    assert nav.locator("details[data-group='More']").get_attribute("open") is None
    assert page.evaluate("document.activeElement.textContent") == "More"
    page.keyboard.press("Enter")
    labels = ["Capacity", "System", "Health"]
    for label in labels:
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == label
    page.keyboard.press("Enter")
    ready(page, "health")
    assert health.get_attribute("aria-current") == "page"
    assert more.get_attribute("data-current") is not None  # the menu says it holds the page
    assert nav.locator("details[open]").count() == 0  # a choice closes the menu
    # A click elsewhere closes an open menu too.
    more.click()
    page.locator("main h1").click()
    assert nav.locator("details[open]").count() == 0
    page.context.close()
    analyst = console.page(ANALYST, width=390)
    assert analyst.locator("#nav summary").all_inner_texts() == ["More"]  # no Admin menu
    analyst.locator("#nav summary", has_text="More").click()
    console.shot(analyst, "phone-nav-more-open")
    analyst.locator("#nav a[data-page='objectives']").click()
    ready(analyst, "objectives")
    analyst.context.close()


@pytest.mark.parametrize("user", [ADMIN, ANALYST], ids=["admin", "analytics"])
def test_the_health_page_shows_each_check_as_the_api_gives_it(
    console: Console, user: DemoUser
) -> None:
    page = console.page(user)
    page.goto(f"{console.url}/system")
    ready(page, "system")
    page.get_by_role("link", name="Health", exact=True).last.click()
    ready(page, "health")
    status, body = call(console, "GET", "/health", user)
    assert status == (200 if body["status"] == "ok" else 503)
    assert shown(page, "data-health-figure", "status") == body["status"]
    assert [c["check"] for c in body["checks"]] == [
        "tick", "rollups", "rejections", "notifications", "quarantine", "export",
    ]  # fmt: skip
    for check in body["checks"]:
        state = shown(page, "data-health-check", check["check"])
        assert state == ("passing" if check["ok"] else "failing"), check
    assert body["lastTick"] is not None  # the fixture's tick ran
    tick = dt.datetime.fromisoformat(body["lastTick"]).strftime("%Y-%m-%d %H:%M UTC")
    assert shown(page, "data-health-figure", "lastTick") == tick
    for name, value in (
        ("queue.inProgress", body["queue"]["inProgress"]),
        ("outbox.backlog", body["outbox"]["backlog"]),
        ("changesLastHour", body["changesLastHour"]),
    ):
        assert shown(page, "data-health-figure", name) == f"{value:,}", name
    assert body["changesLastHour"] >= len(JOBS)
    # The lag grows while changes wait for the fold: the page's read came first.
    lag = float(shown(page, "data-health-figure", "pipelineLagSeconds").removesuffix(" s"))
    assert body["pipelineLagSeconds"] - 30 <= lag <= body["pipelineLagSeconds"] + 0.05
    console.shot(page, f"health-{role_name(user)}")
    page.context.close()


@pytest.mark.parametrize("user", [ADMIN, ANALYST], ids=["admin", "analytics"])
def test_the_objectives_page_shows_each_budget_as_the_api_gives_it(
    console: Console, user: DemoUser
) -> None:
    page = console.page(user)
    page.goto(f"{console.url}/objectives")
    ready(page, "objectives")
    _, body = call(console, "GET", "/slos", user)
    success = {o["sloId"]: o for o in body["objectives"]}["generation_success"]
    overall = {b["scope"]: b for b in success["budgets"]}["overall"]
    # Independently: the fixture wrote two failed and five completed generations.
    failed = sum(1 for *_, status, _ in ALL_JOBS if status == "failed")
    assert (overall["valid"], overall["bad"]) == (len(ALL_JOBS), 2) == (7, failed)
    for objective in body["objectives"]:
        for budget in objective["budgets"]:
            key = f"{objective['sloId']}.{budget['scope']}"
            assert shown(page, "data-slo-figure", f"{key}.valid") == f"{budget['valid']:,}"
            assert shown(page, "data-slo-figure", f"{key}.bad") == f"{budget['bad']:,}"
            assert shown(page, "data-slo-figure", f"{key}.allowedBad") == (
                f"{budget['allowedBad']:,.2f}"
            )
            sli = budget["sli"]
            assert shown(page, "data-slo-figure", f"{key}.sli") == (
                "–" if sli is None else f"{sli * 100:.2f}%"
            )
    edit = page.get_by_role("button", name="Edit generation_success")
    if user is ANALYST:
        assert edit.count() == 0
        assert page.get_by_text("Read only: changing an objective needs").is_visible()
        forged = {"sli": "success", "target": 0.9}
        assert call(console, "PUT", "/slos/generation_success", ANALYST, forged)[0] == 403
    else:
        assert edit.count() == 1
    console.shot(page, f"objectives-{role_name(user)}")
    page.context.close()


def test_an_admin_edits_an_objective_and_sees_the_apis_validation_error(console: Console) -> None:
    page = console.page(ADMIN)
    page.goto(f"{console.url}/objectives")
    ready(page, "objectives")
    page.get_by_role("button", name="Edit generation_success").click()
    form = page.get_by_role("form", name="Edit objective generation_success")
    target = form.get_by_label("Target", exact=False)
    assert page.evaluate("document.activeElement.id") == "slo-generation_success-target"
    target.fill("1.5")
    form.get_by_role("button", name="Save generation_success").click()
    error = form.locator("#slo-generation_success-target-error")
    expect(error).to_contain_text("target")
    assert target.get_attribute("aria-invalid") == "true"
    status, api_error = call(console, "PUT", "/slos/generation_success", ADMIN,
                             {"sli": "success", "target": 1.5})  # fmt: skip
    assert status == 400 and error.inner_text() == api_error["error"]["message"]
    console.shot(page, "objectives-invalid")
    target.fill("0.9")
    form.get_by_label("Window (days, 1 to 90)").fill("7")
    page.keyboard.press("Enter")  # submits from the keyboard
    page.get_by_text("Saved generation_success").wait_for()
    _, stored = call(console, "GET", "/slos/generation_success")
    assert (stored["objective"]["target"], stored["objective"]["windowDays"]) == (0.9, 7)
    # The budgets are recomputed with the new target: 10% of the seven generations may fail.
    assert shown(page, "data-slo-figure", "generation_success.target") == "90.0%"
    allowed = shown(page, "data-slo-figure", "generation_success.overall.allowedBad")
    assert allowed == f"{0.1 * len(ALL_JOBS):,.2f}"
    console.shot(page, "objectives-saved")
    restore = {
        "sli": "success", "target": 0.995, "windowDays": 28,
        "description": "99.5% of generations complete (failed ones spend the budget)",
    }  # fmt: skip
    assert call(console, "PUT", "/slos/generation_success", ADMIN, restore)[0] == 200
    page.context.close()


def held(db: firestore.Client, user_id: str) -> dict[str, int]:
    """How many documents of each collection name the user."""
    counts = {}
    for name in USER_COLLECTIONS:
        query = db.collection(name).where(filter=FieldFilter("userId", "==", user_id))
        counts[name] = len(list(query.stream()))
    return counts


def test_an_analyst_cannot_open_the_erase_page(console: Console) -> None:
    page = console.page(ANALYST)
    assert page.locator("#nav a[data-page='erase']").count() == 0
    page.goto(f"{console.url}/erase")
    ready(page, "error")
    assert page.get_by_role("heading", name="Not allowed").is_visible()
    page.context.close()


def test_an_admin_erases_a_user_after_typing_the_id_twice(console: Console) -> None:
    before = held(console.db, ERASED_USER)
    assert before["video_generation_metrics"] == 3 and before["analytics_events"] > 0, before
    page = console.page(ADMIN)
    page.locator("#nav summary", has_text="Admin").click()
    page.locator("#nav a[data-page='erase']").click()
    ready(page, "erase")
    button = page.get_by_role("button", name="Erase this user's data")
    assert button.is_disabled()
    page.get_by_label("User id", exact=True).fill(ERASED_USER)
    assert button.is_disabled()
    again = page.get_by_label("The same user id again")
    again.fill(ERASED_USER + "x")
    assert button.is_disabled()
    assert page.get_by_text("The ids differ.").is_visible()
    again.fill(ERASED_USER)
    assert button.is_enabled()
    console.shot(page, "erase-confirmed")
    answers: list[Response] = []
    page.on("response", lambda r: answers.append(r) if r.url.endswith("/erase") else None)
    page.keyboard.press("Enter")  # the keyboard submits the form
    progress = page.locator("[data-erase-progress]")
    report = page.locator(f"[data-erased='{ERASED_USER}']")
    expect(progress.or_(report).first).to_be_visible()
    if progress.is_visible():
        assert button.is_disabled()  # no second erasure while one runs
        console.shot(page, "erase-running")
    # On a loaded machine the BigQuery emulator can time out: the API says so (Firestore done)
    # and a rerun finishes the erasure, from the same page.
    failure = page.locator("main .message.error")
    for attempt in range(3):
        report.or_(failure).first.wait_for(timeout=240_000)
        if report.is_visible():
            break
        assert "run the erasure again" in failure.inner_text(), failure.inner_text()
        console.shot(page, "erase-failed")
        assert attempt < 2 and button.is_enabled()
        button.click()
        expect(failure).to_have_count(0)
    assert page.locator("form").get_attribute("aria-busy") is None
    answer = answers[-1].json()
    assert answers[-1].status == 200 and answer["userId"] == ERASED_USER
    # Figures equal to the API's answer; on a first run, to the documents the user had.
    expected = {
        f"{collection}.{kind}": count
        for collection, counts in answer["firestore"].items()
        for kind, count in counts.items()
    }
    if len(answers) == 1:
        assert expected == {
            "video_generation_metrics.anonymised": before["video_generation_metrics"],
            "event_contributions.anonymised": before["event_contributions"],
            "analytics_events.anonymised": expected["analytics_events.anonymised"],
            "analytics_events.deleted": before["analytics_events"]
            - expected["analytics_events.anonymised"],
            "user_days.deleted": before["user_days"],
        }
        # Yesterday's three generations were exported; their rows are anonymised too.
        assert answer["bigquery"]["generation_metrics"] == len(YESTERDAYS)
    for name, count in expected.items():
        assert shown(page, "data-erase-figure", f"firestore.{name}") == f"{count:,}", name
    total = int(shown(page, "data-erase-figure", "firestore.total").replace(",", ""))
    assert total == sum(expected.values())
    for table, rows in (answer["bigquery"] or {}).items():
        assert shown(page, "data-erase-figure", f"bigquery.{table}") == f"{rows:,}", table
    assert held(console.db, ERASED_USER) == dict.fromkeys(USER_COLLECTIONS, 0)
    _, audit = call(console, "GET", "/audit-log", action="user.erase")
    assert audit["entries"][0]["outcome"] == "ok"  # the newest: the erasure that finished
    console.shot(page, "erase-done")
    page.context.close()


def in_unit(unit: str, value: float | None) -> str:
    """A digest's headline figure as the page writes it."""
    if value is None:
        return "–"
    return {
        "ratio": f"{value * 100:.2f}%", "s": f"{value:.1f} s", "usd": f"${value:,.2f}",
        "count": f"{value:,.0f}",
    }.get(unit, f"{value:,.2f}")  # fmt: skip


@pytest.mark.parametrize("user", [ADMIN, ANALYST], ids=["admin", "analytics"])
def test_the_digests_page_subscribes_and_shows_the_apis_digest(
    console: Console, user: DemoUser
) -> None:
    page = console.page(user)
    page.goto(f"{console.url}/digests")
    ready(page, "digests")
    form = page.get_by_role("form", name="Digests")
    form.get_by_label("Email me the daily digest (after 07:00 UTC)").check()
    form.get_by_role("button", name="Save digests").click()
    page.get_by_text(f"Digests go to {user.email}.").wait_for()
    _, choice = call(console, "GET", "/me/digests", user)
    # The reviews are chosen on the Reports page; a save here leaves them as they were.
    assert choice == {
        "daily": True, "weekly": False, "monthly": False, "quarterly": False,
        "email": user.email,
    }  # fmt: skip
    for period in ("weekly", "daily"):
        if period == "daily":
            page.get_by_label("Digest", exact=True).select_option("daily")
            page.wait_for_url("**/digests?period=daily")
            ready(page, "digests")
        _, digest = call(console, "GET", "/digest", user, period=period)
        for row in digest["headline"]:
            for field in ("value", "previous"):
                name = f"{row['name']}.{field}"
                assert shown(page, "data-digest-figure", name) == in_unit(row["unit"], row[field])
        if period == "daily":  # yesterday: the erased user's three generations
            (total,) = [row for row in digest["headline"] if row["label"] == "Generations"]
            assert total["value"] == len(YESTERDAYS)
        alerts = shown(page, "data-digest-figure", "alerts")
        assert alerts.startswith(f"{digest['alerts']['fired']:,} fired"), alerts
    console.shot(page, f"digests-{role_name(user)}")
    page.context.close()


@pytest.mark.parametrize("width", [1280, 390])
def test_axe_finds_nothing_serious_on_the_new_pages(console: Console, width: int) -> None:
    page = console.page(ADMIN, width=width, dark=width < 600)
    found: dict[str, list[str]] = {}
    for path in ("/health", "/objectives", "/erase", "/digests"):
        page.goto(f"{console.url}{path}")
        ready(page, path.strip("/"))
        if path == "/objectives":
            page.get_by_role("button", name="Edit generation_success").click()
        page.locator("#nav summary", has_text="More").click()  # the open menu is checked too
        bad = serious_violations(page)
        if bad:
            found[path] = bad
        console.shot(page, f"{'phone' if width < 600 else 'wide'}-{path.strip('/')}")
    assert found == {}
    page.context.close()
