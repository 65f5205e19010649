"""BigQuery rows and schemas derived from one model per table; pseudonymised user ids."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from typing import Any

import pytest
from pydantic import ValidationError

from video_monitoring.privacy.pseudonyms import pseudonym
from video_monitoring.warehouse.rows import TABLES, bq_schema, export_line

T = dt.datetime(2026, 11, 24, 10, 30, tzinfo=dt.UTC)


def export_row(
    table: str, doc_id: str, data: dict[str, Any], pseudonym_key: bytes | None = None
) -> dict[str, Any]:
    """The row export_line writes, read back."""
    row: dict[str, Any] = json.loads(export_line(table, doc_id, data, pseudonym_key))
    return row


def test_schemas_come_from_the_models() -> None:
    schema = {c["name"]: c for c in bq_schema(TABLES["generation_metrics"][0])}
    assert schema["generationId"] == {"name": "generationId", "type": "STRING", "mode": "REQUIRED"}
    assert schema["createdAt"]["type"] == "TIMESTAMP" and schema["createdAt"]["mode"] == "REQUIRED"
    assert schema["startedAt"] == {"name": "startedAt", "type": "TIMESTAMP", "mode": "NULLABLE"}
    assert schema["attempts"]["type"] == "INTEGER" and schema["costUsd"]["type"] == "FLOAT"
    assert schema["errorRetryable"]["type"] == "BOOLEAN"
    assert schema["features"] == {"name": "features", "type": "STRING", "mode": "REPEATED"}
    events = {c["name"]: c for c in bq_schema(TABLES["analytics_events"][0])}
    assert events["properties"]["type"] == "STRING"  # a map is exported as JSON text
    for model, *_ in TABLES.values():
        assert [c["name"] for c in bq_schema(model)] == list(model.model_fields)


def test_rows_are_json_ready_and_keep_only_exported_columns() -> None:
    doc = {
        "userId": "alice", "provider": "pika", "status": "completed", "userTier": "free",
        "createdAt": T, "completedAt": T + dt.timedelta(seconds=61), "generationSeconds": 61.0,
        "features": ["hd_export"], "contribution": {"internal": 1}, "emitted": {},
    }  # fmt: skip
    row = export_row("generation_metrics", "g1", doc)
    assert row["generationId"] == "g1"
    assert row["createdAt"] == "2026-11-24T10:30:00Z" and row["startedAt"] is None
    assert "contribution" not in row and row["features"] == ["hd_export"]
    json.dumps(row)
    event = export_row(
        "analytics_events", "e1",
        {"type": "video_viewed", "userId": "bob", "timestamp": T, "properties": {"b": 2, "a": 1}},
    )  # fmt: skip
    assert event["properties"] == '{"a":1,"b":2}'
    with pytest.raises(ValidationError):
        export_row("generation_metrics", "bad", {"userId": "x"})


def hmac_sha256(key: bytes, user_id: str) -> str:
    """The documented pseudonym, computed here with the standard library alone."""
    return hmac.new(key, user_id.encode(), hashlib.sha256).hexdigest()


def test_pseudonyms_are_stable_and_unlinkable_without_the_key() -> None:
    key, other = b"k" * 32, b"o" * 32
    expected = hmac_sha256(key, "alice")
    assert pseudonym("alice", key) == expected  # HMAC-SHA256 under the key, hex
    assert pseudonym("alice", key) == expected  # stable: the same value on every call
    assert pseudonym("bob", key) == hmac_sha256(key, "bob") != expected
    assert pseudonym("alice", other) == hmac_sha256(other, "alice") != expected
    assert "alice" not in expected and len(expected) == 64
    doc = {"type": "session_start", "userId": "alice", "timestamp": T}
    row = export_row("analytics_events", "e1", doc, pseudonym_key=key)
    assert row["userId"] == expected
    assert export_row("analytics_events", "e1", doc)["userId"] == "alice"  # no key: unchanged


def test_every_table_row_carries_its_document_id() -> None:
    samples = {
        "alert_instances": {"ruleId": "r", "scope": "overall", "status": "firing",
                            "severity": "critical", "metric": "successRate", "threshold": 0.95,
                            "window": "1h", "openedAt": T},
        "system_performance_metrics": {"tick": T, "windowName": "1h", "scope": "overall",
                                       "windowStart": T, "windowEnd": T},
    }  # fmt: skip
    for table, doc in samples.items():
        id_column = TABLES[table][3]
        assert export_row(table, "doc-7", doc)[id_column] == "doc-7"


def test_maps_become_valid_json_whatever_they_hold() -> None:
    event = export_row(
        "analytics_events", "e1",
        {"type": "x", "userId": "u", "timestamp": T,
         "properties": {"ratio": float("nan"), "at": T, "raw": b"\x00\x01"}},
    )  # fmt: skip
    assert json.loads(event["properties"]) == {
        "at": "2026-11-24T10:30:00Z", "ratio": None, "raw": "AAE=",
    }  # fmt: skip
