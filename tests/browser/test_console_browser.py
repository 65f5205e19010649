"""The operator console in a real browser (Debian's Chromium driven by Playwright) against the
local stack: sign-in through the Firebase Auth emulator per role, every page's figures equal to
the API's for the same window, the live refresh, a notification's link, admin actions and their
refusal to an analytics user, bad links, keyboard use and axe-core's accessibility checks.

A screenshot of every page is saved under the session's stack directory (`screenshots/`)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from google.cloud import firestore

from local_stack.auth_emulator import DEMO_USERS, AuthEmulator, DemoUser
from local_stack.receivers import Receivers
from local_stack.stack import LocalStack
from local_stack.traffic import Tally, simulate
from tests.integration.support import Stack, summary, wait_until

pytestmark = pytest.mark.integration

CHROMIUM = shutil.which("chromium")
ADMIN, ANALYST, VISITOR = DEMO_USERS
PAGES = (
    "/", "/providers", "/quality", "/business", "/users", "/alerts", "/rules", "/exports",
    "/system",
)  # fmt: skip
if CHROMIUM is None and not os.environ.get("CI"):
    pytest.skip(
        "Chromium not installed (apt-get install chromium); CI installs it",
        allow_module_level=True,
    )

from playwright.sync_api import Browser, Page, sync_playwright  # noqa: E402


@dataclass
class Console:
    """The console's URL, the Auth emulator, the browser and the data written for the tests."""

    url: str
    auth: AuthEmulator
    browser: Browser
    tally: Tally
    shots: Path
    stack: Stack
    db: firestore.Client
    slack_before: int  # Slack messages received before this module's alerts
    # Content-Security-Policy violations any page reported (each test must end with none).
    violations: list[str] = field(default_factory=list)

    def page(self, user: DemoUser | None, width: int = 1280, dark: bool = False) -> Page:
        """A fresh browser context, signed in as `user` (None: signed out) on the overview;
        every request it makes must stay on this machine, and every CSP violation it meets
        (the document's `securitypolicyviolation` events and Chromium's console reports) is
        recorded."""
        context = self.browser.new_context(
            viewport={"width": width, "height": 900},
            color_scheme="dark" if dark else "light",
            accept_downloads=True,
        )
        context.expose_function("__cspViolation", lambda text: self.violations.append(text))
        context.add_init_script(CSP_LISTENER)
        outside: list[str] = []

        def only_local(route: Any) -> None:
            if route.request.url.startswith(("http://127.0.0.1", "data:", "blob:")):
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort()

        context.route("**/*", only_local)
        page = context.new_page()
        page.on(
            "console",
            lambda m: (
                self.violations.append(f"console: {m.text}")
                if "Content Security Policy" in m.text
                else None
            ),
        )
        page.outside = outside  # type: ignore[attr-defined]
        page.goto(self.url + "/")
        ready(page, "signin")
        if user is not None:
            sign_in(page, user)
            ready(page, "overview" if user.role else "no-role")
        return page

    def api(self, user: DemoUser, path: str, **params: str) -> dict[str, Any]:
        """GET an API path on the console's origin with the user's ID token."""
        token = self.auth.sign_in(user.email, user.password)
        response = requests.get(
            f"{self.url}/api{path}",
            params=params,
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def tally_rating(self, provider: str) -> float:
        """The average rating the simulator gave one provider's generations."""
        ratings = self.tally.ratings_by_provider[provider]
        return sum(ratings) / len(ratings)

    def shot(self, page: Page, name: str) -> None:
        """Save a full-page screenshot."""
        page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)


CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (e) => window.__cspViolation(
  `${e.effectiveDirective} refused ${e.blockedURI || "inline"} at ${e.sourceFile}`));
