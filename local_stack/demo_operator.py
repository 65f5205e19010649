"""The demo's operator's job, through the API the console calls: the admin saves a shared
dashboard, an analyst opens it and drills from the degraded provider to its failed generations,
the last complete month's review is drawn as a PDF, the audit log shows the admin's changes; then
where each of the console's pages is."""

from __future__ import annotations

import datetime as dt
from typing import Any

import requests

from local_stack.stack import LocalStack
from local_stack.tokens import emulator_token

DASHBOARD = "demo-day"
PANELS = [
    {"figure": "generations.total", "scope": "overall", "window": "24h", "chart": "tile"},
    {"figure": "successRate", "scope": "overall", "window": "24h", "chart": "line"},
    {"figure": "successRate", "scope": "pika", "window": "24h", "chart": "tile"},
    {"figure": "costUsd", "scope": "overall", "window": "24h", "chart": "bar"},
    {"figure": "queue.queued", "scope": "overall", "window": "1h", "chart": "tile"},
]
# The console's pages for the operator's daily job, after the fixed figure pages.
PAGES = (
    ("custom dashboards", f"/dashboards/{DASHBOARD}"),
    ("generations behind a figure", "/generations?window=24h&provider=pika&status=failed"),
    ("alert rules, new rule with its backtest", "/rules"),
    ("sessions, heatmap, cohorts", "/users"),
    ("monthly and quarterly reviews", "/reports"),
    ("queue and functions", "/system"),
    ("provider limits", "/capacity"),
    ("the monitor's health", "/health"),
    ("objectives and budgets", "/objectives"),
    ("digest subscription", "/digests"),
    ("audit log (admin)", "/audit"),
    ("erase a user (admin)", "/erase"),
)


def _call(stack: LocalStack, token: str, method: str, path: str, **kwargs: Any) -> Any:
    return requests.request(
        method,
        stack.functions_url("video_analytics_dashboard", path),
        headers={"Authorization": f"Bearer {token}"},
        timeout=120,
        **kwargs,
    )


def last_month(today: dt.date) -> dt.date:
    """The first day of the month before `today`'s."""
    first = today.replace(day=1)
    return (first - dt.timedelta(days=1)).replace(day=1)


def run_operator_job(stack: LocalStack, project: str) -> bool:
    """True when every call answered as documented and with what the step wrote."""
    admin = emulator_token("demo-admin", "admin", project)
    analyst = emulator_token("demo-operator", "analytics", project)
    print()
    print(f"the operator's job: the admin saves a shared dashboard ({DASHBOARD}) of "
          f"{len(PANELS)} panels (PUT /dashboards/{DASHBOARD})")  # fmt: skip
    body = {"title": "The day at a glance", "shared": True, "panels": PANELS}
    saved = _call(stack, admin, "PUT", f"/dashboards/{DASHBOARD}", json=body)
    seen = _call(stack, analyst, "GET", f"/dashboards/{DASHBOARD}")
    board_ok = saved.status_code in (200, 201) and seen.status_code == 200
    if board_ok:
        panels = seen.json()["dashboard"]["panels"]
        board_ok = [p["figure"] for p in panels] == [p["figure"] for p in PANELS]
    print(f"  saved: {saved.status_code}; an analyst opens it: {seen.status_code}")
    wanted = {"window": "24h", "provider": "pika", "status": "failed", "limit": 5}
    failed = _call(stack, analyst, "GET", "/generations", params=wanted)
    rows = failed.json().get("generations", []) if failed.status_code == 200 else []
    print(f"  pika's failed generations (GET /generations): {failed.status_code}, first page:")
    for row in rows:
        print(f"    {row['generationId']}  {row.get('errorCode') or '-'}  {row['createdAt']}")
    month = last_month(dt.datetime.now(dt.UTC).date())
    review = _call(stack, analyst, "GET", "/reports",
                   params={"period": "monthly", "from": month.isoformat()})  # fmt: skip
    pdf = review.status_code == 200 and review.content.startswith(b"%PDF-")
    print(f"  the monthly review from {month} (GET /reports): {review.status_code}, "
          f"{review.headers.get('Content-Type')}, {len(review.content):,} bytes")  # fmt: skip
    trail = _call(stack, admin, "GET", "/audit-log",
                  params={"action": "dashboard.update", "limit": 5})  # fmt: skip
    entries = trail.json().get("entries", []) if trail.status_code == 200 else []
    print(f"  the dashboard's entry in the audit log (GET /audit-log): {trail.status_code}")
    for entry in entries:
        print(f"    {entry['at']}  {entry['actor']}  {entry['action']}  {entry.get('target')}")
    audited = any(e.get("target") == DASHBOARD for e in entries)
    ok = board_ok and bool(rows) and pdf and audited
    print(f"a shared dashboard, the failed generations behind a figure, a monthly review PDF "
          f"and the audit trail: {'yes' if ok else 'NO'}")  # fmt: skip
    return ok


def page_lines(console_url: str | None) -> list[str]:
    """Where the console shows each part of the operator's job."""
    if console_url is None:
        return []
    width = max(len(what) for what, _ in PAGES)
    return ["the operator's pages:"] + [
        f"  {what:<{width}}  {console_url}{path}" for what, path in PAGES
    ]
