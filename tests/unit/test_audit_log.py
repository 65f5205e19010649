"""GET /audit-log: admins only, filters by actor, action and time, pages that cover every entry
exactly once, and each bad parameter a 400 naming it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.unit.test_access import ListAudit
from tests.unit.test_alert_manager import degraded_world
from tests.unit.test_dashboard_alerts import Api
from video_monitoring.core.audit_log import AuditEntry
from video_monitoring.dashboard.audit_routes import decode_cursor, encode_cursor

T0 = dt.datetime(2026, 11, 20, 8, tzinfo=dt.UTC)
ACTORS = ("alice", "bob", "carol")
ACTIONS = ("acknowledge", "rule.update", "export")


def entries() -> list[AuditEntry]:
    """30 entries, a minute apart except every fifth pair, which share their time (ties)."""
    out = []
    for i in range(30):
        at = T0 + dt.timedelta(minutes=i - (i % 5 == 1))
        out.append(AuditEntry(at, ACTORS[i % 3], "admin", ACTIONS[i % 3 if i % 2 else 0],
                              f"target-{i}", "ok", {"n": i}))  # fmt: skip
    return out


@pytest.fixture
def api() -> Api:
    audit = ListAudit()
    audit.entries.extend(entries())
    return Api(degraded_world(), audit=audit, trail=audit)


def read_all(api: Api, **params: str) -> tuple[list[dict[str, Any]], int]:
    """Every page in turn; the entries and how many pages."""
    seen, pages, cursor = [], 0, None
    while True:
        extra: dict[str, str] = {} if cursor is None else {"cursor": cursor}
        status, body = api.call("GET", "/audit-log", **params, **extra)
        assert status == 200, body
        seen += body["entries"]
        pages += 1
        cursor = body["next"]
        if cursor is None:
            return seen, pages


def test_pages_cover_every_entry_once_newest_first(api: Api) -> None:
    seen, pages = read_all(api, limit="7")
    assert pages == 5  # 30 entries, 7 a page
    assert sorted(e["target"] for e in seen) == sorted(f"target-{i}" for i in range(30))
    keys = [(e["at"], e["id"]) for e in seen]
    assert keys == sorted(keys, reverse=True)
    first = seen[0]
    assert first == {
        "id": "e000029", "at": T0 + dt.timedelta(minutes=29), "actor": "carol", "role": "admin",
        "action": "export", "target": "target-29", "outcome": "ok", "details": {"n": 29},
    }  # fmt: skip
    _, exact = read_all(api, limit="30")
    assert exact == 1  # a last page that is full says so: no empty page after it


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"actor": "bob"}, [i for i in range(30) if i % 3 == 1]),
        ({"action": "export"}, [i for i in range(30) if i % 2 and i % 3 == 2]),
        # alice acts on multiples of 3: the odd ones' action is ACTIONS[0] too.
        ({"actor": "alice", "action": "acknowledge"}, [i for i in range(30) if i % 3 == 0]),
        ({"actor": "alice", "action": "export"}, []),
        # 11 shares minute 10 with 10; 16 is at minute 15, the end (exclusive).
        ({"from": "2026-11-20T08:10:00Z", "to": "2026-11-20T08:15:00Z"}, [10, 11, 12, 13, 14]),
        ({"from": "2026-11-20T08:25:00Z"}, [25, 26, 27, 28, 29]),
        ({"to": "2026-11-20T08:01:00Z"}, [0, 1]),
        ({"actor": "nobody"}, []),
    ],
)
def test_filters_select_the_entries_they_name(
    api: Api, params: dict[str, str], expected: list[int]
) -> None:
    seen, _ = read_all(api, limit="3", **params)
    assert sorted(e["details"]["n"] for e in seen) == expected


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"limit": "0"}, "limit: expected an integer from 1 to 200"),
        ({"limit": "201"}, "limit:"),
        ({"action": "Rule Update"}, "action:"),
        ({"actor": "a\nb"}, "actor:"),
        ({"from": "yesterday"}, "from:"),
        ({"from": "2026-11-20T09:00:00Z", "to": "2026-11-20T08:00:00Z"}, "to: must be later"),
        ({"cursor": "not-a-cursor"}, "cursor: not a cursor this endpoint gave"),
        ({"cursor": encode_cursor(T0, "e1") + "\n"}, "cursor:"),
        ({"window": "24h"}, "window: unknown parameter"),
    ],
)
def test_bad_parameters_are_named(api: Api, params: dict[str, str], named: str) -> None:
    status, body = api.call("GET", "/audit-log", **params)
    assert status == 400 and body["error"]["message"].startswith(named), body


def test_admins_only(api: Api) -> None:
    assert api.call("GET", "/audit-log", "tok-analytics")[0] == 403
    assert api.call("GET", "/audit-log", None)[0] == 401
    assert api.call("GET", "/audit-log", "tok-admin")[0] == 200


def test_the_cursor_round_trips_the_position() -> None:
    at = dt.datetime(2026, 11, 20, 8, 0, 0, 123456, tzinfo=dt.UTC)
    position = decode_cursor(encode_cursor(at, "AbC_12-x"))
    assert (position.at, position.entry_id) == (at, "AbC_12-x")


def test_an_admin_action_is_then_read_back(api: Api) -> None:
    """The entry an action writes is what the log answers (the same store)."""
    assert api.call("DELETE", "/alert-rules/slow_generation")[0] == 409
    status, body = api.call("GET", "/audit-log", action="rule.delete")
    assert status == 200 and body["next"] is None
    [entry] = body["entries"]
    assert (entry["actor"], entry["target"], entry["outcome"]) == (
        "tok-admin",
        "slow_generation",
        "failed",
    )
    assert entry["details"]["error"] == "failed-precondition"