"""


@pytest.fixture(autouse=True)
def no_csp_violation(console: Console) -> Iterator[None]:
    """Every page a test visits runs under the served Content-Security-Policy without one
    violation."""
    console.violations.clear()
    yield
    assert console.violations == [], console.violations


def test_a_csp_violation_is_caught(console: Console) -> None:
    """The check above can fail: an inline script the policy does not hash is refused and
    reported (then forgotten, so this test passes)."""
    page = console.page(None)
    response = page.goto(console.url + "/")
    assert response is not None
    assert "script-src 'self' 'sha256-" in response.headers["content-security-policy"]
    ready(page, "signin")
    page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.injected = 1'; document.head.append(s); }"
    )
    page.wait_for_timeout(500)
    assert page.evaluate("window.injected") is None
    assert any("script-src" in v and "inline" in v for v in console.violations), console.violations
    assert any(v.startswith("console: ") for v in console.violations), console.violations
    console.violations.clear()


def ready(page: Page, name: str, timeout: float = 20_000) -> None:
    """Wait until the console says the page `name` finished rendering (it says `loading` from
    the moment a page starts rendering)."""
    page.wait_for_selector(f"main[data-ready='{name}']", timeout=timeout)
    assert page.locator("main").get_attribute("data-ready") == name


def sign_in(page: Page, user: DemoUser) -> None:
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(user.password)
    page.get_by_role("button", name="Sign in").click()


def figure(page: Page, name: str) -> str:
    return page.locator(f"[data-figure='{name}']").first.inner_text()


@pytest.fixture(scope="module")
def console(
    stack: Stack, db: firestore.Client, receivers: Receivers, run_dir: Path
) -> Iterator[Console]:
    local = fresh_console_stack(stack)
    assert local.console_url is not None and local.auth is not None
    # The demo's traffic, smaller (enough in the last hour for the rules' minimum samples): pika
    # is the degraded provider.
    tally = simulate(db, count=900, seed=5, progress=False, prefix="console")
    wanted = tally.generations()

    def caught_up() -> bool:
        got = summary(stack, {"window": "24h"})["generations"]
        return all(got[k] == wanted[k] for k in ("total", "completed", "failed", "inProgress"))

    wait_until(caught_up, 120)
    stack.settle()
    slack_before = len(receivers.slack.delivered())
    # Two runs (the rules' pending period), in the past so every figure is already measured.
    first = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0) - dt.timedelta(minutes=2)
    for when in (first, first + dt.timedelta(minutes=1)):
        assert stack.run_schedule("aggregate_and_alert", when) == 200
    with open_console(stack, db, run_dir, tally, slack_before) as console:
        yield console


@contextlib.contextmanager
def open_console(
    stack: Stack,
    db: firestore.Client,
    run_dir: Path,
    tally: Tally | None = None,
    slack_before: int = 0,
) -> Iterator[Console]:
    """Chromium on the session stack's console; screenshots go to `run_dir/screenshots`."""
    local = stack.local
    assert local.console_url is not None and local.auth is not None and CHROMIUM is not None
    shots = run_dir / "screenshots"
    shots.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield Console(local.console_url, local.auth, browser, tally or Tally(), shots,
                          stack, db, slack_before)  # fmt: skip
        finally:
            browser.close()


def serious_violations(page: Page) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['nodes'][0]['target']}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def fresh_console_stack(stack: Stack) -> LocalStack:
    """The session stack for a module of browser tests: skipped without the console's Auth
    emulator, its demo users signed up, its Firestore data wiped."""
    local = stack.local
    if local.console_url is None or local.auth is None:
        pytest.skip("the stack runs without the console's Auth emulator (firebase-tools)")
    if not _has_users(local.auth):
        local.auth.seed_demo_users()
    stack.wipe()
    return local


def _has_users(auth: AuthEmulator) -> bool:
    try:
        auth.sign_in(ADMIN.email, ADMIN.password)
    except Exception:
        return False
    return True


def percent(value: float, digits: int) -> str:
    return f"{value * 100:.{digits}f}%"


def test_signed_out_sees_the_sign_in_form_and_a_wrong_password_is_refused(
    console: Console,
) -> None:
    page = console.page(None)
    assert page.get_by_role("heading", name="Sign in").is_visible()
    assert not page.locator("#nav").is_visible()
    console.shot(page, "signin")
    page.get_by_label("Email").fill(ANALYST.email)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("The email or password is not right.").wait_for()
    assert page.url == console.url + "/"
    page.context.close()


def test_a_user_without_a_role_is_told_so(console: Console) -> None:
    page = console.page(VISITOR)
    assert page.get_by_role("heading", name="No access yet").is_visible()
    assert VISITOR.email in page.locator("main").inner_text()
    assert not page.locator("#nav").is_visible()
    console.shot(page, "no-role")
    page.get_by_role("button", name="Sign out").click()
    ready(page, "signin")
    page.context.close()


