"""firestore.rules through the emulator's REST API with unsigned ID tokens: every collection
against anonymous, owner, another user, analytics and admin, for read and for write."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from google.cloud import firestore

from tests.integration.support import PROJECT, Stack, token
from video_monitoring.config.constants import CLIENT_EVENT_TYPES

# Every test reads the documents `rest` writes once, before the rules are tried on them.
pytestmark = [pytest.mark.integration, pytest.mark.shared_data]
STAFF_READ = (
    "system_performance_metrics", "business_metrics", "quality_insights",
    "user_behavior_insights", "user_behavior_open_days", "alert_rules", "alert_instances",
    "alert_states",
    "alert_notifications", "rejected_generations", "rejected_events", "generation_rollups",
    "generation_rollup_shards", "event_rollups", "event_rollup_shards", "user_days",
    "bigquery_export_runs", "rollup_quarantine", "session_days",
)  # fmt: skip
NOBODY_READS = ("video_generations", "event_contributions", "dashboards")
PRINCIPALS = {
    "anonymous": None,
    "owner": ("alice", None),
    "other": ("bob", None),
    "analytics": ("ann", "analytics"),
    "admin": ("adam", "admin"),
}


class Rest:
    """The emulator's REST API as a client with a given ID token."""

    def __init__(self, stack: Stack) -> None:
        self.base = f"http://{stack.local.firestore_host}/v1/projects/{PROJECT}/databases/(default)"

    def _headers(self, who: str) -> dict[str, str]:
        principal = PRINCIPALS[who]
        if principal is None:
            return {}
        uid, role = principal
        return {"Authorization": f"Bearer {token(role, uid)}"}

    def read(self, who: str, path: str) -> int:
        response = requests.get(
            f"{self.base}/documents/{path}", headers=self._headers(who), timeout=10
        )
        return response.status_code

    def create(
        self, who: str, path: str, fields: dict[str, Any], server_time: str | None = None
    ) -> int:
        write: dict[str, Any] = {
            "update": {
                "name": f"projects/{PROJECT}/databases/(default)/documents/{path}",
                "fields": fields,
            },
            "currentDocument": {"exists": False},
        }
        if server_time:
            write["updateTransforms"] = [
                {"fieldPath": server_time, "setToServerValue": "REQUEST_TIME"}
            ]
        response = requests.post(
            f"{self.base}/documents:commit", json={"writes": [write]},
            headers=self._headers(who), timeout=10,
        )  # fmt: skip
        return response.status_code

    def delete(self, who: str, path: str) -> int:
        response = requests.delete(
            f"{self.base}/documents/{path}", headers=self._headers(who), timeout=10
        )
        return response.status_code


def s(value: str) -> dict[str, str]:
    return {"stringValue": value}


def event_fields(user: str, kind: str = "video_viewed", **extra: Any) -> dict[str, Any]:
    return {"type": s(kind), "userId": s(user), **extra}


@pytest.fixture(scope="module")
def rest(stack: Stack, db: firestore.Client) -> Iterator[Rest]:
    stack.wipe()
    now = dt.datetime.now(dt.UTC)
    for name in (*STAFF_READ, *NOBODY_READS):
        db.collection(name).document("doc1").set({"userId": "alice", "at": now})
    db.collection("video_generation_metrics").document("mine").set({"userId": "alice", "at": now})
    db.collection("analytics_opt_outs").document("dave").set({"at": now})
    db.collection("analytics_events").document("ev1").set(
        {"type": "video_viewed", "userId": "alice", "timestamp": now}
    )
    yield Rest(stack)


@pytest.mark.parametrize("who", list(PRINCIPALS))
def test_reads(rest: Rest, who: str) -> None:
    staff = who in ("analytics", "admin")
    allowed = 200 if staff else 403  # refused by the rules, not failing some other way
    for name in STAFF_READ:
        assert rest.read(who, f"{name}/doc1") == allowed, (who, name)
    for name in NOBODY_READS:
        assert rest.read(who, f"{name}/doc1") == 403, (who, name)
    assert rest.read(who, "analytics_events/ev1") == allowed
    # Generation metrics: the owner reads their own, staff read all, nobody else.
    mine = 200 if staff or who == "owner" else 403
    assert rest.read(who, "video_generation_metrics/mine") == mine


