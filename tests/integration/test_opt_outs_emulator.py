"""The opt-out set is kept by the process and brought up to date without listing it again."""

from __future__ import annotations

import datetime as dt

import pytest
from google.cloud import firestore

from video_monitoring.adapters._firestore import OPERATIONS, OptOuts

pytestmark = pytest.mark.integration


def reads_of(call: object) -> int:
    before = OPERATIONS["opt_out_reads"]
    assert callable(call)
    call()
    return OPERATIONS["opt_out_reads"] - before


def test_opt_outs_are_read_whole_once_then_by_what_changed(db: firestore.Client) -> None:
    outs = db.collection("analytics_opt_outs")
    now = {"t": dt.datetime.now(dt.UTC)}
    batch = db.batch()
    for i in range(60):
        batch.set(outs.document(f"u{i:02d}"), {"at": now["t"]})
    batch.commit()
    cache = OptOuts(clock=lambda: now["t"])
    seen: dict[str, frozenset[str]] = {}

    def look() -> None:
        seen["users"] = cache.users(db)

    assert reads_of(look) == 60  # the first call lists the collection (as every call did)
    assert seen["users"] == {f"u{i:02d}" for i in range(60)}

    now["t"] += dt.timedelta(minutes=5)
    # The opt-outs of the minute before the last look are read again (a late commit may carry
    # an earlier `at`), and the count.
    assert reads_of(look) == 60 + 1
    now["t"] += dt.timedelta(minutes=5)
    assert reads_of(look) == 2  # nothing new since: one empty query and one count
    assert len(seen["users"]) == 60

    outs.document("late").set({"at": now["t"]})  # an opt-out made now: seen at once
    assert reads_of(look) == 2  # the query returns it, the count agrees
    assert "late" in seen["users"] and len(seen["users"]) == 61

    outs.document("u07").delete()  # an opt back in: the count disagrees, listed again
    assert reads_of(look) == 1 + 1 + 60
    assert "u07" not in seen["users"] and len(seen["users"]) == 60

    outs.document("no-time").set({})  # written without `at`: the count still sees it
    look()
    assert "no-time" in seen["users"]