def test_overview_figures_equal_the_api_and_the_written_traffic(console: Console) -> None:
    """The tiles' total and success rate equal /summary of the same window and the simulator's
    own count (written independently of the system)."""
    page = console.page(ANALYST)
    body = console.api(ANALYST, "/summary", window="24h")
    wanted = console.tally.generations()
    assert body["generations"]["total"] == wanted["total"]
    assert figure(page, "generations.total") == f"{wanted['total']:,}"
    assert figure(page, "successRate") == percent(body["generations"]["successRate"], 2)
    assert figure(page, "successRate") == percent(wanted["successRate"], 2)
    assert "off target" in page.locator("section.tile", has_text="Success rate").inner_text()
    # Charts drew (uPlot canvases), and the open alerts list links to alert pages.
    assert page.locator("canvas").count() >= 3
    assert page.locator("main a[href^='/alerts/']").count() >= 1
    assert page.outside == []  # type: ignore[attr-defined]
    console.shot(page, "overview")
    page.context.close()


def test_the_error_budgets_panel_shows_the_slos_figures(console: Console) -> None:
    """Each objective and scope of GET /slos is a row with its good share and budget left; the
    success objective's good share overall is the simulator's own success rate."""
    page = console.page(ANALYST)
    body = console.api(ANALYST, "/slos")
    success = body["objectives"][0]
    overall = success["budgets"][0]
    assert (success["sloId"], overall["scope"]) == ("generation_success", "overall")
    assert overall["sli"] == pytest.approx(console.tally.generations()["successRate"])
    panel = page.locator("section[aria-labelledby='slo-heading']")
    panel.locator("tbody tr").first.wait_for()
    shown = sum(len(o["budgets"]) for o in body["objectives"] if o["enabled"])
    assert panel.locator("tbody tr").count() == shown
    for objective in body["objectives"]:
        for budget in objective["budgets"]:
            row = panel.locator("tbody tr", has_text=objective["sloId"]).filter(
                has=page.locator("td", has_text=re.compile(f"^{re.escape(budget['scope'])}$"))
            )
            text = row.inner_text()
            assert f"{percent(budget['sli'], 2)} of {budget['valid']:,}" in text
            left = budget["budgetRemaining"]
            spent = f"0% · {1 - left:,.1f}× spent"  # overspent: how many times over
            assert (percent(left, 0) if left >= 0 else spent) in text, text
    panel.scroll_into_view_if_needed()
    console.shot(page, "overview-error-budgets")
    page.context.close()


