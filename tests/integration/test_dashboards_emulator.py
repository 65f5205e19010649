"""Custom dashboards end to end on the functions host and the Firestore emulator, with the Auth
emulator's users: create, read, replace and delete over HTTP; private ones hidden from others,
shared ones editable by their owner and admins only; bounds named; every change in `audit_log`;
the per-owner cap held when creations race."""

from __future__ import annotations

import concurrent.futures
from typing import Any

import pytest
import requests
from google.cloud import firestore

from tests.integration.support import Stack, token

pytestmark = pytest.mark.integration
PANELS = [
    {"figure": "successRate", "scope": "overall", "window": "24h", "chart": "tile"},
    {"figure": "generations.total", "scope": "runway", "window": "7d", "chart": "bar"},
]
USERS = {"ann": "analytics", "bea": "analytics", "adam": "admin"}


def call(stack: Stack, method: str, path: str, uid: str, body: Any = None) -> requests.Response:
    return requests.request(
        method, stack.url("video_analytics_dashboard", path), json=body,
        headers={"Authorization": f"Bearer {token(USERS[uid], uid=uid)}"}, timeout=60,
    )  # fmt: skip


def audit(db: firestore.Client) -> list[dict[str, Any]]:
    entries = (d.to_dict() or {} for d in db.collection("audit_log").stream())
    found = [e for e in entries if str(e.get("action", "")).startswith("dashboard.")]
    return sorted(found, key=lambda e: e["at"])


def test_owners_create_share_and_delete_and_others_see_only_what_they_may(
    stack: Stack, db: firestore.Client
) -> None:
    created = call(stack, "PUT", "/dashboards/ops-ann", "ann", {"title": "Ops", "panels": PANELS})
    assert created.status_code == 201, created.text
    assert created.headers["Location"] == "/dashboards/ops-ann"
    stored = db.collection("dashboards").document("ops-ann").get().to_dict() or {}
    assert (stored["owner"], stored["title"], stored["shared"]) == ("ann", "Ops", False)
    assert stored["panels"] == PANELS
    assert call(stack, "GET", "/dashboards/ops-ann", "ann").json()["dashboard"]["panels"] == PANELS
    # Private: missing to everyone else, admins included; its id cannot be taken over.
    for uid in ("bea", "adam"):
        assert call(stack, "GET", "/dashboards/ops-ann", uid).status_code == 404
        assert call(stack, "DELETE", "/dashboards/ops-ann", uid).status_code == 404
        assert call(stack, "PUT", "/dashboards/ops-ann", uid, {"title": "x"}).status_code == 403
        assert call(stack, "GET", "/dashboards", uid).json()["dashboards"] == []
    shared = call(stack, "PUT", "/dashboards/ops-ann", "ann",
                  {"title": "Ops team", "shared": True, "panels": PANELS})  # fmt: skip
    assert shared.status_code == 200 and shared.json()["dashboard"]["shared"] is True
    listed = call(stack, "GET", "/dashboards", "bea").json()["dashboards"]
    assert [(d["dashboardId"], d["editable"]) for d in listed] == [("ops-ann", False)]
    assert call(stack, "PUT", "/dashboards/ops-ann", "bea", {"title": "mine"}).status_code == 403
    assert call(stack, "DELETE", "/dashboards/ops-ann", "bea").status_code == 403
    by_admin = call(stack, "PUT", "/dashboards/ops-ann", "adam",
                    {"title": "Ops (admin)", "shared": True, "panels": PANELS[:1]})  # fmt: skip
    assert by_admin.status_code == 200 and by_admin.json()["dashboard"]["owner"] == "ann"
    gone = call(stack, "DELETE", "/dashboards/ops-ann", "ann")
    assert gone.status_code == 204 and gone.content == b""
    assert not db.collection("dashboards").document("ops-ann").get().exists
    entries = audit(db)
    # The refusals (404, 403) were checked before anything was recorded.
    assert [(e["action"], e["uid"], e["outcome"]) for e in entries] == [
        ("dashboard.update", "ann", "ok"), ("dashboard.update", "ann", "ok"),
        ("dashboard.update", "adam", "ok"), ("dashboard.delete", "ann", "ok"),
    ]  # fmt: skip
    assert entries[0]["details"]["before"] is None
    assert entries[1]["details"]["before"]["title"] == "Ops"
    assert entries[2]["details"]["after"]["title"] == "Ops (admin)"
    assert entries[3]["details"]["before"]["panels"] == PANELS[:1]


def test_bounds_are_named_and_a_bad_body_stores_nothing(stack: Stack, db: firestore.Client) -> None:
    too_many = {"title": "x", "panels": [PANELS[0]] * 13}
    for path, body, status, named in [
        ("/dashboards/ok", too_many, 400, "panels: expected a list of at most 12"),
        ("/dashboards/ok", {"title": "x" * 81}, 400, "title:"),
        ("/dashboards/ok", {"title": "x", "panels": [{"figure": "queue.queued", "chart": "line"}]},
         400, "panels[0].chart:"),
        ("/dashboards/ok", {"title": "x", "owner": "bea"}, 400, "owner: unknown field"),
        ("/dashboards/Not_A_Slug", {"title": "x"}, 404, "dashboardId:"),
    ]:  # fmt: skip
        response = call(stack, "PUT", path, "ann", body)
        assert response.status_code == status, response.text
        assert response.json()["error"]["message"].startswith(named), response.text
    assert list(db.collection("dashboards").stream()) == []
    assert [e["outcome"] for e in audit(db)] == ["failed"] * 4  # the bad bodies, not the bad id


def test_the_per_owner_cap_holds_when_creations_race(stack: Stack, db: firestore.Client) -> None:
    for i in range(19):
        assert call(stack, "PUT", f"/dashboards/d{i}", "ann", {"title": f"D{i}"}).status_code == 201
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        racing = list(pool.map(
            lambda i: call(stack, "PUT", f"/dashboards/race-{i}", "ann", {"title": "r"}), range(3)
        ))  # fmt: skip
    assert sorted(r.status_code for r in racing) == [201, 409, 409], [r.text for r in racing]
    owned = [d for d in db.collection("dashboards").stream() if d.get("owner") == "ann"]
    assert len(owned) == 20
    assert call(stack, "PUT", "/dashboards/other", "bea", {"title": "B"}).status_code == 201
