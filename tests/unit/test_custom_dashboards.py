"""Custom dashboards: the body checked field by field with its bounds, who sees and edits which
dashboard, the per-owner cap, and every change audited (GET|PUT|DELETE /dashboards...)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
import yaml

from tests.unit.board_fakes import DictBoards
from tests.unit.fakes import FakeStore, FixedClock
from tests.unit.test_access import ListAudit
from tests.unit.test_dashboard import json_response
from tests.unit.test_openapi import SPEC
from video_monitoring.analytics.figures import AnalyticsEngine
from video_monitoring.analytics.performance import PerformanceMonitor
from video_monitoring.core.errors import InvalidArgument, NotFound, Unauthenticated
from video_monitoring.dashboard.app import ApiServices, Dashboard
from video_monitoring.dashboard.auth import Caller
from video_monitoring.dashboard.board_specs import (
    CHARTS,
    FIGURES,
    MAX_PANELS,
    MAX_PER_OWNER,
    WINDOWS,
    Board,
    Layout,
    Panel,
    check_dashboard_id,
    editable,
    parse_layout,
    visible,
)
from video_monitoring.dashboard.boards import Boards
from video_monitoring.dashboard.http import Request

NOW = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)
# uid -> role: two analysts and two admins.
USERS = {"ann": "analytics", "bea": "analytics", "adam": "admin", "ada": "admin", "joe": None}
PANELS = [
    {"figure": "successRate", "scope": "overall", "window": "24h", "chart": "tile"},
    {"figure": "generations.total", "scope": "runway", "window": "7d", "chart": "line"},
]


def verifier(header: str | None) -> Caller:
    uid = (header or "").removeprefix("Bearer ")
    if uid not in USERS:
        raise Unauthenticated("Authorization: the ID token did not verify")
    return Caller(uid=uid, role=USERS[uid])


class Api:
    """The dashboard API with custom dashboards over a dict, and its audit log."""

    def __init__(self) -> None:
        store = FakeStore()
        self.clock = FixedClock(NOW)
        self.boards = DictBoards()
        self.audit = ListAudit()
        self.dashboard = Dashboard(ApiServices(
            AnalyticsEngine(store, PerformanceMonitor(store)), self.clock, 400, verifier=verifier,
            audit=self.audit, boards=Boards(self.boards, self.clock),
        ))  # fmt: skip

    def call(
        self, method: str, path: str, uid: str | None, body: Any = None, **params: str
    ) -> tuple[int, Any, dict[str, str]]:
        raw = (
            body if isinstance(body, bytes) else b"" if body is None else json.dumps(body).encode()
        )
        header = None if uid is None else f"Bearer {uid}"
        response = json_response(self.dashboard.handle(Request(method, path, params, header, raw)))
        return response.status, response.body, dict(response.headers)


@pytest.fixture
def api() -> Api:
    return Api()


def board(owner: str, shared: bool) -> Board:
    return Board("b", owner, Layout("T", shared, ()), NOW, NOW, owner)


def test_private_dashboards_are_their_owners_alone_and_admins_edit_shared_ones() -> None:
    ann, bea = Caller("ann", "analytics"), Caller("bea", "analytics")
    adam = Caller("adam", "admin")
    private, shared = board("ann", False), board("ann", True)
    assert [visible(private, c) for c in (ann, bea, adam)] == [True, False, False]
    assert [visible(shared, c) for c in (ann, bea, adam)] == [True, True, True]
    assert [editable(private, c) for c in (ann, bea, adam)] == [True, False, False]
    assert [editable(shared, c) for c in (ann, bea, adam)] == [True, False, True]
    assert editable(board("adam", False), adam) and not visible(board("adam", False), ann)


def test_the_body_is_checked_field_by_field_with_its_bounds() -> None:
    layout = parse_layout({"title": "  Ops  ", "shared": True, "panels": PANELS}, "ops")
    second = Panel("generations.total", "runway", "7d", "line")
    assert layout == Layout("Ops", True, (Panel("successRate"), second))
    # Defaults: private, no panels; a panel overall over 24 h as a tile.
    assert parse_layout({"title": "x"}, "ops") == Layout("x", False, ())
    assert parse_layout({"title": "x", "panels": [{"figure": "costUsd"}]}, "ops").panels == (
        Panel("costUsd", "overall", "24h", "tile"),
    )
    too_many = [{"figure": "costUsd"}] * (MAX_PANELS + 1)
    cases: list[tuple[dict[str, Any], str]] = [
        ({}, "title: required"),
        ({"title": ""}, "title: expected text of 1 to 80"),
        ({"title": "   "}, "title: expected text of 1 to 80"),
        ({"title": "x" * 81}, "title: expected text of 1 to 80"),
        ({"title": "x" * 80 + " "}, "title: expected text of 1 to 80"),  # as the schema counts
        ({"title": "a\x85b"}, "title: control characters"),
        ({"title": "a\nb"}, "title: control characters"),
        ({"title": 5}, "title: expected text"),
        ({"title": "x", "owner": "bea"}, "owner: unknown field"),
        ({"title": "x", "dashboardId": "other"}, "dashboardId: must equal"),
        ({"title": "x", "shared": "yes"}, "shared: expected true"),
        ({"title": "x", "panels": too_many}, "panels: expected a list of at most 12"),
        ({"title": "x", "panels": {"figure": "costUsd"}}, "panels: expected a list"),
        ({"title": "x", "panels": ["costUsd"]}, "panels[0]: expected an object"),
        ({"title": "x", "panels": [{}]}, "panels[0].figure: required"),
        ({"title": "x", "panels": [PANELS[0], {"figure": "nope"}]}, "panels[1].figure: expected"),
        ({"title": "x", "panels": [{"figure": "costUsd", "scope": "Runway"}]}, "panels[0].scope:"),
        ({"title": "x", "panels": [{"figure": "costUsd", "scope": "r" * 65}]}, "panels[0].scope:"),
        ({"title": "x", "panels": [{"figure": "costUsd", "window": "3h"}]}, "panels[0].window:"),
        ({"title": "x", "panels": [{"figure": "costUsd", "chart": "pie"}]}, "panels[0].chart:"),
        ({"title": "x", "panels": [{"figure": "costUsd", "colour": 1}]}, "panels[0].colour: unk"),
        ({"title": "x", "panels": [{"figure": "queue.queued", "chart": "line"}]},
         "panels[0].chart: queue.queued is a figure of the whole window"),
    ]  # fmt: skip
    for body, named in cases:
        with pytest.raises(InvalidArgument) as raised:
            parse_layout(body, "ops")
        assert str(raised.value).startswith(named), (body, str(raised.value))
    assert len(parse_layout({"title": "x" * 80, "panels": too_many[:MAX_PANELS]}, "o").panels) == 12
    # Every figure a tile; the ones with a trend metric over time as well.
    for figure, (_, metric) in FIGURES.items():
        for chart in ("tile", "line", "bar", "table"):
            body = {"title": "x", "panels": [{"figure": figure, "chart": chart}]}
            if chart == "tile" or metric is not None:
                assert parse_layout(body, "o").panels[0].chart == chart
            else:
                with pytest.raises(InvalidArgument):
                    parse_layout(body, "o")


def test_ids_are_bounded_slugs() -> None:
    for ok in ("a", "ops-weekly", "0", "a" * 48):
        check_dashboard_id(ok)
    for bad in ("", "A", "-a", "a_b", "a" * 49, "a b", "a\n", "ä", "__x__", ".."):
        with pytest.raises(NotFound):
            check_dashboard_id(bad)


def test_owners_create_replace_and_delete_and_every_change_is_audited(api: Api) -> None:
    status, body, headers = api.call("PUT", "/dashboards/ops", "ann",
                                     {"title": "Ops", "panels": PANELS})  # fmt: skip
    assert (status, headers) == (201, {"Location": "/dashboards/ops"})
    created = body["dashboard"]
    assert created == {
        "dashboardId": "ops", "title": "Ops", "owner": "ann", "shared": False, "panels": PANELS,
        "createdAt": "2026-11-24T10:00:00Z", "updatedAt": "2026-11-24T10:00:00Z",
        "editable": True,
    }  # fmt: skip
    assert api.call("GET", "/dashboards/ops", "ann")[1] == {"dashboard": created}
    api.clock.advance(minutes=5)
    edit = {"title": "Ops 2", "shared": True, "panels": PANELS[:1]}
    status, body, headers = api.call("PUT", "/api/dashboards/ops", "ann", edit)
    assert (status, headers) == (200, {})
    assert body["dashboard"]["createdAt"] == "2026-11-24T10:00:00Z"
    assert body["dashboard"]["updatedAt"] == "2026-11-24T10:05:00Z"
    assert (body["dashboard"]["title"], body["dashboard"]["panels"]) == ("Ops 2", PANELS[:1])
    assert api.call("DELETE", "/dashboards/ops", "ann")[:2] == (204, None)
    assert api.call("GET", "/dashboards/ops", "ann")[0] == 404
    assert api.call("DELETE", "/dashboards/ops", "ann")[0] == 404
    entries = [(e.action, e.target, e.outcome, e.uid) for e in api.audit.entries]
    assert entries == [("dashboard.update", "ops", "ok", "ann"),
                       ("dashboard.update", "ops", "ok", "ann"),
                       ("dashboard.delete", "ops", "ok", "ann")]  # fmt: skip
    first, second, deleted = (e.details for e in api.audit.entries)
    assert first["before"] is None and first["after"]["panels"] == PANELS
    assert second["before"]["title"] == "Ops" and second["after"]["title"] == "Ops 2"
    assert deleted["before"]["title"] == "Ops 2"


def test_a_bad_body_is_a_400_naming_it_recorded_as_failed_and_nothing_stored(api: Api) -> None:
    status, body, _ = api.call("PUT", "/dashboards/ops", "ann",
                               {"title": "x", "panels": [{"figure": "nope"}]})  # fmt: skip
    assert status == 400 and body["error"]["message"].startswith("panels[0].figure:")
    assert api.boards.boards == {}
    assert [(e.action, e.outcome) for e in api.audit.entries] == [("dashboard.update", "failed")]
    assert api.call("PUT", "/dashboards/ops", "ann", b"")[0] == 400
    assert api.call("GET", "/dashboards", "ann", window="24h")[0] == 400
    assert api.call("PUT", "/dashboards/Bad_Id", "ann", {"title": "x"})[0] == 404
    assert api.call("GET", "/dashboards", None)[0] == 401
    assert api.call("GET", "/dashboards", "joe")[0] == 403
    assert api.call("POST", "/dashboards/ops", "ann")[0] == 405


def test_others_see_shared_ones_only_and_change_only_what_they_may(api: Api) -> None:
    api.call("PUT", "/dashboards/ann-private", "ann", {"title": "Mine"})
    api.call("PUT", "/dashboards/ann-shared", "ann", {"title": "Team", "shared": True})
    api.call("PUT", "/dashboards/adam-private", "adam", {"title": "Admin's"})
    entries = len(api.audit.entries)

    def listed(uid: str) -> list[tuple[str, bool]]:
        _, body, _ = api.call("GET", "/dashboards", uid)
        return [(d["dashboardId"], d["editable"]) for d in body["dashboards"]]

    assert listed("ann") == [("ann-private", True), ("ann-shared", True)]
    assert listed("bea") == [("ann-shared", False)]
    assert listed("adam") == [("adam-private", True), ("ann-shared", True)]
    # Another's private one: missing to a reader, refused to a writer (its id is taken).
    for uid in ("bea", "adam"):
        assert api.call("GET", "/dashboards/ann-private", uid)[0] == 404
        assert api.call("DELETE", "/dashboards/ann-private", uid)[0] == 404
        status, body, _ = api.call("PUT", "/dashboards/ann-private", uid, {"title": "Hijack"})
        assert (status, body["error"]["code"]) == (403, "permission-denied")
    assert api.call("GET", "/dashboards/adam-private", "ann")[0] == 404
    # A shared one: every reader sees it; an analyst who does not own it may not change it.
    assert api.call("GET", "/dashboards/ann-shared", "bea")[1]["dashboard"]["editable"] is False
    assert api.call("PUT", "/dashboards/ann-shared", "bea", {"title": "Mine now"})[0] == 403
    assert api.call("DELETE", "/dashboards/ann-shared", "bea")[0] == 403
    assert api.boards.boards["ann-private"].layout.title == "Mine"
    assert len(api.audit.entries) == entries  # refusals are checked before anything is recorded
    # An admin edits a shared one; its owner stays.
    status, body, _ = api.call("PUT", "/dashboards/ann-shared", "ada", {"title": "Team v2",
                                                                       "shared": True})  # fmt: skip
    assert status == 200 and body["dashboard"]["owner"] == "ann"
    assert api.boards.boards["ann-shared"].updated_by == "ada"
    assert api.call("DELETE", "/dashboards/ann-shared", "ada")[0] == 204
    assert listed("bea") == []


def test_an_owner_keeps_at_most_the_cap(api: Api) -> None:
    for i in range(MAX_PER_OWNER):
        assert api.call("PUT", f"/dashboards/d{i}", "ann", {"title": f"D{i}"})[0] == 201
    status, body, _ = api.call("PUT", "/dashboards/one-more", "ann", {"title": "x"})
    assert status == 409 and body["error"]["message"].startswith("dashboardId: you own 20")
    assert "one-more" not in api.boards.boards
    assert api.call("PUT", "/dashboards/d0", "ann", {"title": "replaced"})[0] == 200
    assert api.call("PUT", "/dashboards/one-more", "bea", {"title": "x"})[0] == 201
    assert api.call("DELETE", "/dashboards/d1", "ann")[0] == 204
    assert api.call("PUT", "/dashboards/one-more-2", "ann", {"title": "x"})[0] == 201


def test_the_documented_figures_and_charts_are_the_ones_checked() -> None:
    spec = yaml.safe_load(SPEC.read_text())
    schemas = spec["components"]["schemas"]
    assert schemas["PanelFigure"]["enum"] == list(FIGURES)
    assert schemas["PanelChart"]["enum"] == list(CHARTS)
    assert schemas["PanelWindow"]["enum"] == list(WINDOWS)
    limits = spec["paths"]["/dashboards"]["get"]["responses"]["200"]["content"]
    bounds = limits["application/json"]["schema"]["properties"]["limits"]["properties"]
    assert (bounds["maxPanels"]["enum"], bounds["maxPerOwner"]["enum"]) == (
        [MAX_PANELS],
        [MAX_PER_OWNER],
    )