def test_every_page_renders_the_apis_figures(console: Console) -> None:
    page = console.page(ADMIN)
    for path in PAGES:
        page.goto(f"{console.url}{path}?window=24h")
        ready(page, {"/": "overview"}.get(path, path.strip("/")))
        console.shot(page, "page-" + (path.strip("/") or "overview"))
    page.goto(f"{console.url}/quality?window=24h")
    ready(page, "quality")
    quality = console.api(ADMIN, "/quality", window="24h")
    assert figure(page, "quality.avgScore") == f"{quality['overall']['avgScore']:.2f}"
    assert figure(page, "satisfaction.avgRating") == f"{quality['overall']['avgRating']:.2f}"
    page.goto(f"{console.url}/business?window=24h")
    ready(page, "business")
    business = console.api(ADMIN, "/business", window="24h")
    assert figure(page, "business.revenueUsd") == f"${business['revenueUsd']:,.2f}"
    assert figure(page, "business.revenueUsd") == f"${console.tally.revenue_usd:,.2f}"
    assert figure(page, "business.conversionRate") == percent(business["conversionRate"], 2)
    # The revenue chart's summary adds up the trend's buckets: the simulator's revenue again.
    page.get_by_text("revenue per bucket", exact=False).first.wait_for()
    summary_text = page.locator("figure", has_text="Revenue per bucket").locator("p").inner_text()
    assert f"${console.tally.revenue_usd:,.2f} in all" in summary_text, summary_text
    assert f"{console.tally.upgrades:,} upgrades over" in page.locator("main").inner_text()
    page.goto(f"{console.url}/users?window=24h")
    ready(page, "users")
    users = console.api(ADMIN, "/user-insights", window="24h")
    assert figure(page, "averageDailyActiveUsers") == (
        f"{users['totals']['averageDailyActiveUsers']:,.1f}"
    )
    page.goto(f"{console.url}/alerts?window=24h")
    ready(page, "alerts")
    alerts = console.api(ADMIN, "/alerts", window="24h")
    assert page.get_by_role("heading", name=f"Open now ({len(alerts['active'])}:").count() == 1
    assert page.locator("main table").first.locator("tbody tr").count() == len(alerts["active"])
    page.goto(f"{console.url}/rules")
    ready(page, "rules")
    rules = console.api(ADMIN, "/alert-rules")["rules"]
    assert page.locator("main tbody tr").count() == len(rules)
    page.goto(f"{console.url}/providers?window=24h")
    ready(page, "providers")
    providers = console.api(ADMIN, "/providers", window="24h")["providers"]
    for row in providers:
        cell = page.locator(f"[data-provider-figure='{row['provider']}.successRate']")
        assert cell.inner_text() == percent(row["successRate"], 2)
        # Spent on failures: the API's figures, and the simulator's own sum of the same.
        wasted = row["failedCostUsd"] + row["retryWasteUsd"]
        assert wasted == pytest.approx(console.tally.wasted_usd[row["provider"]], abs=1e-6)
        shown = page.locator(f"[data-provider-figure='{row['provider']}.wasted']").inner_text()
        assert shown.startswith(f"${wasted:,.2f}"), shown
    # Sorting by success rate puts the degraded provider first (ascending).
    first_row = page.locator("tbody tr").first.inner_text()
    assert first_row.startswith("pika")
    page.get_by_role("button", name="Success rate").click()
    assert page.locator("th[aria-sort='descending']").inner_text().startswith("Success rate")
    assert not page.locator("tbody tr").first.inner_text().startswith("pika")
    assert page.outside == []  # type: ignore[attr-defined]
    page.context.close()


def test_state_lives_in_the_url_and_the_back_button_works(console: Console) -> None:
    page = console.page(ANALYST)
    page.select_option("#ctl-window", "1h")
    page.wait_for_url(f"{console.url}/?window=1h")
    ready(page, "overview")
    page.select_option("#ctl-provider", "pika")
    page.wait_for_url(f"{console.url}/?window=1h&provider=pika")
    ready(page, "overview")
    pika = console.api(ANALYST, "/summary", window="1h", provider="pika")
    assert figure(page, "generations.total") == f"{pika['generations']['total']:,}"
    page.get_by_role("link", name="Providers").click()
    page.wait_for_url(f"{console.url}/providers?window=1h&provider=pika")
    ready(page, "providers")
    page.go_back()
    page.wait_for_url(f"{console.url}/?window=1h&provider=pika")
    ready(page, "overview")
    assert page.locator("#ctl-provider").input_value() == "pika"
    # The same link in a new tab shows the same view.
    again = console.page(ANALYST)
    again.goto(f"{console.url}/?window=1h&provider=pika")
    ready(again, "overview")
    assert figure(again, "generations.total") == figure(page, "generations.total")
    page.context.close()
    again.context.close()


def test_a_bad_url_parameter_shows_a_readable_message(console: Console) -> None:
    page = console.page(ANALYST)
    page.goto(f"{console.url}/?window=2w")
    ready(page, "error")
    text = page.locator("main").inner_text()
    assert "This link cannot be shown" in text
    assert "window: expected one of 1h, 24h, 7d, 30d" in text
    assert "{" not in text  # never a raw JSON error
    console.shot(page, "bad-parameter")
    page.get_by_role("link", name="Open this page with the default settings").click()
    ready(page, "overview")
    page.goto(f"{console.url}/no-such-page")
    ready(page, "notfound")
    page.context.close()


