"""Privacy: opted-out users are left out of user-behaviour insights and exports; an erased
user's ledger records are frozen (no figure moves, nothing is counted twice); the erasure's
orchestration and checks."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

import pytest

from tests.unit.fakes import FakeStore, FixedClock
from tests.unit.test_dashboard import verifier
from tests.unit.test_export import NOW, ListSource, dashboard, generation
from tests.unit.test_user_insights import build
from video_monitoring.analytics.figures import AnalyticsEngine
from video_monitoring.analytics.performance import PerformanceMonitor
from video_monitoring.core.errors import InvalidArgument, Unavailable
from video_monitoring.core.models import Window
from video_monitoring.dashboard.app import ApiServices, Dashboard, FileExports, loggable
from video_monitoring.dashboard.http import Request, StreamResponse
from video_monitoring.ingest.pipeline import Counting
from video_monitoring.ingest.service import IngestService
from video_monitoring.privacy.erasure import check_user_id, erase_user, subject
from video_monitoring.privacy.retention import Retention

START = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


def snapshots(engine: AnalyticsEngine) -> None:
    """What the ticks store for days 40-44: final snapshots of 40-43, the open figures of 44."""
    for day in range(40, 44):
        engine.snapshot_user_behavior(START + (day + 1) * DAY + dt.timedelta(hours=2))
    engine.refresh_open_days(START + 44 * DAY + dt.timedelta(hours=10))


def test_opted_out_users_are_left_out_of_user_behaviour_insights() -> None:
    window = Window(start=START + 40 * DAY, end=START + 45 * DAY)
    store, engine = build()
    snapshots(engine)
    before = engine.user_insights(window)
    store, engine = build()
    everyone = {a.user_id for a in store.user_days(window.start, window.end)}
    quiet = sorted(everyone)[:5]
    store.opted_out = set(quiet)  # before the ticks compute the days
    snapshots(engine)
    after = engine.user_insights(window)
    # Independently: the same figures from a store holding only the consenting users' days.
    consenting = FakeStore()
    consenting.user_day_docs = {
        k: v for k, v in store.user_day_docs.items() if v["userId"] not in store.opted_out
    }
    consenting.rollup_docs, consenting.event_rollup_docs = (
        store.rollup_docs,
        store.event_rollup_docs,
    )
    consenting.events = {
        k: v for k, v in store.events.items() if v.get("userId") not in store.opted_out
    }
    clock = FixedClock(START + dt.timedelta(days=45))
    independent = AnalyticsEngine(consenting, PerformanceMonitor(consenting), Counting(2), clock)
    snapshots(independent)
    expected = independent.user_insights(window)
    assert after == expected
    assert after != before
    assert [d["activeUsers"] for d in after["days"]] != [d["activeUsers"] for d in before["days"]]
    assert all(d["asOf"] is not None for d in after["days"])  # every day was computed


def test_opted_out_users_rows_are_anonymised_in_exports() -> None:
    source = ListSource({"video_generation_metrics": [generation(i) for i in range(6)]})
    source.opted_out = {"u1", "u4"}
    response = dashboard(source).handle(
        Request("GET", "/export", {"dataset": "generations", "format": "json", "window": "1h"},
                "Bearer tok-admin")
    )  # fmt: skip
    assert isinstance(response, StreamResponse)
    rows = json.loads(b"".join(response.chunks))
    assert sorted(r["userId"] for r in rows) == ["opted-out", "opted-out", "u0", "u2", "u3", "u5"]
    assert sorted(r["generationId"] for r in rows) == [f"g{i}" for i in range(6)]  # still counted


def generation_doc(**fields: Any) -> dict[str, Any]:
    return {
        "userId": "u1", "provider": "runway", "status": "completed", "userTier": "free",
        "createdAt": NOW - dt.timedelta(hours=2), "startedAt": NOW - dt.timedelta(hours=2),
        "completedAt": NOW - dt.timedelta(hours=1), "costUsd": 1.0, **fields,
    }  # fmt: skip


def test_erased_records_are_frozen() -> None:
    store, clock = FakeStore(), FixedClock(NOW)
    monitor = PerformanceMonitor(store)
    ingest = IngestService(store, 2, clock)
    engine = AnalyticsEngine(store, monitor, Counting(2), clock)
    window = Window(start=NOW - dt.timedelta(days=1), end=NOW)
    store.source["g1"] = generation_doc()
    store.events["e1"] = {
        "type": "premium_upgrade", "userId": "u1", "amountUsd": 4.0,
        "timestamp": NOW - dt.timedelta(hours=3),
    }  # fmt: skip
    ingest.record_generation_metrics("g1")
    ingest.record_app_event("e1")
    before = engine.summary(window)
    # What FirestoreStore.erase_user does to the ledger records:
    for record in (store.metrics["g1"], store.event_records["e1"]):
        record.update(userId="erased", erased=True)
        record.pop("userDay", None)
    store.source["g1"] = generation_doc(costUsd=9.0)  # a later change of the source
    assert ingest.record_generation_metrics("g1").outcome == "erased"
    del store.events["e1"]  # the erasure deletes the event
    assert ingest.record_app_event("e1").outcome == "erased"
    del store.source["g1"]
    assert ingest.record_generation_metrics("g1").outcome == "erased"
    assert store.metrics["g1"]["userId"] == "erased"
    assert engine.summary(window) == before


class FakeUserData:
    def __init__(self) -> None:
        self.asked: list[str] = []

    def erase_user(self, user_id: str) -> dict[str, dict[str, int]]:
        self.asked.append(user_id)
        return {"analytics_events": {"deleted": 3}}


class FakeWarehouse:
    def __init__(self, fail: bool = False) -> None:
        self.asked: list[list[str]] = []
        self.fail = fail

    def erase_user(self, user_ids: list[str]) -> dict[str, int]:
        self.asked.append(user_ids)
        if self.fail:
            raise ConnectionError("bigquery down")
        return {"generation_metrics": 2, "analytics_events": 1}


def test_erasure_covers_firestore_and_both_ids_in_bigquery() -> None:
    data, warehouse = FakeUserData(), FakeWarehouse()
    report = erase_user("u-1", data, warehouse, pseudonym="p-1")
    assert data.asked == ["u-1"] and warehouse.asked == [["u-1", "p-1"]]
    assert report.to_json("u-1") == {
        "userId": "u-1",
        "firestore": {"analytics_events": {"deleted": 3}},
        "bigquery": {"generation_metrics": 2, "analytics_events": 1},
        "aggregatesKept": True,
    }
    assert erase_user("u-1", data, None).bigquery is None
    with pytest.raises(Unavailable, match=r"Firestore data erased .* run the erasure again"):
        erase_user("u-1", data, FakeWarehouse(fail=True))


def test_user_ids_and_their_audit_digest() -> None:
    assert check_user_id("user@example.com") == "user@example.com"
    for bad in ("", "a/b", "x" * 129, "tab\there", "erased", "opted-out"):
        with pytest.raises(InvalidArgument, match="userId"):
            check_user_id(bad)
    # A digest computed here, not by subject() itself: sha256 of the id, cut to 16 hex digits.
    assert subject("alice") == "sha256:" + hashlib.sha256(b"alice").hexdigest()[:16]
    assert subject("bob") != subject("alice")
    assert "alice" not in subject("alice")


def test_windows_beyond_what_firestore_keeps_are_a_400_naming_from() -> None:
    store, clock = FakeStore(), FixedClock(NOW)
    monitor = PerformanceMonitor(store)
    retention = Retention(raw_days=20, aggregate_days=60)
    source = ListSource({"video_generation_metrics": []})
    board = Dashboard(ApiServices(
        AnalyticsEngine(store, monitor, Counting(2, retention=retention), clock), clock, 400,
        verifier=verifier, exports=FileExports(source), retention=retention,
    ))  # fmt: skip

    def get(path: str, days_ago: int, **params: str) -> tuple[int, str]:
        start = NOW - dt.timedelta(days=days_ago)
        window = {"from": start.isoformat(), "to": (start + dt.timedelta(days=1)).isoformat()}
        response = board.handle(Request("GET", path, {**window, **params}, "Bearer tok-admin"))
        body = b"".join(response.chunks) if isinstance(response, StreamResponse) else b""
        text = response.text() if not isinstance(response, StreamResponse) else body.decode()
        return response.status, text

    status, text = get("/summary", 61)
    assert status == 400 and "from: Firestore keeps aggregates for 60 days" in text
    assert get("/summary", 58)[0] == 200
    status, text = get("/export", 21, dataset="generations", format="csv")
    assert status == 400 and "from: Firestore keeps raw records for 20 days" in text
    assert get("/export", 19, dataset="generations", format="csv")[0] == 200
    assert get("/export", 300, dataset="alerts", format="csv")[0] == 200  # instances stay


def test_logs_and_audit_never_name_the_erased_user_even_when_the_erasure_fails() -> None:
    class Log:
        def __init__(self) -> None:
            self.entries: list[Any] = []

        def record(self, entry: Any) -> None:
            self.entries.append(entry)

    def broken(user_id: str) -> Any:
        raise RuntimeError("firestore unavailable")

    store, clock = FakeStore(), FixedClock(NOW)
    monitor = PerformanceMonitor(store)
    audit = Log()
    board = Dashboard(ApiServices(
        AnalyticsEngine(store, monitor), clock, 400, verifier=verifier,
        eraser=broken, audit=audit,
    ))  # fmt: skip
    response = board.handle(Request("POST", "/users/alice/erase", {}, "Bearer tok-admin"))
    assert not isinstance(response, StreamResponse)
    assert response.status == 500
    (entry,) = audit.entries
    assert (entry.outcome, entry.target) == ("failed", subject("alice"))
    assert entry.details["error"] == "RuntimeError"
    assert loggable("/users/alice/erase") == f"/users/{subject('alice')}/erase"
    assert loggable("/summary") == "/summary"