@pytest.mark.parametrize("who", list(PRINCIPALS))
def test_no_client_writes_outside_its_own_events(rest: Rest, who: str) -> None:
    fields = {"userId": s("alice"), "note": s("x")}
    for name in (*STAFF_READ, *NOBODY_READS, "video_generation_metrics"):
        assert rest.create(who, f"{name}/new-{who}", fields) == 403, (who, name)
        assert rest.delete(who, f"{name}/doc1") == 403, (who, name)


@pytest.mark.parametrize("who", list(PRINCIPALS))
def test_app_events_only_own_checked_and_server_timed(rest: Rest, who: str) -> None:
    principal = PRINCIPALS[who]
    uid = principal[0] if principal else "nobody"
    own = rest.create(who, f"analytics_events/ok-{who}", event_fields(uid), server_time="timestamp")
    assert own == (403 if who == "anonymous" else 200)
    if who == "anonymous":
        return
    path = f"analytics_events/bad-{who}"
    forged = [
        ("someone else's", event_fields("mallory"), "timestamp"),
        (
            "client clock",
            event_fields(uid, timestamp={"timestampValue": "2026-01-01T00:00:00Z"}),
            None,
        ),
        ("monitor event", event_fields(uid, source=s("monitor")), "timestamp"),
        (
            "revenue",
            event_fields(uid, "premium_upgrade", amountUsd={"doubleValue": 9.99}),
            "timestamp",
        ),
        ("lifecycle", event_fields(uid, "generation_completed"), "timestamp"),
        ("bad type", event_fields(uid, "Video Viewed"), "timestamp"),
        ("unknown field", event_fields(uid, extra=s("x")), "timestamp"),
    ]
    for label, fields, server_time in forged:
        assert rest.create(who, path, fields, server_time=server_time) == 403, (who, label)
    assert rest.delete(who, f"analytics_events/ok-{who}") == 403  # no rewriting history


def test_clients_write_only_the_counted_event_types(rest: Rest) -> None:
    """Each client type of the contract is accepted; an invented type (which would count only
    under `other`) is refused."""
    for kind in CLIENT_EVENT_TYPES:
        fields = event_fields("alice", kind)
        path = f"analytics_events/type-{kind}"
        assert rest.create("owner", path, fields, server_time="timestamp") == 200, kind
    for kind in ("session_start2", "zz_invented", "other"):
        fields = event_fields("alice", kind)
        path = f"analytics_events/type-{kind}"
        assert rest.create("owner", path, fields, server_time="timestamp") == 403, kind


@pytest.mark.parametrize("who", list(PRINCIPALS))
def test_users_opt_out_and_back_in_for_themselves_only(rest: Rest, who: str) -> None:
    principal = PRINCIPALS[who]
    uid = principal[0] if principal else "nobody"
    own = f"analytics_opt_outs/{uid}"
    if principal is None:
        assert rest.create(who, own, {}, server_time="at") == 403
        assert rest.read(who, "analytics_opt_outs/dave") == 403
        return
    assert rest.create(who, own, {"at": s("yesterday")}) == 403  # must be the server's time
    assert rest.create(who, own, {"why": s("x")}, server_time="at") == 403  # shape checked
    assert rest.create(who, own, {}, server_time="at") == 200
    assert rest.read(who, own) == 200
    assert rest.create(who, "analytics_opt_outs/erin", {}, server_time="at") == 403
    staff = who in ("analytics", "admin")
    assert rest.read(who, "analytics_opt_outs/dave") == (200 if staff else 403)  # others' choice
    assert rest.delete(who, "analytics_opt_outs/dave") == 403
    assert rest.delete(who, own) == 200  # opting back in
