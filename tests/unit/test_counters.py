"""Every rollup counter a writer produces is defined once in ingest/counters.py, and readers
cannot ask for one by a string."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from video_monitoring.core.models import AppEvent, GenerationDocument
from video_monitoring.ingest import counters
from video_monitoring.ingest.bounds import Bounds
from video_monitoring.ingest.events import event_contribution, plan_event_change
from video_monitoring.ingest.pipeline import Counting, SourceState, StoredState, generation_user_day
from video_monitoring.ingest.rollup import Totals, contribution

T0 = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)


def generation(**fields: Any) -> GenerationDocument:
    base: dict[str, Any] = {
        "userId": "u1", "provider": "runway", "status": "completed", "createdAt": T0,
        "startedAt": T0 + dt.timedelta(seconds=4), "completedAt": T0 + dt.timedelta(seconds=50),
        "userTier": "premium", "attempts": 2, "fallbackFrom": "pika", "qualityScore": 8.4,
        "userRating": 4.5, "costUsd": 0.42, "outputSeconds": 12.0,
        "features": ["custom_avatar", "something_new"],
    }  # fmt: skip
    base.update(fields)
    return GenerationDocument.model_validate(base)


GENERATIONS = [
    generation(),
    generation(status="failed", error={"code": "rate/limit!", "message": "m", "retryable": True}),
    generation(
        status="failed", error={"code": "content_policy", "message": "m", "retryable": False}
    ),
    generation(status="cancelled", qualityScore=None, userRating=None, features=[]),
    generation(status="processing", completedAt=None, userTier="free", attempts=1),
    generation(startedAt=None, completedAt=T0),  # a zero generation time (the zero bin)
]


def test_every_generation_counter_written_is_defined() -> None:
    written = set()
    for doc in GENERATIONS:
        written |= set(
            contribution("g1", doc, 16, Bounds(features=frozenset({"custom_avatar"}))).values
        )
        written |= set(generation_user_day(doc).values)
    undefined = {
        key
        for key in written
        if not counters.defines(key, counters.GENERATION_COUNTERS)
        and not counters.defines(key, counters.USER_DAY_COUNTERS)
    }
    assert not undefined
    # The documents above reach every kind of generation counter.
    for counter in counters.GENERATION_COUNTERS:
        assert any(counters.defines(key, (counter,)) for key in written), counter


def test_every_event_counter_written_is_defined() -> None:
    events = [
        {"type": "premium_upgrade", "userId": "u1", "timestamp": T0, "amountUsd": 19.99},
        {"type": "feature_used", "userId": "u1", "timestamp": T0,
         "properties": {"feature": "voice_clone"}},
        {"type": "video_viewed", "userId": "u2", "timestamp": T0, "sessionId": "s"},
    ]  # fmt: skip
    cells: set[str] = set()
    days: set[str] = set()
    for i, data in enumerate(events):
        cells |= set(event_contribution(f"e{i}", AppEvent.model_validate(data), 4).values)
        plan = plan_event_change(
            f"e{i}", SourceState(data), StoredState(None, None), T0, Counting(4)
        )
        days |= {key for delta in plan.user_deltas for key in delta.values}
    assert all(counters.defines(key, counters.EVENT_COUNTERS) for key in cells), cells
    assert all(counters.defines(key, counters.USER_DAY_COUNTERS) for key in days), days
    assert {"ev/premium_upgrade", "ev/feature_used", "ev/video_viewed", "rev"} <= days


@pytest.mark.parametrize(
    "key",
    ["gtt/sum", "gt/total", "s", "s/a/b", "qb/3", "qb/3/x", "err/a/b", "feat", "nn", "gen/x"],
)
def test_names_not_defined_are_refused(key: str) -> None:
    groups = (counters.GENERATION_COUNTERS, counters.EVENT_COUNTERS, counters.USER_DAY_COUNTERS)
    assert not any(counters.defines(key, group) for group in groups)


def test_a_reader_cannot_ask_for_a_counter_by_its_string() -> None:
    totals = Totals({"gt/sum": 90_000, "gt/n": 2, "retried": 1, "err/timeout": 3})
    assert totals.mean(counters.GENERATION_TIME) == 45.0
    assert totals.get(counters.RETRIED) == 1
    assert totals.members(counters.ERRORS) == {"timeout": 3}
    for ask in (
        lambda: totals.mean("gt"),  # type: ignore[arg-type]
        lambda: totals.get("retried"),  # type: ignore[arg-type]
        lambda: totals.samples(counters.RETRIED),  # type: ignore[arg-type]
        lambda: totals.members("err/"),  # type: ignore[arg-type]
    ):
        with pytest.raises(TypeError, match=r"of ingest\.counters"):
            ask()


def test_each_key_is_defined_once_per_rollup_with_a_unit() -> None:
    for group in (
        counters.GENERATION_COUNTERS,
        counters.EVENT_COUNTERS,
        counters.USER_DAY_COUNTERS,
    ):
        keys: list[str] = []
        for counter in group:
            assert counter.unit
            if isinstance(counter, counters.Measure):
                keys += [counter.sum_key, counter.n_key]
            elif isinstance(counter, counters.Count):
                keys.append(counter.key)
            else:
                keys.append(counter.key("member"))
        assert len(keys) == len(set(keys))
