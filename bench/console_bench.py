"""The operator console on the local stack: time until the overview's figures are on screen,
bytes transferred (compressed, as Hosting sends them), and API calls per live refresh.

Starts its own stack (Firestore, functions host serving the console, Auth emulator), writes a
day of simulated traffic, signs in once in Chromium, then loads the overview `--loads` times in
fresh tabs with a warm and with an empty cache. Needs Debian's chromium and `npm ci`."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import shutil
import statistics
import sys
import time

from google.cloud import firestore
from playwright.sync_api import Page, sync_playwright

from benchlib import UNLIMITED, percentile
from local_stack.auth_emulator import DEMO_USERS
from local_stack.ports import free_ports
from local_stack.stack import REPO_ROOT, StackPorts, start_stack
from local_stack.traffic import simulate
from video_monitoring.config.constants import DEFAULT_TRACKED_PROVIDERS

BUDGET_BYTES = 300 * 1024  # the overview's transfer budget, compressed
LIVE = "benchlive"  # the provider of the live-refresh trials' generations


def poll(tab: Page, expression: str, seconds: float) -> None:
    """Wait until `expression` is true in the page, read every 50 ms. (Playwright's
    wait_for_function compiles its predicate in the page, which the console's
    Content-Security-Policy refuses: no 'unsafe-eval'.)"""
    deadline = time.monotonic() + seconds
    while not tab.evaluate(expression):
        if time.monotonic() > deadline:
            raise TimeoutError(f"not true after {seconds} s: {expression}")
        time.sleep(0.05)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=2000, help="generations to simulate")
    parser.add_argument("--loads", type=int, default=10)
    args = parser.parse_args()
    chromium = shutil.which("chromium")
    if chromium is None:
        print("console_bench: skipped, chromium not installed (apt-get install chromium)")
        return 0
    firestore_port, functions_port, hosting_port, auth_port = free_ports(4)
    stack = start_stack(
        "demo-cvplus", StackPorts(firestore_port, functions_port, hosting_port, auth_port),
        run_schedules=False, log_dir=REPO_ROOT / ".stack" / "bench",
        # The live trials' provider is tracked, so it has counters of its own to filter on.
        env={**UNLIMITED, "TRACKED_PROVIDERS": json.dumps([*DEFAULT_TRACKED_PROVIDERS, LIVE])},
    )  # fmt: skip
    try:
        assert stack.auth is not None and stack.console_url is not None
        stack.auth.seed_demo_users()
        os.environ["FIRESTORE_EMULATOR_HOST"] = stack.firestore_host
        simulate(firestore.Client(project="demo-cvplus"), count=args.count, progress=False)
        time.sleep(5)  # the pipeline settles
        run(stack.console_url, chromium, args.loads, firestore.Client(project="demo-cvplus"))
    finally:
        stack.stop()
    return 0


def run(url: str, chromium: str, loads: int, db: firestore.Client) -> None:
    analyst = DEMO_USERS[1]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.goto(url + "/")
        page.wait_for_selector("main[data-ready='signin']")
        page.get_by_label("Email").fill(analyst.email)
        page.get_by_label("Password").fill(analyst.password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_selector("main[data-ready='overview']")
        page.close()
        for label, cold in (("empty cache", True), ("warm cache", False)):
            ready_ms, paint_ms, sizes, api_calls = [], [], [], []
            for _ in range(loads):
                tab = context.new_page()
                if cold:
                    session = context.new_cdp_session(tab)
                    session.send("Network.enable")
                    session.send("Network.clearBrowserCache")
                    session.send("Network.setCacheDisabled", {"cacheDisabled": True})
                tab.goto(url + "/")
                tab.wait_for_selector("main[data-ready='overview']", timeout=30_000)
                marks = tab.evaluate(
                    """() => ({
                        ready: performance.getEntriesByName('console:ready:overview')[0].startTime,
                        paint: (performance.getEntriesByName('first-contentful-paint')[0]
                                || {}).startTime,
                        bytes: [performance.getEntriesByType('navigation')[0],
                                ...performance.getEntriesByType('resource')]
                               .reduce((sum, e) => sum + (e.transferSize || 0), 0),
                        api: performance.getEntriesByType('resource')
                               .filter((e) => e.name.includes('/api/')).length,
                    })"""
                )
                ready_ms.append(marks["ready"])
                paint_ms.append(marks["paint"] or 0.0)
                sizes.append(marks["bytes"])
                api_calls.append(marks["api"])
                tab.close()
            print(
                f"overview, {label}: figures on screen p50 {statistics.median(ready_ms):.0f} ms, "
                f"p90 {percentile(ready_ms, 0.9):.0f} ms (first contentful paint p50 "
                f"{statistics.median(paint_ms):.0f} ms); transferred "
                f"{statistics.median(sizes) / 1024:.1f} KB (budget {BUDGET_BYTES // 1024} KB, "
                f"ratio {statistics.median(sizes) / BUDGET_BYTES:.2f}); {max(api_calls)} API "
                f"calls for the first render ({loads} loads)"
            )
        # One live refresh: API calls between two refresh marks.
        tab = context.new_page()
        tab.goto(url + "/")
        tab.wait_for_selector("main[data-ready='overview']")
        before = tab.evaluate("performance.getEntriesByType('resource').length")
        poll(tab, "performance.getEntriesByName('console:refreshed').length >= 1", 20)
        calls = tab.evaluate(
            f"""performance.getEntriesByType('resource').slice({before})
                .filter((e) => e.name.includes('/api/')).map((e) => e.name.split('?')[0])"""
        )
        refresh_bytes = tab.evaluate(
            f"""performance.getEntriesByType('resource').slice({before})
                .reduce((sum, e) => sum + (e.transferSize || 0), 0)"""
        )
        print(
            f"live refresh: {len(calls)} API calls "
            f"({', '.join(sorted(c.rsplit('/api', 1)[1] for c in calls))}), "
            f"{refresh_bytes / 1024:.1f} KB"
        )
        # A new generation, written as the generation service writes it, until the open
        # overview shows it (the refresh runs every 10 s, so this is up to 10 s plus the
        # pipeline and one refresh). A provider of its own keeps the count exact while older
        # generations leave the sliding 24 h window; writes land at random points of the
        # refresh cycle.
        tab.goto(f"{url}/?provider={LIVE}")
        tab.wait_for_selector("main[data-ready='overview']")
        rng = random.Random(1)
        seen = []
        for trial in range(6):
            time.sleep(rng.uniform(0, 10))
            text = tab.locator("[data-figure='generations.total']").inner_text()
            total = int(text.replace(",", ""))
            started = time.monotonic()
            db.collection("video_generations").document(f"bench-live-{trial}").set(
                {"userId": "bench", "provider": LIVE, "status": "queued",
                 "createdAt": dt.datetime.now(dt.UTC), "userTier": "free"}
            )  # fmt: skip
            try:
                poll(
                    tab,
                    "document.querySelector(\"[data-figure='generations.total']\").textContent"
                    f" === '{total + 1:,}'",
                    30,
                )
            except Exception:
                shown = tab.locator("[data-figure='generations.total']").inner_text()
                print(f"trial {trial}: waited for {total + 1:,}, shown {shown}")
                raise
            seen.append(time.monotonic() - started)
        print(
            f"a written generation on screen after: {', '.join(f'{s:.1f}' for s in seen)} s "
            f"(median {statistics.median(seen):.1f} s, max {max(seen):.1f} s; refresh period 10 s)"
        )
        browser.close()


if __name__ == "__main__":
    sys.exit(main())
