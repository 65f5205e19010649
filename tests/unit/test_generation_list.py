"""`GET /generations`: filters, the cursor's exactly-once paging, user ids as the exports give
them, and the audit entry."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from tests.unit.fakes import FakeStore, FixedClock
from tests.unit.generation_fakes import ListGenerations
from tests.unit.test_access import ListAudit
from tests.unit.test_dashboard import NOW, json_response, verifier
from tests.unit.test_export import ListSource
from video_monitoring.analytics.figures import AnalyticsEngine
from video_monitoring.analytics.performance import PerformanceMonitor
from video_monitoring.core.models import Window
from video_monitoring.dashboard.app import ApiServices, Dashboard, FileExports
from video_monitoring.dashboard.generation_list import Cursor, GenerationList
from video_monitoring.dashboard.http import Request, StreamResponse
from video_monitoring.privacy.pseudonyms import pseudonym
from video_monitoring.warehouse.rows import export_line

PROVIDERS = ("pika", "runway", "luma")
STATUSES = ("completed", "failed", "processing")
CODES = ("timeout", "nsfw")


def record(i: int, at: dt.datetime | None = None) -> tuple[str, dict[str, Any]]:
    """Generation record i: provider, status and error code cycle at different periods, and
    every third pair shares its creation time (ties are ordered by id)."""
    status = STATUSES[i % 3]
    created = at or NOW - dt.timedelta(minutes=2 * (i // 3) + 1, seconds=i % 2)
    return f"gen-{i:03d}", {
        "generationId": f"gen-{i:03d}",
        "userId": f"user-{i % 7}",
        "provider": PROVIDERS[i % 2 if i % 5 else 2],
        "model": "m1",
        "status": status,
        "userTier": "free",
        "createdAt": created,
        "startedAt": created + dt.timedelta(seconds=3),
        "completedAt": created + dt.timedelta(seconds=40) if status != "processing" else None,
        "generationSeconds": 40.0 if status == "completed" else None,
        "queueSeconds": 3.0,
        "renderSeconds": 37.0 if status != "processing" else None,
        "attempts": 1,
        "fallbackFrom": None,
        "errorCode": CODES[(i // 3) % 2] if status == "failed" else None,
        "errorRetryable": True if status == "failed" else None,
        "qualityScore": 7.5,
        "userRating": None,
        "costUsd": 0.01 * i,
        "outputSeconds": 5.0,
        "resolution": "720p",
        "features": ["a"],
    }


class World:
    """A dashboard over one set of generation records, with an audit log and a moving clock."""

    def __init__(self, docs: list[tuple[str, dict[str, Any]]], key: bytes | None = None) -> None:
        docs = [(i, dict(d)) for i, d in docs]  # each world changes its own records
        self.clock = FixedClock(NOW)
        self.source = ListGenerations(docs)
        self.exports = ListSource({"video_generation_metrics": docs})
        self.audit = ListAudit()
        store = FakeStore()
        monitor = PerformanceMonitor(store)
        self.board = Dashboard(ApiServices(
            AnalyticsEngine(store, monitor), self.clock, 400, verifier=verifier,
            exports=FileExports(self.exports), audit=self.audit,
            generations=GenerationList(self.source, lambda: key),
        ))  # fmt: skip

    def get(self, **params: str) -> tuple[int, dict[str, Any]]:
        request = Request("GET", "/generations", params, "Bearer tok-analytics")
        response = json_response(self.board.handle(request))
        return response.status, response.body

    def all_pages(self, **params: str) -> list[list[dict[str, Any]]]:
        pages, cursor = [], params.pop("cursor", None)
        while True:
            status, body = self.get(**params, **({} if cursor is None else {"cursor": cursor}))
            assert status == 200, body
            pages.append(body["generations"])
            cursor = body["next"]
            if cursor is None:
                return pages


def expected(docs: list[tuple[str, dict[str, Any]]], **equal: str) -> list[str]:
    """The ids a list holds, computed here: within the last 24 h, matching, newest first."""
    start = NOW - dt.timedelta(hours=24)
    kept = [
        (d["createdAt"], i)
        for i, d in docs
        if start <= d["createdAt"] < NOW and all(d.get(k) == v for k, v in equal.items())
    ]
    return [i for _, i in sorted(kept, reverse=True)]


DOCS = [record(i) for i in range(60)]


@pytest.mark.parametrize("limit", ["1", "7", "50", "500"])
def test_pages_give_every_generation_once_newest_first(limit: str) -> None:
    world = World(DOCS)
    pages = world.all_pages(window="24h", limit=limit)
    ids = [row["generationId"] for page in pages for row in page]
    assert ids == expected(DOCS)
    assert len(ids) == 60 and all(len(page) <= int(limit) for page in pages)
    assert len(pages) == -(-60 // int(limit))  # no empty last page


@pytest.mark.parametrize(
    "filters",
    [
        {"provider": "pika"},
        {"status": "failed"},
        {"errorCode": "timeout"},
        {"status": "failed", "provider": "luma"},
        {"status": "failed", "errorCode": "nsfw", "provider": "pika"},
        {"status": "cancelled"},
    ],
)
def test_filters_hold_exactly_the_matching_generations(filters: dict[str, str]) -> None:
    world = World(DOCS)
    pages = world.all_pages(window="24h", limit="4", **filters)
    ids = [row["generationId"] for page in pages for row in page]
    assert ids == expected(DOCS, **filters)
    assert filters == {"status": "cancelled"} or ids  # the filters do select something


def test_the_window_of_the_first_page_holds_while_time_moves() -> None:
    world = World(DOCS)
    status, first = world.get(window="1h", limit="10")
    assert status == 200
    world.clock.advance(minutes=30)  # a re-resolved 1h window would lose the oldest half
    rest = world.all_pages(window="1h", limit="10", cursor=first["next"])
    ids = [r["generationId"] for r in first["generations"]] + [
        r["generationId"] for page in rest for r in page
    ]
    start = NOW - dt.timedelta(hours=1)
    within = [(d["createdAt"], i) for i, d in DOCS if start <= d["createdAt"] < NOW]
    assert ids == [i for _, i in sorted(within, reverse=True)]
    assert len(ids) == len(within) > 20


def test_generations_written_between_pages_appear_once_by_their_position() -> None:
    world = World(DOCS)
    status, first = world.get(window="24h", limit="20")
    assert status == 200
    last_seen = first["generations"][-1]["createdAt"]
    newer = record(900, NOW - dt.timedelta(seconds=10))  # before the cursor in the order
    older = record(901, NOW - dt.timedelta(hours=5))  # after it
    tie_id, tie = record(902, dt.datetime.fromisoformat(last_seen))  # same time, higher id
    world.source.docs.update([newer, older, (tie_id, tie)])
    rest = world.all_pages(window="24h", limit="20", cursor=first["next"])
    ids = [r["generationId"] for r in first["generations"]] + [
        r["generationId"] for page in rest for r in page
    ]
    assert len(ids) == len(set(ids))
    assert set(ids) == {i for i, _ in DOCS} | {older[0]}
    assert newer[0] not in ids and tie_id not in ids


@pytest.mark.parametrize(
    ("params", "named", "says"),
    [
        ({"status": "done"}, "status", "queued, processing, completed, failed, cancelled"),
        ({"limit": "0"}, "limit", "from 1 to 500"),
        ({"limit": "501"}, "limit", "from 1 to 500"),
        ({"limit": "ten"}, "limit", "from 1 to 500"),
        ({"errorCode": ""}, "errorCode", "1 to 128 printable"),
        ({"errorCode": "x" * 129}, "errorCode", "1 to 128 printable"),
        ({"errorCode": "bad\ncode"}, "errorCode", "1 to 128 printable"),
        ({"provider": "Not A Provider"}, "provider", "matching"),
        ({"cursor": "not-a-cursor"}, "cursor", "`next` value"),
        ({"cursor": ""}, "cursor", "`next` value"),
        ({"colour": "red"}, "colour", "errorCode"),
    ],
)
def test_bad_parameters_are_400s_naming_them(params: dict[str, str], named: str, says: str) -> None:
    world = World(DOCS)
    status, body = world.get(**params)
    assert status == 400, body
    message = body["error"]["message"]
    assert message.startswith(f"{named}:") and says in message


def test_a_cursor_only_continues_its_own_list() -> None:
    world = World(DOCS)
    _, first = world.get(window="24h", limit="5", status="failed")
    for changed in ({"status": "completed"}, {"window": "7d"}, {"provider": "pika"}):
        params = {"window": "24h", "limit": "5", "status": "failed", **changed}
        status, body = world.get(**params, cursor=first["next"])
        assert status == 400 and body["error"]["message"].startswith("cursor: belongs")
    status, body = world.get(window="24h", limit="5", status="failed", cursor=first["next"] + "\n")
    assert status == 400 and body["error"]["message"].startswith("cursor: expected")
    # A different page size is the same list.
    status, _ = world.get(window="24h", limit="9", status="failed", cursor=first["next"])
    assert status == 200


def test_a_forged_cursor_window_is_checked_like_a_window() -> None:
    world = World(DOCS)
    params = ("24h", None, None, None, None, None)
    start = NOW - dt.timedelta(days=500)
    forged = Cursor(Window(start=start, end=NOW), params, (NOW, "gen-001")).encode()
    status, body = world.get(window="24h", cursor=forged)
    assert status == 400 and body["error"]["message"].startswith("from:")


def test_rows_carry_the_exports_columns_and_user_ids() -> None:
    docs = [*DOCS[:10], record(50, NOW - dt.timedelta(minutes=3))]
    world = World(docs)
    world.source.docs["gen-002"]["userId"] = "erased"
    world.source.opted_out = world.exports.opted_out = {"user-1"}
    _, body = world.get(window="24h", limit="500")
    response = world.board.handle(
        Request("GET", "/export", {"dataset": "generations", "format": "json"}, "Bearer tok-admin")
    )
    assert isinstance(response, StreamResponse)
    exported = {r["generationId"]: r for r in json.loads(b"".join(response.chunks))}
    rows = {r["generationId"]: r for r in body["generations"]}
    assert rows == exported
    assert {rows[i]["userId"] for i in ("gen-001", "gen-008")} == {"opted-out"}
    assert rows["gen-002"]["userId"] == "erased"
    assert rows["gen-003"]["userId"] == "user-3"


def test_with_a_key_user_ids_are_the_bigquery_exports_pseudonyms() -> None:
    key = b"k" * 32
    world = World(DOCS[:12], key=key)
    world.source.opted_out = {"user-1"}
    _, body = world.get(window="24h", limit="500")
    for row in body["generations"]:
        doc = world.source.docs[row["generationId"]]
        line = json.loads(export_line("generation_metrics", row["generationId"], doc, key))
        if doc["userId"] == "user-1":
            assert row["userId"] == "opted-out"
        else:
            assert row["userId"] == line["userId"] == pseudonym(doc["userId"], key)
            assert row["userId"] != doc["userId"]


def test_each_page_is_audited_like_an_export() -> None:
    world = World(DOCS)
    _, first = world.get(window="1h", limit="10", status="completed")
    world.get(window="1h", limit="10", status="completed", cursor=first["next"])
    world.get(window="1h", status="bogus")  # refused before the audit: nothing recorded
    entries = world.audit.entries
    assert [(e.action, e.target, e.outcome, e.uid) for e in entries] == [
        ("generations.list", "generations", "ok", "tok-analytics")
    ] * 2
    assert entries[0].details["rows"] == 10 and entries[0].details["status"] == "completed"
    assert entries[0].details["from"] == "2026-11-24T09:00:00Z"
    assert [e.details["cursor"] for e in entries] == [False, True]
