"""The Rules page's New rule (backtested before it is saved) and Delete, and the Audit page, in a
real browser against the local stack: per role, equal to the API, from the keyboard, with
screenshots under the session's `screenshots/`."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import requests
from playwright.sync_api import expect

from tests.browser.test_console_browser import (
    ADMIN,
    ANALYST,
    Console,
    console,
    no_csp_violation,
    ready,
    serious_violations,
)
from video_monitoring.adapters.firestore_access import FirestoreAuditLog
from video_monitoring.core.audit_log import AuditEntry

pytestmark = pytest.mark.integration
__all__ = ["console", "no_csp_violation"]  # the module's fixtures, shared


def call(console: Console, method: str, path: str, body: Any = None, **params: str) -> Any:
    """Any API call on the console's origin as the admin; the status and the JSON answer."""
    token = console.auth.sign_in(ADMIN.email, ADMIN.password)
    response = requests.request(
        method, f"{console.url}/api{path}", params=params, json=body,
        headers={"Authorization": f"Bearer {token}"}, timeout=60,
    )  # fmt: skip
    return response.status_code, (response.json() if response.content else None)


def test_an_admin_backtests_creates_and_deletes_a_custom_rule(console: Console) -> None:
    page = console.page(ADMIN)
    page.goto(f"{console.url}/rules")
    ready(page, "rules")
    assert page.get_by_role("button", name="Delete slow_generation").count() == 0  # a default
    page.get_by_role("button", name="New rule").click()
    form = page.get_by_role("form", name="New rule")
    assert page.evaluate("document.activeElement.id") == "new-ruleId"
    form.get_by_label("Rule id").fill("pika_slow_custom")
    form.get_by_label("Metric", exact=True).select_option("avgGenerationSeconds")
    form.get_by_label("Comparator").select_option("gt")
    form.get_by_label("Threshold", exact=True).fill("60")
    form.get_by_label("Window", exact=True).select_option("1h")
    form.get_by_role("checkbox", name="provider", exact=True).check()
    form.get_by_label("Minimum samples").fill("-1")
    form.get_by_role("button", name="Create rule").click()
    error = page.locator("#new-minSamples-error")
    error.wait_for()
    assert error.inner_text().startswith("minSamples:")
    assert form.get_by_label("Minimum samples").get_attribute("aria-invalid") == "true"
    assert call(console, "GET", "/alert-rules/pika_slow_custom")[0] == 404  # nothing stored
    form.get_by_label("Minimum samples").fill("5")

    form.get_by_role("button", name="Backtest").click()
    summary = page.locator("[data-figure='backtest.summary']")
    summary.wait_for()
    draft = {
        "ruleId": "pika_slow_custom", "kind": "threshold", "metric": "avgGenerationSeconds",
        "comparator": "gt", "threshold": 60, "window": "1h", "scopes": ["overall", "provider"],
        "minSamples": 5,
    }  # fmt: skip
    status, expected = call(console, "POST", "/alert-rules/backtest", draft, window="7d")
    assert status == 200, expected
    text = summary.inner_text()
    fired = expected["firings"]
    assert f"{expected['runs']} runs" in text
    assert f"would have fired {'once' if fired == 1 else f'{fired} times'}" in text
    console.shot(page, "rules-new")

    form.get_by_role("button", name="Create rule").click()
    page.get_by_text("Created pika_slow_custom").wait_for()
    status, body = call(console, "GET", "/alert-rules/pika_slow_custom")
    assert status == 200
    rule = body["rule"]
    assert (rule["metric"], rule["threshold"], rule["minSamples"], rule["scopes"]) == (
        "avgGenerationSeconds",
        60,
        5,
        ["overall", "provider"],
    )

    page.get_by_role("button", name="Delete pika_slow_custom").click()
    dialog = page.get_by_role("alertdialog", name="Delete pika_slow_custom?")
    assert page.evaluate("document.activeElement.textContent") == "Cancel"
    console.shot(page, "rules-delete-confirm")
    page.keyboard.press("Enter")  # Cancel, from the keyboard: nothing deleted
    assert dialog.count() == 0
    assert call(console, "GET", "/alert-rules/pika_slow_custom")[0] == 200
    page.get_by_role("button", name="Delete pika_slow_custom").click()
    page.get_by_role("button", name="Yes, delete pika_slow_custom").click()
    page.get_by_text("Deleted pika_slow_custom.").wait_for()
    assert call(console, "GET", "/alert-rules/pika_slow_custom")[0] == 404
    assert page.locator("tbody tr", has_text="pika_slow_custom").count() == 0
    page.context.close()


