"""Per-caller rate limits on the Firestore emulator (the buckets the deployed API uses), and the
API's strict paths and methods over HTTP through the functions host."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import requests
from google.cloud import firestore

from tests.integration.support import Stack, token
from tests.unit.fakes import FakeStore, FixedClock
from tests.unit.test_dashboard import verifier
from video_monitoring.adapters._firestore import OPERATIONS
from video_monitoring.adapters.firestore_access import FirestoreRateLimiter
from video_monitoring.analytics.figures import AnalyticsEngine
from video_monitoring.analytics.performance import PerformanceMonitor
from video_monitoring.dashboard.access import Quota
from video_monitoring.dashboard.app import ApiServices, Dashboard
from video_monitoring.dashboard.auth import Caller
from video_monitoring.dashboard.http import Request, Response

pytestmark = pytest.mark.integration
MINUTE = dt.timedelta(minutes=1)
LIMIT = 5


def board(db: firestore.Client, clock: FixedClock, uid: str) -> Dashboard:
    """A dashboard whose reads are limited to LIMIT a minute per caller in Firestore buckets;
    `uid` stands for every token the unit verifier knows, so each test has fresh buckets."""
    store = FakeStore()
    monitor = PerformanceMonitor(store)

    def verify(header: str | None) -> Caller:
        caller = verifier(header)
        return Caller(f"{uid}-{caller.uid}", caller.role, caller.email)

    quota = Quota(FirestoreRateLimiter(LIMIT, MINUTE, client=db), LIMIT, MINUTE)
    return Dashboard(ApiServices(
        AnalyticsEngine(store, monitor), clock, 400, verifier=verify,
        quotas={"reads": quota},
    ))  # fmt: skip


def get(api: Dashboard, path: str, who: str | None, **params: str) -> Response:
    header = None if who is None else f"Bearer {who}"
    response = api.handle(Request("GET", path, params, header))
    assert isinstance(response, Response)
    return response


def operations() -> tuple[int, int]:
    return OPERATIONS["limiter_reads"], OPERATIONS["limiter_writes"]


def test_a_caller_gets_a_429_after_the_limit_with_a_correct_retry_after(
    db: firestore.Client,
) -> None:
    clock = FixedClock(dt.datetime(2026, 11, 25, 12, tzinfo=dt.UTC))
    uid = f"rl-{uuid.uuid4().hex[:8]}"
    api = board(db, clock, uid)
    before = operations()
    for _ in range(LIMIT):
        assert get(api, "/targets", "tok-analytics").status == 200
    admitted = operations()
    # An admitted request: one read and one write of its bucket.
    assert (admitted[0] - before[0], admitted[1] - before[1]) == (LIMIT, LIMIT)
    refused = get(api, "/targets", "tok-analytics")
    assert refused.status == 429
    assert refused.body["error"]["code"] == "resource-exhausted"
    # 5 a minute refill one token every 12 s; the bucket is empty at this instant.
    assert refused.headers == {"Retry-After": "12"}
    assert "at most 5 reads per minute" in refused.body["error"]["message"]
    after = operations()
    assert (after[0] - admitted[0], after[1] - admitted[1]) == (1, 0)  # a refusal: a read only
    bucket = db.collection("rate_limits").document(f"reads__{uid}-tok-analytics").get()
    assert bucket.to_dict() == {"tokens": 0.0, "updated": clock.now}
    assert get(api, "/targets", "tok-admin").status == 200  # the limit is per caller
    clock.advance(seconds=11)
    assert get(api, "/targets", "tok-analytics").headers == {"Retry-After": "1"}
    clock.advance(seconds=1)
    assert get(api, "/targets", "tok-analytics").status == 200
    assert get(api, "/targets", "tok-analytics").headers == {"Retry-After": "12"}


def test_refused_and_invalid_requests_spend_nothing(db: firestore.Client) -> None:
    clock = FixedClock(dt.datetime(2026, 11, 25, 12, tzinfo=dt.UTC))
    uid = f"rl-{uuid.uuid4().hex[:8]}"
    api = board(db, clock, uid)
    buckets = db.collection("rate_limits")
    before = operations()
    for _ in range(3 * LIMIT):
        assert get(api, "/summary", None).status == 401  # no token: before any limiter call
        assert get(api, "/summary", "forged").status == 401
        assert get(api, "/summary", "tok-user").status == 403  # no role
        assert get(api, "/summary", "tok-analytics", window="2h").status == 400
        assert get(api, "/summary", "tok-analytics", provider="runway\n").status == 400
    assert operations() == before
    assert not [d.id for d in buckets.stream() if d.id.startswith(f"reads__{uid}")]
    assert get(api, "/summary", "tok-analytics").status == 200


def test_methods_and_newline_paths_over_http(stack: Stack) -> None:
    auth = {"Authorization": f"Bearer {token('admin')}"}
    url = stack.url("video_analytics_dashboard", "/summary")
    refused = requests.delete(url, headers=auth, timeout=30)
    assert refused.status_code == 405
    assert refused.headers["Allow"] == "GET"
    assert refused.json()["error"]["code"] == "method-not-allowed"
    rule = stack.url("video_analytics_dashboard", "/alert-rules/slow_generation")
    assert requests.post(rule, headers=auth, timeout=30).headers["Allow"] == "GET, PUT, DELETE"
    for path in ("/alerts/a%0A", "/alert-rules/slow_generation%0A", "/nope%0A"):
        response = requests.get(stack.url("video_analytics_dashboard", path), headers=auth,
                                timeout=30)  # fmt: skip
        assert response.status_code == 404, (path, response.text)
        assert response.headers["Content-Type"] == "application/json", (path, response.text)
        assert response.json()["error"]["code"] == "not-found"
    newline = requests.get(url, params={"provider": "runway\n"}, headers=auth, timeout=30)
    assert newline.status_code == 400
    assert newline.json()["error"]["message"].startswith("provider:")


def test_refused_calls_are_counted_per_minute_and_never_recorded(
    stack: Stack, db: firestore.Client
) -> None:
    denials = db.collection("access_denials")

    def counted() -> int:
        return sum(int((d.to_dict() or {}).get("count", 0)) for d in denials.stream())

    audit_before = sum(1 for _ in db.collection("audit_log").select([]).stream())
    before, documents = counted(), len(list(denials.select([]).stream()))
    no_role = {"Authorization": f"Bearer {token(None, uid='no-role')}"}
    analyst = {"Authorization": f"Bearer {token('analytics', uid='an-analyst')}"}
    base = stack.url("video_analytics_dashboard", "")
    for i in range(12):
        assert requests.get(f"{base}/summary", headers=no_role, timeout=30).status_code == 403
        put = requests.put(f"{base}/alert-rules/junk_{i}", json={}, headers=analyst, timeout=30)
        assert put.status_code == 403
    assert counted() - before == 24
    # One document per minute (a run may span two), whatever the number of refusals.
    assert len(list(denials.select([]).stream())) - documents <= 2
    assert sum(1 for _ in db.collection("audit_log").select([]).stream()) == audit_before
    health = requests.get(stack.url("video_analytics_dashboard", "/health"), headers=analyst,
                          timeout=30).json()  # fmt: skip
    assert health["deniedLastHour"] >= 24
