"""The Reports page in a real browser against the local stack: the last whole months and
quarters listed, a review downloaded from the keyboard equal to the API's PDF, the choice of
reviews by email saved, the page for either role, and axe-core's checks; screenshots under the
session's `screenshots/`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import requests

from tests.browser.test_console_browser import (
    ADMIN,
    ANALYST,
    Console,
    console,
    no_csp_violation,
    ready,
    serious_violations,
)
from tests.integration.test_reviews_emulator import drawn
from tests.unit.test_export import pdf_text
from video_monitoring.analytics.digest_content import add_months, last_complete
from video_monitoring.analytics.review import label

pytestmark = pytest.mark.integration
__all__ = ["console", "no_csp_violation"]  # the module's fixtures, shared


def api_review(console: Console, period: str, first: str) -> bytes:
    """GET /reports on the console's origin as the analyst."""
    token = console.auth.sign_in(ANALYST.email, ANALYST.password)
    response = requests.get(
        f"{console.url}/api/reports", params={"period": period, "from": first},
        headers={"Authorization": f"Bearer {token}"}, timeout=120,
    )  # fmt: skip
    assert response.status_code == 200, response.text
    return response.content


def test_an_analyst_lists_downloads_and_subscribes_to_reviews(console: Console) -> None:
    page = console.page(ANALYST)
    page.locator("nav summary", has_text="More").click()  # the menu that lists it
    page.locator("nav a", has_text="Reports").click()
    ready(page, "reports")
    now = dt.datetime.now(dt.UTC)
    month, quarter = last_complete("monthly", now), last_complete("quarterly", now)
    months = page.locator("table[data-reviews='monthly'] tbody tr")
    assert months.count() == 12
    expected = [add_months(month.start, -i) for i in range(12)]
    assert [months.nth(i).get_attribute("data-from") for i in range(12)] == [
        f"{m:%Y-%m-%d}" for m in expected
    ]
    assert months.first.locator("td").first.inner_text() == label(month)
    quarters = page.locator("table[data-reviews='quarterly'] tbody tr")
    assert quarters.count() == 8
    assert quarters.first.get_attribute("data-from") == f"{quarter.start:%Y-%m-%d}"
    assert quarters.first.locator("td").first.inner_text() == label(quarter)
    console.shot(page, "reports")

    # From the keyboard: focus the newest month's button, Enter downloads its PDF.
    button = page.get_by_role("button", name=f"Download the review of {label(month)}")
    button.focus()
    with page.expect_download(timeout=120_000) as caught:
        page.keyboard.press("Enter")
    download = caught.value
    assert download.suggested_filename == f"review-{month.key}.pdf"
    saved = Path(download.path()).read_bytes()
    assert saved.startswith(b"%PDF-")
    served = api_review(console, "monthly", f"{month.start:%Y-%m-%d}")
    assert drawn(pdf_text(saved)) == drawn(pdf_text(served))  # the API's figures, as drawn
    assert drawn(pdf_text(saved))[0] == f"Monthly review: {label(month)}"
    page.get_by_text(f"Downloaded review-{month.key}.pdf").wait_for()

    form = page.get_by_role("form", name="Reviews by email")
    form.get_by_role("checkbox", name="Email me the monthly review").check()
    form.get_by_role("button", name="Save").click()
    page.get_by_text(f"Reviews go to {ANALYST.email} as a PDF attachment.").wait_for()
    chosen = console.api(ANALYST, "/me/digests")
    assert (chosen["monthly"], chosen["quarterly"]) == (True, False)
    console.shot(page, "reports-saved")
    page.context.close()


def test_an_admin_downloads_a_quarter_and_a_refusal_is_said(console: Console) -> None:
    page = console.page(ADMIN)
    page.locator("nav summary", has_text="More").click()  # the menu that lists it
    page.locator("nav a", has_text="Reports").click()
    ready(page, "reports")
    quarter = last_complete("quarterly", dt.datetime.now(dt.UTC))
    with page.expect_download(timeout=120_000) as caught:
        page.get_by_role("button", name=f"Download the review of {label(quarter)}").click()
    saved = Path(caught.value.path()).read_bytes()
    assert caught.value.suggested_filename == f"review-{quarter.key}.pdf"
    assert drawn(pdf_text(saved))[0] == f"Quarterly review: {label(quarter)}"

    # The API's refusal is shown with its message (here a 429 from the exports limit).
    refusal = {"error": {"code": "rate-limited", "message": "exports: at most 20 an hour"}}
    page.route("**/api/reports?*", lambda route: route.fulfill(
        status=429, json=refusal, headers={"Retry-After": "60"}))  # fmt: skip
    month = last_complete("monthly", dt.datetime.now(dt.UTC))
    page.get_by_role("button", name=f"Download the review of {label(month)}").click()
    page.get_by_text(f"The review of {label(month)} failed.").wait_for()
    assert page.get_by_text("exports: at most 20 an hour").is_visible()
    console.shot(page, "reports-refused")
    page.context.close()


def test_axe_finds_nothing_serious_on_the_reports_page(console: Console) -> None:
    found: dict[str, list[str]] = {}
    for name, dark, width in (("reports-phone", True, 390), ("reports-wide", False, 1280)):
        page = console.page(ANALYST, width=width, dark=dark)
        page.goto(f"{console.url}/reports")
        ready(page, "reports")
        bad = serious_violations(page)
        if bad:
            found[name] = bad
        console.shot(page, name)
        page.context.close()
    assert found == {}
