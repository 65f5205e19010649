"""Validation of generation documents against docs/interfaces.md §1."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from pydantic import ValidationError

from video_monitoring.core.models import describe_validation_error, parse_generation

T0 = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)


def valid(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "userId": "u1",
        "provider": "runway",
        "status": "completed",
        "createdAt": T0,
        "startedAt": T0 + dt.timedelta(seconds=3),
        "completedAt": T0 + dt.timedelta(seconds=40),
        "userTier": "free",
    }
    doc.update(overrides)
    return {k: v for k, v in doc.items() if v is not DROP}


DROP = object()


def test_valid_document_derives_times() -> None:
    doc = parse_generation(valid(qualityScore=9, costUsd=0.5, attempts=2, unknownField="kept out"))
    assert doc.generation_seconds == 40
    assert doc.queue_seconds == 3
    assert doc.render_seconds == 37
    assert doc.attempts == 2


def test_generation_seconds_only_for_completed() -> None:
    doc = parse_generation(
        valid(status="failed", error={"code": "timeout", "message": "m", "retryable": True})
    )
    assert doc.generation_seconds is None
    assert doc.render_seconds == 37


BAD: list[tuple[dict[str, Any], str]] = [
    (valid(userId=DROP), "userId"),
    (valid(userId=""), "userId"),
    (valid(userId="x" * 129), "userId"),
    (valid(userId=42), "userId"),
    (valid(provider="Runway"), "provider"),
    (valid(provider=DROP), "provider"),
    (valid(status="done"), "status"),
    (valid(createdAt="2026-11-24T10:00:00Z"), "createdAt"),
    (valid(createdAt=DROP), "createdAt"),
    (valid(userTier="gold"), "userTier"),
    (valid(attempts=0), "attempts"),
    (valid(attempts=True), "attempts"),
    (valid(qualityScore=10.5), "qualityScore"),
    (valid(qualityScore=float("nan")), "qualityScore"),
    (valid(userRating=0), "userRating"),
    (valid(costUsd=-1), "costUsd"),
    (valid(costUsd=float("inf")), "costUsd"),
    (valid(outputSeconds=0), "outputSeconds"),
    (valid(completedAt=DROP), "completedAt is required"),
    (valid(completedAt=T0 - dt.timedelta(seconds=1), startedAt=DROP), "completedAt is before"),
    (valid(startedAt=T0 - dt.timedelta(seconds=1)), "startedAt is before createdAt"),
    (valid(status="failed"), "error"),
    (valid(error={"code": "x"}, status="failed"), "error.message"),
    (valid(features="custom_avatar"), "features"),
    (valid(createdAt=dt.datetime(2026, 11, 24, 10)), "time zone"),
]


@pytest.mark.parametrize(("doc", "named"), BAD)
def test_bad_documents_are_rejected_with_a_reason_naming_the_field(
    doc: dict[str, Any], named: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_generation(doc)
    assert named in describe_validation_error(caught.value)