def test_a_new_generation_appears_without_a_reload(console: Console) -> None:
    page = console.page(ANALYST)
    before = int(figure(page, "generations.total").replace(",", ""))
    calls: list[str] = []
    page.on("request", lambda r: calls.append(r.url) if "/api/" in r.url else None)
    now = dt.datetime.now(dt.UTC)
    # As the generation service does: a document in Firestore, nothing else.
    console.db.collection("video_generations").document("console-live-1").set(
        {
            "userId": "live-user", "provider": "runway", "status": "queued",
            "createdAt": now, "userTier": "free",
        }
    )  # fmt: skip
    started = time.monotonic()
    # A function, not an expression string: Playwright evaluates a string with eval, which the
    # page's Content-Security-Policy refuses.
    page.wait_for_function(
        "(want) => document.querySelector(\"[data-figure='generations.total']\").textContent"
        " === want",
        arg=f"{before + 1:,}",
        timeout=15_000,
    )
    seen_after = time.monotonic() - started
    assert seen_after < 12, seen_after
    assert page.locator("main[data-ready='overview']").count() == 1  # no reload, no re-render
    refresh_calls = [c for c in calls if "/api/" in c]
    assert 0 < len(refresh_calls) <= 7 * 2
    page.context.close()


def test_a_notification_link_opens_its_alert_page(console: Console, receivers: Receivers) -> None:
    messages = [json.loads(m.body) for m in receivers.slack.delivered()[console.slack_before :]]
    links = [
        element["text"].split("|")[0].lstrip("<")
        for message in messages
        for block in message.get("blocks", [])
        for element in block.get("elements", [])
        if "Open in the dashboard" in element.get("text", "")
    ]
    pika = [link for link in links if "low_satisfaction__provider-pika" in link]
    assert pika, links
    assert pika[0].startswith(f"{console.url}/alerts/")
    page = console.page(ANALYST)
    page.goto(pika[0])
    ready(page, "alerts")
    assert page.get_by_role("heading", name="low_satisfaction · provider:pika").is_visible()
    detail = console.api(ANALYST, f"/alerts/{pika[0].rsplit('/', 1)[1]}")
    assert detail["alert"]["value"] == pytest.approx(console.tally_rating("pika"))
    assert f"{detail['alert']['value']:.3f} < threshold 4.000" in figure(page, "alert.value")
    assert len(detail["figure"]["points"]) == 2  # the two runs
    assert page.locator("canvas").count() >= 1
    console.shot(page, "alert")
    page.context.close()


def test_an_admin_acknowledges_and_the_page_and_the_api_agree(console: Console) -> None:
    open_alerts = console.api(ADMIN, "/alerts", status="firing")["active"]
    alert = next(a for a in open_alerts if a["scope"] == "provider:pika")
    page = console.page(ADMIN)
    page.goto(f"{console.url}/alerts/{alert['alertId']}")
    ready(page, "alerts")
    page.get_by_label("Note").fill("pika is degraded; routing away")
    page.get_by_role("button", name="Acknowledge").click()
    page.get_by_text("Done: acknowledge.").wait_for()
    assert page.locator(".badge.st-acknowledged").count() == 1
    detail = console.api(ADMIN, f"/alerts/{alert['alertId']}")
    assert detail["alert"]["status"] == "acknowledged"
    assert detail["alert"]["acknowledgedBy"] == _uid(console, ADMIN)
    assert "pika is degraded; routing away" in page.locator(".timeline").inner_text()
    assert page.get_by_role("button", name="Acknowledge").is_disabled()
    console.shot(page, "alert-acknowledged")
    page.context.close()


def _uid(console: Console, user: DemoUser) -> str:
    token = console.auth.sign_in(user.email, user.password)
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        __import__("base64").urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return str(claims["user_id"])


def test_an_analytics_user_sees_no_actions_and_a_forged_call_is_refused(
    console: Console,
) -> None:
    alert = console.api(ANALYST, "/alerts", status="open")["active"][0]
    page = console.page(ANALYST)
    page.goto(f"{console.url}/alerts/{alert['alertId']}")
    ready(page, "alerts")
    for name in ("Acknowledge", "Resolve", "Suppress"):
        assert page.get_by_role("button", name=name).count() == 0
    status = page.evaluate(
        """async (id) => {
            const user = (await import('/vendor/firebase/firebase-auth.js')).getAuth().currentUser;
            const response = await fetch(`/api/alerts/${id}/resolve`, {
                method: 'POST', headers: {Authorization: `Bearer ${await user.getIdToken()}`},
            });
            return response.status;
        }""",
        alert["alertId"],
    )
    assert status == 403
    assert console.api(ANALYST, f"/alerts/{alert['alertId']}")["alert"]["status"] != "resolved"
    page.goto(f"{console.url}/rules")
    ready(page, "rules")
    assert page.get_by_role("button", name="Edit").count() == 0
    page.context.close()


