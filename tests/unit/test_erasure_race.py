"""The export's answer to an erasure that lands while it runs, with a small in-memory warehouse
that behaves as BigQuery does for it (the replace transaction reads the erasure ledger at its
snapshot and commits later; updates see only committed rows): whatever the step of the export
the erasure lands at, no row of the erased user is left raw, in a table or a staging table.
Also the SQL both sides share."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from tests.unit.test_bigquery_export import DAY, START, FakeSource, Runs, generation
from video_monitoring.privacy.pseudonyms import anonymised, pseudonym
from video_monitoring.warehouse.erasures import (
    ERASED_COLUMNS,
    anonymise_statement,
    ledger_key,
    select_columns,
)
from video_monitoring.warehouse.nightly import (
    ExportOptions,
    export_day,
    replace_statements,
)
from video_monitoring.warehouse.rows import TABLES

MOMENTS = ("before", "staged", "replacing", "replaced", "after")


def anonymous(row: dict[str, Any]) -> dict[str, Any]:
    """What the erasure's SQL does to a row (warehouse/erasures.py), in Python."""
    out = {**row, "userId": "erased"}
    if "sessionId" in row:
        feature = json.loads(row["properties"] or "{}").get("feature")
        out.update(
            sessionId=None,
            properties=json.dumps({"feature": feature}, separators=(",", ":")) if feature else None,
        )
    return out


class Warehouse:
    """BigQuery as the export and the erasure meet it: tables, staging tables, the ledger; the
    replace reads the ledger when its transaction starts and commits after `in_replace` ran."""

    def __init__(self) -> None:
        self.tables: dict[str, list[dict[str, Any]]] = {table: [] for table in TABLES}
        self.staging: dict[str, tuple[str, list[dict[str, Any]]]] = {}
        self.ledger: set[str] = set()
        self.in_replace: Callable[[], None] = lambda: None
        self.ledger_reads = 0

    def ensure_tables(self) -> None:
        pass

    def new_staging(self, table: str, day: dt.date) -> str:
        name = f"_staging_{table}_{len(self.staging)}"
        self.staging[name] = (table, [])
        return name

    def load(self, staging: str, table: str, ndjson: bytes) -> None:
        self.staging[staging][1].extend(json.loads(line) for line in io.BytesIO(ndjson))

    def replace_day(self, day: dt.date, staged: Mapping[str, str]) -> None:
        # The transaction's snapshot: the ledger and the staged rows as they are now.
        ledger = frozenset(self.ledger)
        rows = {
            table: [dict(row) for row in self.staging[name][1]] for table, name in staged.items()
        }
        self.in_replace()  # lands before the commit, unseen by the transaction
        for table, staged_rows in rows.items():  # every row of the fake is of the day
            self.tables[table] = [anonymous(r) if erased(r, ledger) else r for r in staged_rows]

    def erasure_ledger(self) -> frozenset[str]:
        self.ledger_reads += 1
        return frozenset(self.ledger)

    def anonymise_day(self, day: dt.date, keys: frozenset[str]) -> int:
        return self._anonymise(self.tables, lambda row: erased(row, keys))

    def drop(self, staging: str) -> None:
        self.staging.pop(staging, None)

    def erase_user(self, user_ids: list[str]) -> None:
        """The erasure's BigQuery part, in its order: the ledger, then tables and staging."""
        self.ledger |= {ledger_key(user_id) for user_id in user_ids}
        self._anonymise(self.tables, lambda row: row.get("userId") in user_ids)
        staged = {name: rows for name, (_, rows) in self.staging.items()}
        self._anonymise(staged, lambda row: row.get("userId") in user_ids)

    @staticmethod
    def _anonymise(
        tables: Mapping[str, list[dict[str, Any]]], match: Callable[[dict[str, Any]], bool]
    ) -> int:
        count = 0
        for rows in tables.values():
            for i, row in enumerate(rows):
                if match(row) and row.get("userId") != "erased":
                    rows[i], count = anonymous(row), count + 1
        return count

    def raw_rows_of(self, user_id: str) -> list[str]:
        everywhere = [*self.tables.items(), *((n, rows) for n, (_, rows) in self.staging.items())]
        return [name for name, rows in everywhere for row in rows if user_id in repr(row)]


def erased(row: Mapping[str, Any], keys: frozenset[str]) -> bool:
    user_id = row.get("userId")
    return isinstance(user_id, str) and ledger_key(user_id) in keys


class Interleaved(Warehouse):
    """The warehouse with an erasure of `u-x` run at one step of the export."""

    def __init__(self, moment: str, erase: Callable[[], None]) -> None:
        super().__init__()
        self.moment, self.erase = moment, erase
        if moment == "replacing":
            self.in_replace = erase

    def erasure_ledger(self) -> frozenset[str]:
        if (self.moment, self.ledger_reads) in (("staged", 0), ("replaced", 1)):
            self.erase()
        return super().erasure_ledger()