def test_an_analyst_sees_no_new_rule_no_delete_and_no_audit(console: Console) -> None:
    page = console.page(ANALYST)
    assert page.locator("nav a", has_text="Audit").count() == 0
    page.goto(f"{console.url}/rules")
    ready(page, "rules")
    assert page.get_by_role("button", name="New rule").count() == 0
    assert page.get_by_role("button", name="Delete").count() == 0
    page.goto(f"{console.url}/audit")
    ready(page, "error")
    assert page.get_by_role("heading", name="Not allowed").is_visible()
    page.context.close()


def test_the_audit_page_pages_and_filters_the_apis_entries(console: Console) -> None:
    log = FirestoreAuditLog(console.db)
    t0 = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=2)
    for i in range(7):
        log.record(AuditEntry(t0 + dt.timedelta(minutes=i), "auditor-x", "admin",
                              "rule.update", f"rule_{i}", "ok", {"n": i}))  # fmt: skip
    page = console.page(ADMIN)
    audit_link = page.locator("nav a", has_text="Audit")
    assert audit_link.count() == 1
    page.locator("nav summary", has_text="Admin").click()  # the menu that lists it
    audit_link.click()
    ready(page, "audit")
    # Filter from the keyboard: type the actor, Enter applies.
    page.get_by_label("Actor").focus()
    page.keyboard.type("auditor-x")
    page.keyboard.press("Enter")
    page.wait_for_url("**/audit?actor=auditor-x")
    ready(page, "audit")
    _, api = call(console, "GET", "/audit-log", actor="auditor-x")
    rows = page.locator("table tbody tr")
    assert rows.count() == len(api["entries"]) == 7
    assert (
        [rows.nth(i).locator("td").nth(4).inner_text() for i in range(7)]
        == [e["target"] for e in api["entries"]]
        == [f"rule_{i}" for i in reversed(range(7))]
    )
    console.shot(page, "audit")

    page.goto(f"{console.url}/audit?actor=auditor-x&limit=3")
    ready(page, "audit")
    seen: list[str] = []
    first_target = page.locator("table tbody tr").first.locator("td").nth(4)
    for expected_rows in (3, 3, 1):
        ready(page, "audit")
        rows = page.locator("table tbody tr")
        assert rows.count() == expected_rows
        seen += [rows.nth(i).locator("td").nth(4).inner_text() for i in range(expected_rows)]
        more = page.get_by_role("button", name="Next page")
        if expected_rows == 3:
            shown = first_target.inner_text()
            more.click()
            expect(first_target).not_to_have_text(shown)
        else:
            assert more.count() == 0
    assert seen == [f"rule_{i}" for i in reversed(range(7))]  # each entry once
    console.shot(page, "audit-last-page")
    page.go_back()
    expect(first_target).to_have_text("rule_3")
    page.goto(f"{console.url}/audit?limit=0")
    ready(page, "error")
    assert page.get_by_text("limit: expected an integer from 1 to 200").is_visible()
    page.context.close()


def test_axe_finds_nothing_serious_on_the_audit_page_and_the_new_rule_form(
    console: Console,
) -> None:
    page = console.page(ADMIN, width=390, dark=True)
    found: dict[str, list[str]] = {}

    def check(name: str) -> None:
        bad = serious_violations(page)
        if bad:
            found[name] = bad
        console.shot(page, f"phone-{name}")

    page.goto(f"{console.url}/audit")
    ready(page, "audit")
    check("audit")
    page.goto(f"{console.url}/rules")
    ready(page, "rules")
    page.get_by_role("button", name="New rule").click()
    page.get_by_role("form", name="New rule").get_by_role("button", name="Backtest").click()
    page.locator("[data-figure='backtest.summary']").wait_for()
    check("rules-new")
    assert found == {}
    page.context.close()