def test_rule_validation_errors_appear_next_to_the_field(console: Console) -> None:
    page = console.page(ADMIN)
    page.goto(f"{console.url}/rules")
    ready(page, "rules")
    page.get_by_role("button", name="Edit slow_generation").click()
    page.get_by_label("Minimum samples").fill("-3")
    page.get_by_role("button", name="Save").click()
    error = page.locator("#rule-minSamples-error")
    error.wait_for()
    assert error.inner_text().startswith("minSamples:")
    assert page.get_by_label("Minimum samples").get_attribute("aria-invalid") == "true"
    page.get_by_label("Minimum samples").fill("25")
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Saved slow_generation.").wait_for()
    rules = console.api(ADMIN, "/alert-rules")["rules"]
    assert next(r for r in rules if r["ruleId"] == "slow_generation")["minSamples"] == 25
    page.context.close()


def test_an_admin_turns_a_burn_rate_rule_on_and_off_from_the_rules_page(console: Console) -> None:
    """A burn-rate rule's editor offers its pair of windows (not the other rules' windows), so
    saving keeps them; enabling and disabling reach the API."""
    page = console.page(ADMIN)
    page.goto(f"{console.url}/rules")
    ready(page, "rules")
    row = page.locator("tbody tr", has_text="slo_success_fast_burn")
    assert "burning over 14.4× both over 1h and over 5m" in row.inner_text()
    assert row.get_by_role("button", name="Backtest slo_success_fast_burn").count() == 0
    for enabled in (True, False):
        page.get_by_role("button", name="Edit slo_success_fast_burn").click()
        window = page.locator("#rule-window")
        assert window.locator("option").all_inner_texts() == ["1h", "6h"]
        assert window.input_value() == "1h"
        assert page.get_by_label("Short window").input_value() == "5m"
        page.get_by_label("Enabled").set_checked(enabled)
        page.get_by_role("button", name="Save").click()
        page.get_by_text("Saved slo_success_fast_burn.").wait_for()
        rule = console.api(ADMIN, "/alert-rules/slo_success_fast_burn")["rule"]
        assert (rule["enabled"], rule["window"], rule["shortWindow"]) == (enabled, "1h", "5m")
    page.context.close()


def test_exports_download_every_format(console: Console) -> None:
    page = console.page(ANALYST)
    page.goto(f"{console.url}/exports?window=24h")
    ready(page, "exports")
    for label, suffix in (("CSV", ".csv"), ("Excel (xlsx)", ".xlsx"), ("PDF report", ".pdf"),
                          ("JSON", ".json"), ("NDJSON", ".ndjson")):  # fmt: skip
        with page.expect_download() as download:
            page.get_by_role("button", name=f"Download {label}").click()
        assert download.value.suggested_filename.endswith(suffix)
        saved = console.shots / download.value.suggested_filename
        download.value.save_as(saved)
        assert saved.stat().st_size > 0
    csv_file = next(p for p in console.shots.iterdir() if p.suffix == ".csv")
    rows = csv_file.read_text().strip().splitlines()
    total = console.api(ANALYST, "/summary", window="24h")["generations"]["total"]
    assert len(rows) == 1 + total  # the header, then one row per generation
    page.context.close()


def test_keyboard_alone_signs_in_and_moves_between_pages(console: Console) -> None:
    page = console.page(None)
    page.keyboard.type(ANALYST.email)  # the email field has the focus
    page.keyboard.press("Tab")
    page.keyboard.type(ANALYST.password)
    page.keyboard.press("Enter")
    ready(page, "overview")
    assert page.evaluate("document.activeElement.id") == "main"  # the new page has the focus
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "ctl-window"
    # A fresh load: the first Tab reaches the skip link, then the navigation.
    page.reload()
    ready(page, "overview")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    for _ in range(5):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "Providers":
            break
    assert page.evaluate("document.activeElement.textContent") == "Providers"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"  # the focus is visible
    page.keyboard.press("Enter")
    ready(page, "providers")
    assert page.evaluate("document.activeElement.id") == "main"
    # Sorting works from the keyboard too.
    page.locator("th button.sort").first.focus()
    page.keyboard.press("Enter")
    assert page.locator("th[aria-sort='descending']").count() == 1
    page.context.close()


