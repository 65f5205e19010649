"""Erasure is final, on the Firestore and BigQuery API emulators: an erasure that lands while an
export of the user's day is in flight (its rows read from Firestore and loaded into staging
tables, its replace not yet committed) leaves no personal data of the user anywhere in BigQuery,
staging tables included, nor in Firestore; and an erasure whose BigQuery step failed is finished
by the next nightly run for every day Firestore still keeps. The erasure is injected at an exact
step of the export (a warehouse that runs it there), never by timing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

import pytest
import requests
from google.api_core.exceptions import NotFound
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from tests.integration.support import Stack, token, whole_day
from tests.integration.test_bigquery_emulator import export_in_process, run_record
from video_monitoring.adapters.bigquery import STAGING_PREFIX, BigQueryWarehouse
from video_monitoring.adapters.firestore_store import FirestoreStore
from video_monitoring.core.errors import Unavailable
from video_monitoring.privacy.erasure import erase_user
from video_monitoring.warehouse.nightly import CHANGED_LOOKBACK
from video_monitoring.warehouse.rows import TABLES

pytestmark = pytest.mark.integration
DAY, _ = whole_day(3)
OLD = DAY - dt.timedelta(days=3)  # older than the nightly run's yesterday and resettled day
USER_TABLES = ("generation_metrics", "analytics_events")
USER_COLLECTIONS = (
    "video_generation_metrics", "analytics_events", "event_contributions", "user_days",
)  # fmt: skip
# What points at user-x anywhere: the id, their session, a free-form property value.
PERSONAL = ("user-x", "session-of-x", "x@example.com")


def write_users(db: firestore.Client, day: dt.datetime) -> None:
    """Generations and app events of user-x (3 and 3) and user-y (2 and 1) on the day."""
    source = db.collection("video_generations")
    for user, n in (("user-x", 3), ("user-y", 2)):
        for i in range(n):
            created = day + dt.timedelta(hours=1 + i, minutes=7 if user == "user-y" else 0)
            source.document(f"g{user[-1]}-{day:%m%d}-{i}").set(
                {"userId": user, "provider": "runway", "status": "completed",
                 "userTier": "free", "createdAt": created,
                 "startedAt": created + dt.timedelta(seconds=2),
                 "completedAt": created + dt.timedelta(seconds=40), "costUsd": 0.5}
            )  # fmt: skip
    events = db.collection("analytics_events")
    at = day + dt.timedelta(hours=8)
    events.document(f"x-feat-{day:%m%d}").set(
        {"type": "feature_used", "userId": "user-x", "sessionId": "session-of-x",
         "properties": {"feature": "hd_export", "email": "x@example.com"}, "timestamp": at}
    )  # fmt: skip
    events.document(f"x-view-{day:%m%d}").set(
        {"type": "video_viewed", "userId": "user-x", "sessionId": "session-of-x",
         "timestamp": at + dt.timedelta(minutes=1)}
    )  # fmt: skip
    events.document(f"x-up-{day:%m%d}").set(
        {"type": "premium_upgrade", "userId": "user-x", "amountUsd": 12.5,
         "timestamp": at + dt.timedelta(minutes=2)}
    )  # fmt: skip
    events.document(f"y-view-{day:%m%d}").set(
        {"type": "video_viewed", "userId": "user-y", "sessionId": "session-of-y",
         "timestamp": at + dt.timedelta(minutes=3)}
    )  # fmt: skip


def erase(stack: Stack, user_id: str) -> dict[str, Any]:
    response = requests.post(
        stack.url("video_analytics_dashboard", f"/users/{user_id}/erase"),
        headers={"Authorization": f"Bearer {token('admin', 'operator-1')}"},
        timeout=120,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def staging_tables(bq: BigQueryWarehouse) -> list[str]:
    return [
        t.table_id
        for t in bq.client.list_tables(bq.dataset)
        if t.table_id.startswith(STAGING_PREFIX)
    ]


def rows_of(bq: BigQueryWarehouse, table: str) -> list[dict[str, Any]]:
    return bq.query(f"SELECT * FROM `{bq.dataset}.{table}`")


def users_in(bq: BigQueryWarehouse, table: str) -> dict[str, int]:
    rows = bq.query(f"SELECT userId, COUNT(*) AS n FROM `{bq.dataset}.{table}` GROUP BY userId")
    return {row["userId"]: row["n"] for row in rows}


def personal_data(bq: BigQueryWarehouse, tables: list[str]) -> list[tuple[str, str]]:
    """(table, value) for every personal value of user-x found in any column of any row."""
    found = []
    for table in tables:
        for row in rows_of(bq, table):
            found += [(table, value) for value in PERSONAL if value in repr(row)]
    return found


def of_user(db: firestore.Client, collection: str, user_id: str) -> list[str]:
    query = db.collection(collection).where(filter=FieldFilter("userId", "==", user_id))
    return [snap.id for snap in query.stream()]


class Interleaved:
    """The real warehouse, running `erase` once at one exact moment of the export:
    - `staged`: every chunk is in its staging table, the replace has not begun (before the
      export reads the erasure ledger);
    - `replacing`: the export has read the ledger and is replacing the day: what the erasure
      does lands before the replace transaction commits, after the export's view of the ledger
      was taken."""

    def __init__(self, real: BigQueryWarehouse, moment: str, erase: Callable[[], None]) -> None:
        self.real, self.moment, self.erase, self.done = real, moment, erase, False

    def _erase_now(self) -> None:
        if not self.done:
            self.real.wait_for_loads()
            self.done = True
            self.erase()

    def ensure_tables(self) -> None:
        self.real.ensure_tables()

    def new_staging(self, table: str, day: dt.date) -> str:
        return self.real.new_staging(table, day)

    def load(self, staging: str, table: str, ndjson: bytes) -> None:
        self.real.load(staging, table, ndjson)

    def erasure_ledger(self) -> frozenset[str]:
        if self.moment == "staged":
            self._erase_now()
        return self.real.erasure_ledger()

    def replace_day(self, day: dt.date, staged: Mapping[str, str]) -> None:
        self._erase_now()  # `replacing` (an export without a ledger gets `staged` here too)
        self.real.replace_day(day, staged)

    def anonymise_day(self, day: dt.date, keys: frozenset[str]) -> int:
        return self.real.anonymise_day(day, keys)

    def drop(self, staging: str) -> None:
        self.real.drop(staging)


@pytest.mark.parametrize("moment", ["staged", "replacing"])
def test_an_erasure_during_the_export_of_the_users_day_leaves_no_personal_data(
    stack: Stack, db: firestore.Client, bq: BigQueryWarehouse, moment: str
) -> None:
    write_users(db, DAY)
    stack.settle()
    assert stack.run_schedule("export_to_bigquery", DAY + dt.timedelta(days=1, hours=2)) == 200
    before = {table: users_in(bq, table) for table in USER_TABLES}
    assert before["generation_metrics"] == {"user-x": 3, "user-y": 2}
    assert before["analytics_events"]["user-x"] >= 3  # app events and lifecycle events
    seen: dict[str, Any] = {}

    def erase_mid_export() -> None:
        staged = staging_tables(bq)
        seen["staged before"] = personal_data(bq, staged)
        seen["report"] = erase(stack, "user-x")
        seen["staged after"] = personal_data(bq, staged)

    run = export_in_process(
        db, bq, DAY, warehouse=Interleaved(bq, moment, erase_mid_export), load_rows=2
    )

    assert run.status == "succeeded" and run_record(db, DAY)["status"] == "succeeded"
    assert staging_tables(bq) == []
    assert personal_data(bq, list(TABLES)) == []
    for table in USER_TABLES:  # rows kept anonymised, so BigQuery's totals stay true
        users = users_in(bq, table)
        assert users == {"erased": before[table]["user-x"], "user-y": before[table]["user-y"]}
    # The staging tables held the user's raw rows when the erasure came (so "none" below is
    # about something that was there), and the erasure anonymised them there too.
    holding = {table for table, _ in seen["staged before"]}
    for table in USER_TABLES:
        assert any(t.startswith(f"{STAGING_PREFIX}{table}_") for t in holding), table
    assert seen["staged after"] == []
    assert seen["report"]["bigquery"]["staging"] == sum(
        before[table]["user-x"] for table in USER_TABLES
    )
    events = f"`{bq.dataset}.analytics_events`"
    feature = bq.query(
        f"SELECT sessionId, properties FROM {events} WHERE eventId = @id", id=f"x-feat-{DAY:%m%d}"
    )
    assert feature == [{"sessionId": None, "properties": '{"feature":"hd_export"}'}]
    y_view = bq.query(
        f"SELECT userId, sessionId FROM {events} WHERE eventId = @id", id=f"y-view-{DAY:%m%d}"
    )
    assert y_view == [{"userId": "user-y", "sessionId": "session-of-y"}]
    for collection in USER_COLLECTIONS:
        assert of_user(db, collection, "user-x") == [], collection
    assert len(of_user(db, "video_generation_metrics", "user-y")) == 2


class Unreachable:
    """BigQuery failing during an erasure (after Firestore was done)."""

    def erase_user(self, user_ids: list[str]) -> dict[str, int]:
        raise ConnectionError("bigquery unreachable")


def test_an_erasure_whose_bigquery_step_failed_is_finished_by_the_next_nightly_run(
    stack: Stack, db: firestore.Client, bq: BigQueryWarehouse
) -> None:
    """The anonymisation marks the user's days as changed (`erasedAt`), so the next nightly
    run exports each of them again from the anonymised records (trigger `changed`), although
    no record of theirs changed otherwise within the run's look-back."""
    write_users(db, OLD)
    stack.settle()
    assert stack.run_schedule("export_to_bigquery", OLD + dt.timedelta(days=1, hours=2)) == 200
    assert users_in(bq, "generation_metrics") == {"user-x": 3, "user-y": 2}
    # The next nightly run looks back to `recorded`: every record was written before it.
    recorded = dt.datetime.now(dt.UTC)
    nightly = recorded + CHANGED_LOOKBACK

    with pytest.raises(Unavailable, match="run the erasure again"):
        erase_user("user-x", FirestoreStore(db), Unreachable())
    assert users_in(bq, "generation_metrics")["user-x"] == 3  # BigQuery untouched so far

    assert stack.run_schedule("export_to_bigquery", nightly) == 200
    assert run_record(db, OLD)["trigger"] == "changed"
    assert personal_data(bq, list(TABLES)) == []
    assert users_in(bq, "generation_metrics") == {"erased": 3, "user-y": 2}
    assert users_in(bq, "analytics_events")["erased"] == 3  # the app events, kept anonymised


def test_erasing_before_any_export_finds_nothing_in_bigquery(bq: BigQueryWarehouse) -> None:
    """No export has created the dataset yet: the erasure's BigQuery step says nothing was there
    and creates nothing (it used to retry the emulator's 500 for two minutes, then fail)."""
    assert bq.erase_user(["u-never-exported"]) == {
        "generation_metrics": 0, "analytics_events": 0, "staging": 0,
    }  # fmt: skip
    with pytest.raises(NotFound):
        bq.client.get_dataset(bq.dataset)
