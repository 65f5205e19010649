"""Sessions, the weekday x hour heatmap and the weekly cohorts of /user-insights over events
and generations delivered through the real triggers (some twice, ends before their starts)."""

from __future__ import annotations

import datetime as dt

import pytest
import requests
from google.cloud import firestore

from tests.integration.session_traffic import write
from tests.integration.support import Stack, token
from video_monitoring.analytics import distinct
from video_monitoring.ingest import sketch

pytestmark = pytest.mark.integration


def test_sessions_heatmap_and_cohorts_equal_what_was_written(
    stack: Stack, db: firestore.Client
) -> None:
    stack.wipe()
    traffic = write(stack, db)
    # The daily snapshot (cohorts) and the final days' sessions folded.
    assert stack.run_schedule("aggregate_and_alert") == 200
    assert db.collection("session_days").limit(1).get(), "no day folded"
    start, end = traffic.window()
    response = requests.get(
        stack.url("video_analytics_dashboard", "/user-insights"),
        params={"from": start.isoformat(), "to": end.isoformat()},
        headers={"Authorization": f"Bearer {token('analytics')}"},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    figures = body["sessionFigures"]
    expected = traffic.session_figures()
    assert figures["durationSeconds"].pop("mean") is not None
    assert figures.pop("coveredFrom").startswith(start.strftime("%Y-%m-%dT%H:%M"))
    # The final days come folded: quantiles from the sketch, users from HyperLogLog registers.
    got, want = figures.pop("durationSeconds"), expected.pop("durationSeconds")
    for q in ("median", "p95"):
        assert abs(got[q] - want[q]) <= sketch.ALPHA * want[q] + 1e-9, q
    users, true_users = figures.pop("users"), expected.pop("users")
    assert abs(users - true_users) <= 3 * distinct.STANDARD_ERROR * true_users
    assert figures.pop("perUser") == pytest.approx(figures["count"] / users)
    expected.pop("perUser")
    assert figures == expected
    assert expected["unended"] > 0 and expected["endsWithoutStart"] == 3
    assert body["heatmap"]["sessions"] == traffic.grid([s for _, s, _ in traffic.sessions])
    assert body["heatmap"]["generations"] == traffic.grid(traffic.generations)
    cohorts = body["cohorts"]
    today = traffic.now.replace(hour=0, minute=0)
    day = dt.datetime.fromisoformat(cohorts["asOf"])
    assert day in (today - dt.timedelta(days=1), today - dt.timedelta(days=2))
    shown = [
        (dt.datetime.fromisoformat(r["week"]).date(), r["users"], [c["active"] for c in r["weeks"]])
        for r in cohorts["rows"]
    ]
    assert shown == traffic.cohorts(day)
    assert sum(users for _, users, _ in shown) >= 8  # most writers are in a cohort