@pytest.mark.parametrize("width", [1280, 390])
def test_axe_finds_no_serious_or_critical_violation(console: Console, width: int) -> None:
    page = console.page(ADMIN, width=width, dark=width < 600)
    alert = console.api(ADMIN, "/alerts", status="open")["active"][0]
    found: dict[str, list[str]] = {}
    for path in (*PAGES, f"/alerts/{alert['alertId']}"):
        page.goto(f"{console.url}{path}")
        ready(page, "alerts" if path.startswith("/alerts/") else path.strip("/") or "overview")
        bad = serious_violations(page)
        if bad:
            found[path] = bad
        if width < 600:
            console.shot(page, "phone-" + (path.strip("/").replace("/", "-") or "overview"))
    assert found == {}
    page.context.close()


def test_grant_role_lets_a_new_user_in(console: Console) -> None:
    """The CLI sets the role claim (here against the Auth emulator); the user, refused before,
    sees the overview once signed in again."""
    user = DemoUser("newcomer@example.com", "newcomer-pass", None)
    console.auth.create_user(user.email, user.password, None)
    page = console.page(user)
    assert page.get_by_role("heading", name="No access yet").is_visible()
    functions = Path(__file__).resolve().parents[2] / "functions"
    done = subprocess.run(
        [sys.executable, "-m", "video_monitoring", "grant-role", user.email, "analytics"],
        cwd=functions,
        env={
            **os.environ,
            "PYTHONPATH": str(functions),
            "FIREBASE_AUTH_EMULATOR_HOST": console.auth.host,
            "GCLOUD_PROJECT": console.auth.project,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("role analytics")
    page.get_by_role("button", name="Sign out").click()
    ready(page, "signin")
    sign_in(page, user)
    ready(page, "overview")
    page.context.close()


def test_an_admin_backtests_a_rule_and_gives_it_a_pause_action(console: Console) -> None:
    page = console.page(ADMIN)
    page.goto(f"{console.url}/rules")
    ready(page, "rules")
    page.get_by_role("button", name="Edit quality_degradation").click()
    panel = page.get_by_role("form", name="Backtest quality_degradation")
    panel.get_by_label("Window").select_option("24h")
    panel.get_by_label("Pages a week at most").fill("5")
    panel.get_by_role("button", name="Run backtest").click()
    summary = page.locator("[data-figure='backtest.summary']")
    summary.wait_for()
    expected = console.api(
        ADMIN, "/alert-rules/quality_degradation/backtest", window="24h", pagesPerWeek="5"
    )
    assert expected["firings"] >= 1  # pika's quality fired it in the module's two runs
    text = summary.inner_text()
    assert f"{expected['runs']} runs" in text
    fired = expected["firings"]
    assert f"would have fired {'once' if fired == 1 else f'{fired} times'}" in text
    rows = panel.locator("tbody tr")
    assert rows.count() == len(expected["episodes"])
    assert {rows.nth(i).locator("td").first.inner_text() for i in range(rows.count())} == {
        e["scope"] for e in expected["episodes"]
    }
    console.shot(page, "rule-backtest")

    page.get_by_label("Pause the provider while this rule fires for it").check()
    page.get_by_label("Probe share (0 to 1)").fill("1.5")
    page.get_by_role("button", name="Save").click()
    error = page.locator("#rule-actions-error")
    error.wait_for()
    assert error.inner_text().startswith("actions.0.probeShare:")
    page.get_by_label("Probe share (0 to 1)").fill("0.3")
    page.get_by_label("Cooldown (minutes) before probing").fill("10")
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Saved quality_degradation.").wait_for()
    rule = console.api(ADMIN, "/alert-rules/quality_degradation")["rule"]
    assert rule["actions"] == [{"type": "pause_provider", "cooldownMinutes": 10, "probeShare": 0.3}]
    page.context.close()


def test_an_admin_pauses_and_releases_a_provider_from_its_alert(console: Console) -> None:
    alerts = console.api(ADMIN, "/alerts", status="open")["active"]
    alert = next(a for a in alerts if a["scope"] == "provider:pika")
    page = console.page(ADMIN)
    page.goto(f"{console.url}/alerts/{alert['alertId']}")
    ready(page, "alerts")
    panel = page.get_by_role("region", name="Traffic to pika")
    panel.get_by_label("Reason").fill("pika degraded; sending its traffic elsewhere")
    panel.get_by_role("button", name="Pause pika").click()
    page.get_by_text("pika: paused.").wait_for()
    (control,) = [c for c in console.api(ADMIN, "/provider-controls")["controls"]
                  if c["provider"] == "pika"]  # fmt: skip
    assert (control["state"], control["weight"]) == ("open", 0.0)
    assert control["by"] == _uid(console, ADMIN)
    told = console.api(ADMIN, f"/alerts/{alert['alertId']}")["deliveries"]
    paused = [d for d in told if d["event"] == "provider_paused"]
    assert paused and all(d["status"] == "sent" for d in paused)  # told at once
    panel = page.get_by_role("region", name="Traffic to pika")
    assert "paused · 0%" in panel.inner_text()
    assert figure(page, "control.reason") == "pika degraded; sending its traffic elsewhere"
    console.shot(page, "alert-provider-paused")
    panel.get_by_role("button", name="Release pika").click()
    page.get_by_text("pika: released.").wait_for()
    assert "full traffic · 100%" in page.get_by_role("region", name="Traffic to pika").inner_text()
    page.goto(f"{console.url}/providers?window=24h")
    ready(page, "providers")
    assert "full traffic" in page.locator("main .table-wrap table").inner_text()
    page.context.close()


def test_an_analyst_opts_in_to_the_weekly_digest(console: Console) -> None:
    page = console.page(ANALYST)
    page.goto(f"{console.url}/exports")
    ready(page, "exports")
    form = page.get_by_role("form", name="Digests")
    form.get_by_label("Email me the weekly digest (Mondays after 07:00 UTC)").check()
    form.get_by_role("button", name="Save digests").click()
    page.get_by_text(f"Digests go to {ANALYST.email}.").wait_for()
    assert console.api(ANALYST, "/me/digests") == {
        "daily": False, "weekly": True, "monthly": False, "quarterly": False,
        "email": ANALYST.email,
    }  # fmt: skip
    weekly = console.api(ANALYST, "/digest", period="weekly")
    shown = figure(page, "digest.recommendations")
    if weekly["recommendations"]:
        assert weekly["recommendations"][0]["title"] in shown
    else:
        assert shown.startswith("None")
    console.shot(page, "exports-digests")
    page.context.close()


def test_the_quality_page_shows_error_recovery_as_the_api_gives_it(console: Console) -> None:
    """Recovery rate, retryable share, the error codes and the fallback matrix on /quality equal
    GET /recovery for the same window (the simulator retries and falls back)."""
    page = console.page(ANALYST)
    page.goto(f"{console.url}/quality?window=24h")
    ready(page, "quality")
    body = console.api(ANALYST, "/recovery", window="24h")
    recovery, errors = body["recovery"], body["errors"]
    assert recovery["attempted"] > 0 and errors["failed"] > 0 and body["fallbacks"]
    assert figure(page, "recovery.rate") == percent(recovery["rate"], 1)
    assert figure(page, "errors.retryableShare") == percent(errors["retryableShare"], 1)
    assert figure(page, "errors.failed") == f"{errors['failed']:,}"
    codes = page.get_by_role("region", name="Table: Error codes").locator("tbody tr")
    assert [r.inner_text().split("\t")[:2] for r in codes.all()] == [
        [row["code"], f"{row['failed']:,}"] for row in errors["codes"]
    ]
    matrix = page.get_by_role("region", name="Table: Fallback matrix").locator("tbody tr")
    assert [r.inner_text().split("\t")[:4] for r in matrix.all()] == [
        [f["from"], f["to"], f"{f['completed']:,}", f"{f['failed']:,}"] for f in body["fallbacks"]
    ]
    chart = page.locator("figure", has_text="Failures per error code").locator("p").inner_text()
    assert chart.startswith(f"{errors['failed']:,} failures"), chart
    page.get_by_role("heading", name="Error recovery").scroll_into_view_if_needed()
    console.shot(page, "quality-recovery")
    page.context.close()
