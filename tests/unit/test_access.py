"""Audit of admin actions and exports; per-caller rate limits."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest

from tests.unit.fakes import FixedClock
from tests.unit.test_alert_manager import degraded_world
from tests.unit.test_dashboard import json_response, verifier
from tests.unit.test_export import ListSource, generation
from video_monitoring.analytics.figures import AnalyticsEngine
from video_monitoring.core.audit_log import AuditFilter
from video_monitoring.dashboard.access import (
    AuditEntry,
    Bucket,
    MemoryRateLimiter,
    Quota,
    take_token,
)
from video_monitoring.dashboard.app import ApiServices, Dashboard, FileExports
from video_monitoring.dashboard.http import Request, StreamResponse

HOUR = dt.timedelta(hours=1)
T0 = dt.datetime(2026, 11, 25, 12, tzinfo=dt.UTC)


class ListAudit:
    """The audit log as a list; read as Firestore's query does (filters, newest first, ties by
    id, after a position, at most a limit)."""

    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []

    def record(self, entry: AuditEntry) -> None:
        self.entries.append(entry)

    def page(self, wanted: AuditFilter) -> list[tuple[str, dict[str, Any]]]:
        rows = [(f"e{i:06d}", e.to_doc()) for i, e in enumerate(self.entries)]
        rows = [
            (i, d) for i, d in rows
            if wanted.actor in (None, d["uid"]) and wanted.action in (None, d["action"])
            and (wanted.start is None or d["at"] >= wanted.start)
            and (wanted.end is None or d["at"] < wanted.end)
            and (wanted.after is None or (d["at"], i) < (wanted.after.at, wanted.after.entry_id))
        ]  # fmt: skip
        rows.sort(key=lambda row: (row[1]["at"], row[0]), reverse=True)
        return rows[: wanted.limit]


class MinuteCounts:
    """Refused calls per minute, as the Firestore counter keeps them."""

    def __init__(self) -> None:
        self.minutes: dict[dt.datetime, int] = {}

    def record(self, at: dt.datetime) -> None:
        minute = at.replace(second=0, microsecond=0)
        self.minutes[minute] = self.minutes.get(minute, 0) + 1


class MemoryLimiter:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.buckets: dict[str, Bucket] = {}

    def take(self, key: str, now: dt.datetime) -> float | None:
        bucket, wait = take_token(self.buckets.get(key), now, self.capacity, HOUR)
        self.buckets[key] = bucket
        return wait


def test_token_bucket_refills_evenly() -> None:
    bucket, wait = take_token(None, T0, 2, HOUR)
    assert wait is None and bucket.tokens == 1
    bucket, wait = take_token(bucket, T0, 2, HOUR)
    assert wait is None and bucket.tokens == 0
    bucket, wait = take_token(bucket, T0 + dt.timedelta(minutes=10), 2, HOUR)
    assert wait == 1200  # one token per 30 minutes; a third of one has come back
    bucket, wait = take_token(bucket, T0 + dt.timedelta(minutes=30), 2, HOUR)
    assert wait is None
    refilled, _ = take_token(bucket, T0 + 10 * HOUR, 2, HOUR)
    assert refilled.tokens == 1  # never more than the capacity


@pytest.fixture
def setup() -> tuple[Dashboard, ListAudit, str, FixedClock]:
    world = degraded_world()
    world.tick()
    world.tick()
    audit = ListAudit()
    board = Dashboard(ApiServices(
        AnalyticsEngine(world.store, world.monitor), world.clock, 400,
        verifier=verifier, alerts=world.manager,
        exports=FileExports(
            ListSource({"video_generation_metrics": [generation(i) for i in range(3)]}),
        ),
        audit=audit,
        quotas={"exports": Quota(MemoryLimiter(2), 2, HOUR)},
    ))  # fmt: skip
    return board, audit, next(iter(world.alerts.instances)), world.clock


def call(
    board: Dashboard, method: str, path: str, who: str, body: object = None, **params: str
) -> int:
    raw = b"" if body is None else json.dumps(body).encode()
    response = board.handle(Request(method, path, params, f"Bearer {who}", raw))
    return response.status


def test_admin_actions_are_audited_and_refusals_write_nothing(setup: tuple) -> None:  # type: ignore[type-arg]
    board, audit, alert_id, _ = setup
    assert call(board, "POST", f"/alerts/{alert_id}/acknowledge", "tok-analytics") == 403
    assert call(board, "POST", "/alerts/no%20such/acknowledge", "tok-analytics") == 403
    assert audit.entries == []  # a denied call writes nothing per request
    assert (
        call(board, "POST", f"/alerts/{alert_id}/acknowledge", "tok-admin", {"note": "mine"}) == 200
    )
    assert call(board, "POST", f"/alerts/{alert_id}/acknowledge", "tok-admin") == 409
    assert call(board, "POST", "/alerts/bad id/acknowledge", "tok-admin") == 404
    assert [(e.uid, e.action, e.target, e.outcome) for e in audit.entries] == [
        ("tok-admin", "acknowledge", alert_id, "ok"),
        ("tok-admin", "acknowledge", alert_id, "failed"),
    ]  # only validated targets are recorded
    assert audit.entries[0].details == {"note": "mine"}
    assert audit.entries[0].role == "admin"


def test_rule_changes_record_before_and_after(setup: tuple) -> None:  # type: ignore[type-arg]
    board, audit, _, _ = setup
    rule = json_response(
        board.handle(Request("GET", "/alert-rules/slow_generation", {}, "Bearer tok-admin"))
    ).body["rule"]
    changed = {k: v for k, v in rule.items() if k != "ruleId"} | {"threshold": 120.0}
    assert call(board, "PUT", "/alert-rules/slow_generation", "tok-admin", changed) == 200
    entry = audit.entries[-1]
    assert (entry.action, entry.outcome) == ("rule.update", "ok")
    assert entry.details["before"]["threshold"] == 90.0
    assert entry.details["after"]["threshold"] == 120.0


def test_exports_are_audited_and_rate_limited_per_user(setup: tuple) -> None:  # type: ignore[type-arg]
    board, audit, _, clock = setup
    params = {"dataset": "generations", "format": "json", "window": "7d"}
    for _ in range(2):
        response = board.handle(Request("GET", "/export", params, "Bearer tok-analytics"))
        assert isinstance(response, StreamResponse)
    limited = json_response(board.handle(Request("GET", "/export", params, "Bearer tok-analytics")))
    assert limited.status == 429
    assert limited.body["error"]["code"] == "resource-exhausted"
    assert "2 exports per hour" in limited.body["error"]["message"]
    assert "retry in 1800 s" in limited.body["error"]["message"]
    assert limited.headers == {"Retry-After": "1800"}
    other = board.handle(Request("GET", "/export", params, "Bearer tok-admin"))
    assert isinstance(other, StreamResponse)  # the limit is per user
    outcomes = [(e.uid, e.action, e.outcome) for e in audit.entries]
    assert outcomes == [
        ("tok-analytics", "export", "ok"),
        ("tok-analytics", "export", "ok"),
        ("tok-admin", "export", "ok"),
    ]  # fmt: skip: a refused export writes no entry (its bucket says enough)
    assert audit.entries[0].details["rows"] == 3 and audit.entries[0].details["format"] == "json"
    clock.advance(minutes=30)
    again = board.handle(Request("GET", "/export", params, "Bearer tok-analytics"))
    assert isinstance(again, StreamResponse)


GETS = (
    "/summary", "/performance", "/trends", "/quality", "/providers", "/business", "/alerts",
    "/alert-rules", "/alert-rules/slow_generation", "/user-insights", "/export",
)  # fmt: skip


@pytest.mark.parametrize("path", GETS)
def test_every_read_endpoint_checks_token_and_role(setup: tuple, path: str) -> None:  # type: ignore[type-arg]
    board = setup[0]
    params = {"dataset": "alerts", "window": "7d"} if path == "/export" else {}

    def status(header: str | None) -> int:
        response = board.handle(Request("GET", path, params, header))
        return int(response.status)

    assert status(None) == 401
    assert status("Bearer forged") == 401
    assert status("Basic dXNlcjpwYXNz") == 401
    assert status("Bearer tok-user") == 403  # signed in, no role
    assert status("Bearer tok-analytics") == 200
    assert status("Bearer tok-admin") == 200


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/alerts/{alert}/acknowledge", None),
        ("POST", "/alerts/{alert}/resolve", None),
        ("POST", "/alerts/{alert}/suppress", {"minutes": 5}),
        ("PUT", "/alert-rules/slow_generation", {"metric": "avgGenerationSeconds"}),
    ],
)
def test_admin_actions_refuse_everyone_else(
    setup: tuple,  # type: ignore[type-arg]
    method: str,
    path: str,
    body: object,
) -> None:
    board, _, alert_id, _ = setup
    url = path.format(alert=alert_id)
    assert call(board, method, url, "nobody", body) == 401
    assert call(board, method, url, "tok-user", body) == 403
    assert call(board, method, url, "tok-analytics", body) == 403


def test_refused_calls_write_nothing_per_call_and_are_counted_per_minute() -> None:
    world = degraded_world()
    world.tick()
    world.tick()
    audit, denials, limiter = ListAudit(), MinuteCounts(), MemoryLimiter(1000)
    board = Dashboard(ApiServices(
        AnalyticsEngine(world.store, world.monitor), world.clock, 400,
        verifier=verifier, alerts=world.manager, audit=audit, denials=denials,
        quotas={name: Quota(limiter, 1000, HOUR) for name in ("reads", "actions", "exports")},
    ))  # fmt: skip
    alert_id = next(iter(world.alerts.instances))
    writes = [
        ("POST", f"/alerts/{alert_id}/acknowledge", {"note": "x"}),
        ("POST", f"/alerts/{alert_id}/suppress", {"minutes": 5}),
        ("PUT", "/alert-rules/slow_generation", {"metric": "avgGenerationSeconds"}),
        ("PUT", "/alert-rules/" + "x" * 400, {}),  # an unvalidated segment is never stored
    ]
    before = {k: dict(v) for k, v in world.alerts.rules.items()}
    for _ in range(50):
        for method, path, body in writes:
            assert call(board, method, path, "tok-analytics", body) == 403
        assert call(board, "GET", "/summary", "tok-user") == 403
    world.clock.advance(minutes=1)
    assert call(board, "GET", "/summary", "tok-user") == 403
    assert audit.entries == [] and limiter.buckets == {}
    assert {k: dict(v) for k, v in world.alerts.rules.items()} == before
    minute = world.clock.now.replace(second=0, microsecond=0)
    assert denials.minutes == {minute - dt.timedelta(minutes=1): 250, minute: 1}


def test_a_bucket_key_is_a_document_id_whatever_the_uid() -> None:
    limiter = MemoryLimiter(5)
    quota = Quota(limiter, 5, HOUR)
    for uid in ("plain-uid_1", "a/b", "", "x" * 200, "..", "__x__"):
        quota.admit("reads", uid, T0)
    keys = list(limiter.buckets)
    assert keys[0] == "reads__plain-uid_1"
    assert all(re.fullmatch(r"reads__[A-Za-z0-9_.@:-]{1,128}", k) for k in keys), keys
    assert len(set(keys)) == 6  # distinct callers keep distinct buckets


def test_the_in_memory_read_limiter_meters_each_caller_and_keeps_a_bounded_set() -> None:
    minute = dt.timedelta(minutes=1)
    limiter = MemoryRateLimiter(3, minute, max_keys=2)
    # Three reads a minute each: the fourth waits for a token, 20 s at 3 per 60 s.
    assert [limiter.take("reads__a", T0) for _ in range(3)] == [None, None, None]
    assert limiter.take("reads__a", T0) == 20
    assert limiter.take("reads__b", T0) is None  # another caller has a bucket of its own
    assert limiter.take("reads__a", T0 + dt.timedelta(seconds=20)) is None
    # A third caller drops the least recently seen (b); never more than two buckets.
    for key in ("reads__c", "reads__d", "reads__e"):
        assert limiter.take(key, T0) is None
        assert len(limiter) == 2
    assert limiter.take("reads__b", T0) is None  # dropped: starts again with a full bucket


def test_reads_are_metered_in_memory_and_actions_and_exports_in_firestore() -> None:
    from video_monitoring.adapters.firestore_access import FirestoreRateLimiter
    from video_monitoring.config.settings import DashboardSettings
    from video_monitoring.runtime.bootstrap import quotas

    limits = quotas(DashboardSettings(read_rate_per_minute=7, action_rate_per_minute=3))
    assert isinstance(limits["reads"].limiter, MemoryRateLimiter)
    assert (limits["reads"].limit, limits["reads"].period) == (7, dt.timedelta(minutes=1))
    assert isinstance(limits["actions"].limiter, FirestoreRateLimiter)
    assert isinstance(limits["exports"].limiter, FirestoreRateLimiter)
    assert limits["exports"].period == HOUR