def source_with_user_x() -> FakeSource:
    events = [
        (f"e{i}", {"type": "feature_used", "userId": user, "sessionId": f"s-{user}",
                   "properties": {"feature": "hd_export", "email": f"{user}@example.com"},
                   "timestamp": START + dt.timedelta(hours=i)})
        for i, user in enumerate(["u-x", "u-y", "u-x"])
    ]  # fmt: skip
    return FakeSource(
        {
            "video_generation_metrics": [
                generation(i, "u-x" if i % 2 else "u-y") for i in range(6)
            ],
            "analytics_events": events,
        },
        set(),
    )


@pytest.mark.parametrize("key", [None, b"pseudonym-key"], ids=["raw ids", "pseudonymised"])
@pytest.mark.parametrize("moment", MOMENTS)
def test_an_erasure_at_any_step_of_the_export_leaves_no_raw_row_of_the_user(
    moment: str, key: bytes | None
) -> None:
    source = source_with_user_x()
    seen: dict[str, list[str]] = {}
    # The ids as BigQuery holds them; the erasure is given both the raw id and its pseudonym.
    x, y = (pseudonym(u, key) if key else u for u in ("u-x", "u-y"))

    def erase() -> None:
        for docs in source.docs.values():  # Firestore first, as the erasure does
            docs[:] = [(i, anonymised(d, "erased") if d["userId"] == "u-x" else d) for i, d in docs]
        warehouse.erase_user(["u-x", *([x] if key else [])])
        seen["staging after the erasure"] = [
            n for n in warehouse.raw_rows_of("u-x") + warehouse.raw_rows_of(x) if "_staging" in n
        ]

    warehouse = Interleaved(moment, erase)
    if moment == "before":
        erase()
    run = export_day(
        source,
        warehouse,
        DAY,
        ExportOptions("test", pseudonym_key=key),
        now=lambda: START,
        runs=Runs(),
    )
    if moment == "after":
        erase()

    assert warehouse.raw_rows_of("u-x") == warehouse.raw_rows_of(x) == []
    assert seen["staging after the erasure"] == []
    assert warehouse.staging == {}
    users = [row["userId"] for row in warehouse.tables["generation_metrics"]]
    assert sorted(users) == sorted(["erased"] * 3 + [y] * 3)  # rows kept, anonymised
    events = {row["eventId"]: row for row in warehouse.tables["analytics_events"]}
    assert (events["e0"]["sessionId"], events["e0"]["properties"]) == (
        None, '{"feature":"hd_export"}',
    )  # fmt: skip
    assert events["e1"]["userId"] == y and "u-y@example.com" in events["e1"]["properties"]
    # Only an erasure landing inside the replace transaction needs the re-check after it: it
    # anonymised what the transaction had inserted raw (3 generations, 2 events).
    assert run.late_erasure_rows == (5 if moment == "replacing" else 0)
    assert run.to_doc()["lateErasureRows"] == run.late_erasure_rows


def test_the_replace_inserts_the_rows_of_ledger_ids_anonymised() -> None:
    statements = replace_statements(
        "p.d", DAY, {"analytics_events": "stage_e", "alert_instances": "stage_a"}
    )
    erased_if = "IF(TO_HEX(SHA256(userId)) IN (SELECT idHash FROM `p.d.erasure_ledger`), "
    insert_events, insert_alerts = statements[1], statements[3]
    assert f"{erased_if}'erased', `userId`)" in insert_events
    assert f"{erased_if}NULL, `sessionId`)" in insert_events
    assert f"{erased_if}{ERASED_COLUMNS['analytics_events']['properties']}, `properties`)" in (
        insert_events
    )
    assert ", `type`," in insert_events  # other columns copied as they are
    assert "IF(" not in insert_alerts  # no user ids there
    assert select_columns("generation_metrics", ["generationId", "userId"], None) == (
        "`generationId`, `userId`"
    )


def test_the_erasure_update_and_the_ledger_key() -> None:
    assert anonymise_statement("p.d.generation_metrics", "generation_metrics", "x = 1") == (
        "UPDATE `p.d.generation_metrics` SET `userId` = 'erased' WHERE x = 1"
    )
    assert anonymise_statement("p.d.s", "analytics_events", "x = 1").startswith(
        "UPDATE `p.d.s` SET `userId` = 'erased', `sessionId` = NULL, `properties` = IF("
    )
    assert ledger_key("u-x") == hashlib.sha256(b"u-x").hexdigest()
