"""Erasing one user through the dashboard, on the emulators: every Firestore collection and both
BigQuery tables lose the user's id, the figures do not move, a later change of the user's
source document counts nothing twice, a rerun reports nothing left, and the audit log names the
user by a digest only. Only admins may erase."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import requests
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from tests.integration.support import Stack, summary, token, whole_day
from video_monitoring.adapters.bigquery import BigQueryWarehouse
from video_monitoring.privacy.erasure import subject

pytestmark = pytest.mark.integration
DAY, WINDOW = whole_day(2)
USER_COLLECTIONS = (
    "video_generation_metrics", "analytics_events", "event_contributions", "user_days",
)  # fmt: skip


def erase(stack: Stack, user_id: str, role: str = "admin") -> requests.Response:
    return requests.post(
        stack.url("video_analytics_dashboard", f"/users/{user_id}/erase"),
        headers={"Authorization": f"Bearer {token(role, 'operator-1')}"},
        timeout=120,
    )


def of_user(db: firestore.Client, collection: str, user_id: str) -> list[str]:
    query = db.collection(collection).where(filter=FieldFilter("userId", "==", user_id))
    return [snap.id for snap in query.stream()]


def stored(ref: firestore.DocumentReference) -> dict[str, Any]:
    """A document's fields; the document must exist (an absent field of a deleted document
    would prove nothing)."""
    snap = ref.get()
    assert snap.exists, f"{ref.path} no longer exists"
    return snap.to_dict() or {}


def bq_users(bq: BigQueryWarehouse, table: str) -> dict[str, int]:
    rows = bq.query(f"SELECT userId, COUNT(*) AS n FROM `{bq.dataset}.{table}` GROUP BY userId")
    return {row["userId"]: row["n"] for row in rows}


def generation(user: str, hour: int, **extra: Any) -> dict[str, Any]:
    created = DAY + dt.timedelta(hours=hour)
    return {
        "userId": user, "provider": "runway", "status": "completed", "userTier": "free",
        "createdAt": created, "startedAt": created + dt.timedelta(seconds=2),
        "completedAt": created + dt.timedelta(seconds=50), "costUsd": 0.5, **extra,
    }  # fmt: skip


def test_admin_erases_one_user_everywhere_and_no_figure_moves(
    stack: Stack, db: firestore.Client, bq: BigQueryWarehouse
) -> None:
    source = db.collection("video_generations")
    for i in range(3):
        source.document(f"x-{i}").set(generation("user-x", 1 + i))
    for i in range(2):
        source.document(f"y-{i}").set(generation("user-y", 5 + i))
    events = db.collection("analytics_events")
    events.document("x-up").set(
        {"type": "premium_upgrade", "userId": "user-x", "amountUsd": 12.5,
         "timestamp": DAY + dt.timedelta(hours=8)}
    )  # fmt: skip
    events.document("x-view").set(
        {"type": "video_viewed", "userId": "user-x", "timestamp": DAY + dt.timedelta(hours=9),
         "deviceId": "phone-of-x"}
    )  # fmt: skip
    # Rejected (a session id over 256 characters): counted nowhere, so erasure deletes it
    # rather than clearing the session and so turning it into a valid, newly counted view.
    events.document("x-bad").set(
        {"type": "video_viewed", "userId": "user-x", "sessionId": "s" * 300,
         "timestamp": DAY + dt.timedelta(hours=11)}
    )  # fmt: skip
    events.document("x-feat").set(
        {"type": "feature_used", "userId": "user-x", "sessionId": "s-x",
         "properties": {"feature": "hd_export", "email": "x@example.com"},
         "timestamp": DAY + dt.timedelta(hours=10)}
    )  # fmt: skip
    events.document("y-view").set(
        {"type": "video_viewed", "userId": "user-y", "timestamp": DAY + dt.timedelta(hours=9)}
    )
    stack.settle()
    when = DAY + dt.timedelta(days=1, hours=2)
    assert stack.run_schedule("export_to_bigquery", when) == 200
    before = summary(stack, WINDOW)
    business_before = summary(stack, WINDOW, "/business")
    assert business_before["engagement"]["views"] == 2  # x-view and y-view; x-bad is rejected
    held = {name: len(of_user(db, name, "user-x")) for name in USER_COLLECTIONS}
    assert all(held.values()), held  # so "none left" below is about something that was there
    assert held["video_generation_metrics"] == 3 and held["event_contributions"] == 3
    bq_before = {t: bq_users(bq, t) for t in ("generation_metrics", "analytics_events")}
    assert bq_before["generation_metrics"]["user-x"] == 3

    assert erase(stack, "user-x", role="analytics").status_code == 403
    response = erase(stack, "user-x")
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["firestore"] == {
        "event_contributions": {"anonymised": 3},
        "video_generation_metrics": {"anonymised": 3},
        # App events kept anonymised (still counted); the user's lifecycle events deleted.
        "analytics_events": {"anonymised": 3, "deleted": held["analytics_events"] - 3},
        "user_days": {"deleted": held["user_days"]},
    }
    assert report["bigquery"] == {
        "generation_metrics": 3,
        "analytics_events": bq_before["analytics_events"]["user-x"],
        "staging": 0,  # no export in flight
    }
    stack.settle()

    for name in USER_COLLECTIONS:
        assert of_user(db, name, "user-x") == [], name
    assert len(of_user(db, "video_generation_metrics", "user-y")) == 2
    for table in ("generation_metrics", "analytics_events"):
        users = bq_users(bq, table)
        assert "user-x" not in users
        assert users["erased"] == bq_before[table]["user-x"]  # rows kept, totals unchanged
        assert users["user-y"] == bq_before[table]["user-y"]
    assert summary(stack, WINDOW) == before  # aggregates kept exactly
    assert summary(stack, WINDOW, "/business") == business_before
    # An erased event keeps only what the figures count: no session, only the feature name.
    kept = bq.query(
        f"SELECT eventId, sessionId, properties FROM `{bq.dataset}.analytics_events` "
        "WHERE userId = 'erased' AND eventId LIKE 'x-%' ORDER BY eventId"
    )
    assert kept == [
        {"eventId": "x-feat", "sessionId": None, "properties": '{"feature":"hd_export"}'},
        {"eventId": "x-up", "sessionId": None, "properties": None},
        {"eventId": "x-view", "sessionId": None, "properties": None},
    ]

    feature_event = stored(events.document("x-feat"))
    assert (feature_event["userId"], feature_event["sessionId"], feature_event["properties"]) == (
        "erased", None, {"feature": "hd_export"},
    )  # fmt: skip
    # The view is kept (still counted), anonymised: only allow-listed fields are left.
    view = stored(events.document("x-view"))
    assert (view["userId"], view["type"], view["sessionId"], view["properties"]) == (
        "erased", "video_viewed", None, {},
    )  # fmt: skip
    assert view["timestamp"] == DAY + dt.timedelta(hours=9)
    assert "deviceId" not in view
    assert set(view) <= {
        "type", "timestamp", "generationId", "amountUsd", "source", "properties", "expireAt",
        "sessionId", "userId", "erased", "erasedAt",
    }  # fmt: skip
    assert not events.document("x-bad").get().exists
    # Re-exporting the day after the erasure keeps BigQuery's counts (the anonymised events
    # are exported again, as anonymous as before).
    assert stack.run_schedule("export_to_bigquery", when) == 200
    assert bq_users(bq, "analytics_events")["erased"] == 3
    assert "user-x" not in bq_users(bq, "analytics_events")

    source.document("x-0").update({"userRating": 5})  # a later change: frozen, not recounted
    stack.settle()
    assert summary(stack, WINDOW) == before
    assert of_user(db, "video_generation_metrics", "user-x") == []

    assert erase(stack, "erased").status_code == 400  # the placeholder is nobody's id
    again = erase(stack, "user-x")
    assert again.status_code == 200
    assert again.json()["firestore"] == {
        "event_contributions": {"anonymised": 0},
        "video_generation_metrics": {"anonymised": 0},
        "analytics_events": {"anonymised": 0, "deleted": 0},
        "user_days": {"deleted": 0},
    }
    assert again.json()["bigquery"] == {
        "generation_metrics": 0, "analytics_events": 0, "staging": 0,
    }  # fmt: skip
    audit = [d.to_dict() or {} for d in db.collection("audit_log").stream()]
    erasures = [a for a in audit if a.get("action") == "user.erase"]
    # The refused attempt and the placeholder id (not a valid target) wrote no entry.
    by_target = {subject("user-x"): ["ok", "ok"], subject("erased"): []}
    assert {t: sorted(a["outcome"] for a in erasures if a["target"] == t) for t in by_target} == (
        by_target
    )
    assert len(erasures) == 2
    assert "user-x" not in repr(audit)


def test_a_bad_user_id_is_a_400_naming_it(stack: Stack) -> None:
    response = erase(stack, "%09tab")
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("userId:")
